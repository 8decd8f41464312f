"""The results store: an embedded SQLite database of typed records (schema version 2).

Tables:

- ``runs``: one :class:`~ser_core.records.RunProvenance` per ``serbench run`` that computed cells.
- ``protocols``: each :class:`~ser_core.records.SystemProtocol`, keyed by its digest (a board column).
- ``instances``: each :class:`~ser_core.records.CorpusInstance`, keyed by its digest.
- ``cells``: one row per (corpus, system, protocol, instance, repeat, fold): the
  :class:`~ser_core.records.CellOutcome` (UAR, predictions with clip ids and speakers, parameter
  count, estimator; or error and traceback), the cell's seed, details (fold name, excluded clips,
  feature cache key, overrides) and the run that computed it.

Every figure of the board is recomputed from the stored predictions. Cells are committed one at a
time, so an interrupted run keeps everything it finished. A row edited by hand or damaged never stops
a reader: a cell whose details, repeat or fold cannot be read carries the reason (``StoredCell.damage``,
and the board counts it as failed), and a protocol, corpus-instance or run record that cannot be read
is left out of :meth:`ResultStore.protocols` (etc.) with the reason in :attr:`ResultStore.unreadable`.

Databases written by schema version 1 (one ``cells`` table with a config hash and a provenance blob
per row) are migrated when opened: their rows become typed records in the new tables, and the old
table is kept, renamed ``cells_v1``. A database that cannot be written is migrated in memory for
reading. A database from a newer serbench is refused with a clear message.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from ser_core.errors import ResultsDbError
from ser_core.results_check import SCHEMA_VERSION, refuse_unreadable_schema
from ser_core.records import (
    fold_policy,
    CellDetails,
    CellOutcome,
    CorpusInstance,
    Predictions,
    RunProvenance,
    SystemProtocol,
    now,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    provenance TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS protocols (
    hash TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS instances (
    hash TEXT PRIMARY KEY,
    corpus TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cells (
    corpus TEXT NOT NULL,
    system TEXT NOT NULL,
    protocol TEXT NOT NULL REFERENCES protocols(hash),
    instance TEXT NOT NULL REFERENCES instances(hash),
    repeat INTEGER NOT NULL,
    fold INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    uar REAL,
    predictions TEXT,
    parameter_count INTEGER,
    estimator TEXT,
    error TEXT,
    traceback TEXT,
    wall_time REAL NOT NULL,
    seed INTEGER NOT NULL,
    details TEXT NOT NULL,
    run_id INTEGER REFERENCES runs(id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (corpus, system, protocol, instance, repeat, fold)
);
"""


@dataclass(frozen=True)
class CellKey:
    """Identifies one cell of the grid: the system's protocol and the corpus instance by digest."""

    corpus: str
    system: str
    protocol: str
    instance: str
    repeat: int
    fold: int


@dataclass
class StoredCell:
    """One stored (repeat, fold) result with what it was computed under."""

    key: CellKey
    outcome: CellOutcome
    seed: int
    details: dict[str, Any] = field(default_factory=dict)
    run_id: int | None = None
    created_at: str = ""
    damage: str | None = None  # why the stored row cannot be trusted (unreadable details, repeat, fold)

    @property
    def cell_details(self) -> CellDetails:
        """:attr:`details` as the typed record every reader uses."""
        return CellDetails.from_json(self.details)

    @property
    def status(self) -> str:
        return self.outcome.status

    @property
    def uar(self) -> float | None:
        return self.outcome.uar

    @property
    def predictions(self) -> Predictions | None:
        return self.outcome.predictions

    @property
    def error(self) -> str | None:
        return self.outcome.error

    @property
    def wall_time(self) -> float:
        return self.outcome.wall_time


