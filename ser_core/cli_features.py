"""``serbench features`` and ``serbench cache``: extract features, inspect and clear the cache."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from ser_core import config as paths
from ser_core.cli_common import console

features_app = typer.Typer(help="Extract features into the cache.", no_args_is_help=True)
cache_app = typer.Typer(help="Inspect or clear the feature cache.", no_args_is_help=True)


@cache_app.command("list")
def cache_list() -> None:
    """List cached feature tables with their size."""
    from ser_core.features import cached_tables

    entries = cached_tables()
    table = Table("feature", "file", "size (MB)", title=f"feature cache in {paths.cache_dir()}")
    for entry in entries:
        table.add_row(entry["feature"], entry["file"], f"{entry['bytes'] / 1e6:.2f}")
    console.print(table)
    console.print(f"{len(entries)} tables, {sum(e['bytes'] for e in entries) / 1e6:.2f} MB")


@cache_app.command("clear")
def cache_clear(
    feature: Annotated[Optional[str], typer.Option(help="Only this feature's tables.")] = None,
) -> None:
    """Delete cached feature tables (they are rebuilt on demand)."""
    from ser_core.features import clear_cache

    console.print(f"removed {clear_cache(feature)} cached tables")


