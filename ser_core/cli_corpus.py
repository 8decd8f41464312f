"""``serbench corpus``: inspect a corpus directory against what its plugin expects.

``serbench corpus info NAME`` scans the corpus's directory (``--path``, else the benchmarks file's
``[corpora.NAME] path``, else ``SERBENCH_CORPUS_<NAME>``), prints clips per label (one column per
label of the corpus) next to the expected row, speakers, CV groups, durations and sample rates, and warns
about every missing, extra, misnamed or unreadable file, and about suspect data the protocol would
use (a class with one clip or one speaker, silent clips). With ``--strict`` any mismatch exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from ser_core.cli_common import console, err_console, friendly_errors

corpus_app = typer.Typer(help="Inspect corpora.", no_args_is_help=True)

#: How many problem lines are printed before the rest is summarised.
SHOWN = 20


def _configured_paths(config: Path | None) -> dict[str, Path]:
    """Corpus locations from the benchmarks file, when there is one."""
    from ser_core import config as paths
    from ser_core.suites import load_benchmarks

    path = config or paths.default_config()
    if config is None and not path.exists():
        return {}
    return load_benchmarks(path).corpus_paths


def _format_seconds(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.2f} s"


@corpus_app.command("info")
@friendly_errors
def info(
    name: Annotated[str, typer.Argument(help="Corpus name, e.g. emodb (see `serbench list`).")],
    path: Annotated[
        Optional[Path], typer.Option("--path", "-p", help="The corpus directory (or CSV file for `csv`).")
    ] = None,
    config: Annotated[
        Optional[Path],
        typer.Option("--config", "-c", help="Benchmarks file with [corpora.NAME] path entries."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with status 1 on any difference from the expected content.")
    ] = False,
    read_audio: Annotated[
        bool, typer.Option("--audio/--no-audio", help="Read every clip (durations, sample rates, silent clips).")
    ] = True,
) -> None:
    """Show what a corpus directory holds and how it differs from the corpus as distributed."""
    from ser_core.corpus import inspect, label_columns, locate, speakers_by_gender
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
