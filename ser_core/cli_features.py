"""``serbench features`` and ``serbench cache``: extract features, inspect and clear the cache."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.markup import escape
from rich.table import Table

from ser_core import config as paths
from ser_core.cli_common import console, err_console, friendly_errors
from ser_core.errors import ConfigError

features_app = typer.Typer(help="Extract features into the cache.", no_args_is_help=True)
cache_app = typer.Typer(help="Inspect or clear the feature cache.", no_args_is_help=True)


@features_app.command("extract")
@friendly_errors
def features_extract(
    corpus: Annotated[str, typer.Option("--corpus", help="Corpus name (see `serbench list`).")],
    feature: Annotated[list[str], typer.Option("--feature", "-f", help="Feature name (repeatable).")],
    path: Annotated[
        Optional[Path],
        typer.Option("--path", help="Corpus directory \\[default: benchmarks.toml or $SERBENCH_CORPUS_<NAME>]."),
    ] = None,
    workers: Annotated[
        Optional[int], typer.Option(min=0, help="Extraction processes \\[default: number of cores]; 0 = this process.")
    ] = None,
    on_error: Annotated[
        str, typer.Option(help="Failed clips: 'skip' lists them and stores the rest; 'raise' exits with an error.")
    ] = "skip",
    use_cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse and store cached tables.")] = True,
    config: Annotated[
        Optional[Path],
        typer.Option("--config", "-c", help="Benchmarks file with \\[corpora.NAME] path entries \\[default: "
                     "$SERBENCH_CONFIG, else ./benchmarks.toml when present]."),
    ] = None,
) -> None:
    """Extract features of one corpus into the cache (reused by every later run with the same key)."""
    from ser_core import corpus as corpus_mod
    from ser_core import features
    from ser_core.audio import SILENT_PEAK
    from ser_core.plugins import load_registry
    from ser_core.suites import corpus_paths

    if on_error not in ("skip", "raise"):
        raise ConfigError(f"--on-error {on_error!r}: expected 'skip' or 'raise'.")
    paths.check_thread_variables()  # one message, not one failed clip per clip in every worker
    registry = load_registry()
    corpus_entry = registry.corpus(corpus)
    chosen = [registry.feature(name) for name in feature]  # fail on a bad name before scanning
    root = corpus_mod.locate(corpus, corpus_entry.spec.needs_path, {corpus: path} if path else {}, corpus_paths(config))
    manifest = corpus_mod.scan(corpus_entry, root)
    console.print(f"{corpus}: {len(manifest.clips)} clips" + (f" in {manifest.root}" if manifest.root else ""))
    for entry in chosen:
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console,
        )
        started = time.perf_counter()
        with progress:
            task = progress.add_task(f"{entry.name}", total=len(manifest.clips), rate="")

            done = 0

            def advance(steps: int, task=task) -> None:
                nonlocal done
                done += steps
                rate = done / max(time.perf_counter() - started, 1e-9)
                progress.update(task, advance=steps, rate=f"{rate:.1f} clips/s")

            table = features.extract(
                manifest, entry, workers=workers, on_progress=advance, use_cache=use_cache, on_error=on_error
            )
        seconds = time.perf_counter() - started
        for note in table.notes:
            err_console.print(f"[yellow]feature cache:[/] {escape(note)}", highlight=False)
        if table.silent:
            err_console.print(
                f"[yellow]warning:[/] {len(table.silent)} clips are silent (peak below {SILENT_PEAK:g}): "
                + escape(", ".join(table.silent[:10])) + (" ..." if len(table.silent) > 10 else ""),
                highlight=False,
            )
        source = "from the cache" if table.from_cache else f"extracted at {len(manifest.clips) / seconds:.1f} clips/s"
        console.print(
            f"[bold]{entry.name}[/]: {len(table)} clips {source} in {seconds:.1f} s; "
            f"table {escape(str(table.path)) if table.path else '(not cached)'}",
            highlight=False,
        )
        if table.failures:
            message = features.describe_failures(manifest, entry.name, table.failures, limit=20, policy="skip")
            err_console.print(message, style="yellow", markup=False, highlight=False)


@cache_app.command("list")
@friendly_errors
def cache_list() -> None:
    """List cached feature tables: corpus, feature, clips, size, status (ok, partial, unreadable)."""
    from ser_core.cache import cached_tables

    root = paths.cache_dir()
    entries = cached_tables()
    table = Table(
        "corpus", "feature", "clips", "failed", "size (MB)", "created", "key",
        title=f"feature cache in {escape(str(root))}",
    )
    for entry in entries:
        clips = str(entry["clips"] if entry["clips"] is not None else "?")
        clips += {"ok": "", "partial": " [cyan]partial[/]", "unreadable": " [red]unreadable[/]"}[entry["status"]]
        table.add_row(
            escape(entry["corpus"]), escape(entry["feature"]), clips,
            str(entry["failed"] or 0), f"{entry['bytes'] / 1e6:.2f}", escape(entry["created"].replace("T", " ")[:16]),
            escape(entry["key"][:12]),
        )
    console.print(table)
    console.print(f"{len(entries)} tables, {sum(e['bytes'] for e in entries) / 1e6:.2f} MB")
    states = {e["status"] for e in entries}
    if "partial" in states:
        console.print("partial: an interrupted extraction; the next extraction of the same corpus and feature continues it.")
    if "unreadable" in states:
        console.print("unreadable: a damaged table; it is rebuilt when next used (or remove it with `serbench cache clear`).")
    if root.exists() and not root.is_dir():
        err_console.print(
            f"[yellow]warning:[/] the cache location {escape(str(root))} is a file, not a directory; "
            "set SERBENCH_CACHE_DIR to a directory.", highlight=False,
        )


@cache_app.command("clear")
@friendly_errors
def cache_clear(
    feature: Annotated[Optional[str], typer.Option(help="Only this feature's tables.")] = None,
    corpus: Annotated[Optional[str], typer.Option(help="Only this corpus's tables.")] = None,
) -> None:
    """Delete cached feature tables (they are rebuilt on demand)."""
    from ser_core.cache import cached_tables, clear_cache

    _check_cached_names(cached_tables(), feature, corpus)
    console.print(f"removed {clear_cache(feature, corpus)} cached tables")


def _check_cached_names(entries: list[dict], feature: str | None, corpus: str | None) -> None:
    """Refuse a ``--feature`` or ``--corpus`` that is neither cached nor installed (a misspelling removed 0
    tables and exited 0, leaving the tables meant in place); a known name with nothing cached is fine."""
    import difflib

    from ser_core.errors import UnknownNameError
    from ser_core.plugins import load_registry

    registry = load_registry()
    for option, name, kind, column in (("--feature", feature, "feature", "feature"), ("--corpus", corpus, "corpus",
                                                                                       "corpus")):
        cached = sorted({e[column] for e in entries})
        if name is None or name in cached:
            continue
        try:
            registry.get(kind, name)
        except UnknownNameError:
            close = difflib.get_close_matches(name, cached, n=1)
            raise ConfigError(f"{option} {name!r}: no {kind} of this name is cached or installed"
                              + (f"; did you mean {close[0]!r}?" if close else ".")
                              + f" Cached: {', '.join(cached) or 'nothing'}. Nothing was removed.") from None
