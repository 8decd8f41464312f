"""Board exports from a hand-built store: figures, pooled metrics, every format."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from board_helpers import instance, protocol, put
from ser_core import leaderboard, read_reference
from ser_core.export import CSV_FIELDS, JSON_SCHEMA, record, render
from ser_core.results import ResultStore

LABELS = ["anger", "sadness"]
DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture
def board(tmp_path):
    tiny = instance("tiny", LABELS, ["s1", "s2"], n_clips=5)
    a, b = protocol(), protocol(epochs=2)
    with ResultStore(tmp_path / "r.db") as store:
        # repeat 0: fold UARs 1.0 and 0.5 -> 0.75; repeat 1: 0.5 and 0.5 -> 0.5
        put(store, tiny, "a", a, 0, 0, [0, 1], [0, 1])
        put(store, tiny, "a", a, 0, 1, [0, 0, 1], [0, 0, 0])
        put(store, tiny, "a", a, 1, 0, [0, 1], [1, 1])
        put(store, tiny, "a", a, 1, 1, [0, 0, 1], [0, 0, 0])
        put(store, tiny, "b", b, 0, 0, [0, 1], [0, 1], overrides={"epochs": 2})
        put(store, tiny, "b", b, 0, 1, [0, 0, 1], [0, 0, 1], overrides={"epochs": 2})
        yield leaderboard.compute(store, resamples=200)


def test_aggregates_and_pooled_metrics_hand_worked(board):
    a, b = board.entries
    assert a.uar_mean == pytest.approx(0.625) and a.uar_std == pytest.approx(0.125)
    # pooled over all 10 predictions: true anger 6 (5 right), true sadness 4 (2 right)
    assert a.confusion == [[5, 1], [2, 2]]
    assert a.pooled_uar == pytest.approx((5 / 6 + 2 / 4) / 2)
    assert a.weighted_accuracy == pytest.approx(7 / 10)
    assert a.wall_time_s == pytest.approx(120.0) and a.parameter_count == 10
    assert b.overrides == {"epochs": 2} and b.uar_mean == 1.0 and b.repeats_complete == 1
    # per speaker, repeats averaged: s1 anger (1 + 0)/2, sadness 1 -> 0.75; s2 anger 1, sadness 0 -> 0.5
    assert a.per_speaker == pytest.approx({"s1": 0.75, "s2": 0.5})
    assert a.worst_speaker == ("s2", 0.5) and a.speaker_sd == pytest.approx(0.125)
    assert b.per_speaker == {"s1": 1.0, "s2": 1.0} and b.mark == leaderboard.BEST


def test_markdown_csv_and_json(board):
    markdown = render(board, "md")
    assert "| corpus | a | b |" in markdown
    a_ci, b_ci = board.entries[0].ci, board.entries[1].ci
    # two speakers cannot make any difference significant: a is marked "not significantly worse"
    assert f"| tiny | 62.5 ± 12.5 [{100 * a_ci.low:.1f}, {100 * a_ci.high:.1f}] △ |" in markdown
    assert "| 100.0 [100.0, 100.0] ▲ |" in markdown, "one repeat: no '± 0.0'; the best is marked"
    assert "epochs=2" in markdown and "2m00s" in markdown
    rows = list(csv.DictReader(io.StringIO(render(board, "csv"))))
    assert tuple(rows[0]) == CSV_FIELDS
    assert [r["system"] for r in rows] == ["a", "b"]
    assert float(rows[0]["uar_mean"]) == pytest.approx(0.625)
    assert json.loads(rows[1]["overrides"]) == {"epochs": 2}
    document = json.loads(render(board, "json"))
    assert {k: document[k] for k in JSON_SCHEMA} == JSON_SCHEMA
    first = document["entries"][0]
    assert first["confusion"] == [[5, 1], [2, 2]] and first["labels"] == LABELS
    assert first["ci"]["low"] == pytest.approx(a_ci.low) and document["entries"][1]["mark"] == "best"


def test_the_json_export_matches_its_documented_schema(board):
    """docs/board-json.md lists every key of the document and of an entry; the export has exactly those."""
    doc = (DOCS / "board-json.md").read_text()
    document = json.loads(render(board, "json"))
    for key in document:
        assert f"`{key}`" in doc, f"top-level key {key!r} is not documented"
    for key in record(board.entries[0]):
        assert f"`{key}`" in doc, f"entry key {key!r} is not documented"
    assert f"version` | {JSON_SCHEMA['version']}" in doc.replace("`version` | `", "version` | ")


def test_html_is_self_contained_with_charts_and_confusion_matrices(board):
    page = render(board, "html")
    assert page.startswith("<!doctype html>") and "</html>" in page
    assert page.count("data:image/png;base64,") == 4, "bar chart + per-speaker chart + a confusion matrix per system"
    assert "http://" not in page and "https://" not in page, "no external resources"
    assert "62.5 ± 12.5" in page


def test_unknown_format_is_refused(board):
    with pytest.raises(ValueError, match="unknown format"):
        render(board, "xlsx")


def test_cli_exports_to_a_file(tmp_path, board):
    out = tmp_path / "board.md"
    command = [sys.executable, "-m", "ser_core.cli", "leaderboard", "--db", str(tmp_path / "r.db"),
               "--format", "md", "--output", str(out), "--resamples", "200"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "| tiny | 62.5 ± 12.5 [" in out.read_text()
    bad = subprocess.run(command[:-6] + ["--format", "pdf"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "choose one of" in bad.stderr


def test_critical_difference_cliques_join_systems_closer_than_the_cd():
    from ser_core.export import cd_cliques

    # sorted by rank: 1.2, 2.0, 3.2, 3.6; CD 2.1: {1.2 .. 3.2} and {2.0 .. 3.6} are maximal runs
    assert cd_cliques(["a", "b", "c", "d"], [1.2, 2.0, 3.2, 3.6], 2.1) == [(0, 2), (1, 3)]
    assert cd_cliques(["a", "b", "c"], [1.0, 2.0, 3.0], 0.5) == [], "every pair differs by more than the CD"


def test_html_draws_the_cd_diagram_for_several_corpora(tmp_path):
    a, b, c = protocol(), protocol(k=1), protocol(k=2)
    with ResultStore(tmp_path / "r.db") as store:
        for corpus in ("x", "y"):
            inst = instance(corpus, LABELS, ["s1", "s2", "s3"], n_clips=6)
            for name, proto, wrong in (("a", a, 0), ("b", b, 1), ("c", c, 2)):
                for fold in range(3):
                    put(store, inst, name, proto, 0, fold, [0, 1], [0, 1] if fold >= wrong else [1, 0])
        board = leaderboard.compute(store, resamples=100)
    assert board.ranks.average_ranks == (1.0, 2.0, 3.0) and board.ranks.p_value is not None
    page = render(board, "html")
    assert "critical-difference diagram" in page and "Friedman test" in page


def test_a_selected_reference_is_on_every_format(board, tmp_path):
    """Published numbers (a CSV reference of UARs, and an accuracy one) in Markdown, CSV, JSON and HTML."""
    path = tmp_path / "paper.csv"
    path.write_text("corpus,system,uar,source\ntiny,a,60.0,Me 2026\n")
    reference = leaderboard.load_reference(path)
    rows = list(csv.DictReader(io.StringIO(render(board, "csv", reference=reference))))
    by_system = {r["system"]: r for r in rows}
    assert float(by_system["a"]["published_uar"]) == pytest.approx(0.6)
    assert float(by_system["a"]["published_difference"]) == pytest.approx(0.625 - 0.6)
    assert by_system["b"]["published_uar"] == "" and "published_uar" not in next(csv.reader(io.StringIO(render(board, "csv"))))
    document = json.loads(render(board, "json", reference=reference))
    assert document["reference_info"] == {"name": "paper.csv", "citation": "Me 2026", "measure": "uar"}
    assert [(r["system"], r["published"]) for r in document["reference"]] == [("a", 0.6)]
    assert document["reference_accuracy"] is None
    assert "| tiny | a | 62.5 |" in render(board, "md", reference=reference)
    html = render(board, "html", reference=reference)
    assert "Diamonds: the published UAR (paper.csv)" in html
    assert "Diamonds" not in render(board, "html"), "no marks without a reference"
    human = tmp_path / "human.csv"
    human.write_text("corpus,system,accuracy\ntiny,human,80\n")
    accuracy = leaderboard.Reference.of(read_reference(human, measure="accuracy"))
    document = json.loads(render(board, "json", reference=accuracy))
    assert document["reference"] == [] and document["reference_unmatched"] == []
    assert document["reference_accuracy"] == [{"corpus": "tiny", "system": "human", "published": 0.8, "source": ""}]
    markdown = render(board, "md", reference=accuracy)
    assert "## Published accuracy" in markdown and "| tiny | human | 80.0 |" in markdown
    assert "not a UAR" in render(board, "html", reference=accuracy)
