"""Shared pieces of the command line: consoles and the error guard every command uses.

No command shows a Python traceback for bad input or a failing environment: :func:`friendly_errors`
turns every :class:`~ser_core.errors.SerbenchError` and ``OSError`` into a one-paragraph message
(exit status 2), Ctrl-C into "Interrupted" (130), and anything unexpected into a one-line internal
error (3). Tracebacks are printed only with ``serbench --verbose`` or ``SERBENCH_DEBUG=1``.

The consoles fit any terminal (:class:`SafeConsole`): on one whose encoding cannot show the board's
marks (``LANG=C``, ``PYTHONIOENCODING=ascii``, Latin-1) each mark is written as its ASCII equivalent
(:data:`ser_core.outputs.ASCII_MARKS`: ``±`` as ``+/-``, ``▲`` as ``^``, ...), before the table is laid out, so columns
stay aligned; and a table too wide for the terminal is printed one line per cell instead of cutting
its numbers to ``1…``.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.exceptions import TyperException
from rich.markup import escape

from ser_core.console import MIN_WIDTH, SafeConsole
from ser_core.errors import ConfigError, SerbenchError
from ser_core.outputs import encodable

#: Width of output that is not a terminal (a log file, a pipe) when $COLUMNS does not set one: rich's
#: 80 would cut system names in leaderboard headers and wrap long lines in logs.
LOG_WIDTH = 200


#: Width typer lays out ``--help`` and usage errors at on a terminal narrower than :data:`MIN_WIDTH`:
#: its boxes cannot hold a word there (``COLUMNS=1`` printed empty boxes and no message), so the lines
#: are laid out at this width and the terminal wraps them.
NARROW_HELP_WIDTH = 80


def _positive(name: str) -> int | None:
    """``$name`` as a positive integer; a value that is not one (``0``, ``-5``, ``abc``) is unset."""
    value = os.environ.get(name)
    if value is None:
        return None
    if value.strip().isdigit() and int(value) > 0:
        return int(value)
    del os.environ[name]
    return None


def _ignore_unusable_columns() -> None:
    """Treat a ``$COLUMNS`` (ours, rich's) or ``$TERMINAL_WIDTH`` (typer's) that is not a positive number
    as unset: at ``COLUMNS=0`` rich prints nothing at all, and ``TERMINAL_WIDTH=abc`` ended every command
    in a traceback. Below :data:`MIN_WIDTH` columns typer's help and usage errors are laid out at
    :data:`NARROW_HELP_WIDTH` for the terminal to wrap, as our consoles' lines are."""
    columns = _positive("COLUMNS")
    width = _positive("TERMINAL_WIDTH") or columns
    if width is not None and width < MIN_WIDTH:
        os.environ["TERMINAL_WIDTH"] = str(NARROW_HELP_WIDTH)


def _output_width() -> int | None:
    """The console's width: ``$COLUMNS`` when set (rich reads it), else the terminal's own width, else
    :data:`LOG_WIDTH`."""
    if os.environ.get("COLUMNS", "").strip():
        return None  # rich reads it
    try:
        return None if sys.stdout.isatty() else LOG_WIDTH
    except (AttributeError, ValueError):
        return LOG_WIDTH


def fit_standard_streams() -> None:
    """Let stdout and stderr write any text (called once by the ``serbench`` entry point): a character
    their encoding lacks becomes its ASCII mark (or ``?``) instead of a ``UnicodeEncodeError``, for what
    no console of ours writes (typer's help and usage errors, plain ``print``)."""
    from ser_core.outputs import MARKS_HANDLER

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors=MARKS_HANDLER)
        except (AttributeError, ValueError, OSError):  # not a TextIOWrapper, or closed
            pass


