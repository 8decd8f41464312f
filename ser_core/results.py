"""The results store: an embedded SQLite database with one row per (corpus, system, repeat, fold).

Each row keeps the fold's predictions (clip ids, true and predicted labels) and its provenance
(schema version, core and plugin versions, seeds, fold assignment, settings), so every figure of the
leaderboard can be recomputed, and pooled metrics or confusion matrices derived, without re-running.
Rows are keyed by a *config hash* of everything that makes results comparable; results with
different hashes are never averaged together. Writes are committed one cell at a time, so an
interrupted run keeps everything it finished.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    corpus TEXT NOT NULL,
    system TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    fold INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    uar REAL,
    labels TEXT NOT NULL,
    predictions TEXT,
    provenance TEXT NOT NULL,
    error TEXT,
    wall_time REAL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (corpus, system, config_hash, repeat, fold)
);
"""


@dataclass(frozen=True)
class CellKey:
    """Identifies one cell of the grid."""

    corpus: str
    system: str
    config_hash: str
    repeat: int
    fold: int


@dataclass
class Cell:
    """One stored fold result."""

    key: CellKey
    status: str
    uar: float | None
    labels: list[str]
    predictions: dict[str, list] | None
    provenance: dict[str, Any]
    error: str | None
    wall_time: float | None


class ResultStore:
    """Read and write cells in one SQLite file (created on first use)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=60000")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self._db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(row[0]) != SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path}: results schema version {row[0]}, this serbench writes "
                f"{SCHEMA_VERSION}. Use a new --db file or an older serbench."
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def done(self, key: CellKey) -> bool:
        """True when the cell has a successful result."""
        row = self._db.execute(
            "SELECT 1 FROM cells WHERE corpus=? AND system=? AND config_hash=? AND repeat=? "
            "AND fold=? AND status='ok'",
            (key.corpus, key.system, key.config_hash, key.repeat, key.fold),
        ).fetchone()
        return row is not None

    def write(
        self,
        key: CellKey,
        *,
        labels: list[str],
        provenance: dict[str, Any],
        uar: float | None = None,
        predictions: dict[str, list] | None = None,
        error: str | None = None,
        wall_time: float | None = None,
    ) -> None:
        """Insert or replace one cell; a cell with ``error`` is stored as failed."""
        status = "failed" if error is not None else "ok"
        self._db.execute(
            "INSERT OR REPLACE INTO cells VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                key.corpus,
                key.system,
                key.config_hash,
                key.repeat,
                key.fold,
                status,
                uar,
                json.dumps(labels),
                json.dumps(predictions) if predictions is not None else None,
                json.dumps(provenance, default=str),
                error,
                wall_time,
                time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            ),
        )

    def cells(self, corpus: str | None = None, system: str | None = None) -> Iterator[Cell]:
        """Stored cells, optionally filtered, in grid order."""
        query = "SELECT * FROM cells WHERE (? IS NULL OR corpus=?) AND (? IS NULL OR system=?) "
        query += "ORDER BY corpus, system, config_hash, repeat, fold"
        for row in self._db.execute(query, (corpus, corpus, system, system)):
            yield Cell(
                key=CellKey(*row[:5]),
                status=row[5],
                uar=row[6],
                labels=json.loads(row[7]),
                predictions=json.loads(row[8]) if row[8] else None,
                provenance=json.loads(row[9]),
                error=row[10],
                wall_time=row[11],
            )
