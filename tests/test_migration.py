"""A results database written by schema version 1 opens, migrates and gives the same board."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ser_core import leaderboard
from ser_core.cli import app
from ser_core.errors import ResultsDbError
from ser_core.plugins import load_registry
from ser_core.results import SCHEMA_VERSION, ResultStore
from ser_core.runner import Runner
from ser_core.suites import Suite, System
from ser_core.synthetic import SyntheticConfig, generate

DATA = Path(__file__).parent / "data"
EXPECTED = json.loads((DATA / "results-v1-board.json").read_text())


@pytest.fixture
def old_db(tmp_path):
    path = tmp_path / "old.db"
    shutil.copy(DATA / "results-v1.db", path)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rounded(value):
    if isinstance(value, float):
        return round(value, 12)
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def board_numbers(board) -> list[dict]:
    return rounded([
        {"corpus": e.corpus, "system": e.system, "uar_mean": e.uar_mean, "uar_std": e.uar_std,
         "pooled_uar": e.pooled_uar, "repeats_complete": e.repeats_complete, "failed_cells": e.failed_cells,
         "n_folds": e.n_folds, "confusion": e.confusion}
        for e in board.entries
    ])


def test_the_fixture_is_schema_1():
    with sqlite3.connect(DATA / "results-v1.db") as con:
        assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("1",)


def test_reading_migrates_in_memory_and_gives_the_old_board(old_db):
    before = digest(old_db)
    with ResultStore(old_db, readonly=True) as store:
        assert store.migrated_from == 1 and store.migrated_in_memory
        board = leaderboard.compute(store, resamples=0)
    assert digest(old_db) == before, "a read never changes the file"
    assert board_numbers(board) == rounded(EXPECTED)


def test_opening_for_writing_migrates_the_file_and_keeps_the_old_rows(old_db):
    with ResultStore(old_db) as store:
        assert store.migrated_from == 1 and not store.migrated_in_memory
        board = leaderboard.compute(store, resamples=0)
        runs = store.runs()
    assert board_numbers(board) == rounded(EXPECTED)
    assert runs and all(r.command == ("(migrated from schema 1)",) for r in runs.values())
    with sqlite3.connect(old_db) as con:
        assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert con.execute("SELECT count(*) FROM cells_v1").fetchone() == (31,), "old rows kept as they were"
        assert con.execute("SELECT count(*) FROM cells").fetchone() == (31,)
    with ResultStore(old_db) as store:
        assert store.migrated_from is None, "migrated once"


def test_a_migrated_database_resumes_the_same_cells(old_db, tmp_path, serbench_cache):
    """The migration rebuilds each row's protocol and corpus instance exactly as the runner does, so
    re-running the suite that wrote the old database computes nothing."""
    spec = importlib.util.spec_from_file_location("make_results_v1", DATA / "make_results_v1.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    manifests = {
        "gen-a": generate(SyntheticConfig(speakers=4, clips_per_class=3, min_seconds=0.5, max_seconds=0.8, seed=1), tmp_path / "a"),
        "gen-b": generate(SyntheticConfig(speakers=3, clips_per_class=3, min_seconds=0.5, max_seconds=0.8, seed=2), tmp_path / "b"),
    }
    registry = load_registry([("gen", module.Plugin(manifests))], use_entry_points=False)
    suite = Suite(name="v1", corpora=("gen-a", "gen-b"), repeats=2, seed=3, normalisation="speaker",
                  systems=(System("centroid-1", "centroid", "spec2"),
                           System("centroid-2", "centroid", "spec2", settings={"tag": 1})))
    with ResultStore(old_db) as store:
        report = Runner(registry, store, workers=0).run(suite)
    assert report.computed == 0 and report.resumed == 28


def test_the_cli_reads_an_old_database_and_says_so(old_db):
    result = CliRunner().invoke(app, ["leaderboard", "--db", str(old_db), "--resamples", "0"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "written by an older serbench (results schema 1)" in text and "the file is unchanged" in text
    assert "56.2 ± 4.2" in text and "45.8 ± 4.2" in text


def test_a_database_from_a_newer_serbench_is_a_clear_error(old_db):
    with sqlite3.connect(old_db) as con:
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(ResultsDbError, match="newer serbench .schema version 99"):
        ResultStore(old_db)
    result = CliRunner().invoke(app, ["leaderboard", "--db", str(old_db)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Upgrade serbench" in " ".join(result.output.split())


def test_a_dry_run_leaves_the_database_as_it_is(old_db, tmp_path, serbench_cache):
    """`serbench run --dry-run` only reads: an old database is planned against but not migrated or
    switched to WAL (same bytes, no side files), and a database that does not exist is not created."""
    before = digest(old_db)
    result = CliRunner().invoke(app, ["run", "--suite", "demo", "--dry-run", "--db", str(old_db)])
    assert result.exit_code == 0, result.output
    assert "the file is unchanged" in " ".join(result.output.split())
    assert digest(old_db) == before
    assert not [p.name for p in old_db.parent.iterdir() if p.name.startswith("old.db") and p.name != "old.db"]
    missing = tmp_path / "new" / "results.db"
    result = CliRunner().invoke(app, ["run", "--suite", "demo", "--dry-run", "--db", str(missing)])
    assert result.exit_code == 0, result.output
    assert not missing.parent.exists()
