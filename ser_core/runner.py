"""Running a suite: corpus -> manifest -> features -> folds -> model fit/predict -> results store.

A run is planned first: every corpus is scanned once, here, and every (corpus, system, repeat, fold)
cell not already stored as successful is listed (:meth:`Runner.plan`; ``serbench run --dry-run``), so
re-running a command resumes it. Each cell is seeded from (suite seed, repeat, fold) alone, so a
resumed (or retried) cell computes exactly what an uninterrupted one would. A cell that raises is
stored as failed, with its error, and the run goes on; so is a cell whose plugin calls ``sys.exit``
(or, in a fresh process, ``os._exit``) or that runs past the cell time limit. Each cell of a neural
model (``ModelSpec.accelerator``) trains in a fresh Python process by default (``cell_process``), so its
result does not depend on the cells before it.

:meth:`Runner.run` is the loop: plan (:func:`ser_core.plan.plan_units`), execute (an engine of
:mod:`ser_core.engines`: with one worker the cells run in this process; with more, or with a
cluster, the plan runs as one Dask task graph whose workers read features from the cache), store
each cell the engine yields, report. Only this process writes to the results store, each cell as it
arrives, so an interrupted run keeps every finished cell.
"""

from __future__ import annotations

import subprocess
from contextlib import closing
from pathlib import Path
from typing import Any, Mapping

import numpy as np

import ser_core
from ser_core import features
from ser_core.audio import SILENT_PEAK
from ser_core.config import available_cores
from ser_core.engines import CellComputed, DaskEngine, Event, InProcessEngine, TableReady, UnitSkipped
from ser_core.errors import ConfigError
from ser_core.events import Reporter, RunReport
from ser_core.plan import PlanContext, PlanRow, Unit, check_cell_options, check_suite, plan_units, skip
from ser_core.plugins import Registered, Registry
from ser_core.records import CellOutcome, RunProvenance
from ser_core.results import ResultStore
from ser_core.suites import Suite


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


