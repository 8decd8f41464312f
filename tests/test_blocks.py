"""Systems with several features and per-system normalisation, through the runner with cheap plugins."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core import CorpusSpec, FeatureSpec, ModelSpec, hookimpl, leaderboard, split_blocks
from ser_core.blocks import extract_combined
from ser_core.config import cache_dir
from ser_core.errors import FeatureError
from ser_core.plugins import load_registry
from ser_core.results import ResultStore
from ser_core.runner import Runner
from ser_core.suites import Suite, System


def level(signal: np.ndarray, rate: int) -> np.ndarray:
    """Three values: log RMS, peak, zero-crossing rate."""
    return np.array([np.log(np.sqrt(np.mean(signal**2)) + 1e-9), np.abs(signal).max(),
                     np.mean(np.abs(np.diff(np.sign(signal)))) / 2], dtype=np.float32)


def brightness(signal: np.ndarray, rate: int) -> np.ndarray:
    """Two values: spectral centroid (kHz) and duration (s); fails for every clip of 1.0 s or less."""
    if len(signal) <= rate:
        raise FeatureError("too short for brightness (test rule)")
    spectrum = np.abs(np.fft.rfft(signal))
    freqs = np.fft.rfftfreq(len(signal), 1 / rate)
    return np.array([(spectrum * freqs).sum() / (spectrum.sum() + 1e-9) / 1000, len(signal) / rate], dtype=np.float32)


def frames(signal: np.ndarray, rate: int) -> np.ndarray:
    return signal[: len(signal) // 160 * 160].reshape(-1, 160)[:, :4].astype(np.float32)


class Recorder:
    """Nearest centroid that records what it was given: blocks, widths, and the test part's mean."""

    def __init__(self, context):
        self.blocks = [[b.name, b.width] for b in context.blocks]
        self.feature = context.feature.name
        self.centroids = None
        self.test_mean = None
        self.width = None

    def fit(self, X, y, groups):
        X = np.stack(X)
        self.width = X.shape[1]
        self.train_mean = float(np.abs(X.mean(axis=0)).max())
        self.centroids = np.stack([X[y == c].mean(axis=0) for c in np.unique(y)])

    def predict(self, X):
        X = np.stack(X)
        self.test_mean = float(np.abs(X.mean(axis=0)).max())
        return np.argmin(((X[:, None, :] - self.centroids[None]) ** 2).sum(-1), axis=1)

    def parameter_count(self):
        return int(self.centroids.size)

    def describe(self):
        return {"blocks": self.blocks, "feature": self.feature, "width": self.width, "train_mean": self.train_mean,
                "test_mean": self.test_mean}


class Plugin:
    def __init__(self, manifest):
        self.manifest = manifest

    @hookimpl
    def register_corpora(self, register):
        register(CorpusSpec("tiny", scan=lambda root: self.manifest, needs_path=False))

    @hookimpl
    def register_features(self, register):
        register(FeatureSpec("level", "functionals", extract=level, params={"n": 3}))
        register(FeatureSpec("bright", "functionals", extract=brightness, params={"n": 2}))
        register(FeatureSpec("frames", "sequence", extract=frames))

    @hookimpl
    def register_models(self, register):
        register(ModelSpec("recorder", create=Recorder, accepts=frozenset({"functionals"})))


@pytest.fixture
def registry(synthetic_manifest):
    return load_registry([("tiny", Plugin(synthetic_manifest))], use_entry_points=False)


def suite_of(*systems: System) -> Suite:
    return Suite(name="t", corpora=("tiny",), systems=systems, repeats=1, seed=0, normalisation="speaker")


