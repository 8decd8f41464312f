"""Engines: how a plan's cells are computed, in this process or as one Dask task graph.

An engine takes the planned units (:class:`ser_core.plan.Unit`) and yields typed events, in the
order the work finishes: a unit's feature table is ready (:class:`TableReady`), a unit cannot run
(:class:`UnitSkipped`), a cell is computed (:class:`CellComputed`). It stores nothing: the runner
(:mod:`ser_core.runner`) writes each event's cell before the engine goes on, so an interrupted run
keeps every cell that was yielded. Both engines extract through the same cache entries
(:class:`ser_core.cache.CacheEntry`) and compute cells with the same code
(:func:`ser_core.cell.compute_cell`, in a fresh process when the runner asks for one).

:class:`InProcessEngine` runs the units one after the other here (``--workers 0`` or 1, and models
that cannot leave this process); :class:`DaskEngine` submits the plan as one graph to a local
cluster, a scheduler or a batch system (:mod:`ser_core.executor`) and yields cells as they arrive.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, Union

from ser_core import cache, features
from ser_core.cell import CellTask, compute_cell, layout_of, prepare
from ser_core.errors import CacheError, SerbenchError
from ser_core.events import Reporter
from ser_core.plan import Unit, plugin_modules
from ser_core.plugins import Registered
from ser_core.records import CellOutcome
from ser_core.results import CellKey


class Runner(Protocol):
    """What an engine reads of the runner it computes for (:class:`ser_core.runner.Runner`), and the
    two attributes it sets: ``executor`` while a Dask graph runs, ``threads`` a cluster's per worker."""

    reporter: Reporter
    workers: int
    cell_time_limit: float | None
    scheduler: str | None
    executor_config: Any
    waits: Any
    executor: Any
    threads: int

    def in_fresh_process(self, model: Registered) -> bool: ...


@dataclass
class TableReady:
    """A unit's feature table is in the cache (or built here): the clips it left out and why, the
    silent ones, and what the cache had to say (a rebuilt file, a continued extraction)."""

    unit: Unit
    cache_key: str
    failures: dict[str, str] = field(default_factory=dict)
    silent: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class UnitSkipped:
    """A unit cannot run (its features could not be extracted): ``why``, naming whose code failed."""

    unit: Unit
    why: str


@dataclass
class CellComputed:
    """One cell's outcome (a failure is an outcome too); ``fresh``: it ran in a fresh Python process."""

    unit: Unit
    task: CellTask
    outcome: CellOutcome
    fresh: bool


Event = Union[TableReady, UnitSkipped, CellComputed]


class InProcessEngine:
    """Computes units here, one after the other: extraction with ``extraction_workers`` processes
    (0: in this process), then every missing cell, each in a fresh process when the runner says so."""

    def __init__(self, runner: Runner, extraction_workers: int | None = None):
        self.runner = runner
        self.reporter = runner.reporter
        self.extraction_workers = runner.workers if extraction_workers is None else extraction_workers

    def execute(self, suite_seed: int, units: list[Unit]) -> Iterator[Event]:
        for unit in units:
            if unit.todo:
                yield from self.unit(suite_seed, unit)

    def unit(self, suite_seed: int, unit: Unit) -> Iterator[Event]:
        try:
            table = self._table(unit)
        except CacheError:
            raise  # the same for every system: stop, naming the cache directory
        except SerbenchError as exc:
            yield UnitSkipped(unit, str(exc))
            return
        data = prepare(table, layout_of(unit.manifest, unit.folds, unit.feature.spec.kind, unit.normalisation))
        yield TableReady(unit, table.cache_key, table.failures, table.silent, table.notes)
        self.reporter.stage(f"{unit.corpus.name}: {unit.system.name}", len(unit.todo))
        fresh = None
        if self.runner.in_fresh_process(unit.model):
            from ser_core.executor import FreshProcessCells

            fresh = FreshProcessCells(data, time_limit=self.runner.cell_time_limit)
        try:
            for task in unit.tasks(suite_seed):
                outcome = None
                if fresh is not None:
                    outcome = self._compute_fresh(fresh, task, unit)
                    if outcome is None:  # its model cannot leave this process: the rest run here too
                        fresh.close()
                        fresh = None
                if outcome is None:
                    outcome = compute_cell(task, data)
                yield CellComputed(unit, task, outcome, fresh is not None)
                self.reporter.advance(1)
        finally:
            if fresh is not None:
                fresh.close()

    def _table(self, unit: Unit) -> cache.FeatureTable:
        manifest, workers = unit.table_manifest, self.extraction_workers
        if len(unit.parts) > 1:
            from ser_core.blocks import extract_combined

            def stage(part: Registered) -> None:
                self.reporter.stage(f"{unit.manifest.corpus}: extracting {part.name}", len(manifest.clips))

            table, unit.blocks = extract_combined(manifest, unit.parts, workers=workers,
                                                  on_progress=self.reporter.advance, on_part=stage)
            return table
        self.reporter.stage(f"{unit.manifest.corpus}: extracting {unit.feature.name}", len(manifest.clips))
        return features.extract(manifest, unit.feature, workers=workers, on_progress=self.reporter.advance)

    def _compute_fresh(self, fresh, task: CellTask, unit: Unit) -> CellOutcome | None:
        """A cell computed in a fresh process; ``None`` (with a warning) when its model cannot be sent
        to one (a closure, or a class a new interpreter cannot import, as in a notebook)."""
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


