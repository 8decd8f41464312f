"""``serbench corpus``: list corpora, download the open ones, inspect a corpus directory.

``serbench corpus list`` shows every installed corpus: whether it is available here and where
(``--corpus-path``-style locations from the benchmarks file, ``SERBENCH_CORPUS_<NAME>``, or a
location recorded by a download), its licence, and how to get it (download or manual route).

``serbench corpus download NAME`` fetches a corpus its plugin declares as downloadable, verifies
every file's hash, unpacks it, runs the strict content check and records the location, so that
``serbench run`` finds it with no ``--corpus-path`` (see :mod:`ser_core.download`). For a corpus
under a licence that must be requested it prints the licence and the manual steps. A failed download
(a transfer, hash, archive or content check, a user's file in the way, the network) exits 1 with a
message saying what was kept; it never replaces a file serbench did not write.

``serbench corpus info NAME`` scans the corpus's directory (``--path``, else the benchmarks file's
``[corpora.NAME] path``, else ``SERBENCH_CORPUS_<NAME>``, else the recorded download), prints clips
per label (one column per label of the corpus) next to the expected row, speakers, CV groups,
durations and sample rates, and warns about every missing, extra, misnamed or unreadable file, and
about suspect data the protocol would use (a class with one clip or one speaker, silent clips). With
``--strict`` any mismatch exits 1. A corpus that cannot be benchmarked at all (one class, one speaker,
a fold that trains on a single class: :func:`ser_core.corpus.benchmark_problems`) is NOT OK and
exits 1 with or without ``--strict``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Iterable, Mapping, Optional

import json

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from ser_core.cli_common import console, err_console, friendly_errors
from ser_core.specs import Clip, order_labels

corpus_app = typer.Typer(help="List, download and inspect corpora.", no_args_is_help=True)

#: How many problem lines are printed before the rest is summarised.
SHOWN = 20


def _configured_paths(config: Path | None) -> dict[str, Path]:
    """Corpus locations from the benchmarks file, when there is one (:func:`ser_core.suites.corpus_paths`)."""
    from ser_core.suites import corpus_paths

    return corpus_paths(config)


def _format_seconds(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.2f} s"


@corpus_app.command("info")
@friendly_errors
def info(
    name: Annotated[str, typer.Argument(help="Corpus name (see `serbench list`).")],
    path: Annotated[
        Optional[Path], typer.Option("--path", "-p", help="The corpus directory (or CSV file for `csv`).")
    ] = None,
    config: Annotated[
        Optional[Path],
        typer.Option("--config", "-c", help="Benchmarks file with \\[corpora.NAME] path entries."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with status 1 on any difference from the expected content.")
    ] = False,
    read_audio: Annotated[
        bool, typer.Option("--audio/--no-audio", help="Read every clip (durations, sample rates, silent clips).")
    ] = True,
) -> None:
    """Show what a corpus directory holds and how it differs from the corpus as distributed."""
    from ser_core.corpus import inspect, locate
    from ser_core.plugins import load_registry

    corpus = load_registry().corpus(name)
    sources = [{name: path.expanduser()}] if path is not None else [_configured_paths(config)]
    root = locate(name, corpus.spec.needs_path, *sources)
    report = inspect(corpus, root, read_audio=read_audio)
    manifest, spec = report.manifest, corpus.spec

    console.print(f"[bold]{name}[/]: {spec.description}", highlight=False)
    console.print(f"  plugin: {corpus.plugin.distribution} {corpus.plugin.version}", highlight=False)
    for label, value in (("version", spec.version), ("licence", spec.licence), ("source", spec.url)):
        if value:
            console.print(f"  {label}: {value}", highlight=False)
    console.print(f"  read from: {manifest.root}", highlight=False)

    counts = dict(manifest.label_counts())
    wanted_counts = dict(report.expected.clips_per_label) if report.expected is not None else {}
    every = {**{label: 0 for label in wanted_counts}, **counts}  # a column for every found or expected label
    found = label_columns(every, spec.label_set())
    table = Table(title=f"{name}: clips per label", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for column in ["", *found]:
        table.add_column(column, no_wrap=True, justify="left" if column == "" else "right")
    table.add_row("found", *found.values())
    if report.expected is not None:
        wanted = label_columns({**{label: 0 for label in every}, **wanted_counts}, spec.label_set())
        table.add_row("expected", *(wanted[column] for column in found))
    console.print(table)

    speakers = manifest.speakers()
    line = f"Speakers: {len(speakers)}"
    if report.expected is not None:
        line += f" (expected {report.expected.speakers})"
    console.print(line, highlight=False)
    for gender, names in speakers_by_gender(manifest.clips).items():
        shown = ", ".join(names[:24]) + (", ..." if len(names) > 24 else "")
        console.print(f"  {gender}: {len(names)}: {shown}", highlight=False)
    groups = report.groups()
    if groups:
        mode = "CV folds use these groups" if spec.fold_by == "group" else "recorded, folds use speakers"
        listed = ", ".join(f"{g} ({n})" for g, n in groups.items())
        console.print(f"Groups: {len(groups)} ({mode}): {listed}", highlight=False)
    if report.durations:
        values = report.durations.values()
        console.print(
            f"Duration: total {_format_seconds(sum(values))}, min {_format_seconds(min(values))}, "
            f"max {_format_seconds(max(values))}",
            highlight=False,
        )
        rates = ", ".join(f"{rate} Hz ({n} clips)" for rate, n in sorted(report.sample_rates.items()))
        console.print(f"Sample rates found: {rates}", highlight=False)
    elif not read_audio:
        console.print("Audio headers not read (--no-audio): durations and sample rates not shown.")

    for note in report.notes:
        console.print(f"[cyan]note:[/] {note}", highlight=False)
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    for problem in report.problems[:SHOWN]:
        err_console.print(f"[yellow]warning:[/] {problem}", highlight=False)
    if len(report.problems) > SHOWN:
        err_console.print(f"[yellow]warning:[/] ... and {len(report.problems) - SHOWN} more", highlight=False)
    for reason in report.unusable:
        err_console.print(f"[bold red]not usable:[/] {escape(reason)}", highlight=False)
    if report.unusable:
        err_console.print(
            f"[bold]NOT OK[/]: {name} cannot be cross-validated or scored as it is; `serbench run` refuses it "
            "(docs/corpora.md, \"Corpora serbench refuses\").", highlight=False)
        raise typer.Exit(1)
    if report.ok:
        console.print(f"[green]OK[/]: {len(manifest.clips)} clips, as expected.")
        return
    err_console.print(
        f"[bold]{len(report.problems)} differences[/] from the expected content. Compare the directory "
        "with the corpus as distributed (docs/corpora.md lists each corpus's layout).",
        highlight=False,
    )
    if strict:
        raise typer.Exit(1)


def _how_to_get(spec) -> str:
    """One cell of ``corpus list``: how this corpus is obtained."""
    from ser_core.specs import DownloadSource, ManualSource

    source = spec.source
    if not spec.needs_path:
        return "generated, nothing to get"
    if isinstance(source, DownloadSource):
        from ser_core.download import _human

        files = f"{len(source.files)} file{'s' if len(source.files) > 1 else ''}"
        words = f"serbench corpus download {spec.name} ({files}, {_human(source.size)})"
        return words + (", --accept-licence" if source.accept else "")
    if isinstance(source, ManualSource):
        if source.request:
            return f"manual, request at {source.request}"
        return f"manual: `serbench corpus download {spec.name}` prints the steps"
    return "your own files (--corpus-path)"


@corpus_app.command("list")
@friendly_errors
def list_corpora(
    config: Annotated[
        Optional[Path],
        typer.Option("--config", "-c", help="Benchmarks file with \\[corpora.NAME] path entries."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every installed corpus: available here or not, where, licence, and how to get it."""
    from ser_core.corpus import find_location
    from ser_core.plugins import load_registry
    from ser_core.specs import DownloadSource, ManualSource

    configured = _configured_paths(config)
    rows = []
    for name, corpus in sorted(load_registry().items["corpus"].items()):
        spec = corpus.spec
        found = find_location(name, configured)
        if not spec.needs_path:
            available, where, origin = "yes", "(generated)", ""
        elif found is None:
            available, where, origin = "no", "", ""
        else:
            available = "yes" if found[0].exists() else "no (missing)"
            where, origin = str(found[0]), found[1]
        kind = ("download" if isinstance(spec.source, DownloadSource) else
                "manual" if isinstance(spec.source, ManualSource) else "generated" if not spec.needs_path else "none")
        rows.append({
            "corpus": name, "available": available, "where": where, "configured_by": origin,
            "licence": spec.licence, "source": kind, "how_to_get": _how_to_get(spec),
        })
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title="serbench corpora", box=box.SIMPLE_HEAD)
    for column in ("corpus", "here", "where", "licence", "how to get it"):
        table.add_column(column, overflow="fold")
    for row in rows:
        here = "[green]yes[/]" if row["available"] == "yes" else f"[yellow]{row['available']}[/]"
        table.add_row(row["corpus"], here, escape(row["where"]), escape(row["licence"]), escape(row["how_to_get"]))
    console.print(table)
    console.print(
        escape("Locations come from --corpus-path, the benchmarks file's [corpora.NAME], SERBENCH_CORPUS_<NAME>, "
               "or `serbench corpus download` (recorded in the data directory, $SERBENCH_DATA_DIR)."),
        highlight=False,
    )


