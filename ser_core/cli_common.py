"""Shared pieces of the command line: consoles and the error guard every command uses.

No command shows a Python traceback for bad input or a failing environment: :func:`friendly_errors`
turns every :class:`~ser_core.errors.SerbenchError` and ``OSError`` into a one-paragraph message
(exit status 2), Ctrl-C into "Interrupted" (130), and anything unexpected into a one-line internal
error (3). Tracebacks are printed only with ``serbench --verbose`` or ``SERBENCH_DEBUG=1``.
"""

from __future__ import annotations

import functools
import os
import sqlite3

import typer
from typer.exceptions import TyperException
from rich.console import Console
from rich.markup import escape

from ser_core.errors import SerbenchError

#: Width of output that is not a terminal (a log file, a pipe) when $COLUMNS does not set one: rich's
#: 80 would cut system names in leaderboard headers and wrap long lines in logs.
LOG_WIDTH = 200


def _output_width() -> int | None:
    import sys

    if os.environ.get("COLUMNS", "").strip():
        return None  # rich reads it
    try:
        return None if sys.stdout.isatty() else LOG_WIDTH
    except (AttributeError, ValueError):
        return LOG_WIDTH


console = Console(width=_output_width())
err_console = Console(stderr=True, soft_wrap=True)  # never break a path in an error

#: Set to 1 to print the traceback behind every error message.
DEBUG_ENV = "SERBENCH_DEBUG"
#: Set by ``serbench --verbose`` for the plugins and worker processes it starts (not a user setting).
VERBOSE_ENV = "SERBENCH_VERBOSE"
_verbose = False


def set_verbose(flag: bool) -> None:
    """Called by ``serbench --verbose``: show tracebacks behind error messages, and let plugins
    (in this process and in the worker processes, which inherit ``SERBENCH_VERBOSE``) show their
    libraries' own start-up output."""
    global _verbose
    _verbose = flag
    if flag:
        os.environ[VERBOSE_ENV] = "1"
    else:  # a later command in the same process (tests, notebooks) without --verbose
        os.environ.pop(VERBOSE_ENV, None)


def debugging() -> bool:
    """True when tracebacks should be shown (``--verbose`` or ``SERBENCH_DEBUG``)."""
    return _verbose or os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _explain_os_error(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    if isinstance(exc, (TimeoutError, ConnectionError)):  # the network, not a file
        what = "timed out" if isinstance(exc, TimeoutError) else f"failed ({type(exc).__name__})"
        return (f"{where}a network connection {what}: {exc.strerror or exc}. Check the network connection and any "
                "proxy (HTTPS_PROXY / NO_PROXY), then run the same command again; finished work is kept.")
    return f"{where}{exc.strerror or exc}. Check the path, its permissions and the free disk space."


def friendly_errors(command):
    """Turn expected errors into a message and exit status 2, and unexpected ones into a one-line
    internal error (3); tracebacks only when :func:`debugging`."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except KeyboardInterrupt:
            if debugging():
                err_console.print_exception()
            err_console.print(
                "[yellow]Interrupted.[/] Work finished so far is kept; run the same command again to continue."
            )
            raise typer.Exit(130) from None
        except Exception as exc:
            if debugging():
                err_console.print_exception()
            if isinstance(exc, ImportError) and not isinstance(exc, SerbenchError):
                from ser_core.dependencies import explain_import_error

                exc = explain_import_error(exc)
            if isinstance(exc, SerbenchError):
                message, code = str(exc), 2
            elif isinstance(exc, OSError):
                message, code = _explain_os_error(exc), 2
            elif isinstance(exc, sqlite3.Error):
                message, code = f"the results database reported {type(exc).__name__}: {exc}", 2
            else:
                message = (
                    f"internal error: {type(exc).__name__}: {exc}. This is a bug in serbench or a plugin; "
                    f"run again with `serbench --verbose ...` (or {DEBUG_ENV}=1) to see where, and report it."
                )
                code = 3
            err_console.print(f"[bold red]Error:[/] {escape(message)}", highlight=False)
            raise typer.Exit(code) from None

    return wrapper