class ResultStore:
    """Read and write typed results in one SQLite file (created on first use).

    :param readonly: only read (``serbench leaderboard``); an old database that cannot be written
        is then migrated in memory, leaving the file as it is.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        self.migrated_from: int | None = None  # the schema version this database was migrated from
        self.migrated_in_memory = False  # migrated for reading only; the file is unchanged
        #: record digest -> why its protocol, corpus-instance or run record could not be read
        self.unreadable: dict[str, str] = {}
        if str(path) != ":memory:":
            refuse_unreadable_schema(self.path)  # read-only: a refused file is never touched
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=60000")
        version = self._stored_version()
        if version is not None and version > SCHEMA_VERSION:
            self._db.close()
            raise ResultsDbError(
                f"results database {self.path} was written by a newer serbench (schema version {version}; "
                f"this serbench reads versions 1 to {SCHEMA_VERSION}). Upgrade serbench "
                "(pip install -U ser-core), or pass --db with a new file name."
            )
        if version == 1:
            self._migrate_v1(readonly)
            return
        if readonly:
            if version is None:  # an empty file: nothing stored yet
                memory = sqlite3.connect(":memory:", isolation_level=None)
                self._db.close()
                self._db = memory
                _create_tables(self._db)
            return
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("BEGIN IMMEDIATE")
        _create_tables(self._db)
        self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self._db.execute("COMMIT")

    def _stored_version(self) -> int | None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.OperationalError:
            return None  # no meta table: a new database
        if row is None:
            return None
        try:
            return int(row[0])
        except ValueError:
            raise ResultsDbError(
                f"results database {self.path} has an unreadable schema version {row[0]!r}; it may be damaged. "
                "Restore a backup or pass --db with a new file name."
            ) from None

    # -- migration ---------------------------------------------------------------------------------

    def _migrate_v1(self, readonly: bool) -> None:
        """Turn schema-1 rows into typed records; in memory when the file may not be written."""
        writable = not readonly
        if readonly:
            memory = sqlite3.connect(":memory:", isolation_level=None)
            self._db.backup(memory)
            self._db.close()
            self._db = memory
        self._db.execute("BEGIN IMMEDIATE")
        try:
            _create_tables(self._db, cells="cells_v2")
            runs: dict[str, int] = {}
            rows = self._db.execute(
                "SELECT corpus, system, repeat, fold, status, uar, labels, predictions, provenance, error, "
                "wall_time, created_at FROM cells ORDER BY created_at"
            ).fetchall()
            for corpus, system, repeat, fold, status, uar, labels, predictions, provenance, error, wall, created in rows:
                prov = json.loads(provenance)
                protocol, instance = v1_records(corpus, json.loads(labels), prov)
                run = RunProvenance(
                    started_at=created, core_version=prov.get("core_version", ""), plugins=prov.get("plugins", {}),
                    python=prov.get("python", ""), platform=prov.get("platform", ""),
                    git_revision=prov.get("git_revision"), processes=prov.get("processes", {}),
                    suite=prov.get("suite", ""), command=("(migrated from schema 1)",),
                ).record()
                run_key = json.dumps({k: v for k, v in run.items() if k != "started_at"}, sort_keys=True)
                if run_key not in runs:
                    cursor = self._db.execute("INSERT INTO runs (started_at, provenance) VALUES (?, ?)",
                                              (created, json.dumps(run)))
                    runs[run_key] = cursor.lastrowid
                self._db.execute("INSERT OR IGNORE INTO protocols VALUES (?, ?)",
                                 (protocol.key, json.dumps(protocol.record())))
                self._db.execute("INSERT OR IGNORE INTO instances VALUES (?, ?, ?)",
                                 (instance.key, corpus, json.dumps(instance.stored())))
                fold_name = prov.get("fold_name", "")
                preds = None
                if predictions:
                    raw = json.loads(predictions)
                    # schema 1 kept no speakers: the fold's name is the speaker under leave-one-speaker-out;
                    # otherwise the fold stands in for the speaker (a coarser bootstrap cluster)
                    preds = {**raw, "speakers": [fold_name] * len(raw["clip_ids"])}
                message, _, trace = (error or "").partition("\n")
                details = {
                    "fold_name": fold_name,
                    "seeds": prov.get("seeds", {}),
                    "overrides": prov.get("overrides", {}),
                    "feature_cache_key": prov.get("feature_cache_key"),
                    "excluded_clips": prov.get("excluded_clips", []),
                    "skipped_files": prov.get("skipped_files", []),
                    "corpus_root": prov.get("corpus_root"),
                    "speakers": "fold" if instance.fold_method != "leave-one-speaker-out" else "clip",
                    "migrated_from_schema": 1,
                }
                self._db.execute(
                    "INSERT OR REPLACE INTO cells_v2 VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (corpus, system, protocol.key, instance.key, repeat, fold, status, uar,
                     json.dumps(preds) if preds is not None else None, prov.get("parameter_count"),
                     json.dumps(prov.get("estimator")) if prov.get("estimator") is not None else None,
                     message or None if status == "failed" else None, trace or None,
                     wall if wall is not None else float(prov.get("wall_time_s", 0.0)),
                     int(prov.get("seeds", {}).get("cell", 0)), json.dumps(details, default=str),
                     runs[run_key], created),
                )
            self._db.execute("ALTER TABLE cells RENAME TO cells_v1")
            self._db.execute("ALTER TABLE cells_v2 RENAME TO cells")
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('migrated_from', '1')")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self.migrated_from = 1
        self.migrated_in_memory = readonly
        if writable:
            self._db.execute("PRAGMA journal_mode=WAL")

    # -- reading and writing -----------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def done(self, key: CellKey) -> bool:
        """True when the cell has a successful result."""
        row = self._db.execute(
            "SELECT 1 FROM cells WHERE corpus=? AND system=? AND protocol=? AND instance=? AND repeat=? "
            "AND fold=? AND status='ok'",
            (key.corpus, key.system, key.protocol, key.instance, key.repeat, key.fold),
        ).fetchone()
        return row is not None

    def add_run(self, provenance: RunProvenance) -> int:
        """Store a run's provenance once; cells refer to the returned id."""
        cursor = self._db.execute("INSERT INTO runs (started_at, provenance) VALUES (?, ?)",
                                  (provenance.started_at, json.dumps(provenance.record())))
        return int(cursor.lastrowid)

    def write(
        self,
        key: CellKey,
        outcome: CellOutcome,
        *,
        protocol: SystemProtocol,
        instance: CorpusInstance,
        seed: int,
        details: Mapping[str, Any] | None = None,
        run_id: int | None = None,
    ) -> None:
        """Insert or replace one cell (with its protocol and corpus instance, stored once each)."""
        if protocol.key != key.protocol or instance.key != key.instance:
            raise ValueError("the cell key does not match its protocol or corpus instance")
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("INSERT OR IGNORE INTO protocols VALUES (?, ?)",
                             (protocol.key, json.dumps(protocol.record())))
            self._db.execute("INSERT OR IGNORE INTO instances VALUES (?, ?, ?)",
                             (instance.key, instance.corpus, json.dumps(instance.stored())))
            self._db.execute(
                "INSERT OR REPLACE INTO cells VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    key.corpus, key.system, key.protocol, key.instance, key.repeat, key.fold,
                    outcome.status, outcome.uar,
                    json.dumps(outcome.predictions.record()) if outcome.predictions is not None else None,
                    outcome.parameter_count,
                    json.dumps(outcome.estimator, default=str) if outcome.estimator is not None else None,
                    outcome.error, outcome.traceback, float(outcome.wall_time), int(seed),
                    json.dumps(dict(details or {}), default=str), run_id, now(),
                ),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def cells(self, corpus: str | None = None, system: str | None = None) -> Iterator[StoredCell]:
        """Stored cells, optionally filtered, in grid order."""
        query = (
            "SELECT corpus, system, protocol, instance, repeat, fold, status, uar, predictions, parameter_count, "
            "estimator, error, traceback, wall_time, seed, details, run_id, created_at FROM cells "
            "WHERE (? IS NULL OR corpus=?) AND (? IS NULL OR system=?) "
            "ORDER BY corpus, system, protocol, instance, repeat, fold"
        )
        for row in self._db.execute(query, (corpus, corpus, system, system)).fetchall():
            damage = []
            details = _json(row[15], dict)
            if details is None:
                damage.append("its details are not a JSON object")
            repeat, fold = _integer(row[4]), _integer(row[5])
            if repeat is None or fold is None:
                damage.append(f"its repeat ({row[4]!r}) or fold ({row[5]!r}) is not an integer")
            outcome = CellOutcome(
                ok=row[6] == "ok", wall_time=_number(row[13]) or 0.0, uar=_number(row[7]),
                predictions=_predictions(row[8]), parameter_count=_integer(row[9]),
                estimator=_json(row[10], object) if row[10] else None, error=row[11], traceback=row[12],
            )
            key = CellKey(str(row[0]), str(row[1]), str(row[2]), str(row[3]),
                          -1 if repeat is None else repeat, -1 if fold is None else fold)
            yield StoredCell(key, outcome, seed=_integer(row[14]) or 0, details=details or {}, run_id=row[16],
                             created_at=str(row[17] or ""), damage="; ".join(damage) or None)

    def _records(self, query: str, parse) -> dict:
        """``{key: parse(json)}`` of a record table; a record that cannot be read is left out and its
        reason kept in :attr:`unreadable` (readers say what is missing instead of failing)."""
        out = {}
        for key, text in self._db.execute(query):
            try:
                out[key] = parse(json.loads(text))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                self.unreadable[str(key)] = f"{type(exc).__name__}: {exc}"
        return out

    def protocols(self) -> dict[str, SystemProtocol]:
        return self._records("SELECT hash, record FROM protocols", SystemProtocol.from_record)

    def instances(self) -> dict[str, CorpusInstance]:
        return self._records("SELECT hash, record FROM instances", CorpusInstance.from_record)

    def runs(self) -> dict[int, RunProvenance]:
        return self._records("SELECT id, provenance FROM runs", RunProvenance.from_record)

    def pairs(self) -> list[tuple[str, str]]:
        """Every stored (corpus, system), without reading the cells' predictions."""
        return [tuple(r) for r in self._db.execute("SELECT DISTINCT corpus, system FROM cells ORDER BY corpus, system")]

    def names(self) -> tuple[list[str], list[str]]:
        """The stored corpus and system names."""
        corpora = [r[0] for r in self._db.execute("SELECT DISTINCT corpus FROM cells ORDER BY corpus")]
        systems = [r[0] for r in self._db.execute("SELECT DISTINCT system FROM cells ORDER BY system")]
        return corpora, systems