class _DownloadProgress:
    """Renders a download's progress with rich: one bar per file, then one for the content check."""

    def __init__(self, progress):
        self.progress = progress
        self.task = None

    def start(self, description: str, total: int | None, completed: int = 0) -> None:
        if self.task is not None:
            self.progress.update(self.task, visible=False)
        self.task = self.progress.add_task(description, total=total, completed=completed)

    def advance(self, amount: int) -> None:
        self.progress.advance(self.task, amount)

    def note(self, message: str) -> None:
        self.progress.console.print(message, highlight=False)


def _print_manual(name: str, spec, source) -> None:
    console.print(f"[bold]{name}[/] cannot be downloaded by serbench: {escape(spec.description)}", highlight=False)
    if spec.licence:
        console.print(f"  licence: {escape(spec.licence)}", highlight=False)
    if source.licence_text:
        console.print(f"  terms: {escape(source.licence_text)}", highlight=False)
    if source.request:
        console.print(f"  request access: {escape(source.request)}", highlight=False)
    console.print("  steps:")
    for number, step in enumerate(source.steps, 1):
        console.print(f"    {number}. {escape(step)}", highlight=False)
    console.print(
        escape(f"  then: serbench corpus info {name} --path DIR --strict, and use it with --corpus-path {name}=DIR, "
               f"[corpora.{name}] in benchmarks.toml or {_env(name)}=DIR."),
        highlight=False,
    )


