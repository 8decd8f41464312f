"""Running a suite: corpus -> manifest -> features -> folds -> model fit/predict -> results store.

A run is planned first: every corpus is scanned once, here, and every (corpus, system, repeat, fold)
cell not already stored as successful is listed (:meth:`Runner.plan`; ``serbench run --dry-run``), so
re-running a command resumes it. Each cell is seeded from (suite seed, repeat, fold) alone, so a
resumed (or retried) cell computes exactly what an uninterrupted one would. A cell that raises is
stored as failed, with its error, and the run goes on; so is a cell whose plugin calls ``sys.exit``
(or, in a fresh process, ``os._exit``) or that runs past the cell time limit. Each cell of a neural
model (``ModelSpec.accelerator``) trains in a fresh Python process by default (``cell_process``), so its
result does not depend on the cells before it. With one worker the cells run in this process;
with more, or with a cluster, the plan runs as one Dask task graph (:mod:`ser_core.executor`) whose
workers read features from the cache. Only this process writes to the results store, each cell as it
arrives, so an interrupted run keeps every finished cell.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

import ser_core
from ser_core import corpus as corpus_mod
from ser_core import features
from ser_core.cell import CellTask, compute_cell, layout_of, prepare
from ser_core.errors import CacheError, ConfigError, CorpusError, SerbenchError
from ser_core.events import Reporter, RunReport
from ser_core.plan import PlanRow, check_cell_options, check_suite, resolve_settings
from ser_core.plugins import Registered, Registry
from ser_core.protocol import Folds, cell_seed, make_folds, text_independent
from ser_core.records import CellOutcome, CorpusInstance, RunProvenance, SystemProtocol, fold_policy
from ser_core.results import CellKey, ResultStore
from ser_core.specs import FeatureBlock, Manifest
from ser_core.suites import Suite, System


def _refuse_unusable(manifest: Manifest, folds: Folds | None, fold_by: str) -> None:
    """Refuse, before any work, a corpus whose score would mean nothing (:func:`corpus.benchmark_problems`)."""
    unusable = corpus_mod.benchmark_problems(manifest, folds, fold_by)
    if unusable:
        raise CorpusError("refused, it cannot be cross-validated or scored: " + " ".join(unusable))


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
class _Unit:
    """One (corpus, system) of the suite whose cells are planned."""

    corpus: Registered
    system: System
    model: Registered
    feature: Registered
    manifest: Manifest
    folds: Folds
    protocol: SystemProtocol
    instance: CorpusInstance
    settings: dict
    overrides: dict
    keys: list[CellKey]
    todo: list[CellKey]
    #: the features the system combines (one for most systems); ``feature`` is their combination
    parts: tuple[Registered, ...] = ()
    normalisation: str = "speaker"
    blocks: tuple[FeatureBlock, ...] = ()  # known once the parts are extracted
    #: the corpus as scanned, when the suite restricts it to some classes: features are extracted on
    #: it, so within- and cross-corpus runs share one cached table per corpus
    scanned: Manifest | None = None
    left_out: dict = field(default_factory=dict)  # clips of other classes, per label

    @property
    def table_manifest(self) -> Manifest:
        """The manifest the feature table is extracted on."""
        return self.scanned or self.manifest


def plugin_modules(units) -> dict[str, str]:
    """The modules a worker imports to run these units' cells (their model's and feature's code), each
    with the plugin it comes from, for :meth:`ser_core.executor.DaskExecutor.check_worker_imports`."""
    modules: dict[str, str] = {}
    for unit in units:
        for registered, code in ((unit.model, unit.model.spec.create), (unit.feature, unit.feature.spec.extract)):
            module = getattr(code, "__module__", None)
            if module and module != "__main__" and module.split(".")[0] != "ser_core":
                source = registered.plugin
                modules.setdefault(module, f"{registered.kind} {registered.name!r} of {source.distribution} "
                                           f"{source.version}")
    return modules


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
        self.workers = max(1, os.cpu_count() or 1) if workers is None else workers
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
        self._threads = max(1, (os.cpu_count() or 1) // max(1, self.workers))

    def in_fresh_process(self, model: Registered) -> bool:
        """Whether the cells of ``model`` run each in a fresh Python process (see ``cell_process``)."""
        if self.cell_process == "auto":
            return bool(model.spec.accelerator) or self.cell_time_limit is not None
        return self.cell_process == "fresh"

    def _process_details(self, fresh: bool) -> dict:
        """What a cell's details record of the process it ran in (the board and exports read it)."""
        return {"cell_process": "fresh" if fresh else "in-process",
                **({"cell_time_limit": self.cell_time_limit} if self.cell_time_limit is not None else {})}

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
        report = RunReport()
        units = self._plan(suite, benchmark_paths or {}, report)
        if self.distributed:
            self._run_distributed(suite, units, report)
        else:
            for unit in units:
                self._run_here(suite, unit, report, self.workers)
        return report

    def plan(self, suite: Suite, benchmark_paths: Mapping[str, Path] | None = None) -> tuple[list[PlanRow], RunReport]:
        """What :meth:`run` would compute, without computing anything: one row per (corpus, system)."""
        check_suite(self.registry, suite)
        if suite.protocol != "within":
            from ser_core import crosscorpus

            return crosscorpus.plan_rows(self, suite, benchmark_paths)
        report = RunReport()
        rows = []
        for unit in self._plan(suite, benchmark_paths or {}, report):
            walls = [c.wall_time for c in self.store.cells(unit.corpus.name, unit.system.name) if c.status == "ok"]
            mean = float(np.mean(walls)) if walls else None
            missing = len(unit.todo)
            rows.append(PlanRow(unit.corpus.name, unit.system.name, len(unit.keys), len(unit.keys) - missing,
                                missing, None if mean is None else mean * missing, mean))
        return rows, report

    # -- planning ---------------------------------------------------------------------------

    def _plan(self, suite: Suite, benchmark_paths, report: RunReport) -> list[_Unit]:
        units = []
        for corpus_name in suite.corpora:
            units.extend(self._plan_corpus(suite, corpus_name, benchmark_paths, report))
        return units

    def _plan_corpus(self, suite: Suite, corpus_name: str, benchmark_paths, report: RunReport) -> list[_Unit]:
        try:
            corpus = self.registry.corpus(corpus_name)
            root = corpus_mod.locate(corpus_name, corpus.spec.needs_path, self.corpus_paths, benchmark_paths)
        except CorpusError as exc:
            report.missing.append((corpus_name, str(exc)))
            self.reporter.warning(f"no data for corpus {corpus_name}", str(exc))
            return []
        except SerbenchError as exc:
            self._skip(report, f"corpus {corpus_name}", str(exc))
            return []
        try:
            manifest = scanned = corpus_mod.scan(corpus, root)
            left_out: dict = {}
            if suite.classes:  # only the suite's classes (after the corpus's label_map)
                from ser_core.crosscorpus import restrict, shared_classes

                _, refused = shared_classes({corpus_name: (manifest, corpus.spec)}, tuple(suite.classes))
                if refused:
                    raise ConfigError(f"refused: {refused}")
                manifest, left_out = restrict(manifest, corpus.spec, suite.classes)
            use_groups = corpus.spec.fold_by == "group"
            _refuse_unusable(manifest, None, corpus.spec.fold_by)
            folds = make_folds(
                [c.speaker for c in manifest.clips],
                [c.group for c in manifest.clips] if use_groups else None,
                seed=suite.seed,
            )
            if suite.folds == "text-independent":
                folds = text_independent(folds, [c.sentence for c in manifest.clips], seed=suite.seed)
            _refuse_unusable(manifest, folds, corpus.spec.fold_by)
        except (SerbenchError, ValueError) as exc:
            self._skip(report, f"corpus {corpus_name}", str(exc))
            return []
        except Exception as exc:  # a bug in the corpus plugin: name it, keep the run going
            where = traceback.extract_tb(exc.__traceback__)[-1]
            message = (
                f"the corpus plugin ({corpus.plugin.distribution} {corpus.plugin.version}) raised "
                f"{type(exc).__name__}: {exc} at {where.filename}:{where.lineno}; report it to the plugin's authors"
            )
            self._skip(report, f"corpus {corpus_name}", message)
            return []
        for warning in corpus_mod.suspect_labels(manifest, corpus.spec.fold_by):
            self.reporter.warning(f"warning: {corpus_name}", warning)
        units = []
        for system in suite.systems:
            try:
                unit = self._plan_system(suite, system, corpus, manifest, folds)
                if suite.classes:
                    unit.scanned, unit.left_out = scanned, left_out
            except SerbenchError as exc:
                self._skip(report, f"{system.name} on {corpus_name}", str(exc))
                continue
            report.resumed += len(unit.keys) - len(unit.todo)
            units.append(unit)
        return units

    def _plan_system(self, suite, system, corpus, manifest, folds) -> _Unit:
        model = self.registry.model(system.model)
        parts = tuple(self.registry.feature(name) for name in system.features)
        if len(parts) == 1:
            feature = parts[0]
        else:
            from ser_core.blocks import combined_spec

            try:
                feature = Registered("feature", combined_spec(parts), parts[0].plugin)
            except ConfigError as exc:
                raise ConfigError(f"system {system.name!r}: {exc}") from None
        if feature.spec.kind not in model.spec.accepts:
            raise ConfigError(
                f"system {system.name!r}: model {model.name!r} accepts {sorted(model.spec.accepts)} "
                f"features, but {feature.name!r} is a {feature.spec.kind!r} feature"
            )
        settings, overrides = resolve_settings(model, suite, system)
        labels = manifest.labels()
        normalisation = suite.normalisation_for(system)
        protocol = SystemProtocol(
            model=model.name, feature=feature.name, feature_params=dict(feature.spec.params), settings=settings,
            normalisation=normalisation, seed=suite.seed, fold_policy=fold_policy(suite.folds),
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
        return _Unit(corpus, system, model, feature, manifest, folds, protocol, instance, settings, overrides,
                     keys, todo, parts, normalisation)

    def _tasks(self, suite: Suite, unit: _Unit) -> list[CellTask]:
        source = unit.model.plugin
        plugin = (f"model {unit.model.name!r} (in-process plugin {source.name!r})" if source.distribution.startswith("(")
                  else f"model {unit.model.name!r} ({source.distribution} {source.version})")
        return [
            CellTask(
                key=key,
                create=unit.model.spec.create,
                feature=unit.feature.spec,
                settings=unit.settings,
                n_classes=len(unit.instance.labels),
                normalisation=unit.normalisation,
                seed=cell_seed(suite.seed, key.repeat, key.fold),
                plugin=plugin,
                blocks=unit.blocks,
            )
            for key in unit.todo
        ]

    def _details(self, unit: _Unit, cache_key: str, failures: Mapping[str, str]) -> dict:
        return {
            # accelerated cells on GPU workers run in fresh processes whatever the mode (ser_core.executor)
            **self._process_details(self.in_fresh_process(unit.model) or bool(
                unit.model.spec.accelerator and self.executor is not None and self.executor.has_gpus())),
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

    def _table_notes(self, unit: _Unit, notes, silent, failures) -> None:
        corpus, manifest, feature, system = unit.corpus, unit.manifest, unit.feature, unit.system
        for note in notes:
            self.reporter.warning("feature cache", note)
        if silent:
            self.reporter.warning(
                f"warning: {len(silent)} clips of {corpus.name} are silent",
                f"their peak is below {features.SILENT_PEAK:g}; they are used as they are: {', '.join(silent[:10])}"
                + (" ..." if len(silent) > 10 else "")
            )
        if failures:
            listing = features.describe_failures(manifest, feature.name, failures, limit=20, policy="skip")
            self.reporter.warning(
                f"{len(failures)} of {len(manifest.clips)} clips of {corpus.name} are excluded from {system.name}",
                f"they have no {feature.name} features; its cells are scored on the other "
                f"{len(manifest.clips) - len(failures)}, and the board marks them:\n{listing}"
            )

    # -- in this process --------------------------------------------------------------------

    def _run_here(self, suite: Suite, unit: _Unit, report: RunReport, extraction_workers: int) -> None:
        """Compute a unit's missing cells in this process (extraction with ``extraction_workers``)."""
        if not unit.todo:
            return
        name = f"{unit.system.name} on {unit.corpus.name}"
        try:
            if len(unit.parts) > 1:
                from ser_core.blocks import extract_combined

                def stage(part: Registered) -> None:
                    self.reporter.stage(f"{unit.manifest.corpus}: extracting {part.name}", len(unit.table_manifest.clips))

                table, unit.blocks = extract_combined(unit.table_manifest, unit.parts, workers=extraction_workers,
                                                      on_progress=self.reporter.advance, on_part=stage)
            else:
                self.reporter.stage(f"{unit.manifest.corpus}: extracting {unit.feature.name}", len(unit.table_manifest.clips))
                table = features.extract(unit.table_manifest, unit.feature, workers=extraction_workers,
                                         on_progress=self.reporter.advance)
        except CacheError:
            raise  # the same for every system: stop, naming the cache directory
        except SerbenchError as exc:
            self._skip(report, name, str(exc))
            return
        layout = layout_of(unit.manifest, unit.folds, unit.feature.spec.kind, unit.normalisation)
        data = prepare(table, layout)
        self._table_notes(unit, table.notes, table.silent, table.failures)
        details = self._details(unit, table.cache_key, table.failures)
        self.reporter.stage(f"{unit.corpus.name}: {unit.system.name}", len(unit.todo))
        fresh = None
        if self.in_fresh_process(unit.model):
            from ser_core.executor import FreshProcessCells

            fresh = FreshProcessCells(data, time_limit=self.cell_time_limit)
        try:
            for task in self._tasks(suite, unit):
                outcome = None
                if fresh is not None:
                    outcome = self._compute_fresh(fresh, task, unit)
                    if outcome is None:  # its model cannot leave this process: the rest run here too
                        fresh.close()
                        fresh = None
                        details = {k: v for k, v in details.items() if k != "cell_time_limit"}
                        details["cell_process"] = "in-process"  # and no time limit can stop it
                if outcome is None:
                    outcome = compute_cell(task, data)
                self._store(task, outcome, unit.protocol, unit.instance, unit.folds, details, suite, report)
                self.reporter.cell_result(task.key, outcome)
                self.reporter.advance(1)
        finally:
            if fresh is not None:
                fresh.close()

    def _compute_fresh(self, fresh, task: CellTask, unit: _Unit) -> CellOutcome | None:
        """A cell computed in a fresh process; ``None`` (with a note) when its model cannot be sent to
        one (a closure, or a class a new interpreter cannot import, as in a notebook)."""
        from ser_core.executor import CellNotPortable

        try:
            return fresh.compute(task)
        except CellNotPortable as exc:
            self.reporter.warning(
                unit.system.name,
                f"{exc}; its cells run in this process, so their results may depend on the cells before them (and no "
                "cell time limit applies). Plugin authors: make ModelSpec.create a module-level callable of an "
                "importable module."
            )
            return None

    # -- on Dask workers --------------------------------------------------------------------

    def _run_distributed(self, suite: Suite, units: list[_Unit], report: RunReport) -> None:
        from ser_core.executor import DaskExecutor

        here, remote = [], []
        for unit in units:
            if not unit.todo:
                continue
            if len(unit.parts) > 1:
                # its table is built here from each part's cached table (extracted by processes of this one)
                here.append(unit)
                continue
            tasks = self._tasks(suite, unit)
            try:
                pickle.dumps((tasks[0], unit.feature, unit.manifest))
            except Exception as exc:  # e.g. a model factory that is a closure
                here.append(unit)
                self.reporter.warning(
                    unit.system.name,
                    f"its model or feature cannot be sent to worker processes ({type(exc).__name__}: {exc}); "
                    "running its folds in this process. Plugin authors: make ModelSpec.create a module-level callable."
                )
                continue
            remote.append((unit, tasks))
        for unit in here:
            self._run_here(suite, unit, report, self.workers if len(unit.parts) > 1 else 0)
        if not remote:
            return
        features.check_cache_dir()
        executor = DaskExecutor(workers=self.workers, scheduler=self.scheduler, config=self.executor_config,
                                waits=self.waits)
        self.executor = executor
        try:
            executor.start()
            if executor.where():
                self.reporter.note(executor.where())
            elif executor.dashboard:
                self.reporter.note(f"Dask dashboard: {executor.dashboard}")
            executor.check_shared_cache(features.cache_dir() / "features")
            executor.check_worker_imports(plugin_modules(unit for unit, _ in remote))
            if self.scheduler or self.executor_config:
                self._threads = executor.threads_per_worker
            self._submit_and_collect(suite, remote, report, executor)
        finally:
            self.executor = None
            executor.close()

    def _submit_and_collect(self, suite, remote, report: RunReport, executor) -> None:
        """Submit the plan as one graph and store each cell as it arrives; every wait is bounded
        (:class:`ser_core.waiting.Watch`): no workers for ``worker_wait`` or a silent scheduler stop the run."""
        from distributed import KilledWorker

        from ser_core.waiting import RunStopped, Watch
        from ser_core.executor import (
            TableInfo, assemble_table, describe_failure, ensure_table, extract_chunk, is_extraction_error,
            keep_finished_chunks, run_cell,
        )

        client = executor.client
        stored_before = report.computed + len(report.failed)
        gpus = executor.has_gpus()
        workers = max(1, executor.worker_count() or self.workers)
        tables: dict[tuple[str, str], Any] = {}
        extractions: dict[tuple[str, str], tuple] = {}  # tables extracted in chunks: what keeps their progress
        futures = {}
        retry_args: dict[CellKey, tuple] = {}
        retry_resources: dict[CellKey, Any] = {}
        resubmitted: set[CellKey] = set()
        totals: dict[str, int] = {}
        for unit, tasks in remote:
            manifest, feature = unit.table_manifest, unit.feature
            table_id = (manifest.corpus, feature.name)
            if table_id not in tables:
                entry = features.CacheEntry.of(manifest, feature)
                tag = f"{manifest.corpus}-{feature.name}-{entry.key}"
                if entry.exists():
                    tables[table_id] = client.submit(ensure_table, entry, key=f"table-{tag}", pure=False)
                else:
                    paths = [str(c.path) for c in manifest.clips]
                    size = max(1, -(-len(paths) // (4 * workers)))
                    chunks = [
                        client.submit(extract_chunk, [(i, paths[i]) for i in range(start, min(start + size, len(paths)))],
                                      feature.spec.extract, feature.spec.kind, key=(f"extract-{tag}", start), pure=False)
                        for start in range(0, len(paths), size)
                    ]
                    extractions[table_id] = (entry, chunks)
                    tables[table_id] = client.submit(assemble_table, entry, *chunks, key=f"table-{tag}", pure=False)
            layout = layout_of(unit.manifest, unit.folds, feature.spec.kind, unit.normalisation)
            # On GPU workers a cell of a model that uses an accelerator asks for one GPU and runs in a
            # fresh process (its GPU memory is freed when it ends); on CPU workers it trains in the worker.
            on_gpu, fresh = gpus and unit.model.spec.accelerator, self.in_fresh_process(unit.model)
            resources = {"GPU": 1} if on_gpu else None
            for task in tasks:
                k = task.key
                # one task group per (corpus, system): the scheduler queues its cells, so a worker holds
                # only the cell it runs and a worker's death is blamed on that cell alone
                name = (f"cell-{k.corpus}-{k.system}", k.repeat, k.fold, f"{k.protocol}-{k.instance}")
                future = client.submit(run_cell, task, tables[table_id], layout, on_gpu or fresh,
                                       self.cell_time_limit, key=name, resources=resources, pure=False)
                futures[future] = (unit, task)
                retry_args[task.key] = (tables[table_id], layout, on_gpu or fresh, self.cell_time_limit)
                retry_resources[task.key] = resources
            totals[unit.corpus.name] = totals.get(unit.corpus.name, 0) + len(tasks)
        infos: dict[int, Any] = {}  # id(unit) -> (TableInfo, details)
        skipped: set[int] = set()
        try:
            self.reporter.plan(totals)
            pending = Watch(client, list(futures), self.waits, address=executor.address)
            for future in pending:
                unit, task = futures.pop(future)
                if id(unit) in skipped:
                    self.reporter.cell_done(unit.corpus.name, False)
                    continue
                if id(unit) not in infos:
                    # the table's description (small); waits only if the worker holding it died since
                    table_future = tables[(unit.manifest.corpus, unit.feature.name)]
                    try:
                        info: TableInfo = pending.result(table_future)
                    except Exception as exc:
                        if isinstance(exc, (CacheError, RunStopped)):
                            raise
                        if is_extraction_error(exc):
                            name = f"{unit.system.name} on {unit.corpus.name}"
                            source = unit.feature.plugin  # whose code it was, for the report to go to
                            why = f"{exc} (feature {unit.feature.name!r} of {source.distribution} {source.version})"
                            self._skip(report, name, why)
                            skipped.add(id(unit))
                            self.reporter.cell_done(unit.corpus.name, False)
                            continue
                    else:
                        self._table_notes(unit, info.notes, list(info.silent), info.failures)
                        infos[id(unit)] = (info, self._details(unit, info.key, info.failures))
                try:
                    # a result lost with its worker after it finished is computed again, and waited for
                    _, outcome = pending.result(future)
                except Exception as exc:
                    if isinstance(exc, RunStopped):  # no workers, or a silent scheduler: not this cell's fault
                        raise
                    if isinstance(exc, KilledWorker) and task.key not in resubmitted:
                        # A dying worker's deaths count against every cell it held, so a cell that only
                        # shared a worker with the real culprit can be given up too: it gets one more round.
                        resubmitted.add(task.key)
                        again = client.submit(run_cell, task, *retry_args[task.key], key=future.key + ("again",),
                                              resources=retry_resources[task.key], pure=False)
                        futures[again] = (unit, task)
                        pending.add(again)
                        future.release()
                        continue
                    k = task.key
                    cell = f"{k.corpus} / {k.system} repeat {k.repeat} fold {k.fold}"
                    outcome = CellOutcome.failure(describe_failure(exc, cell), None, 0.0)
                details = infos[id(unit)][1] if id(unit) in infos else self._details(unit, "", {})
                self._store(task, outcome, unit.protocol, unit.instance, unit.folds, details, suite, report)
                self.reporter.cell_result(task.key, outcome)
                self.reporter.cell_done(unit.corpus.name, outcome.ok)
                future.release()
        except BaseException as exc:
            executor.cancel(futures)
            for table_id, (entry, chunks) in extractions.items():
                if tables[table_id].status != "finished":
                    try:
                        executor.call("keeping finished extraction chunks", lambda: keep_finished_chunks(
                            client, entry, chunks))
                    except Exception:
                        pass  # the interruption matters more than a lost checkpoint
            if isinstance(exc, RunStopped):  # say how far it got
                stored = report.computed + len(report.failed) - stored_before
                raise RunStopped(f"{exc} This run stored {stored} of its {sum(totals.values())} cells before it "
                                 "stopped.") from None
            raise

    def _skip(self, report: RunReport, what: str, why: str) -> None:
        """``what`` (a corpus, or a system on a corpus) cannot run: reported, and the run goes on."""
        report.skipped.append((what, why))
        self.reporter.warning(f"skipped {what}", why)

    def _run_id(self, suite: Suite) -> int:
        """This run's provenance row, written once, before its first cell."""
        if self._run_row is None:
            processes = {"workers": self.workers, "threads_per_worker": self._threads,
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