def _create_tables(db: sqlite3.Connection, cells: str = "cells") -> None:
    """Create the schema's tables (inside the caller's transaction: DDL is transactional in SQLite)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement.replace("CREATE TABLE IF NOT EXISTS cells (", f"CREATE TABLE IF NOT EXISTS {cells} ("))


def _json(text: Any, kind: type) -> Any:
    """Parsed JSON of the expected ``kind`` (``object``: any), or ``None`` when it is not."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, kind) else None


def _number(value: Any) -> float | None:
    """A stored REAL as a float; ``None`` for NULL, text or a non-finite value (an edited row)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _integer(value: Any) -> int | None:
    """A stored INTEGER as an int; ``None`` for NULL or anything else (an edited row)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _predictions(text: str | None) -> Predictions | None:
    """The stored predictions, or ``None`` when they are missing or unreadable (the board then reports the
    cell as invalid). Class indices must be stored integers: ``Predictions.from_record`` would turn an
    edited ``1.5`` into class 1."""
    if not text:
        return None
    record = _json(text, dict)
    if record is None:
        return None
    labels = [*record.get("y_true", ()), *record.get("y_pred", ())] if isinstance(record.get("y_true"), list) and \
        isinstance(record.get("y_pred"), list) else None
    if labels is None or any(isinstance(v, bool) or not isinstance(v, int) for v in labels):
        return None
    try:
        return Predictions.from_record(record)
    except (ValueError, KeyError, TypeError):
        return None


def v1_records(corpus: str, labels: list[str], prov: Mapping[str, Any]) -> tuple[SystemProtocol, CorpusInstance]:
    """The protocol and corpus instance a schema-1 row was computed under, from its provenance."""
    system = prov.get("system", {})
    protocol = SystemProtocol(
        model=system.get("model", ""), feature=system.get("feature", ""),
        feature_params=prov.get("feature_params", {}), settings=prov.get("settings", {}),
        normalisation=prov.get("normalisation", ""), seed=int(prov.get("seeds", {}).get("suite", 0)),
        fold_policy=fold_policy(),
    )
    folds = prov.get("folds", {})
    instance = CorpusInstance(
        corpus=corpus, version=prov.get("corpus_version"), manifest=prov.get("manifest_hash", ""),
        n_clips=len(folds.get("assignment", [])), labels=tuple(labels), fold_method=folds.get("method", ""),
        fold_names=tuple(folds.get("names", [])), fold_assignment=tuple(folds.get("assignment", [])),
    )
    return protocol, instance
