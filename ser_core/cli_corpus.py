"""``serbench corpus``: inspect a corpus directory against what its plugin expects."""

from __future__ import annotations

import typer

corpus_app = typer.Typer(help="Inspect corpora.", no_args_is_help=True)