class Runner:
    """Runs suites against a registry and a results store.

    The suite is planned first (every missing cell), then computed: in this process when
    ``workers`` is 0 or 1 (needed for plugins defined in a test or notebook), otherwise as one Dask
    task graph (:mod:`ser_core.executor`) on a local cluster of ``workers`` processes, on the
    existing cluster at ``scheduler``, or on a batch-system cluster described by ``executor``.
    Only this process writes the results store, one cell at a time as results arrive.

    :param workers: processes for feature extraction and for folds (default: number of cores).
    :param cell_process: where each cell runs (:data:`ser_core.plan.CELL_PROCESS_MODES`): ``auto`` (the default) runs
        every cell of a model that declares ``ModelSpec.accelerator`` in a fresh Python process, so its
        result does not depend on the cells before it, and other models' cells where they are;
        ``fresh`` runs every cell in a fresh process; ``in-process`` none (faster, order-dependent).
    :param cell_time_limit: seconds a cell's fit and predict may take; a cell past it is stopped and
        stored as failed (every cell then runs in a fresh process, which is what can be stopped).
    """

    def __init__(
        self,
        registry: Registry,
        store: ResultStore,
        *,
        corpus_paths: Mapping[str, Path] | None = None,
        workers: int | None = None,
        reporter: Reporter | None = None,
        scheduler: str | None = None,
        executor: Any = None,
        waits: Any = None,
        cell_process: str = "auto",
        cell_time_limit: float | None = None,
    ):
        check_cell_options(cell_process, cell_time_limit)
        self.cell_process = cell_process
        self.cell_time_limit = cell_time_limit
        self.registry = registry
        self.store = store
        self.corpus_paths = dict(corpus_paths or {})
        if workers is not None and workers < 0:
            raise ConfigError(f"workers must be 0 or more, not {workers}")
        self.workers = available_cores() if workers is None else workers
        self.reporter = reporter or Reporter()
        self.scheduler = scheduler
        # an [executor] table that only bounds the waits is no batch system (ser_core.executor_config.ExecutorConfig)
        self.executor_config = executor if executor is not None and getattr(executor, "batch", True) else None
        if waits is None:
            from ser_core.waiting import resolve_waits

            waits = resolve_waits(config=executor)
        self.waits = waits  # every wait of a distributed run is bounded (ser_core.waiting)
        self.executor = None  # the DaskExecutor while a distributed run is going on
        self._revision = git_revision()
        self._run_row: int | None = None
        self.threads = max(1, available_cores() // max(1, self.workers))  # per worker, as recorded
        self._tables: dict[int, TableReady] = {}  # id(unit) -> its table, as the engine reported it

    def in_fresh_process(self, model: Registered) -> bool:
        """Whether the cells of ``model`` run each in a fresh Python process (see ``cell_process``)."""
        if self.cell_process == "auto":
            return bool(model.spec.accelerator) or self.cell_time_limit is not None
        return self.cell_process == "fresh"

    def _process_details(self, fresh: bool) -> dict:
        """What a cell's details record of the process it ran in (the board and exports read it); a
        time limit applies only to a cell in a fresh process."""
        return {"cell_process": "fresh" if fresh else "in-process",
                **({"cell_time_limit": self.cell_time_limit} if fresh and self.cell_time_limit is not None else {})}

    @property
    def distributed(self) -> bool:
        """Whether cells run on Dask workers (else in this process)."""
        return bool(self.scheduler or self.executor_config or self.workers > 1)

    def run(self, suite: Suite, benchmark_paths: Mapping[str, Path] | None = None) -> RunReport:
        """Compute every missing cell of ``suite``; corpora or systems that cannot run are reported."""
        check_suite(self.registry, suite)
        self._run_row = None
        if suite.protocol != "within":  # train on some corpora, test on another (ser_core.crosscorpus)
            from ser_core import crosscorpus

            return crosscorpus.run(self, suite, benchmark_paths)
        report, self._tables = RunReport(), {}
        units = plan_units(self.plan_context(), suite, benchmark_paths or {}, report)
        engine = DaskEngine(self) if self.distributed else InProcessEngine(self)
        with closing(engine.execute(suite.seed, units)) as events:
            for event in events:  # each cell is stored before the engine goes on
                self._record(event, suite, report)
        return report

    def plan(self, suite: Suite, benchmark_paths: Mapping[str, Path] | None = None) -> tuple[list[PlanRow], RunReport]:
        """What :meth:`run` would compute, without computing anything: one row per (corpus, system)."""
        check_suite(self.registry, suite)
        if suite.protocol != "within":
            from ser_core import crosscorpus

            return crosscorpus.plan_rows(self, suite, benchmark_paths)
        report = RunReport()
        rows = []
        for unit in plan_units(self.plan_context(), suite, benchmark_paths or {}, report):
            walls = [c.wall_time for c in self.store.cells(unit.corpus.name, unit.system.name) if c.status == "ok"]
            mean = float(np.mean(walls)) if walls else None
            missing = len(unit.todo)
            rows.append(PlanRow(unit.corpus.name, unit.system.name, len(unit.keys), len(unit.keys) - missing,
                                missing, None if mean is None else mean * missing, mean))
        return rows, report

    # -- storing what the engine yields -------------------------------------------------------

    def plan_context(self) -> PlanContext:
        """What planning reads of this runner (:func:`ser_core.plan.plan_units`)."""
        return PlanContext(self.registry, self.store, self.corpus_paths, self.reporter)

    def _record(self, event: Event, suite: Suite, report: RunReport) -> None:
        """Report or store one event of the engine (:mod:`ser_core.engines`)."""
        unit = event.unit
        if isinstance(event, UnitSkipped):
            self._skip(report, f"{unit.system.name} on {unit.corpus.name}", event.why)
        elif isinstance(event, TableReady):
            self._table_notes(unit, event.notes, event.silent, event.failures)
            self._tables[id(unit)] = event
        elif isinstance(event, CellComputed):
            table = self._tables.get(id(unit))  # none when the table's worker failed without saying why
            key, failures = (table.cache_key, table.failures) if table else ("", {})
            details = self._details(unit, key, failures, event.fresh)
            self._store(event.task, event.outcome, unit.protocol, unit.instance, unit.folds, details, suite, report)
            self.reporter.cell_result(event.task.key, event.outcome)

    def _details(self, unit: Unit, cache_key: str, failures: Mapping[str, str], fresh: bool) -> dict:
        return {
            **self._process_details(fresh),
            "overrides": unit.overrides,
            "description": unit.system.description,
            "corpus_root": str(unit.manifest.root) if unit.manifest.root else None,
            "feature_cache_key": cache_key,
            "excluded_clips": sorted([clip, reason] for clip, reason in failures.items()
                                     if unit.scanned is None or clip in {c.clip_id for c in unit.manifest.clips}),
            **({"classes": list(unit.instance.labels), "left_out": unit.left_out} if unit.scanned is not None else {}),
            "skipped_files": [[s.path, s.reason] for s in unit.manifest.skipped],
            "plugins": self.registry.versions(unit.corpus, *(unit.parts or (unit.feature,)), unit.model),
        }

    def _table_notes(self, unit: Unit, notes, silent, failures) -> None:
        corpus, manifest, feature, system = unit.corpus, unit.manifest, unit.feature, unit.system
        for note in notes:
            self.reporter.warning("feature cache", note)
        if silent:
            self.reporter.warning(
                f"warning: {len(silent)} clips of {corpus.name} are silent",
                f"their peak is below {SILENT_PEAK:g}; they are used as they are: {', '.join(silent[:10])}"
                + (" ..." if len(silent) > 10 else "")
            )
        if failures:
            listing = features.describe_failures(manifest, feature.name, failures, limit=20, policy="skip")
            self.reporter.warning(
                f"{len(failures)} of {len(manifest.clips)} clips of {corpus.name} are excluded from {system.name}",
                f"they have no {feature.name} features; its cells are scored on the other "
                f"{len(manifest.clips) - len(failures)}, and the board marks them:\n{listing}"
            )

    def _skip(self, report: RunReport, what: str, why: str) -> None:
        skip(report, self.reporter, what, why)

    def _run_id(self, suite: Suite) -> int:
        """This run's provenance row, written once, before its first cell."""
        if self._run_row is None:
            processes = {"workers": self.workers, "threads_per_worker": self.threads,
                         "cell_process": self.cell_process, "cell_time_limit": self.cell_time_limit}
            if self.executor is not None and (self.scheduler or self.executor_config):
                processes["workers"] = self.executor.worker_count()
            self._run_row = self.store.add_run(RunProvenance.here(
                core_version=ser_core.__version__,
                plugins={p.distribution: p.version for p in self.registry.plugins if p.status == "ok"},
                git_revision=self._revision,
                processes=processes,
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
            self.reporter.failure(f"failed {key.corpus} / {key.system} repeat {key.repeat} fold {key.fold}", outcome.error)
            return
        report.computed += 1