class DaskEngine:
    """Submits the plan as one Dask task graph and yields each cell as it arrives; every wait is
    bounded (:class:`ser_core.waiting.Watch`): no workers for ``worker_wait`` or a silent scheduler
    stop the run with :class:`~ser_core.waiting.RunStopped`, saying how many cells were stored.

    Units whose table is combined from several features, or whose model or feature cannot be sent
    to a worker, run first, here (:class:`InProcessEngine`). While the graph runs, the runner's
    ``executor`` is the :class:`ser_core.executor.DaskExecutor`."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.reporter = runner.reporter

    def execute(self, suite_seed: int, units: list[Unit]) -> Iterator[Event]:
        from ser_core.executor import DaskExecutor

        runner = self.runner
        here, remote = [], []
        for unit in units:
            if not unit.todo:
                continue
            if len(unit.parts) > 1:
                # its table is built here from each part's cached table (extracted by processes of this one)
                here.append(unit)
                continue
            tasks = unit.tasks(suite_seed)
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
            yield from InProcessEngine(runner, runner.workers if len(unit.parts) > 1 else 0).unit(suite_seed, unit)
        if not remote:
            return
        cache.check_cache_dir()
        executor = DaskExecutor(workers=runner.workers, scheduler=runner.scheduler, config=runner.executor_config,
                                waits=runner.waits)
        runner.executor = executor
        try:
            executor.start()
            if executor.where():
                self.reporter.note(executor.where())
            elif executor.dashboard:
                self.reporter.note(f"Dask dashboard: {executor.dashboard}")
            executor.check_shared_cache(cache.cache_dir() / "features")
            executor.check_worker_imports(plugin_modules(unit for unit, _ in remote))
            if runner.scheduler or runner.executor_config:
                runner.threads = executor.threads_per_worker
            yield from self._submit_and_collect(remote, executor)
        finally:
            runner.executor = None
            executor.close()

    def _submit_and_collect(self, remote, executor) -> Iterator[Event]:
        from distributed import KilledWorker

        from ser_core.executor import (
            TableInfo, assemble_table, describe_failure, ensure_table, extract_chunk, is_extraction_error,
            keep_finished_chunks, run_cell,
        )
        from ser_core.waiting import RunStopped, Watch

        runner, client = self.runner, executor.client
        gpus = executor.has_gpus()
        workers = max(1, executor.worker_count() or runner.workers)
        tables: dict[tuple[str, str], Any] = {}
        extractions: dict[tuple[str, str], tuple] = {}  # tables extracted in chunks: what keeps their progress
        futures = {}
        retry_args: dict[CellKey, tuple] = {}
        retry_resources: dict[CellKey, Any] = {}
        resubmitted: set[CellKey] = set()
        totals: dict[str, int] = {}
        fresh_of: dict[int, bool] = {}
        for unit, tasks in remote:
            manifest, feature = unit.table_manifest, unit.feature
            table_id = (manifest.corpus, feature.name)
            if table_id not in tables:
                entry = cache.CacheEntry.of(manifest, feature)
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
            on_gpu = bool(gpus and unit.model.spec.accelerator)
            fresh = fresh_of[id(unit)] = on_gpu or runner.in_fresh_process(unit.model)
            resources = {"GPU": 1} if on_gpu else None
            for task in tasks:
                k = task.key
                # one task group per (corpus, system): the scheduler queues its cells, so a worker holds
                # only the cell it runs and a worker's death is blamed on that cell alone
                name = (f"cell-{k.corpus}-{k.system}", k.repeat, k.fold, f"{k.protocol}-{k.instance}")
                future = client.submit(run_cell, task, tables[table_id], layout, fresh,
                                       runner.cell_time_limit, key=name, resources=resources, pure=False)
                futures[future] = (unit, task)
                retry_args[task.key] = (tables[table_id], layout, fresh, runner.cell_time_limit)
                retry_resources[task.key] = resources
            totals[unit.corpus.name] = totals.get(unit.corpus.name, 0) + len(tasks)
        ready: set[int] = set()  # id(unit) of units whose TableReady was yielded
        skipped: set[int] = set()
        stored = 0
        try:
            self.reporter.plan(totals)
            pending = Watch(client, list(futures), runner.waits, address=executor.address)
            for future in pending:
                unit, task = futures.pop(future)
                if id(unit) in skipped:
                    self.reporter.cell_done(unit.corpus.name, False)
                    continue
                if id(unit) not in ready:
                    # the table's description (small); waits only if the worker holding it died since
                    table_future = tables[(unit.manifest.corpus, unit.feature.name)]
                    try:
                        info: TableInfo = pending.result(table_future)
                    except Exception as exc:
                        if isinstance(exc, (CacheError, RunStopped)):
                            raise
                        if is_extraction_error(exc):
                            source = unit.feature.plugin  # whose code it was, for the report to go to
                            yield UnitSkipped(unit, f"{exc} (feature {unit.feature.name!r} of {source.distribution} "
                                                    f"{source.version})")
                            skipped.add(id(unit))
                            self.reporter.cell_done(unit.corpus.name, False)
                            continue
                    else:
                        ready.add(id(unit))
                        yield TableReady(unit, info.key, info.failures, list(info.silent), list(info.notes))
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
                yield CellComputed(unit, task, outcome, fresh_of[id(unit)])
                stored += 1  # the runner stored it before this generator went on
                self.reporter.cell_done(unit.corpus.name, outcome.ok)
                future.release()
        except BaseException as exc:  # an interruption, a lost scheduler, or the runner stopping (GeneratorExit)
            executor.cancel(futures)
            for table_id, (entry, chunks) in extractions.items():
                if tables[table_id].status != "finished":
                    try:
                        executor.call("keeping finished extraction chunks", lambda: keep_finished_chunks(
                            client, entry, chunks))
                    except Exception:
                        pass  # the interruption matters more than a lost checkpoint
            if isinstance(exc, RunStopped):  # say how far it got
                raise RunStopped(f"{exc} This run stored {stored} of its {sum(totals.values())} cells before it "
                                 "stopped.") from None
            raise
