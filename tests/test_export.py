"""Leaderboard exports from a hand-built store: figures, pooled metrics, every format."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from ser_core import leaderboard
from ser_core.export import render
from ser_core.results import CellKey, ResultStore

LABELS = ["anger", "sadness"]


def put(store, system, repeat, fold, y_true, y_pred, uar, config="c1", overrides=None):
    store.write(
        CellKey("tiny", system, config, repeat, fold),
        labels=LABELS,
        provenance={"n_folds": 2, "overrides": overrides or {}, "parameter_count": 10},
        uar=uar,
        predictions={"clip_ids": [f"c{i}" for i in range(len(y_true))], "y_true": y_true, "y_pred": y_pred},
        wall_time=30.0,
    )


@pytest.fixture
def entries(tmp_path):
    with ResultStore(tmp_path / "r.db") as store:
        # repeat 0: fold UARs 1.0 and 0.5 -> 0.75; repeat 1: 0.5 and 0.5 -> 0.5
        put(store, "a", 0, 0, [0, 1], [0, 1], 1.0)
        put(store, "a", 0, 1, [0, 1], [0, 0], 0.5)
        put(store, "a", 1, 0, [0, 1], [1, 1], 0.5)
        put(store, "a", 1, 1, [0, 0, 1], [0, 0, 0], 0.5, overrides=None)
        put(store, "b", 0, 0, [0, 1], [0, 1], 1.0, overrides={"epochs": 2})
        put(store, "b", 0, 1, [0, 1], [0, 1], 1.0, overrides={"epochs": 2})
        yield leaderboard.compute(store)


def test_aggregates_and_pooled_metrics_hand_worked(entries):
    a, b = entries
    assert a.uar_mean == pytest.approx(0.625) and a.uar_std == pytest.approx(0.125)
    # pooled over all 9 predictions: true anger 5 (4 right), true sadness 4 (2 right)
    assert a.confusion == [[4, 1], [2, 2]]
    assert a.pooled_uar == pytest.approx((4 / 5 + 2 / 4) / 2)
    assert a.weighted_accuracy == pytest.approx(6 / 9)
    assert a.wall_time_s == pytest.approx(120.0) and a.parameter_count == 10
    assert b.overrides == {"epochs": 2}


def test_markdown_csv_and_json(entries):
    markdown = render(entries, "md")
    assert "| corpus | a | b |" in markdown
    assert "| tiny | 62.5 ± 12.5 | 100.0 ± 0.0 |" in markdown
    assert "epochs=2" in markdown and "2m00s" in markdown
    rows = list(csv.DictReader(io.StringIO(render(entries, "csv"))))
    assert [r["system"] for r in rows] == ["a", "b"]
    assert float(rows[0]["uar_mean"]) == pytest.approx(0.625)
    assert json.loads(rows[1]["overrides"]) == {"epochs": 2}
    records = json.loads(render(entries, "json"))
    assert records[0]["confusion"] == [[4, 1], [2, 2]] and records[0]["labels"] == LABELS


def test_html_is_self_contained_with_charts_and_confusion_matrices(entries):
    page = render(entries, "html")
    assert page.startswith("<!doctype html>") and "</html>" in page
    assert page.count("data:image/png;base64,") == 3, "one bar chart + one confusion matrix per system"
    assert "http://" not in page and "https://" not in page, "no external resources"
    assert "62.5 ± 12.5" in page


def test_unknown_format_is_refused(entries):
    with pytest.raises(ValueError, match="unknown format"):
        render(entries, "xlsx")


def test_cli_exports_to_a_file(tmp_path, entries):
    out = tmp_path / "board.md"
    command = [sys.executable, "-m", "ser_core.cli", "leaderboard", "--db", str(tmp_path / "r.db"),
               "--format", "md", "--output", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "| tiny | 62.5 ± 12.5 | 100.0 ± 0.0 |" in out.read_text()
    bad = subprocess.run(command[:-4] + ["--format", "pdf"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "choose one of" in bad.stderr
