"""The ``serbench`` command line: list plugins, run suites, print the leaderboard, manage the cache.

Start-up stays light: plugin modules are imported to list them, but TensorFlow, openSMILE and
librosa are only imported when a feature is extracted or a model trained. Every
:class:`~ser_core.errors.SerbenchError` (and every ``OSError`` or SQLite error) becomes a short
message and exit status 2, not a traceback; ``serbench --verbose`` or ``SERBENCH_DEBUG=1`` shows the
traceback too (see :mod:`ser_core.cli_common`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.markup import escape
from rich.table import Table

from ser_core import config as paths
from ser_core.cli_common import (DEBUG_ENV, ForceOption, ResamplesOption, StatsSeedOption, check_stored_names, console,
                                 err_console, export_format, friendly_errors, parse_corpus_paths, set_verbose)
from ser_core.errors import ConfigError

app = typer.Typer(
    help="serbench: a benchmark harness for speech emotion recognition.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

ConfigOption = Annotated[
    Optional[Path],
    typer.Option(
        "--config", "-c",
        help="Benchmarks file adding to (or replacing) the registered suites and systems \\[default: "
        "$SERBENCH_CONFIG, else ./benchmarks.toml when present].",
    ),
]


@app.callback()
def main_options(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help=f"Show the Python traceback behind an error (also: {DEBUG_ENV}=1).")
    ] = False,
) -> None:
    """serbench: a benchmark harness for speech emotion recognition."""
    set_verbose(verbose)


DbOption = Annotated[
    Optional[Path], typer.Option("--db", help="Results database \\[default: $SERBENCH_DB or ./serbench.db].")
]


@app.command("list")
@friendly_errors
def list_plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List installed corpora, features, models, and the systems, suites and published references of
    benchmark distributions, each with its distribution; and any broken plugins."""
    from ser_core.plugins import load_registry
    from ser_core.suites import registered

    registry = load_registry()
    registered(registry)  # a registered system or suite that cannot be used marks its plugin broken
    rows = registry.rows()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("kind", "name", "distribution", "version", "status", title="serbench plugins")
    for row in rows:
        status = "[green]ok[/]" if row["status"] == "ok" else f"[red]broken[/]: {row['error']}"
        table.add_row(row["kind"], row["name"], row["distribution"], row["version"], status)
    console.print(table)


class _RichReporter:
    """Renders runner progress as rich progress bars: one per stage of an in-process run, one per
    corpus (cells done, running, failed) over the whole plan of a distributed run.

    When the output is not a terminal (a log file, ``nohup``, a batch job), where no bar is drawn,
    it writes one time-stamped line per finished cell instead: UAR or error, wall time, count.
    """

    def __init__(self, progress: Progress):
        self.progress = progress
        self.task = None
        self.corpora: dict[str, list] = {}  # corpus -> [task, total, done, failed]
        self.log_cells = not progress.console.is_terminal
        self.planned: int | None = None
        self.planned_at = 0.0
        self.finished = 0

    def cell_result(self, key, outcome) -> None:
        self.finished += 1
        if not self.log_cells:
            return
        count = f"{self.finished} done"
        if self.planned:
            count = f"{self.finished} of {self.planned} cells"
            left = self.planned - self.finished
            if left > 0:  # the pace so far, which mixes systems of different speeds: a rough guide
                count += f", about {_duration((time.monotonic() - self.planned_at) / self.finished * left)} left"
        where = f"{key.corpus} / {key.system} repeat {key.repeat} fold {key.fold}"
        if outcome.ok:
            what = f"UAR {100 * outcome.uar:.1f}%"
        else:
            first_line = (outcome.error or "").strip().splitlines()[:1]
            what = "FAILED" + (f": {first_line[0][:200]}" if first_line else "")
        self.progress.console.print(
            f"{time.strftime('%H:%M:%S')} {escape(where)}: {escape(what)} in {_duration(outcome.wall_time)} "
            f"({count})", highlight=False, soft_wrap=True,
        )

    def plan(self, totals) -> None:
        self.planned = sum(totals.values())
        self.planned_at = time.monotonic()
        if self.task is not None:
            self.progress.update(self.task, visible=False)
        for corpus, total in totals.items():
            task = self.progress.add_task(self._describe(corpus, total, 0, 0), total=total)
            self.corpora[corpus] = [task, total, 0, 0]

    @staticmethod
    def _describe(corpus: str, total: int, done: int, failed: int) -> str:
        return f"{escape(corpus)}: {done - failed} done, {total - done} queued or running, {failed} failed"

    def cell_done(self, corpus: str, ok: bool) -> None:
        row = self.corpora[corpus]
        row[2] += 1
        row[3] += 0 if ok else 1
        self.progress.update(row[0], advance=1, description=self._describe(corpus, row[1], row[2], row[3]))

    def stage(self, description: str, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, visible=False)
        self.task = self.progress.add_task(escape(description), total=total)

    def advance(self, steps: int = 1) -> None:
        self.progress.advance(self.task, steps)

    def note(self, message: str) -> None:
        self.progress.console.print(escape(message))

    def warning(self, subject: str, detail: str = "") -> None:
        self.progress.console.print(f"[yellow]{escape(subject)}[/]" + (f": {escape(detail)}" if detail else ""))

    def failure(self, subject: str, detail: str) -> None:
        self.progress.console.print(f"[red]{escape(subject)}[/]: {escape(detail)}")


