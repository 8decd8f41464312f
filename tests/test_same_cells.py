"""scripts/same_cells.py: the before/after check of a change to the core (identical cells or not)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "same_cells.py"
COLUMNS = ("corpus", "system", "protocol", "instance", "repeat", "fold", "status", "uar", "predictions", "seed",
           "parameter_count", "estimator", "error", "details", "wall_time")


def database(path: Path, cells: list[dict]) -> Path:
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE cells ({', '.join(COLUMNS)})")
        for cell in cells:
            db.execute(f"INSERT INTO cells VALUES ({', '.join('?' * len(COLUMNS))})", [cell[c] for c in COLUMNS])
    return path


def cell(fold: int, y_pred: list[int], **changes) -> dict:
    row = dict(corpus="c", system="s", protocol="p1", instance="i1", repeat=0, fold=fold, status="ok",
               uar=0.5, predictions=json.dumps({"clip_ids": ["a", "b"], "y_true": [0, 1], "y_pred": y_pred}),
               seed=7 + fold, parameter_count=3, estimator=json.dumps({"C": 1}), error=None,
               details=json.dumps({"fold_name": f"f{fold}", "plugins": {"x": "1"}}), wall_time=1.0 + fold)
    row.update(changes)
    return row


def run(a: Path, b: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True, timeout=60)


def test_identical_cells_pass_whatever_their_wall_times_and_json_spacing(tmp_path):
    a = database(tmp_path / "a.db", [cell(0, [0, 0]), cell(1, [1, 1])])
    b = database(tmp_path / "b.db", [cell(0, [0, 0], wall_time=9.0,
                                          details='{"plugins": {"x": "1"},   "fold_name": "f0"}'), cell(1, [1, 1])])
    done = run(a, b)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 cells" in done.stdout and "identical" in done.stdout


def test_a_changed_prediction_a_missing_cell_and_a_changed_detail_are_each_named(tmp_path):
    a = database(tmp_path / "a.db", [cell(0, [0, 0]), cell(1, [1, 1]), cell(2, [0, 1])])
    b = database(tmp_path / "b.db", [cell(0, [0, 1]), cell(1, [1, 1], details=json.dumps({"fold_name": "g"}))])
    done = run(a, b)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert "c/s/p1/i1/0/0: predictions keys y_pred" in lines
    assert "c/s/p1/i1/0/1: details keys fold_name, plugins" in lines
    assert "only in the first: c/s/p1/i1/0/2" in lines
    assert lines[-1].endswith("3 differences")


def test_a_file_that_is_not_a_results_database_is_refused(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"not sqlite at all" * 100)
    good = database(tmp_path / "a.db", [cell(0, [0, 0])])
    done = run(bad, good)
    assert done.returncode == 2
    assert "not a serbench results database" in done.stderr and "Traceback" not in done.stderr


def test_estimator_timings_are_not_compared_but_its_other_keys_are(tmp_path):
    timed = {"C": 1, "train_seconds": 2.5, "epoch_seconds": [1.0, 1.5], "train_samples_per_second": 40.0}
    retimed = {"C": 1, "train_seconds": 9.1, "epoch_seconds": [4.0, 5.1], "train_samples_per_second": 11.0}
    a = database(tmp_path / "a.db", [cell(0, [0, 0], estimator=json.dumps(timed))])
    b = database(tmp_path / "b.db", [cell(0, [0, 0], estimator=json.dumps(retimed))])
    assert run(a, b).returncode == 0
    c = database(tmp_path / "c.db", [cell(0, [0, 0], estimator=json.dumps({**retimed, "C": 2}))])
    done = run(a, c)
    assert done.returncode == 1
    assert "c/s/p1/i1/0/0: estimator keys C" in done.stdout.splitlines()


def test_a_stated_difference_is_ignored_by_name_and_named_in_the_summary(tmp_path):
    a = database(tmp_path / "a.db", [cell(0, [0, 0])])
    newer = json.dumps({"fold_name": "f0", "plugins": {"x": "1"}, "cell_process": "in-process"})
    b = database(tmp_path / "b.db", [cell(0, [0, 0], details=newer)])
    assert run(a, b).returncode == 1
    done = subprocess.run([sys.executable, str(SCRIPT), str(a), str(b), "--ignore", "details.cell_process"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout
    assert done.stdout.strip().endswith("identical (ignoring details.cell_process)")
    # ... but only that key: a changed prediction still counts
    c = database(tmp_path / "c.db", [cell(0, [1, 0], details=newer)])
    done = subprocess.run([sys.executable, str(SCRIPT), str(a), str(c), "--ignore", "details.cell_process"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "predictions keys y_pred" in done.stdout


def test_a_malformed_ignore_is_refused_with_the_expected_form(tmp_path):
    a = database(tmp_path / "a.db", [cell(0, [0, 0])])
    done = subprocess.run([sys.executable, str(SCRIPT), str(a), str(a), "--ignore", "wall_time"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "expected COLUMN.KEY" in done.stderr and "Traceback" not in done.stderr
