"""Checking a results-database path before the store opens it, and explaining SQLite's errors.

:func:`check_results_db` looks at a ``--db`` path before :class:`~ser_core.results.ResultStore`
touches it and refuses, with the path and what to do: a directory, a file that is not SQLite (random
bytes, a truncated copy), another application's SQLite database (serbench never adds its tables to
it), a database written by a newer serbench, a file or directory serbench may not write. Every check
reads the file read-only: a refused file is never changed (no journal-mode switch, no ``-wal`` or
``-shm`` file created); only a database that passes every check is switched to WAL mode for writing. :func:`results_db_errors` turns the ``sqlite3``
errors that can still happen later (disk full at creation or in the middle of a run, a lock held by
another process) into a :class:`~ser_core.errors.ResultsDbError`. Cells are committed one at a time,
so whatever was finished before such an error stays stored.
"""

from __future__ import annotations

import sqlite3
import time
import urllib.parse
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ser_core.errors import OutputError, ResultsDbError
from ser_core.outputs import check_writable_dir

#: The version of the results database's schema this serbench writes (and the newest it reads);
#: :mod:`ser_core.results` writes it, :func:`refuse_unreadable_schema` refuses a newer one.
SCHEMA_VERSION = 2

SQLITE_HEADER = b"SQLite format 3\x00"
#: A serbench results database has this table, holding a ``schema_version`` row.
MARKER_TABLE = "meta"
NEW_DB_ADVICE = "pass --db with a new file name (or set SERBENCH_DB)"


def _read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot change ``path`` or create files beside it.

    ``mode=ro`` alone still creates a ``-shm`` file for a WAL-mode database; when no ``-wal`` or
    ``-journal`` file exists there is nothing beyond the main file to read, so the file is opened
    ``immutable`` (no locks, no side files). With one (another process is writing) it must be read
    too: plain ``mode=ro``.
    """
    resolved = path.resolve()
    quoted = urllib.parse.quote(str(resolved))
    busy = any(Path(f"{resolved}{suffix}").exists() for suffix in ("-wal", "-journal"))
    uri = f"file:{quoted}?mode=ro" if busy else f"file:{quoted}?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True, timeout=10)


def _tables(path: Path) -> list[str]:
    db = _read_only(path)
    try:
        return [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    finally:
        db.close()


def _schema_version(path: Path) -> str | None:
    """The stored ``schema_version`` value, or ``None`` when the file is not a serbench database.

    :raises sqlite3.DatabaseError: the file is damaged where the marker table is.
    """
    db = _read_only(path)
    try:
        row = db.execute(f"SELECT value FROM {MARKER_TABLE} WHERE key='schema_version'").fetchone()
        return None if row is None else str(row[0])
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc) or "no such column" in str(exc):
            return None  # another application's database
        raise
    finally:
        db.close()


def _damaged_error(path: Path, what: str) -> ResultsDbError:
    return ResultsDbError(f"results database {path} is damaged ({what}). Restore a backup or {NEW_DB_ADVICE}. It "
                          "was not changed.")


def refuse_unreadable_schema(path: Path) -> None:
    """Refuse, reading it read-only, an existing serbench database whose schema this serbench cannot read
    (:class:`~ser_core.results.ResultStore` calls it before opening the file for writing)."""
    try:
        with open(path, "rb") as handle:
            if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
                return  # new, empty or not SQLite: the store's own errors say so
        version = _schema_version(path)
    except (OSError, sqlite3.Error):
        return  # unreadable or damaged: the store's own errors say so
    if version is not None:
        _check_version(path, version)


def _damage(path: Path) -> str | None:
    """What SQLite's ``quick_check`` finds wrong with the file (read-only), or ``None`` when it is whole."""
    try:
        db = _read_only(path)
        try:
            rows = [str(r[0]) for r in db.execute("PRAGMA quick_check(5)")]
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if rows == ["ok"]:
        return None
    findings = [line.strip() for row in rows for line in row.splitlines() if line.strip() and not line.startswith("***")]
    return "; ".join(findings[:3]) + ("; ..." if len(findings) > 3 else "")


def _check_version(path: Path, stored: str) -> None:
    """Refuse a schema version this serbench cannot read (newer, or not a number), naming both."""
    try:
        version = int(stored)
    except ValueError:
        raise ResultsDbError(
            f"results database {path} has an unreadable schema version {stored!r}; it may be damaged. Restore a "
            f"backup or {NEW_DB_ADVICE}. It was not changed."
        ) from None
    if version > SCHEMA_VERSION:
        raise ResultsDbError(
            f"results database {path} was written by a newer serbench (schema version {version}; this serbench "
            f"reads versions 1 to {SCHEMA_VERSION}). Upgrade serbench (pip install -U ser-core), or "
            f"{NEW_DB_ADVICE}. It was not changed."
        )


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
            try:
                version = _schema_version(path) if tables else None
            except sqlite3.DatabaseError as exc:
                raise _damaged_error(path, str(exc)) from None
            if tables and version is None:
                shown = ", ".join(tables[:6]) + (", ..." if len(tables) > 6 else "")
                raise ResultsDbError(
                    f"results database {path} is another application's SQLite database (tables: {shown}), "
                    f"not serbench results; serbench will not add its tables to it. {NEW_DB_ADVICE[0].upper()}"
                    f"{NEW_DB_ADVICE[1:]}. It was not changed."
                )
            if version is not None:
                _check_version(path, version)
            if write and tables:  # the command would write to it (WAL mode first): only if it is whole
                damage = _damage(path)
                if damage:
                    raise _damaged_error(path, damage)
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