@app.command()
@friendly_errors
def run(
    suite: Annotated[str, typer.Option("--suite", "-s", help="Suite to run (`serbench suites` lists them).")] = "demo",
    config: ConfigOption = None,
    db: DbOption = None,
    corpus_path: Annotated[
        Optional[list[str]], typer.Option("--corpus-path", help="NAME=DIR: where a corpus lives (repeatable).")
    ] = None,
    workers: Annotated[
        Optional[int], typer.Option(min=0, help="Local Dask worker processes for feature extraction and folds \\[default: number of cores]; 1 runs the cells in this process (extraction in one child process), 0 runs everything in this process.")
    ] = None,
    only_corpus: Annotated[
        Optional[list[str]], typer.Option("--corpus", help="Run only this corpus of the suite (repeatable).")
    ] = None,
    only_system: Annotated[
        Optional[list[str]], typer.Option("--system", help="Run only this system of the suite (repeatable).")
    ] = None,
    scheduler: Annotated[
        Optional[str],
        typer.Option("--scheduler", envvar="SERBENCH_SCHEDULER", show_envvar=True,
                     help="Address of an existing Dask scheduler (tcp://HOST:PORT) to run the cells on."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan (cells done and missing, estimated compute) and exit.")
    ] = False,
    worker_wait: Annotated[
        Optional[float],
        typer.Option("--worker-wait", metavar="SECONDS",
                     help="Stop a distributed run (exit 1, finished cells kept) once the scheduler has had no "
                          "worker for this long \\[default: $SERBENCH_WORKER_WAIT, else \\[executor] worker_wait, "
                          "else 300]."),
    ] = None,
    cell_process: Annotated[
        str, typer.Option("--cell-process", envvar="SERBENCH_CELL_PROCESS", show_envvar=True,
                          metavar="auto|fresh|in-process",
                          help="Where each cell trains: auto (a fresh Python process for each cell of a neural "
                               "model, so its result does not depend on the cells before it; others in place), "
                               "fresh (every cell), in-process (none: faster, results may depend on cell order; "
                               "stored with each cell).")
    ] = "auto",
    cell_time_limit: Annotated[
        Optional[float], typer.Option("--cell-time-limit", envvar="SERBENCH_CELL_TIME_LIMIT", show_envvar=True,
                                      metavar="SECONDS",
                                      help="Stop a cell whose fit and predict take longer (above 0, at most a week), "
                                           "and store it as failed (cells then run in fresh processes) "
                                           "\\[default: none].")
    ] = None,
) -> None:
    """Run a suite (computing only cells not already stored), then print its leaderboard.

    The cells run in this process with --workers 0 or 1, otherwise as one Dask task graph: on a local
    cluster of --workers processes, on the cluster of --scheduler, or on the batch system of the
    benchmarks file's \\[executor] table. Corpora with no directory configured are reported and
    skipped; the exit status is 1 when a cell failed or something could not run for another reason
    (a distributed run that lost all its workers or its scheduler stops with 1 too), 130 when
    interrupted (re-run to resume).
    """
    from ser_core.plugins import load_registry
    from ser_core.results import ResultStore
    from ser_core.results_check import check_results_db, results_db_errors
    from ser_core.plan import check_cell_options
    from ser_core.runner import Runner
    from ser_core.suites import NoSuitesError, load_suites
    from ser_core.waiting import RunStopped, resolve_waits

    check_cell_options(cell_process, cell_time_limit)  # refused before the database is touched
    paths.check_thread_variables()
    _check_cache_root()
    registry = load_registry()
    benchmarks = load_suites(config, registry)
    try:
        chosen = benchmarks.suite(suite).subset(only_corpus, only_system)
    except NoSuitesError as exc:  # not a usage error: the installation lacks something
        err_console.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    parse_corpus_paths(corpus_path or [])  # refused before the database is touched
    waits = resolve_waits(worker_wait=worker_wait, config=benchmarks.executor)
    _check_where_it_runs(scheduler, workers, benchmarks.executor)
    for plugin in registry.plugins:
        if plugin.status == "broken":
            err_console.print(f"[yellow]warning:[/] plugin {plugin.name} is broken (see `serbench list`)")
    _check_corpus_paths(parse_corpus_paths(corpus_path or []), registry, chosen)
    db_path = db or paths.default_db()
    check_results_db(db_path, write=not dry_run)
    console.print(
        f"Suite [bold]{chosen.name}[/]: {len(chosen.corpora)} corpora x {len(chosen.systems)} systems, "
        f"{chosen.repeats} repeats, seed {chosen.seed}, normalisation {chosen.normalisation}"
        f"{', text-independent folds' if chosen.folds == 'text-independent' else ''}; results in {db_path}"
    )
    # a dry run only reads: the file is left as it is (not created, migrated or switched to WAL)
    opened = db_path if not dry_run or Path(db_path).exists() else ":memory:"
    with results_db_errors(db_path), ResultStore(opened, readonly=dry_run) as store:
        _note_migration(store)
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console,
        )
        runner = Runner(
            registry, store, corpus_paths=parse_corpus_paths(corpus_path or []), workers=workers,
            reporter=_RichReporter(progress), scheduler=scheduler or None, executor=benchmarks.executor,
            waits=waits,
            cell_process=cell_process, cell_time_limit=cell_time_limit,
        )
        if dry_run:
            _print_plan(*runner.plan(chosen, benchmarks.corpus_paths), runner)
            return
        try:
            with progress:
                report = runner.run(chosen, benchmarks.corpus_paths)
        except KeyboardInterrupt:
            err_console.print(
                f"[yellow]Interrupted.[/] Finished cells are kept in {db_path} and extracted features in the "
                "cache; run the same command again to resume."
            )
            raise typer.Exit(130) from None
        except RunStopped as exc:  # the run could not go on (no workers, a silent scheduler): a run problem
            from ser_core.cli_common import debugging

            if debugging():
                err_console.print_exception()
            err_console.print(f"[bold red]Run stopped:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(1) from None
        console.print(
            f"{report.computed} cells computed, {report.resumed} already stored, "
            f"{len(report.failed)} failed, {len(report.skipped)} skipped, "
            f"{len(report.missing)} corpora without data."
        )
        if chosen.protocol == "within":
            _print_leaderboard(store, list(chosen.corpora), [s.name for s in chosen.systems])
        else:  # the cross-corpus board of this suite's systems (ser_core.crossboard)
            from ser_core import crossboard

            board = crossboard.compute(store, [s.name for s in chosen.systems])
            if board:
                crossboard.to_terminal(board, console)
    if report.missing:
        names = ", ".join(name for name, _ in report.missing)
        err_console.print(
            f"[yellow]no data configured for[/] {names}: "
            + escape("pass --corpus-path NAME=DIR, add [corpora.NAME] to the benchmarks file, set "
                     "SERBENCH_CORPUS_<NAME>, or run `serbench corpus download NAME` (see `serbench corpus list`)."),
            highlight=False,
        )
    for what, why in report.skipped:
        err_console.print(f"[yellow]skipped[/] {what}: {escape(why)}", highlight=False)
    if report.failed:
        err_console.print(f"[red]{len(report.failed)} cells failed[/]; errors are stored with them. Re-run to retry.")
    if report.computed + report.resumed + len(report.failed) == 0:
        err_console.print(
            f"[bold red]Nothing ran:[/] no cell of suite {escape(chosen.name)} could be computed "
            "(see the messages above); exit status 1.",
            highlight=False,
        )
        raise typer.Exit(1)
    if not report.ok:
        raise typer.Exit(1)


def _check_cache_root() -> None:
    """A feature cache location that is a file (``SERBENCH_CACHE_DIR=/dev/null``) is a usage error before any
    work: it skipped every generated corpus and failed every extraction, exit status 1 for a setting."""
    root = paths.cache_dir()
    blocker = next((p for p in (root, *root.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        where = "is a file" if blocker == root else f"cannot be created: {blocker} is a file"
        raise ConfigError(f"the feature cache {root} {where}, not a directory. Set SERBENCH_CACHE_DIR to a "
                          "directory (features and generated corpora are kept there).")


def _check_corpus_paths(given: dict[str, Path], registry, chosen) -> None:
    """A ``--corpus-path`` naming no installed corpus is a usage error (a misspelling left the corpus meant
    without data, and said nothing of the name); one naming a corpus this run does not use is a warning."""
    from ser_core.errors import UnknownNameError

    used = set(chosen.corpora)
    for name, directory in given.items():
        try:
            registry.corpus(name)
        except UnknownNameError as exc:
            raise ConfigError(f"--corpus-path {name}={directory}: {exc}") from None
        if name not in used:
            err_console.print(f"[yellow]warning:[/] --corpus-path {escape(name)}=...: suite {escape(chosen.name)} "
                              f"does not use corpus {escape(name)} here (it runs {escape(', '.join(chosen.corpora))}); "
                              "the location is not used.", highlight=False)


def _check_where_it_runs(scheduler: str | None, workers: int | None, executor) -> None:
    """Usage errors of where the cells run, before the database is touched: a malformed --scheduler
    (or TLS settings), or more local worker processes than the machine can hold."""
    from ser_core.executor import check_local_workers, check_scheduler_address, tls_security

    tls_security()  # all three TLS files or none, whichever cluster
    if workers is not None and (scheduler or (executor is not None and executor.batch)):
        where = (f"the Dask scheduler at {scheduler} (--scheduler or $SERBENCH_SCHEDULER)" if scheduler
                 else f"the {executor.kind} cluster of the benchmarks file's [executor]")
        raise ConfigError(f"--workers {workers} sets this machine's local worker processes, but the cells would run "
                          f"on {where}, whose workers are its own; --workers would be ignored. Drop --workers, or "
                          "run locally without the scheduler (unset SERBENCH_SCHEDULER) or [executor].")
    if scheduler:
        check_scheduler_address(scheduler)
    elif workers is not None and not (executor is not None and executor.batch):
        check_local_workers(workers)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _print_plan(rows, report, runner) -> None:
    """``serbench run --dry-run``: cells per corpus and system, done and missing, estimated compute."""
    table = Table(title="Plan (nothing was computed)")
    for column in ("corpus", "system", "cells", "done", "missing", "estimated compute"):
        table.add_column(column, justify="right" if column in ("cells", "done", "missing") else "left")
    known = 0.0
    unknown = 0
    for row in rows:
        if row.missing == 0:
            estimate = "-"
        elif row.seconds is None:
            estimate = "? (no stored cell to time)"
            unknown += row.missing
        else:
            estimate = f"{_duration(row.seconds)} ({row.missing} x {row.cell_seconds:.1f} s)"
            known += row.seconds
        table.add_row(escape(row.corpus), escape(row.system), str(row.cells), str(row.done), str(row.missing), estimate)
    console.print(table)
    missing = sum(r.missing for r in rows)
    where = (f"the Dask scheduler at {runner.scheduler}" if runner.scheduler
             else f"a {runner.executor_config.kind} cluster (\\[executor])" if runner.executor_config
             else f"{runner.workers} local worker processes" if runner.distributed else "this process")
    console.print(
        f"{missing} of {sum(r.cells for r in rows)} cells to compute on {where}; estimated compute "
        f"{_duration(known)}" + (f" plus {unknown} cells with no stored timing" if unknown else "")
        + " (one core's time; divide by the workers for wall time)."
    )
    for corpus, why in report.missing:
        err_console.print(f"[yellow]no data for[/] {escape(corpus)}: {escape(why)}", highlight=False)
    for what, why in report.skipped:
        err_console.print(f"[yellow]would skip[/] {escape(what)}: {escape(why)}", highlight=False)


def _print_leaderboard(store, corpora: list[str] | None = None, systems: list[str] | None = None, *,
                       all_configs: bool = False, resamples: int = 1000, seed: int = 0, reference=None) -> None:
    from ser_core import leaderboard

    board = leaderboard.compute(store, corpora, systems, all_configs=all_configs, resamples=resamples, seed=seed)
    if not board:
        console.print("No results stored yet. Run `serbench run` first.")
        return
    _print_board(board, reference)


def _print_board(board, reference=None) -> None:
    """The board in the terminal: the table, its legend, settings, notes, ranks, published numbers."""
    from ser_core import leaderboard

    title = "UAR % (mean ± sd over repeats of the fold mean [95% speaker-bootstrap CI])" if board.resamples else (
        "UAR % (mean ± sd over repeats of the fold mean)")
    table = Table("corpus", *board.columns, title=title)
    for corpus, by_column in board.rows:
        table.add_row(corpus, *(escape(leaderboard.format_cell(by_column[c])) if c in by_column else ""
                                for c in board.columns))
    console.print(table)
    if board.resamples:
        console.print(f"  {escape(leaderboard.LEGEND)}", highlight=False)
    shown = {}
    for e in board.entries:
        if e.overrides:
            shown[e.column] = e.overrides
    for name, overrides in shown.items():
        stated = ", ".join(f"{k}={v}" for k, v in overrides.items())
        console.print(f"  {escape(name)}: settings differ from the model's defaults: {escape(stated)}", highlight=False)
    for line in board.notes:
        console.print(f"  {escape(line)}", highlight=False)
    for line in leaderboard.rank_lines(board):
        console.print(f"  {escape(line)}", highlight=False)
    if reference is not None and reference.measure != "uar":
        rows = leaderboard.accuracy_rows(board, reference)
        ref = Table("corpus", "who", f"{reference.measure} %", "source",
                    title=f"Published {reference.measure} ({reference.label}): not a UAR, shown beside the board, "
                          "not compared")
        for row in rows:
            ref.add_row(row["corpus"], row["system"], leaderboard.pct(row["published"]), row["source"])
        if rows:
            console.print(ref)
        else:
            console.print(f"  {reference.label}: no published figure for a corpus of this board.")
    elif reference is not None:
        rows = leaderboard.reference_rows(board, reference)
        ref = Table("corpus", "system", "ours %", "95% CI", "published %", "difference",
                    title=f"Published numbers ({reference.label})")
        for row in rows:
            ci = f"[{leaderboard.pct(row['ci'].low)}, {leaderboard.pct(row['ci'].high)}]" if row["ci"] else ""
            diff = "" if row["difference"] is None else f"{100 * row['difference']:+.1f}"
            ref.add_row(row["corpus"], row["system"], leaderboard.pct(row["ours"]), ci,
                        leaderboard.pct(row["published"]), diff)
        if rows:
            console.print(ref)
        else:
            console.print(f"  {reference.label}: no published number matches a (corpus, system) of this board.")
        unmatched = leaderboard.unmatched_note(board, reference)
        if unmatched:
            console.print(f"  {escape(unmatched)}", highlight=False)


@app.command("leaderboard")
@friendly_errors
def show_leaderboard(
    db: DbOption = None,
    corpus: Annotated[Optional[list[str]], typer.Option(help="Only these corpora (repeatable).")] = None,
    system: Annotated[Optional[list[str]], typer.Option(help="Only these systems (repeatable).")] = None,
    fmt: Annotated[
        Optional[str],
        typer.Option(
            "--format", "-f",
            help="table (terminal), md, csv, json or html (self-contained, with figures) \\[default: from "
            "the --output suffix, else table].",
        ),
    ] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the export here instead of stdout.")] = None,
    all_configs: Annotated[
        bool, typer.Option("--all-configs", help="Show every stored configuration of a system on a corpus, not "
                           "only the newest.")
    ] = False,
    reference: Annotated[
        Optional[str], typer.Option("--reference", help="Published numbers to print beside ours, with the difference: "
                                    "a registered reference's name (e.g. keesing2020; `serbench list` shows them) or a "
                                    "CSV file (corpus,system,uar in %).")
    ] = None,
    resamples: ResamplesOption = 1000,
    stats_seed: StatsSeedOption = 0,
    force: ForceOption = False,
) -> None:
    """Print or export the board computed from the stored results, with speaker-level statistics."""
    from ser_core import export, leaderboard, outputs
    from ser_core.results import ResultStore
    from ser_core.results_check import check_results_db, results_db_errors

    fmt = export_format(fmt, output, export.FORMATS)
    replacing = False
    if output is not None:
        replacing = outputs.refuse_to_replace(output, force)
        outputs.check_output(output)  # before the (possibly slow) rendering
    ref = leaderboard.load_reference(reference) if reference is not None else None
    db_path = db or paths.default_db()
    if not db_path.exists():
        raise ConfigError(f"{db_path}: no results database here. Run `serbench run` or pass --db PATH.")
    check_results_db(db_path, write=False)
    with results_db_errors(db_path), ResultStore(db_path, readonly=True) as store:
        _note_migration(store)
        check_stored_names(store, corpus, system)
        board = leaderboard.compute(store, corpus, system, all_configs=all_configs, resamples=resamples, seed=stats_seed)
        stored = store.names()
    if not board:
        if not corpus and not system:
            if fmt == "table":
                console.print("No results stored yet. Run `serbench run` first.")
                return
            raise ConfigError(f"{db_path}: no stored results match; run `serbench run` first.")
        asked = " and ".join(part for part in (
            f"--corpus {', '.join(corpus)}" if corpus else "", f"--system {', '.join(system)}" if system else "") if part)
        raise ConfigError(f"{db_path}: no stored within-corpus result matches {asked}: each name is stored, but "
                          f"not together (stored corpora: {', '.join(stored[0])}; systems: {', '.join(stored[1])}). "
                          "Check the combination, or run the missing cells with `serbench run` (cross-corpus "
                          "results are shown by `serbench crossboard`).")
    if fmt == "table":
        _print_board(board, ref)
        return
    text = export.render(board, fmt, reference=ref)
    if output is None:
        outputs.write_stdout(text)
    else:
        outputs.write_text(output, text)
        (err_console if outputs.is_stream(output) else console).print(
            f"{'replaced' if replacing else 'wrote'} {escape(str(output))} ({len(board.entries)} entries)",
            highlight=False)


def _note_migration(store) -> None:
    if store.migrated_from is None:
        return
    if store.migrated_in_memory:
        how = ("its results were read through the migration in memory; the file is unchanged (the next "
               "`serbench run` on it migrates it)")
    else:
        how = "it was migrated to the current schema; the old rows are kept, unchanged, in the table cells_v1"
    err_console.print(
        f"[yellow]note:[/] {escape(str(store.path))} was written by an older serbench (results schema "
        f"{store.migrated_from}): {how}.",
        highlight=False,
    )


@app.command("compare")
@friendly_errors
def compare(
    system_a: Annotated[str, typer.Argument(help="First system (as stored).")],
    system_b: Annotated[str, typer.Argument(help="Second system (as stored).")],
    db: DbOption = None,
    corpus: Annotated[Optional[list[str]], typer.Option(help="Only these corpora (repeatable).")] = None,
    resamples: ResamplesOption = 1000,
    stats_seed: StatsSeedOption = 0,
) -> None:
    """Paired comparison of two systems on each corpus both were run on: UAR difference (A - B), its
    95% speaker-bootstrap CI, and a speaker-level paired permutation test on the clips both were tested on."""
    from ser_core import leaderboard
    from ser_core.results import ResultStore
    from ser_core.results_check import check_results_db, results_db_errors

    if resamples == 0:
        raise typer.BadParameter("0 turns the statistics off, but compare is a statistical test; give 100 to "
                                 "100000 (default 1000).", param_hint="'--resamples'")
    if system_a == system_b:
        raise typer.BadParameter(f"both systems are {system_a!r}; name two different systems.",
                                 param_hint="'SYSTEM_A' and 'SYSTEM_B'")
    db_path = db or paths.default_db()
    if not db_path.exists():
        raise ConfigError(f"{db_path}: no results database here. Run `serbench run` or pass --db PATH.")
    check_results_db(db_path, write=False)
    with results_db_errors(db_path), ResultStore(db_path, readonly=True) as store:
        _note_migration(store)
        check_stored_names(store, corpus, [system_a, system_b], system_label="system")
        board = leaderboard.compute(store, corpus, [system_a, system_b], statistics=False)
    table = Table("corpus", f"{system_a} %", f"{system_b} %", "A - B", "95% CI", "p", "speakers", "clips",
                  title=f"serbench compare {system_a} {system_b}")
    compared = 0
    across: list[str] = []  # corpora where A and B ran on the same clips under different folds
    skipped: list[str] = []  # corpora with a result of only one of the two, and which
    for row, by_column in board.rows:
        a = next((e for e in by_column.values() if e.system == system_a), None)
        b = next((e for e in by_column.values() if e.system == system_b), None)
        if a is None or b is None:
            skipped.append(f"{row} (only {system_a if b is None else system_b} has results there)")
            continue
        result = leaderboard.compare_entries(a, b, resamples=resamples, seed=stats_seed, across_folds=True)
        if result is None:
            why = ("different versions of the corpus" if not leaderboard.same_clips(a, b)
                   else "no complete repeat with clips in common")
            table.add_row(row, leaderboard.pct(a.uar_mean), leaderboard.pct(b.uar_mean), "", "", f"not comparable: {why}",
                          "", "")
            continue
        compared += 1
        if a.instance_key != b.instance_key:
            across.append(row)
        ci = f"[{100 * result.ci.low:+.1f}, {100 * result.ci.high:+.1f}]" if result.ci else ""
        p = f"{result.p_value:.3g}" + (" *" if result.significant else "") + ("" if result.exact else " (MC)")
        table.add_row(row, leaderboard.pct(result.uar_a), leaderboard.pct(result.uar_b),
                      f"{100 * result.difference:+.1f}", ci, p, str(result.n_speakers), str(result.n_clips))
    if not table.rows:
        where = f" among --corpus {', '.join(corpus)}" if corpus else ""
        raise ConfigError(f"no corpus{where} has results of both {system_a!r} and {system_b!r}, so there is nothing to "
                          f"compare: {'; '.join(skipped) or 'no stored results match'}. Run both systems on the same "
                          "corpus first (`serbench run --system ...`).")
    console.print(table)
    if skipped:
        console.print(f"  not compared: {escape('; '.join(skipped))}.", highlight=False)
    console.print(
        "  UARs here are recomputed on the clips both systems were tested on. p: two-sided speaker-level paired "
        f"permutation test (* p < 0.05; exact for up to 12 speakers, else {resamples} random permutations, "
        f"marked MC); CI: speaker-level paired bootstrap ({resamples} resamples, seed {stats_seed}).",
        highlight=False,
    )
    for line in board.notes:
        if across and line.startswith("systems on ") and line.endswith("not compared with each other"):
            continue  # the board's note; here they are compared, as the next line says
        console.print(f"  {escape(line)}", highlight=False)
    if across:
        console.print(
            f"  {', '.join(across)}: {system_a} and {system_b} ran on the same clips under different folds (e.g. "
            "speaker- vs text-independent); each clip's prediction comes from a model that never saw its speaker, "
            "so the speaker-level pairing holds, but the difference includes the change of folds.", highlight=False,
        )
    if compared == 0:
        err_console.print("[bold red]Nothing compared:[/] no corpus has results of both systems that can be paired "
                          "(see 'not comparable' in the table for why); exit status 1.", highlight=False)
        raise typer.Exit(1)


@app.command("suites")
@friendly_errors
def list_suites(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """List the suites (registered by the installed benchmark distributions, and from the benchmarks
    file) with their corpora, systems and origin: the distribution that registered each, or the file."""
    from ser_core.suites import load_suites

    benchmarks = load_suites(config)

    def origin(where: Path | str) -> str:
        return str(where.resolve()) if isinstance(where, Path) else where

    if as_json:
        print(json.dumps({
            "suites": [
                {"name": s.name, "corpora": list(s.corpora), "systems": [x.name for x in s.systems],
                 "repeats": s.repeats, "seed": s.seed, "normalisation": s.normalisation,
                 "protocol": s.protocol, "classes": list(s.classes), "cap_per_corpus": s.cap_per_corpus,
                 "description": s.description, "defined_in": origin(benchmarks.suite_origins[s.name])}
                for s in benchmarks.suites.values()
            ],
            "systems": [
                {"name": x.name, "model": x.model, "feature": x.feature, "features": list(x.features),
                 "settings": x.settings, "normalisation": x.normalisation,
                 "defined_in": origin(benchmarks.system_origins[x.name])}
                for x in benchmarks.systems.values()
            ],
        }, indent=2))
        return
    table = Table(title="serbench suites")
    for column in ("suite", "corpora", "systems", "repeats", "protocol", "defined in"):
        table.add_column(column, overflow="fold")
    for s in benchmarks.suites.values():
        protocol = s.protocol + (f" ({', '.join(s.classes)})" if s.classes else "")
        table.add_row(s.name, ", ".join(s.corpora), ", ".join(x.name for x in s.systems), str(s.repeats),
                      protocol, escape(origin(benchmarks.suite_origins[s.name])))
    console.print(table)
    systems = Table(title="systems")
    for column in ("system", "model", "feature", "settings", "defined in"):
        systems.add_column(column, overflow="fold")
    for x in benchmarks.systems.values():
        settings = ", ".join(f"{k}={v}" for k, v in x.settings.items())
        if x.normalisation:
            settings = ", ".join(filter(None, [settings, f"normalisation={x.normalisation}"]))
        systems.add_row(x.name, x.model, x.feature, escape(settings),
                        escape(origin(benchmarks.system_origins[x.name])))
    console.print(systems)


@app.command("validate-plugin")
@friendly_errors
def validate_plugin(
    name: Annotated[str, typer.Argument(help="A plugin (as in `serbench list`), its distribution, or a "
                                            "corpus/feature/model it registers.")],
) -> None:
    """Check a plugin against the contract on generated data (exit 1 when a check fails)."""
    from ser_core.plugins import load_registry
    from ser_core.validate import validate_plugin as run_checks

    checks = run_checks(load_registry(), name)
    table = Table("subject", "check", "result", "detail", title=f"serbench validate-plugin {name}")
    for check in checks:
        result = "[green]pass[/]" if check.passed else "[red]FAIL[/]"
        table.add_row(check.subject, check.check, result, escape(check.detail))
    console.print(table)
    failed = sum(not c.passed for c in checks)
    console.print(f"{len(checks) - failed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)


def _add_command_groups() -> None:
    from ser_core.cli_corpus import corpus_app
    from ser_core.cli_cross import crossboard
    from ser_core.cli_features import cache_app, features_app
    from ser_core.cli_models import models_app
    from ser_core.cli_results import board_app, results_app

    app.add_typer(corpus_app, name="corpus")
    app.add_typer(features_app, name="features")
    app.add_typer(cache_app, name="cache")
    app.add_typer(models_app, name="models")
    app.add_typer(results_app, name="results")
    app.add_typer(board_app, name="board")
    app.command("crossboard")(crossboard)


_add_command_groups()


def main() -> None:
    """Console-script entry point."""
    from ser_core.cli_common import fit_standard_streams

    fit_standard_streams()
    app()


if __name__ == "__main__":
    sys.exit(main())