def test_a_system_with_two_features_gets_them_concatenated_with_their_blocks(registry, tmp_path, synthetic_manifest):
    both = System("both", "recorder", "level+bright", features=("level", "bright"))
    with ResultStore(tmp_path / "r.db") as store:
        report = Runner(registry, store, workers=0).run(suite_of(both))
        cells = list(store.cells())
        (entry,) = leaderboard.compute(store).entries
    assert not report.failed and not report.skipped
    short = {c.clip_id for c in synthetic_manifest.clips if _seconds(c.path) <= 1.0}
    assert short and len(short) < len(synthetic_manifest.clips), "the fixture has clips on both sides of 1 s"
    described = cells[0].outcome.estimator
    assert described["blocks"] == [["level", 3], ["bright", 2]] and described["width"] == 5
    assert described["feature"] == "level+bright"
    assert entry.protocol.feature == "level+bright"
    assert [b["feature"] for b in entry.protocol.feature_params["blocks"]] == ["level", "bright"]
    assert entry.protocol.feature_params["blocks"][1]["params"] == {"n": 2}
    excluded = dict(cells[0].details["excluded_clips"])
    assert set(excluded) == short and all(reason.startswith("bright: ") for reason in excluded.values())
    tested = {cid for c in cells for cid in c.predictions.clip_ids}
    assert tested == {c.clip_id for c in synthetic_manifest.clips} - short
    cached = {p.parent.name for p in (cache_dir() / "features").glob(f"*/{synthetic_manifest.corpus}-*.npz")}
    assert {"level", "bright"} <= cached, "each part is cached on its own"


def _seconds(path) -> float:
    import soundfile

    info = soundfile.info(str(path))
    return info.frames / info.samplerate


def test_the_combined_table_is_each_part_in_order_and_parts_come_from_the_cache(registry, synthetic_manifest):
    parts = [registry.feature("bright"), registry.feature("level")]
    table, blocks = extract_combined(synthetic_manifest, parts, workers=0)
    assert [(b.name, b.width) for b in blocks] == [("bright", 2), ("level", 3)]
    level_table = registry.feature("level")
    from ser_core import features

    alone = features.extract(synthetic_manifest, level_table, workers=0)
    assert alone.from_cache, "the combined extraction cached each part"
    by_id = dict(zip(alone.clip_ids, alone.items))
    for cid, item in zip(table.clip_ids, table.items):
        first, second = split_blocks(item, blocks)
        assert first.shape == (2,)
        np.testing.assert_array_equal(second, by_id[cid])
    again, _ = extract_combined(synthetic_manifest, parts, workers=0)
    assert again.from_cache and again.cache_key == table.cache_key


def test_a_sequence_feature_cannot_be_combined_and_the_system_is_skipped_with_the_reason(registry, tmp_path):
    bad = System("bad", "recorder", "level+frames", features=("level", "frames"))
    with ResultStore(tmp_path / "r.db") as store:
        report = Runner(registry, store, workers=0).run(suite_of(bad))
    (what, why), = report.skipped
    assert what == "bad on tiny" and "only functionals features can be combined" in why and "'frames'" in why


def test_a_system_normalisation_overrides_the_suite_and_keys_its_own_column(registry, tmp_path):
    offline = System("offline", "recorder", "level")
    online = System("online", "recorder", "level", normalisation="fold")
    with ResultStore(tmp_path / "r.db") as store:
        report = Runner(registry, store, workers=0).run(suite_of(offline, online))
        cells = list(store.cells())
        board = leaderboard.compute(store)
        entries = {e.system: e for e in board.entries}
    assert not report.failed and not report.skipped
    assert entries["offline"].protocol.normalisation == "speaker"
    assert entries["online"].protocol.normalisation == "fold"
    assert entries["offline"].protocol_key != entries["online"].protocol_key
    by_system: dict[str, list] = {}
    for cell in cells:
        by_system.setdefault(cell.key.system, []).append(cell.outcome.estimator)
    # per speaker: the test speaker is standardised on its own clips, so its mean is 0;
    # per fold: statistics of the training speakers only, so the test speaker's mean is not 0
    assert all(d["test_mean"] < 1e-5 and d["train_mean"] < 1e-5 for d in by_system["offline"])
    assert all(d["train_mean"] < 1e-5 for d in by_system["online"])
    assert max(d["test_mean"] for d in by_system["online"]) > 0.05
    (note,) = [n for n in board.notes if n.startswith("normalisation: ")]
    assert "online (standardisation fitted on the training speakers only): online" in note
    assert "offline (per-speaker standardisation, using each test speaker's own clips): offline" in note
