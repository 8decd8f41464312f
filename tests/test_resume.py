"""Robust runs: parallel folds match in-process ones, kill -9 then resume, concurrent writers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from conftest import TinyCorpus

from ser_core.api.testing import FAKE_FEATURE, FAKE_MODEL, FAKE_SYSTEM, fakes
from ser_core.plugins import load_registry
from ser_core.results import ResultStore
from ser_core.runner import Runner
from ser_core.suites import Suite, System

FAKE = System(FAKE_SYSTEM, FAKE_MODEL, FAKE_FEATURE)


def stored(db) -> list[tuple]:
    with ResultStore(db) as store:
        return [(c.key, c.status, c.uar, c.predictions) for c in store.cells()]


def test_folds_in_worker_processes_match_in_process_folds(synthetic_manifest, tmp_path):
    registry = load_registry([("tiny", TinyCorpus(synthetic_manifest)), ("fakes", fakes)])
    suite = Suite("t", ("tiny",), (FAKE,), repeats=1, seed=0, normalisation="speaker")
    for workers, db in ((1, "serial.db"), (2, "parallel.db")):
        with ResultStore(tmp_path / db) as store:
            report = Runner(registry, store, workers=workers).run(suite)
            assert report.ok and report.computed == 4
    assert stored(tmp_path / "serial.db") == stored(tmp_path / "parallel.db")
    with ResultStore(tmp_path / "parallel.db") as store:
        (run,) = store.runs().values()
        assert run.processes == {"workers": 2, "threads_per_worker": 1, "cell_process": "auto",
                                 "cell_time_limit": None}
        assert all(c.run_id is not None for c in store.cells()), "each cell refers to its run's provenance"


CONFIG = """
[systems.svm-egemaps]
model = "svm"
feature = "egemaps"

[suites.a]
corpora = ["synthetic"]
systems = ["svm-egemaps"]
repeats = 1
seed = 0

[suites.b]
corpora = ["synthetic"]
systems = ["svm-egemaps"]
repeats = 1
seed = 1
"""


def start(tmp_path, db, suite="a"):
    config = tmp_path / "benchmarks.toml"
    config.write_text(CONFIG)
    command = [sys.executable, "-m", "ser_core.cli", "run", "--config", str(config), "--db", str(db),
               "--suite", suite, "--workers", "1"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def ok_cells(db) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as con:
            return con.execute("SELECT COUNT(*) FROM cells WHERE status='ok'").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_kill_9_mid_run_then_resume_equals_an_uninterrupted_run(tmp_path):
    reference = start(tmp_path, tmp_path / "reference.db")
    assert reference.wait(timeout=600) == 0, reference.stderr.read()

    victim = start(tmp_path, tmp_path / "resumed.db")
    deadline = time.time() + 300
    while ok_cells(tmp_path / "resumed.db") < 3 and time.time() < deadline:
        time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    survived = ok_cells(tmp_path / "resumed.db")
    assert 3 <= survived < 8, "killed part-way, with finished cells on disk"

    resumed = start(tmp_path, tmp_path / "resumed.db")
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert f"{8 - survived} cells computed, {survived} already stored" in out
    assert stored(tmp_path / "resumed.db") == stored(tmp_path / "reference.db")


def test_two_runs_writing_to_one_store_at_once_lose_nothing(tmp_path):
    db = tmp_path / "shared.db"
    runs = [start(tmp_path, db, "a"), start(tmp_path, db, "b")]
    for run in runs:
        _, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
    rows = stored(db)
    assert len(rows) == 16 and all(status == "ok" for _, status, _, _ in rows)
    assert len({key.protocol for key, *_ in rows}) == 2, "different seeds, separate protocols"
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
