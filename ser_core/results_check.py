"""Checking a results-database path before the store opens it, and explaining SQLite's errors.

:func:`check_results_db` looks at a ``--db`` path before :class:`~ser_core.results.ResultStore`
touches it and refuses, with the path and what to do: a directory, a file that is not SQLite (random
bytes, a truncated copy), another application's SQLite database (serbench never adds its tables to
it), a file or directory serbench may not write. :func:`results_db_errors` turns the ``sqlite3``
errors that can still happen later (disk full at creation or in the middle of a run, a lock held by
another process) into a :class:`~ser_core.errors.ResultsDbError`. Cells are committed one at a time,
so whatever was finished before such an error stays stored.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ser_core.errors import OutputError, ResultsDbError
from ser_core.outputs import check_writable_dir

SQLITE_HEADER = b"SQLite format 3\x00"
#: A serbench results database has this table, holding a ``schema_version`` row.
MARKER_TABLE = "meta"
NEW_DB_ADVICE = "pass --db with a new file name (or set SERBENCH_DB)"


def _tables(path: Path) -> list[str]:
    uri = f"file:{path.resolve()}?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=10)
    try:
        return [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    finally:
        db.close()


def _is_serbench(path: Path) -> bool:
    uri = f"file:{path.resolve()}?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=10)
    try:
        row = db.execute(f"SELECT value FROM {MARKER_TABLE} WHERE key='schema_version'").fetchone()
        return row is not None
    except sqlite3.Error:
        return False
    finally:
        db.close()


def check_results_db(path: str | Path, *, write: bool) -> None:
    """Refuse a results-database path serbench cannot use, before anything is opened or computed.

    :param write: the command will store results (``serbench run``); otherwise it only reads.
    :raises ResultsDbError: naming ``path``, what is wrong, and what to do.
    """
    path = Path(path)
    if path.is_dir():
        raise ResultsDbError(
            f"results database {path} is a directory. Pass a file name, e.g. --db {path / 'serbench.db'}."
        )
    if path.exists() and not path.is_file():
        raise ResultsDbError(f"results database {path} is not a regular file; {NEW_DB_ADVICE}.")
    if path.exists():
        try:
            with open(path, "rb") as handle:
                header = handle.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise ResultsDbError(
                f"results database {path} cannot be read ({exc.strerror}). Fix its permissions, or {NEW_DB_ADVICE}."
            ) from None
        if header and header != SQLITE_HEADER:
            raise ResultsDbError(
                f"results database {path} is not an SQLite database (damaged, or another kind of file). "
                f"If it held serbench results, restore a backup; otherwise {NEW_DB_ADVICE}. It was not changed."
            )
        if header:
            try:
                tables = _tables(path)
            except sqlite3.Error as exc:
                if "locked" in str(exc):
                    raise ResultsDbError(explain_sqlite_error(path, exc)) from None
                raise ResultsDbError(
                    f"results database {path} cannot be read as SQLite ({exc}); it may be damaged. Restore a "
                    f"backup or {NEW_DB_ADVICE}. It was not changed."
                ) from None
            if tables and not _is_serbench(path):
                shown = ", ".join(tables[:6]) + (", ..." if len(tables) > 6 else "")
                raise ResultsDbError(
                    f"results database {path} is another application's SQLite database (tables: {shown}), "
                    f"not serbench results; serbench will not add its tables to it. {NEW_DB_ADVICE[0].upper()}"
                    f"{NEW_DB_ADVICE[1:]}."
                )
    if not write:
        return
    if path.exists():
        try:
            open(path, "r+b").close()
        except OSError as exc:
            raise ResultsDbError(
                f"results database {path} is read-only ({exc.strerror}); serbench must write to it to store "
                f"results. Make it writable, or {NEW_DB_ADVICE}."
            ) from None
    try:  # SQLite creates the database and its journal files next to it
        check_writable_dir(
            path.parent if str(path.parent) else Path("."), "the results database's directory",
            f"serbench must create {path.name} and its journal files there; make it writable or {NEW_DB_ADVICE}",
        )
    except OutputError as exc:
        raise ResultsDbError(str(exc)) from None
    _enable_wal(path)


def _enable_wal(path: Path, patience: float = 60.0) -> None:
    """Put the database in WAL mode (a setting stored in the file), retrying while another process
    holds it: SQLite answers "database is locked" to a journal-mode change without waiting, so two
    runs starting on one new database at once would otherwise race."""
    deadline = time.monotonic() + patience
    while True:
        db = sqlite3.connect(path, timeout=patience)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise ResultsDbError(explain_sqlite_error(path, exc)) from None
        finally:
            db.close()
        time.sleep(0.05)


@contextmanager
def results_db_errors(path: str | Path) -> Iterator[None]:
    """Translate ``sqlite3`` errors raised inside the block into :class:`ResultsDbError` naming ``path``."""
    try:
        yield
    except sqlite3.Error as exc:
        raise ResultsDbError(explain_sqlite_error(Path(path), exc)) from exc


def explain_sqlite_error(path: Path, exc: sqlite3.Error) -> str:
    """What an SQLite error on the results database means, with what to do."""
    text = str(exc)
    lowered = text.lower()
    kept = "Cells finished before this are stored; run the same command again to resume."
    if "full" in lowered:
        return f"results database {path}: the disk is full ({text}). Free some space. {kept}"
    if "readonly" in lowered or "read-only" in lowered:
        return f"results database {path} cannot be written ({text}). Make it and its directory writable, or {NEW_DB_ADVICE}. {kept}"
    if "locked" in lowered or "busy" in lowered:
        return f"results database {path} is locked by another process ({text}). Wait for it to finish. {kept}"
    if "unable to open" in lowered:
        return f"results database {path} cannot be opened ({text}). Check the directory exists and is writable."
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return f"results database {path} is damaged ({text}). Restore a backup or {NEW_DB_ADVICE}."
    if "disk i/o" in lowered:
        return f"results database {path}: the disk reported an I/O error ({text}); the disk may be full or failing. {kept}"
    return f"results database {path}: {type(exc).__name__}: {text}. {kept}"