def _env(name: str) -> str:
    from ser_core.corpus import env_var

    return env_var(name)


@corpus_app.command("download")
@friendly_errors
def download(
    name: Annotated[str, typer.Argument(help="Corpus name (see `serbench corpus list`).")],
    to: Annotated[
        Optional[Path],
        typer.Option("--to", help="Directory to put the corpus in \\[default: $SERBENCH_DATA_DIR/NAME]."),
    ] = None,
    accept_licence: Annotated[
        bool, typer.Option("--accept-licence", help="Accept the corpus's licence (printed without this option).")
    ] = False,
    keep_archives: Annotated[
        bool, typer.Option("--keep-archives", help="Keep the downloaded archives (in DIR/.download) after unpacking.")
    ] = False,
    retries: Annotated[
        int, typer.Option(min=0, max=20, help="Times an interrupted transfer is resumed before giving up (0 to 20).")
    ] = 3,
) -> None:
    """Download a corpus, verify every file's hash, unpack it, check its content and record where it is."""
    from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeRemainingColumn, TransferSpeedColumn)

    from ser_core.download import DownloadError, ManualOnly, NeedsLicence, download_corpus
    from ser_core.plugins import load_registry
    from ser_core.specs import DownloadSource

    corpus = load_registry().corpus(name)
    spec = corpus.spec
    transfer = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                        TimeRemainingColumn(), console=console)
    checking = Progress(TextColumn("checking content"), BarColumn(), MofNCompleteColumn(), console=console)
    check_task = None

    def on_check(amount: int) -> None:
        nonlocal check_task
        if check_task is None:
            checking.start()
            check_task = checking.add_task("check", total=None)
        checking.advance(check_task, amount)

    if spec.licence and isinstance(spec.source, DownloadSource):
        console.print(f"{name}: licence {escape(spec.licence)}", highlight=False)
    try:
        with transfer:
            report = download_corpus(
                corpus, to, accept_licence=accept_licence, keep_archives=keep_archives, retries=retries,
                progress=_DownloadProgress(transfer), check_progress=on_check,
            )
    except ManualOnly as manual:
        _print_manual(name, spec, manual.source)
        raise typer.Exit(1) from None
    except DownloadError as failed:  # a failure, not a usage error: exit 1 (what was kept is in the message)
        err_console.print(f"[bold red]Error:[/] {escape(str(failed))}", highlight=False)
        raise typer.Exit(1) from None
    except (TimeoutError, ConnectionError) as failed:  # the network, wherever it was raised: a failure too
        from ser_core.cli_common import _explain_os_error

        err_console.print(f"[bold red]Error:[/] {escape(_explain_os_error(failed))}", highlight=False)
        raise typer.Exit(1) from None
    except NeedsLicence as needs:
        console.print(f"[bold]{name}[/] is distributed under terms you must accept first:", highlight=False)
        console.print(f"  {escape(str(needs))}", highlight=False)
        console.print(f"Read them ({escape(spec.url)}), then run: serbench corpus download {name} --accept-licence",
                      highlight=False)
        raise typer.Exit(1) from None
    finally:
        if check_task is not None:
            checking.stop()
    if report.already_there:
        console.print(f"[green]OK[/]: {name} is already at {report.root} ({report.clips} clips, content checked).",
                      highlight=False)
    else:
        got = f"{len(report.fetched)} downloaded" + (f", {len(report.reused)} already here" if report.reused else "")
        console.print(f"[green]OK[/]: {name} is ready at {report.root}: {report.clips} clips, as expected "
                      f"(files: {got}, hashes verified).", highlight=False)
    console.print(f"Location recorded in {report.recorded_in}; `serbench run` finds it with no --corpus-path.",
                  highlight=False)


def label_columns(counts: Mapping[str, int], order: Iterable[str] = ()) -> dict[str, str]:
    """Clips per label as table columns: one per label in display order (:func:`order_labels`;
    ``order`` is the corpus's declared label order), empty where there are none, then the total."""
    row = {label: str(counts[label]) if counts.get(label) else "" for label in order_labels(set(counts), tuple(order))}
    row["total"] = str(sum(counts.values()))
    return row


def speakers_by_gender(clips: Iterable[Clip]) -> dict[str, list[str]]:
    """Speakers grouped by the gender the manifest gives them (``?`` where unknown)."""
    groups: dict[str, set[str]] = {}
    for clip in clips:
        groups.setdefault(clip.gender or "?", set()).add(clip.speaker)
    return {gender: sorted(names) for gender, names in sorted(groups.items())}
