"""Running a suite: corpus -> manifest -> features -> folds -> model fit/predict -> results store.

Cells already stored as successful are skipped, so re-running a command resumes it. Each cell is
seeded from (suite seed, repeat, fold) alone, so a resumed run computes exactly what an uninterrupted
one would. A cell that raises is stored as failed, with its error, and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import platform
import random
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

import ser_core
from ser_core import corpus as corpus_mod
from ser_core import features
from ser_core.errors import ConfigError, SerbenchError
from ser_core.plugins import Registered, Registry
from ser_core.protocol import Folds, as_rows, cell_seed, from_rows, make_folds, standardise, uar
from ser_core.results import SCHEMA_VERSION, CellKey, ResultStore
from ser_core.specs import Manifest, ModelContext
from ser_core.suites import Suite, System


class Reporter:
    """Receives progress events; the CLI renders them with rich, the library default is silent."""

    def stage(self, description: str, total: int) -> None:
        """A new stage of ``total`` steps begins (extraction, or the cells of one system)."""

    def advance(self, steps: int = 1) -> None:
        """``steps`` more steps of the current stage are done."""

    def note(self, message: str) -> None:
        """Something the user should read (a skipped corpus, a failed cell)."""


@dataclass
class RunReport:
    """What a run did: cells computed, cells found already done, failures, corpora skipped."""

    computed: int = 0
    resumed: int = 0
    failed: list[tuple[CellKey, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped


def resolve_settings(model: Registered, suite: Suite, system: System) -> tuple[dict, dict]:
    """``(settings used, overrides)``: the model's defaults with the system's and suite's overrides."""
    overrides = suite.settings_for(system)
    unknown = sorted(set(overrides) - set(model.spec.defaults))
    if unknown:
        raise ConfigError(
            f"system {system.name!r}: unknown setting(s) {unknown} for model {model.name!r}; "
            f"its settings are: {', '.join(sorted(model.spec.defaults)) or '(none)'}"
        )
    settings = {**model.spec.defaults, **overrides}
    return settings, {k: v for k, v in overrides.items() if model.spec.defaults[k] != v}


def seed_everything(seed: int) -> None:
    """Seed Python and NumPy, and Keras/TensorFlow when a model has imported them."""
    random.seed(seed)
    np.random.seed(seed)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(seed)


def git_revision() -> str | None:
    """The git revision of the serbench source tree, when it is a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(ser_core.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def _hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class _Prepared:
    """One system's data on one corpus, ready for the folds."""

    items: list[np.ndarray]
    y: np.ndarray
    clip_ids: list[str]
    speakers: np.ndarray
    groups: np.ndarray
    fold_of: np.ndarray
    excluded: dict[str, str]
    table: features.FeatureTable


