"""Shared pieces of the command line: consoles and the error guard every command uses."""

from __future__ import annotations

import functools

import typer
from rich.console import Console
from rich.markup import escape

from ser_core.errors import SerbenchError

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # never break a path in an error


def friendly_errors(command):
    """Turn expected errors into a message and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except SerbenchError as exc:
            err_console.print(f"[bold red]Error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper
