"""Writes ``results-v1.db`` and ``results-v1-board.json``: a results database of schema version 1.

Run once with serbench at commit 6b75074 (the last version writing schema 1), from the repository
root: ``python tests/data/make_results_v1.py``. The database holds two generated corpora x two
systems of a nearest-centroid model, two repeats, and one failed cell; the JSON holds the board
numbers that version computed from it. ``tests/test_migration.py`` opens the database with the
current serbench, which migrates it, and checks the board gives the same numbers.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from ser_core import CorpusSpec, FeatureSpec, ModelSpec, hookimpl, leaderboard
from ser_core.plugins import load_registry
from ser_core.results import ResultStore
from ser_core.runner import Runner
from ser_core.suites import Suite, System
from ser_core.synthetic import SyntheticConfig, generate

HERE = Path(__file__).parent


def spectrum_functionals(signal: np.ndarray, rate: int) -> np.ndarray:
    spectrum = np.abs(np.fft.rfft(signal))
    freqs = np.fft.rfftfreq(len(signal), 1 / rate)
    return np.array(
        [np.log(np.sqrt(np.mean(signal**2)) + 1e-9), (spectrum * freqs).sum() / (spectrum.sum() + 1e-9)],
        dtype=np.float32,
    )


class Centroid:
    def __init__(self, context):
        self.settings = context.settings
        self.centroids = None

    def fit(self, X, y, groups):
        if self.settings["fail_group"] in set(groups) and self.settings["fail_group"]:
            raise ValueError("refusing to train with " + self.settings["fail_group"])
        X = np.stack(X)
        keep = np.random.rand(len(y)) < 0.8
        self.centroids = np.stack([X[keep & (y == c)].mean(axis=0) for c in np.unique(y)])

    def predict(self, X):
        X = np.stack(X)
        return np.argmin(((X[:, None, :] - self.centroids[None]) ** 2).sum(-1), axis=1)

    def parameter_count(self):
        return int(self.centroids.size)

    def describe(self):
        return {"centroids": int(self.centroids.shape[0])}


class Plugin:
    def __init__(self, manifests):
        self.manifests = manifests

    @hookimpl
    def register_corpora(self, register):
        for name, manifest in self.manifests.items():
            register(CorpusSpec(name, scan=lambda root, m=manifest: m, needs_path=False))

    @hookimpl
    def register_features(self, register):
        register(FeatureSpec("spec2", "functionals", extract=spectrum_functionals))

    @hookimpl
    def register_models(self, register):
        register(ModelSpec("centroid", create=Centroid, accepts=frozenset({"functionals"}),
                           defaults={"fail_group": "", "tag": 0}))


def main() -> None:
    work = Path(tempfile.mkdtemp())
    try:
        manifests = {
            "gen-a": generate(SyntheticConfig(speakers=4, clips_per_class=3, min_seconds=0.5, max_seconds=0.8, seed=1), work / "a"),
            "gen-b": generate(SyntheticConfig(speakers=3, clips_per_class=3, min_seconds=0.5, max_seconds=0.8, seed=2), work / "b"),
        }
        fail_speaker = manifests["gen-b"].speakers()[0]
        registry = load_registry([("gen", Plugin(manifests))], use_entry_points=False)
        suite = Suite(
            name="v1", corpora=("gen-a", "gen-b"), repeats=2, seed=3, normalisation="speaker",
            systems=(System("centroid-1", "centroid", "spec2"),
                     System("centroid-2", "centroid", "spec2", settings={"tag": 1})),
        )
        db = HERE / "results-v1.db"
        db.unlink(missing_ok=True)
        with ResultStore(db) as store:
            Runner(registry, store, workers=0).run(suite)
            failing = Suite(name="v1-fail", corpora=("gen-b",), repeats=1, seed=3, normalisation="speaker",
                            systems=(System("centroid-fails", "centroid", "spec2",
                                            settings={"fail_group": fail_speaker}),))
            Runner(registry, store, workers=0).run(failing)
            entries = leaderboard.compute(store)
        board = [
            {"corpus": e.corpus, "system": e.system, "uar_mean": e.uar_mean, "uar_std": e.uar_std,
             "pooled_uar": e.pooled_uar, "repeats_complete": e.repeats_complete, "failed_cells": e.failed_cells,
             "n_folds": e.n_folds, "confusion": e.confusion}
            for e in entries
        ]
        (HERE / "results-v1-board.json").write_text(json.dumps(board, indent=1) + "\n")
        with __import__("sqlite3").connect(db) as con:
            con.execute("PRAGMA journal_mode=DELETE")
        print(f"wrote {db} and its board ({len(board)} entries)", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