class _Stream:
    """``sys.stdout`` or ``sys.stderr`` as it is at each write (tests and rich's live display swap them),
    writing only what its encoding can show: the last guard, for text that reaches the stream without
    passing :meth:`SafeConsole.render_str` (tracebacks, progress bars)."""

    def __init__(self, name: str):
        self._name = name

    @property
    def _target(self):
        target = getattr(sys, self._name)
        return getattr(target, "rich_proxied_file", target)  # rich's live display: write beneath it

    @property
    def encoding(self) -> str:
        return getattr(self._target, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        return self._target.write(encodable(text, self.encoding))

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        isatty = getattr(self._target, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # closed
            return False

    def fileno(self) -> int:
        return self._target.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


_ignore_unusable_columns()
console = SafeConsole(file=_Stream("stdout"), width=_output_width())
err_console = SafeConsole(file=_Stream("stderr"), soft_wrap=True)  # never break a path in an error

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
        except (typer.Exit, typer.Abort, TyperException, click.ClickException):
            raise  # exits and usage errors (a bad option value: exit status 2) are click's to report
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


def _check_resamples(value: int) -> int:
    """``--resamples``: 0 (statistics off) or a count a 95% interval can be read from, within a bound on
    time and memory (:func:`ser_core.stats.resamples_problem`); anything else is a usage error (2)."""
    from ser_core import stats

    problem = stats.resamples_problem(value)
    if problem:
        raise typer.BadParameter(problem)
    return value


#: ``--resamples`` of every command that computes statistics (leaderboard, compare, crossboard, results
#: export, board build): one bound, one message.
ResamplesOption = Annotated[
    int, typer.Option("--resamples", callback=_check_resamples, help="Bootstrap resamples and permutations per "
                      "statistic: 100 to 100000, or 0 to turn the statistics off.")
]
#: ``--force`` of every command that writes a file the user names (leaderboard, crossboard, results export,
#: board build): without it an existing file is never replaced (:func:`ser_core.outputs.refuse_to_replace`).
ForceOption = Annotated[
    bool, typer.Option("--force", help="Replace an existing output file (without it, an existing file is refused).")
]
#: ``--stats-seed``: numpy's generators take only non-negative seeds, so a negative one is a usage error.
StatsSeedOption = Annotated[
    int, typer.Option("--stats-seed", min=0, help="Seed of the bootstrap and permutations (0 or more).")
]


def parse_corpus_paths(values: list[str]) -> dict[str, Path]:
    paths_by_name = {}
    for value in values:
        name, sep, directory = value.partition("=")
        if not sep or not name or not directory:
            raise ConfigError(f"--corpus-path {value!r}: expected NAME=DIR, e.g. mycorpus=/data/mycorpus/wav")
        location = Path(directory).expanduser()
        if name in paths_by_name and paths_by_name[name] != location:
            raise ConfigError(f"--corpus-path {name}= is given twice, as {paths_by_name[name]} and {location}; "
                              "a corpus has one location: keep one of them.")
        paths_by_name[name] = location
    return paths_by_name


#: Output suffix -> export format, for `serbench leaderboard -o FILE` without --format.
SUFFIX_FORMATS = {".md": "md", ".markdown": "md", ".csv": "csv", ".json": "json", ".html": "html", ".htm": "html"}


def export_format(fmt: str | None, output: Path | None, formats: tuple[str, ...]) -> str:
    """The format to use: ``--format`` when given, else the one ``--output``'s suffix names, else
    the terminal table; an ``--output`` whose format cannot be known is refused, never ignored."""
    if fmt is not None and fmt != "table" and fmt not in formats:
        raise ConfigError(f"--format {fmt!r}: choose one of table, {', '.join(formats)}")
    if output is None:
        return fmt or "table"
    if fmt == "table":
        raise ConfigError(
            f"--format table is for the terminal and cannot be written to {output}; choose one of {', '.join(formats)}."
        )
    if fmt is None:
        fmt = SUFFIX_FORMATS.get(output.suffix.lower())
        if fmt is None:
            raise ConfigError(
                f"--output {output}: cannot tell the format from the suffix {output.suffix or '(none)'!r}; "
                f"pass --format ({', '.join(formats)}) or use a suffix of {', '.join(SUFFIX_FORMATS)}."
            )
    return fmt


def check_stored_names(store, corpora: list[str] | None, systems: list[str] | None,
                        system_label: str = "--system") -> None:
    """Refuse a --corpus or --system that names nothing stored, suggesting the closest stored name
    (``system_label`` names where the systems were given: ``compare`` takes them as arguments)."""
    import difflib

    if not corpora and not systems:
        return
    stored_corpora, stored_systems = store.names()
    for option, wanted, stored in (
        ("--corpus", corpora, stored_corpora),
        (system_label, systems, stored_systems),
    ):
        for name in wanted or []:
            if name in stored or not stored:
                continue
            close = difflib.get_close_matches(name, stored, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{option} {name!r}: no results stored under this name.{hint} Stored: {', '.join(stored)}."
            )
