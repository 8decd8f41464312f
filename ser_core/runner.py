"""Running a suite: corpus -> manifest -> features -> folds -> model fit/predict -> results store.

Cells already stored as successful are skipped, so re-running a command resumes it. Each cell is
seeded from (suite seed, repeat, fold) alone, so a resumed run computes exactly what an uninterrupted
one would. A cell that raises is stored as failed, with its error, and the run goes on. With more than
one worker, cells run in spawned worker processes (each with ``cores // workers`` threads) that read
the prepared data from a temporary file; only the main process writes to the results store.
"""

from __future__ import annotations

import os
import pickle
import random
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from multiprocessing import get_context
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from rich.markup import escape

import ser_core
from ser_core import corpus as corpus_mod
from ser_core import features
from ser_core.errors import CacheError, ConfigError, CorpusError, SerbenchError
from ser_core.plugins import Registered, Registry
from ser_core.protocol import Folds, as_rows, cell_seed, from_rows, make_folds, standardise, uar
from ser_core.records import (
    FOLD_POLICY,
    CellOutcome,
    CorpusInstance,
    Predictions,
    RunProvenance,
    SystemProtocol,
    check_predictions,
)
from ser_core.results import CellKey, ResultStore
from ser_core.specs import FeatureSpec, Manifest, ModelContext
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
    """What a run did: cells computed, cells found already done, failures, and what was skipped.

    ``missing`` lists corpora with no directory configured (normal when a suite names corpora this
    machine does not have); ``skipped`` lists everything that could not run for another reason.
    """

    computed: int = 0
    resumed: int = 0
    failed: list[tuple[CellKey, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    missing: list[tuple[str, str]] = field(default_factory=list)  # (corpus, how to configure it)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped


def resolve_settings(model: Registered, suite: Suite, system: System) -> tuple[dict, dict]:
    """``(settings used, overrides)``: the model's defaults with the system's and suite's overrides.

    Both as the model resolves them (``ModelSpec.resolve``: e.g. ``precision = "auto"`` becomes the
    precision used), so the protocol and the printed overrides name what was used.
    """
    overrides = suite.settings_for(system)
    unknown = sorted(set(overrides) - set(model.spec.defaults))
    if unknown:
        raise ConfigError(
            f"system {system.name!r}: unknown setting(s) {unknown} for model {model.name!r}; "
            f"its settings are: {', '.join(sorted(model.spec.defaults)) or '(none)'}"
        )
    settings = model.spec.resolved_settings({**model.spec.defaults, **overrides})
    defaults = model.spec.resolved_settings(model.spec.defaults)
    return settings, {k: v for k, v in settings.items() if k not in defaults or defaults[k] != v}


def check_suite(registry: Registry, suite: Suite) -> None:
    """Check every system's settings against its model's declared types and ranges, before any work.

    Systems whose model or feature is not installed are left to the run (it reports them as
    skipped). :raises ConfigError: listing every unknown setting and every value of the wrong type
    or out of range, naming the system, the setting and what is expected.
    """
    problems = []
    for system in suite.systems:
        try:
            model = registry.model(system.model)
        except SerbenchError:
            continue
        overrides = suite.settings_for(system)
        unknown = sorted(set(overrides) - set(model.spec.defaults))
        if unknown:
            problems.append(
                f"system {system.name!r}: unknown setting(s) {unknown} for model {model.name!r}; its settings "
                f"are: {', '.join(sorted(model.spec.defaults)) or '(none)'}"
            )
        known = {k: v for k, v in overrides.items() if k in model.spec.defaults}
        for name, given, expected in model.spec.setting_problems(known):
            problems.append(
                f"system {system.name!r}: setting {name!r} of model {model.name!r} is {given}; expected {expected}"
            )
    if problems:
        raise ConfigError(
            f"suite {suite.name!r} cannot run; nothing was computed:\n  " + "\n  ".join(problems)
            + "\nFix the settings in the benchmarks file ([systems.NAME] settings or the suite's overrides)."
        )


def seed_everything(seed: int) -> None:
    """Seed Python and NumPy; each estimator seeds its own framework from ``ModelContext.seed``."""
    random.seed(seed)
    np.random.seed(seed)


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


@dataclass
class Prepared:
    """One system's data on one corpus, ready for the folds (normalised unless per fold)."""

    items: list[np.ndarray]
    y: np.ndarray
    clip_ids: list[str]
    speakers: np.ndarray
    groups: np.ndarray
    fold_of: np.ndarray


@dataclass(frozen=True)
class CellTask:
    """Everything one (repeat, fold) cell needs besides the prepared data."""

    key: CellKey
    create: Any  # ModelSpec.create: a module-level callable, so it pickles for worker processes
    feature: FeatureSpec
    settings: dict
    n_classes: int
    normalisation: str
    seed: int
    plugin: str = ""  # the model and its distribution, named when its output is unusable


def compute_cell(task: CellTask, data: Prepared) -> CellOutcome:
    """Train and test one fold (never raises, except KeyboardInterrupt).

    The model's predictions are checked before they are scored: one per test clip, class indices in
    ``0..C-1``; anything else fails the cell with a message naming the model's plugin, so no
    unusable row is ever stored as a success.
    """
    started = time.perf_counter()
    fold = task.key.fold
    try:
        train = np.flatnonzero(data.fold_of != fold)
        test = np.flatnonzero(data.fold_of == fold)
        if len(test) == 0:
            raise ValueError(f"fold {fold} has no clips with features")
        items = data.items
        if task.normalisation == "fold":
            items = standardise(items, data.speakers, data.fold_of != fold, "fold")
        kind = task.feature.kind
        seed_everything(task.seed)
        estimator = task.create(ModelContext(task.n_classes, task.feature, task.settings, task.seed))
        estimator.fit([from_rows(items[i], kind) for i in train], data.y[train], data.groups[train])
        raw = estimator.predict([from_rows(items[i], kind) for i in test])
        try:
            predicted = check_predictions(raw, len(test), task.n_classes)
        except ValueError as exc:
            raise InvalidPredictions(
                f"system {task.key.system!r}: {task.plugin or 'the model'}: {exc}. Nothing was stored as a "
                "result for this cell; report it to the plugin's authors"
            ) from None
        predictions = Predictions(
            clip_ids=tuple(data.clip_ids[i] for i in test),
            speakers=tuple(str(data.speakers[i]) for i in test),
            y_true=tuple(int(v) for v in data.y[test]),
            y_pred=tuple(int(v) for v in predicted),
        )
        return CellOutcome.success(
            uar=uar(data.y[test], predicted), predictions=predictions,
            parameter_count=estimator.parameter_count(), estimator=estimator.describe(),
            wall_time=time.perf_counter() - started,
        )
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        return CellOutcome.failure(
            f"{type(exc).__name__}: {exc}",
            None if isinstance(exc, InvalidPredictions) else traceback.format_exc(limit=8),
            time.perf_counter() - started,
        )


class InvalidPredictions(ValueError):
    """A model returned predictions that cannot be scored."""


_WORKER_DATA: dict[str, Prepared] = {}


def _worker_init(threads: int) -> None:
    """Worker set-up: leave Ctrl-C to the main process; size every thread pool to ``threads``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SERBENCH_THREADS", "OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"


def _worker_run(job: tuple[CellTask, str]) -> tuple[CellKey, CellOutcome]:
    """Worker: load the prepared data (once per file) and compute one cell."""
    task, path = job
    if path not in _WORKER_DATA:
        _WORKER_DATA.clear()
        with open(path, "rb") as handle:
            _WORKER_DATA[path] = pickle.load(handle)
    return task.key, compute_cell(task, _WORKER_DATA[path])


class Runner:
    """Runs suites against a registry and a results store.

    :param workers: processes for feature extraction and for folds (default: number of cores).
        With 1, cells run in this process (needed for plugins defined in a test or notebook).
    """

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
        if workers is not None and workers < 0:
            raise ConfigError(f"workers must be 0 or more, not {workers}")
        self.workers = max(1, os.cpu_count() or 1) if workers is None else workers
        self.reporter = reporter or Reporter()
        self._revision = git_revision()
        self._run_row: int | None = None
        self._pool = None
        self._threads = max(1, (os.cpu_count() or 1) // max(1, self.workers))

    def run(self, suite: Suite, benchmark_paths: Mapping[str, Path] | None = None) -> RunReport:
        """Compute every missing cell of ``suite``; corpora or systems that cannot run are reported."""
        check_suite(self.registry, suite)
        self._run_row = None
        report = RunReport()
        try:
            for corpus_name in suite.corpora:
                self._run_corpus(suite, corpus_name, benchmark_paths or {}, report)
        except BaseException:
            if self._pool is not None:
                self._pool.terminate()
                self._pool = None
            raise
        finally:
            if self._pool is not None:
                self._pool.close()
                self._pool.join()
                self._pool = None
        return report

    def _run_corpus(self, suite: Suite, corpus_name: str, benchmark_paths, report: RunReport) -> None:
        try:
            corpus = self.registry.corpus(corpus_name)
            root = corpus_mod.locate(corpus_name, corpus.spec.needs_path, self.corpus_paths, benchmark_paths)
        except CorpusError as exc:
            report.missing.append((corpus_name, str(exc)))
            self.reporter.note(f"[yellow]no data for corpus {corpus_name}[/]: {escape(str(exc))}")
            return
        except SerbenchError as exc:
            report.skipped.append((f"corpus {corpus_name}", str(exc)))
            self.reporter.note(f"[yellow]skipped corpus {corpus_name}[/]: {escape(str(exc))}")
            return
        try:
            manifest = corpus_mod.scan(corpus, root)
            use_groups = corpus.spec.fold_by == "group"
            folds = make_folds(
                [c.speaker for c in manifest.clips],
                [c.group for c in manifest.clips] if use_groups else None,
                seed=suite.seed,
            )
        except (SerbenchError, ValueError) as exc:
            report.skipped.append((f"corpus {corpus_name}", str(exc)))
            self.reporter.note(f"[yellow]skipped corpus {corpus_name}[/]: {escape(str(exc))}")
            return
        except Exception as exc:  # a bug in the corpus plugin: name it, keep the run going
            where = traceback.extract_tb(exc.__traceback__)[-1]
            message = (
                f"the corpus plugin ({corpus.plugin.distribution} {corpus.plugin.version}) raised "
                f"{type(exc).__name__}: {exc} at {where.filename}:{where.lineno}; report it to the plugin's authors"
            )
            report.skipped.append((f"corpus {corpus_name}", message))
            self.reporter.note(f"[yellow]skipped corpus {corpus_name}[/]: {escape(message)}")
            return
        for warning in corpus_mod.suspect_labels(manifest, corpus.spec.fold_by):
            self.reporter.note(f"[yellow]warning: {escape(corpus_name)}[/]: {escape(warning)}")
        for system in suite.systems:
            try:
                self._run_system(suite, system, corpus, manifest, folds, report)
            except CacheError:
                raise  # the same for every system: stop, naming the cache directory
            except SerbenchError as exc:
                report.skipped.append((f"{system.name} on {corpus_name}", str(exc)))
                self.reporter.note(f"[yellow]skipped {system.name} on {corpus_name}[/]: {escape(str(exc))}")

    def _prepare(
        self, manifest: Manifest, feature: Registered, folds: Folds, normalisation: str
    ) -> tuple[Prepared, features.FeatureTable]:
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
        data = Prepared(
            items=items,
            y=np.array([labels.index(c.label) for c in clips], dtype=np.int64),
            clip_ids=table.clip_ids,
            speakers=speakers,
            groups=np.array([c.group or c.speaker for c in clips]),
            fold_of=folds.assignment[rows],
        )
        return data, table

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
        protocol = SystemProtocol(
            model=model.name, feature=feature.name, feature_params=dict(feature.spec.params), settings=settings,
            normalisation=suite.normalisation, seed=suite.seed, fold_policy=dict(FOLD_POLICY),
        )
        instance = CorpusInstance(
            corpus=corpus.name, version=corpus.spec.version, manifest=manifest.fingerprint(),
            n_clips=len(manifest.clips), labels=tuple(labels), fold_method=folds.method,
            fold_names=tuple(folds.names), fold_assignment=tuple(int(v) for v in folds.assignment),
        )
        keys = [
            CellKey(corpus.name, system.name, protocol.key, instance.key, r, f)
            for r in range(suite.repeats)
            for f in range(len(folds))
        ]
        todo = [k for k in keys if not self.store.done(k)]
        report.resumed += len(keys) - len(todo)
        if not todo:
            return
        data, table = self._prepare(manifest, feature, folds, suite.normalisation)
        for note in table.notes:
            self.reporter.note(f"[yellow]feature cache[/]: {escape(note)}")
        if table.silent:
            self.reporter.note(
                f"[yellow]warning: {len(table.silent)} clips of {corpus.name} are silent[/] (peak below "
                f"{features.SILENT_PEAK:g}) and are used as they are: {escape(', '.join(table.silent[:10]))}"
                + (" ..." if len(table.silent) > 10 else "")
            )
        if table.failures:
            listing = features.describe_failures(manifest, feature.name, table.failures, limit=20, policy="skip")
            self.reporter.note(
                f"[yellow]{len(table.failures)} of {len(manifest.clips)} clips of {corpus.name} are excluded from "
                f"{system.name}[/] (no {feature.name} features); its cells are scored on the other "
                f"{len(manifest.clips) - len(table.failures)}, and the board marks them:\n{escape(listing)}"
            )
        details = {
            "overrides": overrides,
            "description": system.description,
            "corpus_root": str(manifest.root) if manifest.root else None,
            "feature_cache_key": table.cache_key,
            "excluded_clips": sorted([clip, reason] for clip, reason in table.failures.items()),
            "skipped_files": [[s.path, s.reason] for s in manifest.skipped],
            "plugins": self.registry.versions(corpus, feature, model),
        }
        source = model.plugin
        plugin = (f"model {model.name!r} (in-process plugin {source.name!r})" if source.distribution.startswith("(")
                  else f"model {model.name!r} ({source.distribution} {source.version})")
        tasks = [
            CellTask(
                key=key,
                create=model.spec.create,
                feature=feature.spec,
                settings=settings,
                n_classes=len(labels),
                normalisation=suite.normalisation,
                seed=cell_seed(suite.seed, key.repeat, key.fold),
                plugin=plugin,
            )
            for key in todo
        ]
        self.reporter.stage(f"{corpus.name}: {system.name}", len(todo))
        for task, outcome in self._outcomes(tasks, data):
            self._store(task, outcome, protocol, instance, folds, details, suite, report)
            self.reporter.advance(1)

    def _outcomes(self, tasks: list[CellTask], data: Prepared):
        """Yield ``(task, outcome)`` as cells finish: in this process, or in worker processes."""
        serial = self.workers <= 1 or len(tasks) == 1
        if not serial:
            try:
                pickle.dumps(tasks[0])
            except Exception as exc:  # e.g. a model factory that is a closure
                serial = True
                self.reporter.note(
                    f"[yellow]{tasks[0].key.system}: its model or feature cannot be sent to worker "
                    f"processes ({escape(type(exc).__name__)}: {escape(str(exc))}); running its folds in "
                    "this process. Plugin authors: make ModelSpec.create a module-level callable.[/]"
                )
        if serial:
            for task in tasks:
                yield task, compute_cell(task, data)
            return
        if self._pool is None:
            self._pool = get_context("spawn").Pool(self.workers, _worker_init, (self._threads,))
        fd, path = tempfile.mkstemp(prefix="serbench-fold-data-", suffix=".pkl")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
            by_key = {task.key: task for task in tasks}
            for key, outcome in self._pool.imap_unordered(_worker_run, [(t, path) for t in tasks]):
                yield by_key[key], outcome
        finally:
            Path(path).unlink(missing_ok=True)

    def _run_id(self, suite: Suite) -> int:
        """This run's provenance row, written once, before its first cell."""
        if self._run_row is None:
            self._run_row = self.store.add_run(RunProvenance.here(
                core_version=ser_core.__version__,
                plugins={p.distribution: p.version for p in self.registry.plugins if p.status == "ok"},
                git_revision=self._revision,
                processes={"workers": self.workers, "threads_per_worker": self._threads},
                suite=suite.name,
            ))
        return self._run_row

    def _store(self, task, outcome: CellOutcome, protocol, instance, folds, details, suite, report) -> None:
        key = task.key
        cell_details = {
            **details,
            "fold_name": folds.names[key.fold],
            "seeds": {"suite": suite.seed, "repeat": key.repeat, "cell": task.seed},
        }
        self.store.write(key, outcome, protocol=protocol, instance=instance, seed=task.seed,
                         details=cell_details, run_id=self._run_id(suite))
        if not outcome.ok:
            report.failed.append((key, outcome.error))
            self.reporter.note(
                f"[red]failed[/] {key.corpus} / {key.system} repeat {key.repeat} fold {key.fold}: {escape(outcome.error)}"
            )
            return
        report.computed += 1
