"""``serbench models``: layer summaries and parameter counts of model plugins."""

from __future__ import annotations

import typer

models_app = typer.Typer(help="Inspect model plugins.", no_args_is_help=True)