class Runner:
    """Runs suites against a registry and a results store."""

    def __init__(
        self,
        registry: Registry,
        store: ResultStore,
        *,
        corpus_paths: Mapping[str, Path] | None = None,
        workers: int | None = None,
        reporter: Reporter | None = None,
    ):
        self.registry = registry
        self.store = store
        self.corpus_paths = dict(corpus_paths or {})
        self.workers = workers
        self.reporter = reporter or Reporter()
        self._revision = git_revision()

    def run(self, suite: Suite, benchmark_paths: Mapping[str, Path] | None = None) -> RunReport:
        """Compute every missing cell of ``suite``; corpora or systems that cannot run are reported."""
        report = RunReport()
        for corpus_name in suite.corpora:
            try:
                corpus = self.registry.corpus(corpus_name)
                root = corpus_mod.locate(
                    corpus_name, corpus.spec.needs_path, self.corpus_paths, benchmark_paths or {}
                )
                manifest = corpus_mod.scan(corpus, root)
                use_groups = corpus.spec.fold_by == "group"
                folds = make_folds(
                    [c.speaker for c in manifest.clips],
                    [c.group for c in manifest.clips] if use_groups else None,
                    seed=suite.seed,
                )
            except (SerbenchError, ValueError) as exc:
                report.skipped.append((f"corpus {corpus_name}", str(exc)))
                self.reporter.note(f"[yellow]skipped corpus {corpus_name}[/]: {exc}")
                continue
            for system in suite.systems:
                try:
                    self._run_system(suite, system, corpus, manifest, folds, report)
                except SerbenchError as exc:
                    report.skipped.append((f"{system.name} on {corpus_name}", str(exc)))
                    self.reporter.note(f"[yellow]skipped {system.name} on {corpus_name}[/]: {exc}")
        return report

    def _prepare(self, manifest: Manifest, feature: Registered, folds: Folds, normalisation: str) -> _Prepared:
        self.reporter.stage(f"{manifest.corpus}: extracting {feature.name}", len(manifest.clips))
        table = features.extract(manifest, feature, workers=self.workers, on_progress=self.reporter.advance)
        index = {c.clip_id: i for i, c in enumerate(manifest.clips)}
        rows = [index[cid] for cid in table.clip_ids]
        labels = manifest.labels()
        clips = [manifest.clips[i] for i in rows]
        kind = feature.spec.kind
        items = [as_rows(item, kind) for item in table.items]
        speakers = np.array([c.speaker for c in clips])
        if normalisation == "speaker":  # fitted on each speaker's own clips: the same for every fold
            items = standardise(items, speakers, np.ones(len(items), bool), "speaker")
        return _Prepared(
            items=items,
            y=np.array([labels.index(c.label) for c in clips], dtype=np.int64),
            clip_ids=table.clip_ids,
            speakers=speakers,
            groups=np.array([c.group or c.speaker for c in clips]),
            fold_of=folds.assignment[rows],
            excluded=dict(table.failures),
            table=table,
        )

    def _run_system(self, suite, system, corpus, manifest, folds, report) -> None:
        model = self.registry.model(system.model)
        feature = self.registry.feature(system.feature)
        if feature.spec.kind not in model.spec.accepts:
            raise ConfigError(
                f"system {system.name!r}: model {model.name!r} accepts {sorted(model.spec.accepts)} "
                f"features, but {feature.name!r} is a {feature.spec.kind!r} feature"
            )
        settings, overrides = resolve_settings(model, suite, system)
        labels = manifest.labels()
        config = {
            "schema": SCHEMA_VERSION,
            "corpus": manifest.fingerprint(),
            "model": model.name,
            "feature": [feature.name, feature.spec.kind, dict(feature.spec.params)],
            "settings": settings,
            "normalisation": suite.normalisation,
            "seed": suite.seed,
            "folds": [folds.method, list(folds.names)],
            "labels": labels,
        }
        config_hash = _hash(config)
        keys = [
            CellKey(manifest.corpus, system.name, config_hash, r, f)
            for r in range(suite.repeats)
            for f in range(len(folds))
        ]
        todo = [k for k in keys if not self.store.done(k)]
        report.resumed += len(keys) - len(todo)
        if not todo:
            return
        data = self._prepare(manifest, feature, folds, suite.normalisation)
        if data.excluded:
            self.reporter.note(
                f"[yellow]{len(data.excluded)} clips of {manifest.corpus} had no {feature.name} "
                f"features and are left out[/] (listed in each result's provenance)"
            )
        base = {
            "schema_version": SCHEMA_VERSION,
            "suite": suite.name,
            "core_version": ser_core.__version__,
            "plugins": self.registry.versions(corpus, feature, model),
            "git_revision": self._revision,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "system": {"model": model.name, "feature": feature.name, "description": system.description},
            "settings": settings,
            "overrides": overrides,
            "normalisation": suite.normalisation,
            "manifest_hash": manifest.fingerprint(),
            "corpus_root": str(manifest.root) if manifest.root else None,
            "corpus_version": corpus.spec.version,
            "feature_cache_key": data.table.cache_key,
            "feature_params": dict(feature.spec.params),
            "folds": folds.record(),
            "n_folds": len(folds),
            "excluded_clips": data.excluded,
            "skipped_files": [[s.path, s.reason] for s in manifest.skipped],
        }
        self.reporter.stage(f"{manifest.corpus}: {system.name}", len(todo))
        for key in todo:
            self._run_cell(key, suite, model, feature, settings, labels, data, folds, base, report)
            self.reporter.advance(1)

    def _run_cell(self, key, suite, model, feature, settings, labels, data, folds, base, report) -> None:
        seed = cell_seed(suite.seed, key.repeat, key.fold)
        provenance = {
            **base,
            "seeds": {"suite": suite.seed, "repeat": key.repeat, "cell": seed},
            "fold_name": folds.names[key.fold],
        }
        started = time.perf_counter()
        try:
            train = np.flatnonzero(data.fold_of != key.fold)
            test = np.flatnonzero(data.fold_of == key.fold)
            if len(test) == 0:
                raise ValueError(f"fold {folds.names[key.fold]!r} has no clips with features")
            items = data.items
            if suite.normalisation == "fold":
                items = standardise(items, data.speakers, data.fold_of != key.fold, "fold")
            kind = feature.spec.kind
            seed_everything(seed)
            estimator = model.spec.create(ModelContext(len(labels), feature.spec, settings, seed))
            estimator.fit([from_rows(items[i], kind) for i in train], data.y[train], data.groups[train])
            predicted = np.asarray(estimator.predict([from_rows(items[i], kind) for i in test]))
            score = uar(data.y[test], predicted)
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
            self.store.write(key, labels=labels, provenance=provenance, error=error,
                             wall_time=time.perf_counter() - started)
            report.failed.append((key, f"{type(exc).__name__}: {exc}"))
            self.reporter.note(
                f"[red]failed[/] {key.corpus} / {key.system} repeat {key.repeat} fold {key.fold}: "
                f"{type(exc).__name__}: {exc}"
            )
            return
        provenance["parameter_count"] = estimator.parameter_count()
        provenance["estimator"] = estimator.describe()
        wall = time.perf_counter() - started
        provenance["wall_time_s"] = wall
        self.store.write(
            key,
            labels=labels,
            provenance=provenance,
            uar=score,
            predictions={
                "clip_ids": [data.clip_ids[i] for i in test],
                "y_true": data.y[test].tolist(),
                "y_pred": predicted.astype(int).tolist(),
            },
            wall_time=wall,
        )
        report.computed += 1
