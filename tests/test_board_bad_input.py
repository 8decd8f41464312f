"""Bad input to the board and its neighbours: hand-edited results, out-of-range statistics options,
odd terminals, chatty plugins, refused databases and suspicious files (issue 25, item 4).

Each family is tried in several forms; the commands run as a user runs them where the terminal or the
process matters (subprocesses), in-process otherwise.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from board_helpers import instance, protocol, put
from conftest import write_distribution
from ser_core import crossboard, leaderboard, stats
from ser_core.cli import app
from ser_core.errors import ConfigError
from ser_core.export import render
from ser_core.records import CorpusInstance
from ser_core.results import ResultStore

SERBENCH = [sys.executable, "-m", "ser_core.cli"]
LABELS = ["anger", "sadness"]


def flat(text: str) -> str:
    """Output with line breaks and the borders of typer's error panel taken out, to match sentences."""
    return " ".join(text.replace("│", " ").split())


def serbench(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*SERBENCH, *args], capture_output=True, env={**os.environ, **(env or {})}, timeout=300)


def _store(path: Path) -> Path:
    """Two systems on corpus tiny (3 speakers) and system a alone on corpus solo."""
    tiny = instance("tiny", LABELS, ["s1", "s2", "s3"], n_clips=9)
    solo = instance("solo", LABELS, ["s1", "s2"], n_clips=6)
    with ResultStore(path) as store:
        for fold in range(3):
            put(store, tiny, "a", protocol(), 0, fold, [0, 0, 1], [0, 1, 1])  # fold UAR 0.75
            put(store, tiny, "bee", protocol(epochs=2), 0, fold, [0, 0, 1], [0, 0, 1])  # 1.0
        for fold in range(2):
            put(store, solo, "a", protocol(), 0, fold, [0, 1, 1], [0, 1, 0])  # 0.75
    return path


def _set_uar(db: Path, value, *, corpus="tiny", system="a", fold=1) -> None:
    with sqlite3.connect(db) as con:
        con.execute("UPDATE cells SET uar=? WHERE corpus=? AND system=? AND fold=?", (value, corpus, system, fold))


@pytest.fixture
def db(tmp_path) -> Path:
    return _store(tmp_path / "r.db")


# -- 1. every figure comes from the predictions --------------------------------------------------------

@pytest.mark.parametrize("stored", [5.0, -1.0, 0.5, float("nan"), None])
def test_a_stored_uar_that_disagrees_with_the_predictions_is_named_and_never_shown(db, stored):
    _set_uar(db, stored)
    with ResultStore(db, readonly=True) as store:
        board = leaderboard.compute(store, resamples=200)
    a = next(e for e in board.entries if e.corpus == "tiny" and e.system == "a")
    assert a.uar_mean == pytest.approx(0.75), "the mean of the recomputed fold UARs, not of the stored ones"
    assert a.failed_cells == 0 and a.complete
    [mismatch] = a.stored_uar_mismatches
    assert (mismatch["repeat"], mismatch["fold"], mismatch["recomputed"]) == (0, 1, pytest.approx(0.75))
    [note] = [n for n in board.notes if "disagrees" in n]
    assert note.startswith("a on tiny:") and "repeat 0 fold 1" in note
    assert ("stored missing" if stored is None or stored != stored else f"stored {100 * stored:.1f}%") in note
    others = [e for e in board.entries if e is not a]
    assert all(not e.stored_uar_mismatches for e in others), "untouched cells are not reported"


def test_float_rounding_of_a_stored_uar_is_not_reported(db):
    _set_uar(db, 0.75 + 1e-13)
    with ResultStore(db, readonly=True) as store:
        board = leaderboard.compute(store, statistics=False)
    assert not any(e.stored_uar_mismatches for e in board.entries)
    assert not any("disagrees" in n for n in board.notes)


def test_every_export_shows_the_recomputed_uar_and_reports_the_edit(db):
    _set_uar(db, 5.0)
    with ResultStore(db, readonly=True) as store:
        board = leaderboard.compute(store, resamples=200)
    for fmt in ("md", "html"):
        text = render(board, fmt)
        assert "216.7" not in text and text.count("500.0") == 1, f"{fmt}: the stored value only in the note"
        assert "stored 500.0%, predictions give 75.0%" in text and "the UAR stored with 1 cell(s) disagrees" in text
    assert "| tiny | 75.0 [" in render(board, "md")
    document = json.loads(render(board, "json"))
    entry = next(e for e in document["entries"] if e["corpus"] == "tiny" and e["system"] == "a")
    assert entry["uar_mean"] == pytest.approx(0.75)
    assert entry["stored_uar_mismatches"] == [{"repeat": 0, "fold": 1, "stored": 5.0, "recomputed": 0.75}]
    assert any("disagrees" in n for n in document["notes"])
    rows = {(r["corpus"], r["system"]): r for r in csv.DictReader(io.StringIO(render(board, "csv")))}
    assert float(rows[("tiny", "a")]["uar_mean"]) == pytest.approx(0.75)
    assert rows[("tiny", "a")]["stored_uar_mismatches"] == "1" and rows[("tiny", "bee")]["stored_uar_mismatches"] == "0"


def test_the_terminal_board_and_compare_use_the_recomputed_uar(db):
    _set_uar(db, 5.0)
    shown = CliRunner().invoke(app, ["leaderboard", "--db", str(db), "--resamples", "200"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "75.0 [" in shown.stdout and "216.7" not in shown.stdout and shown.stdout.count("500.0") == 1
    assert "a on tiny: the UAR stored with 1 cell(s) disagrees" in shown.stdout
    compared = CliRunner().invoke(app, ["compare", "a", "bee", "--db", str(db), "--resamples", "200"],
                                  env={"COLUMNS": "200"})
    assert compared.exit_code == 0, compared.output
    assert "75.0" in compared.stdout and compared.stdout.count("500.0") == 1, "in the note only"
    assert "disagrees with the cell's predictions" in compared.stdout


def test_the_cross_corpus_board_reports_an_edited_cell(tmp_path):
    pair = CorpusInstance(corpus="one>two", version=None, manifest="m", n_clips=6, labels=tuple(LABELS),
                          fold_method="cross", fold_names=("one>two",), fold_assignment=(0,) * 6)
    db = tmp_path / "cross.db"
    with ResultStore(db) as store:
        put(store, pair, "a", protocol(), 0, 0, [0, 0, 1, 1, 0, 1], [0, 1, 1, 1, 0, 0],
            speakers=["t1", "t1", "t1", "t2", "t2", "t2"])
    _set_uar(db, 0.99, corpus="one>two", fold=0)
    with ResultStore(db, readonly=True) as store:
        board = crossboard.compute(store, resamples=200)
    [cell] = board.cells["a"]
    assert cell.entry.uar_mean == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert any(n.startswith("a on one>two: the UAR stored with 1 cell(s) disagrees") for n in board.notes)
    assert json.loads(crossboard.render(board, "json"))["systems"][0]["cells"][0]["stored_uar_mismatches"][0][
        "stored"] == 0.99
    markdown = crossboard.render(board, "md")
    assert "| 66.7 [" in markdown and markdown.count("99.0") == 1, "the stored value in the note only"


EDITS = {
    "uar as text": ("UPDATE cells SET uar='abc' WHERE system='a' AND fold=0", "stored missing, predictions give 75.0%"),
    "details not JSON": ("UPDATE cells SET details='not json' WHERE system='a' AND fold=0",
                         "repeat 0 fold 0: its details are not a JSON object"),
    "fractional class": ("UPDATE cells SET predictions='{\"clip_ids\": [\"x\"], \"speakers\": [\"s1\"], "
                         "\"y_true\": [0], \"y_pred\": [1.5]}' WHERE system='a' AND fold=0",
                         "repeat 0 fold 0: its predictions are missing or unreadable"),
    "fold out of range": ("UPDATE cells SET fold=7 WHERE system='a' AND fold=0", "fold 7 is not one of the corpus"),
    "fold as text": ("UPDATE cells SET fold='x' WHERE system='a' AND fold=0", "or fold ('x') is not an integer"),
    "instance record": ("UPDATE instances SET record='{}'", "is unreadable (KeyError"),
    "protocol record": ("UPDATE protocols SET record='not json'", "the record of its protocol"),
    "protocols deleted": ("DELETE FROM protocols", "is missing, so its settings cannot be shown"),
    "wall time as text": ("UPDATE cells SET wall_time='abc' WHERE system='a'", ""),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_row_edited_by_hand_is_named_and_never_breaks_a_command(db, tmp_path, edit):
    statement, says = EDITS[edit]
    with sqlite3.connect(db) as con:
        con.execute(statement)
    con.close()
    shown = CliRunner().invoke(app, ["leaderboard", "--db", str(db), "--resamples", "100"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert says in flat(shown.stdout)
    for command in (["leaderboard", "-f", "json"], ["leaderboard", "-o", str(tmp_path / "b.html")],
                    ["compare", "a", "bee"], ["results", "export", "-o", str(tmp_path / "b.json")],
                    ["board", "build", "-o", str(tmp_path / "site")]):
        result = CliRunner().invoke(app, [*command, "--db", str(db), "--resamples", "100"])
        assert result.exit_code in (0, 1, 2), f"{command}: {result.output}"  # never 3, an internal error
        assert "internal error" not in result.output
    document = json.loads(CliRunner().invoke(app, ["leaderboard", "-f", "json", "--db", str(db)]).stdout)
    assert all(isinstance(e["wall_time_s"], float) for e in document["entries"])


# -- 2. bounded statistics -------------------------------------------------------------------------------

@pytest.mark.parametrize("resamples, accepted", [(0, True), (1, False), (99, False), (100, True), (100_000, True),
                                                 (100_001, False), (10_000_000, False), (-5, False)])
def test_resamples_are_off_or_between_100_and_100000(resamples, accepted):
    assert (stats.resamples_problem(resamples) is None) == accepted
    if not accepted:
        with pytest.raises(ValueError, match="resamples"):
            stats.check_resamples(resamples)


def _counts(speakers: int, folds: int, classes: int, seed: int = 0) -> stats.SpeakerCounts:
    rng = np.random.default_rng(seed)
    true = np.zeros((folds, speakers, classes))
    for s in range(speakers):
        true[s % folds, s] = rng.integers(1, 4, classes)
    correct = np.floor(true * rng.uniform(0.3, 1.0, true.shape))
    return stats.SpeakerCounts(tuple(f"s{i}" for i in range(speakers)), true, correct, 1)


def test_an_interval_from_too_few_resamples_is_refused_not_computed():
    counts = _counts(6, 6, 3)
    for resamples in (1, 2, 99):
        with pytest.raises(ValueError, match="too few"):
            stats.bootstrap_ci(counts, resamples=resamples)
        with pytest.raises(ValueError, match="too few"):
            stats.paired_test(counts, counts, resamples=resamples)
    with pytest.raises(ValueError, match="seed"):
        stats.bootstrap_ci(counts, resamples=100, seed=-1)
    assert stats.bootstrap_ci(counts, resamples=100) is not None


def _peak_mib(function) -> float:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_resampling_runs_in_bounded_memory(monkeypatch):
    """At 100000 resamples the statistic's arrays would take hundreds of MiB at once; batched to a 1 MiB
    budget the whole computation stays within a few MiB, and gives the same interval."""
    counts = _counts(20, 10, 7)  # 20 speakers: the permutation test is random, not exact
    whole = stats.bootstrap_ci(counts, resamples=20_000, seed=3)
    monkeypatch.setattr(stats, "MEMORY_BUDGET", 2**20)
    assert _peak_mib(lambda: stats.bootstrap_ci(counts, resamples=100_000, seed=3)) < 12
    batched = stats.bootstrap_ci(counts, resamples=20_000, seed=3)
    assert batched.low == pytest.approx(whole.low, abs=0.01) and batched.high == pytest.approx(whole.high, abs=0.01)
    assert batched.low <= stats.uar_of(counts) <= batched.high
    other = stats.SpeakerCounts(counts.speakers, counts.true, np.floor(counts.true * 0.5), 1)
    assert _peak_mib(lambda: stats.paired_test(counts, other, resamples=100_000, seed=3)) < 24


@pytest.mark.parametrize("command", [
    ["leaderboard"], ["compare", "a", "bee"], ["crossboard"], ["results", "export", "-o", "{tmp}/b.json"],
    ["board", "build", "-o", "{tmp}/site"],
])
@pytest.mark.parametrize("option, value, says", [
    ("--resamples", "10000000", "more than 100000"), ("--resamples", "1", "too few"), ("--resamples", "-3", "negative"),
    ("--stats-seed", "-1", "greater than or equal to 0"),
])
def test_statistics_options_out_of_range_are_usage_errors(db, tmp_path, command, option, value, says):
    args = [part.format(tmp=tmp_path) for part in command]
    result = CliRunner().invoke(app, [*args, "--db", str(db), option, value], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert option in result.output and says in flat(result.output)
    assert not (tmp_path / "b.json").exists() and not (tmp_path / "site").exists()


def test_compare_refuses_statistics_off_and_one_system_twice(db):
    off = CliRunner().invoke(app, ["compare", "a", "bee", "--db", str(db), "--resamples", "0"])
    assert off.exit_code == 2 and "compare is a statistical test" in flat(off.output)
    same = CliRunner().invoke(app, ["compare", "a", "a", "--db", str(db)])
    assert same.exit_code == 2 and "name two different systems" in flat(same.output)


def test_the_library_refuses_statistics_it_cannot_compute(db):
    with ResultStore(db, readonly=True) as store:
        for resamples, seed in ((5, 0), (10**7, 0), (100, -1)):
            with pytest.raises(ConfigError, match="resamples|seed"):
                leaderboard.compute(store, resamples=resamples, seed=seed)
        assert leaderboard.compute(store, resamples=0, seed=0).resamples == 0


# -- 3. terminals ------------------------------------------------------------------------------------------

BOARD_COMMANDS = [["leaderboard"], ["compare", "a", "bee"], ["suites"], ["list"]]


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize("command", BOARD_COMMANDS)
def test_a_terminal_that_cannot_show_the_marks_gets_ascii_ones(db, encoding, command):
    db_args = ["--db", str(db), "--resamples", "200"] if command[0] in ("leaderboard", "compare") else []
    result = serbench(*command, *db_args, env={"PYTHONIOENCODING": encoding})
    assert result.returncode == 0, result.stderr.decode(encoding, "replace")
    text = result.stdout.decode(encoding)  # strict: every byte is of the terminal's encoding
    assert "Traceback" not in result.stderr.decode(encoding, "replace")
    if command == ["leaderboard"]:
        assert "100.0 [100.0, 100.0] ^" in text and "75.0 [" in text and "~" in text
        assert "^ best on the corpus" in text and "p >= 0.05" in text and "** imported" in text
        assert ("±" in text) == (encoding == "latin-1"), "latin-1 shows ± itself"


@pytest.mark.parametrize("command", [[], ["results", "import"], ["leaderboard"], ["run"], ["crossboard"],
                                     ["corpus", "download"]])
def test_help_and_usage_errors_on_an_ascii_terminal(command):
    """typer's own output (help, usage errors) goes through the same ASCII marks: `results import --help`
    says ‡, which an ASCII stdout cannot hold."""
    shown = serbench(*command, "--help", env={"PYTHONIOENCODING": "ascii"})
    assert shown.returncode == 0, shown.stdout.decode("ascii", "replace")[-2000:]
    assert b"Traceback" not in shown.stdout + shown.stderr and b"Usage" in shown.stdout
    shown.stdout.decode("ascii")
    if command == ["results", "import"]:
        assert b"marks them **" in shown.stdout


def test_an_export_on_a_redirected_ascii_stdout_is_the_utf8_file(db, tmp_path):
    out = tmp_path / "board.md"
    for fmt in ("md", "json", "csv", "html"):
        piped = serbench("leaderboard", "--db", str(db), "--resamples", "200", "-f", fmt,
                         env={"PYTHONIOENCODING": "ascii"})
        assert piped.returncode == 0, piped.stderr
        written = serbench("leaderboard", "--db", str(db), "--resamples", "200", "-f", fmt, "-o", str(out), "--force")
        assert written.returncode == 0, written.stderr
        assert piped.stdout == out.read_bytes(), fmt
    assert "±".encode() in piped.stdout or "▲".encode() in piped.stdout


@pytest.mark.parametrize("columns", ["20", "12"])
def test_a_narrow_terminal_never_cuts_a_number(db, columns):
    for command in (["leaderboard", "--db", str(db), "--resamples", "200"],
                    ["compare", "a", "bee", "--db", str(db), "--resamples", "200"]):
        result = serbench(*command, env={"COLUMNS": columns})
        assert result.returncode == 0, result.stderr
        text = result.stdout.decode()
        assert "…" not in text, text
        words = set(text.split())
        assert {"75.0", "100.0"} <= words | {w.strip("[],") for w in words}, text
        assert "one line per cell" in flat(text)
    wide = serbench("leaderboard", "--db", str(db), "--resamples", "200", env={"COLUMNS": "200"})
    assert "one line per cell" not in wide.stdout.decode(), "a table that fits is a table"


@pytest.mark.parametrize("columns", ["0", "-5", "abc", ""])
def test_an_unusable_columns_value_counts_as_unset(db, columns):
    """Rich would print nothing at COLUMNS=0 and use 80 columns for a log at COLUMNS=abc."""
    result = serbench("leaderboard", "--db", str(db), "--resamples", "200", env={"COLUMNS": columns})
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    assert "┏" in text and "one line per cell" not in text and "100.0 [100.0, 100.0] ▲" in text
    legend = next(line for line in text.splitlines() if "best on the corpus" in line)
    assert len(legend) > 150, "a log gets the wide console, not rich's 80 columns"
    for args in (["--db", str(db.with_name("nowhere.db"))], ["--db", str(db), "--stats-seed", "-1"]):
        refused = serbench("leaderboard", *args, env={"COLUMNS": columns})
        assert refused.returncode == 2 and len(refused.stderr.strip()) > 40, "the error is printed, whole"
        assert b"nowhere.db: no results database here" in refused.stderr or b"--stats-seed" in refused.stderr


def test_a_terminal_narrower_than_a_number_gets_whole_lines(db):
    result = serbench("leaderboard", "--db", str(db), "--resamples", "200", env={"COLUMNS": "3"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert "corpus: tiny" in lines and "  bee: 100.0 [100.0, 100.0] ▲" in lines, lines
    assert any(line.startswith("  a: 75.0 [") for line in lines)


def test_the_cross_corpus_text_export_never_cuts_a_number(tmp_path):
    pairs = [CorpusInstance(corpus=f"{a}>{b}", version=None, manifest="m", n_clips=6, labels=tuple(LABELS),
                            fold_method="cross", fold_names=(f"{a}>{b}",), fold_assignment=(0,) * 6)
             for a, b in (("one", "two"), ("two", "one"), ("one", "three"), ("three", "one"))]
    with ResultStore(tmp_path / "cross.db") as store:
        for pair in pairs:
            put(store, pair, "a", protocol(), 0, 0, [0, 0, 1, 1, 0, 1], [0, 1, 1, 1, 0, 0],
                speakers=["t1", "t1", "t1", "t2", "t2", "t2"])
        board = crossboard.compute(store, resamples=200)
    narrow = crossboard.to_text(board, width=24)
    assert "…" not in narrow and "one line per cell" in flat(narrow)
    assert "66.7 [" in narrow
    assert "one line per cell" not in crossboard.to_text(board), "120 columns hold this matrix"


# -- 4. stdout belongs to the command ----------------------------------------------------------------------

CHATTY = {
    "ser_plugin_chatty": """
    import ctypes
    import os
    import sys

    print("chatty: hello from import")
    sys.stdout.write("chatty: a write\\n")
    os.write(1, b"chatty: straight to descriptor 1\\n")
    ctypes.CDLL(None).printf(b"chatty: from C\\n")
    from ser_core import FeatureSpec, hookimpl
    import numpy as np


    def mean(signal, rate):
        return np.array([float(signal.mean())], dtype=np.float32)


    @hookimpl
    def register_features(register):
        print("chatty: registering")
        register(FeatureSpec("chatty-mean", "functionals", extract=mean, params={}))
    """,
}


def test_a_plugin_that_prints_cannot_break_json_on_stdout(tmp_path):
    root = write_distribution(tmp_path / "site", "ser-plugin-chatty", "1.0", {"chatty": "ser_plugin_chatty"}, CHATTY)
    env = {"PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    listed = serbench("list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert any(r["name"] == "chatty-mean" and r["status"] == "ok" for r in rows)
    for line in (b"hello from import", b"a write", b"straight to descriptor 1", b"from C", b"registering"):
        assert b"chatty: " + line in listed.stderr, line


# -- 5. a refused file is never modified ---------------------------------------------------------------------

def _newer(path: Path, wal: bool = False) -> Path:
    with sqlite3.connect(path) as con:
        if wal:
            con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        con.execute("INSERT INTO meta VALUES ('schema_version', '99')")
        con.execute("CREATE TABLE cells (corpus TEXT)")
    con.close()
    return path


def _garbled_version(path: Path) -> Path:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        con.execute("INSERT INTO meta VALUES ('schema_version', 'two')")
    con.close()
    return path


def _foreign(path: Path) -> Path:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE invoices (id INTEGER)")
    con.close()
    return path


def _not_sqlite(path: Path) -> Path:
    path.write_bytes(b"PK\x03\x04 not a database at all" * 10)
    return path


def _truncated(path: Path) -> Path:
    whole = _store(path.with_name("whole.db"))
    with sqlite3.connect(whole) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = whole.read_bytes()
    whole.unlink()
    path.write_bytes(data[: len(data) // 2])
    return path


REFUSED = {"truncated": (_truncated, "cannot be read as SQLite"), "newer": (_newer, "newer serbench"), "newer-wal": (lambda p: _newer(p, wal=True), "newer serbench"),
           "garbled-version": (_garbled_version, "unreadable schema version"),
           "foreign": (_foreign, "another application"), "not-sqlite": (_not_sqlite, "not an SQLite database")}
DB_COMMANDS = {
    "run": ["run", "--suite", "demo", "--dry-run"], "leaderboard": ["leaderboard"], "compare": ["compare", "a", "b"],
    "crossboard": ["crossboard"], "export": ["results", "export", "-o", "{tmp}/bundle.json"],
    "import": ["results", "import", "{tmp}/missing.serbench.json"], "board": ["board", "build", "-o", "{tmp}/site"],
}


@pytest.mark.parametrize("kind", sorted(REFUSED))
@pytest.mark.parametrize("name", sorted(DB_COMMANDS))
def test_a_refused_database_is_left_exactly_as_it_was(tmp_path, kind, name):
    make, says = REFUSED[kind]
    path = make(tmp_path / "results.db")
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    siblings = sorted(p.name for p in tmp_path.iterdir())
    args = [part.format(tmp=tmp_path) for part in DB_COMMANDS[name]]
    result = CliRunner().invoke(app, [*args, "--db", str(path)])
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.output.split()) and "It was not changed" in " ".join(result.output.split())
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before, "bytes and mtime unchanged"
    assert sorted(p.name for p in tmp_path.iterdir()) == siblings, "no -wal, -shm or -journal file, no output"


def test_a_newer_database_in_use_is_read_without_touching_it(tmp_path):
    """With a -wal file present (another serbench writing), the check reads it too: still refused, unchanged."""
    path = _newer(tmp_path / "busy.db", wal=True)
    holder = sqlite3.connect(path)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("INSERT INTO cells VALUES ('x')")  # uncommitted reads aside, the -wal file now exists
    holder.commit()
    try:
        assert Path(f"{path}-wal").exists()
        before = path.read_bytes()
        result = CliRunner().invoke(app, ["leaderboard", "--db", str(path)])
        assert result.exit_code == 2 and "newer serbench" in result.output
        assert path.read_bytes() == before
    finally:
        holder.close()


def _damaged(path: Path) -> Path:
    """A serbench database with one b-tree page overwritten: its tables list, but SQLite's check fails."""
    tiny = instance("tiny", LABELS, [f"s{i}" for i in range(8)], n_clips=800)
    whole = path.with_name("whole.db")
    with ResultStore(whole) as store:
        for fold in range(8):
            put(store, tiny, "a", protocol(), 0, fold, [0, 1] * 50, [0, 0] * 50)
    with sqlite3.connect(whole) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    data = whole.read_bytes()
    whole.unlink()
    for page in range(2, len(data) // page_size):
        damaged = bytearray(data)
        damaged[page * page_size: page * page_size + 16] = b"\xff" * 16
        path.write_bytes(bytes(damaged))
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            con.execute("SELECT name FROM sqlite_master").fetchall()
            if con.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                return path
        except sqlite3.DatabaseError:
            pass
        finally:
            con.close()
    raise AssertionError("no page whose damage leaves the schema readable")


@pytest.mark.parametrize("name", ["run", "import"])
def test_a_damaged_database_is_refused_before_a_command_writes_to_it(tmp_path, name):
    path = _damaged(tmp_path / "results.db")
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    siblings = sorted(p.name for p in tmp_path.iterdir())
    args = [part.format(tmp=tmp_path) for part in DB_COMMANDS[name]]
    result = CliRunner().invoke(app, [*args, "--db", str(path)])
    assert result.exit_code == 2, result.output
    assert "is damaged (" in result.output and "another application" not in result.output
    assert "It was not changed" in flat(result.output)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == siblings


# -- 6. suspicious input is refused or explained ---------------------------------------------------------------

def test_a_published_number_given_twice_is_refused_naming_both_lines(tmp_path):
    ref = tmp_path / "ref.csv"
    ref.write_text("# published numbers\ncorpus,system,uar,source\nemodb,svm,71.0,paper\n\n# again:\n"
                   "emovo,svm,40.0,paper\nemodb,svm,73.5,erratum\n")
    with pytest.raises(ConfigError) as refused:
        leaderboard.load_reference(ref)
    message = str(refused.value)
    assert message.startswith(f"{ref}:7:") and "lines 3 and 7" in message and "svm on emodb" in message
    ref.write_text("corpus,system,uar\nemodb,svm,71.0\nemodb,svm2,73.5\n")
    assert leaderboard.load_reference(ref).values == {("emodb", "svm"): 0.71, ("emodb", "svm2"): 0.735}


@pytest.mark.parametrize("row, says", [(",svm,70", "needs a corpus and a system"), ("emodb,,70", "needs a corpus"),
                                       ("emodb,svm,nan", "percentage"), ("emodb,svm,1e9", "percentage")])
def test_a_reference_row_without_names_or_with_a_bad_number_names_its_line(tmp_path, row, says):
    ref = tmp_path / "ref.csv"
    ref.write_text(f"corpus,system,uar\n# note\n{row}\n")
    with pytest.raises(ConfigError, match=f"^{ref}:3: .*{says}"):
        leaderboard.load_reference(ref)


@pytest.mark.parametrize("text, says", [
    ("corpus,system,uar,uar\nemodb,svm,71,72\n", "names the column uar twice"),
    ("corpus,system,uar\nemodb,svm,0.71\n", "0.71 looks like a fraction; the column is in percent (write 71, not 0.71)"),
])
def test_a_reference_whose_numbers_are_ambiguous_is_refused(tmp_path, text, says):
    ref = tmp_path / "ref.csv"
    ref.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(says)):
        leaderboard.load_reference(ref)


def test_a_published_number_for_a_system_the_board_lacks_is_named(db, tmp_path):
    """A misspelt system in the reference would otherwise be silently left out of the comparison."""
    ref = tmp_path / "ref.csv"
    ref.write_text("corpus,system,uar\ntiny,a,70\ntiny,be,80\nemodb,svm,71\n")
    shown = CliRunner().invoke(app, ["leaderboard", "--db", str(db), "--reference", str(ref), "--resamples", "100"],
                               env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    note = "ref.csv: 1 published number(s) on this board's corpora name a system the board does not have: tiny/be (line 3)"
    assert note in flat(shown.stdout) and "emodb/svm" not in shown.stdout, "other corpora are not this board's"
    with ResultStore(db, readonly=True) as store:
        board = leaderboard.compute(store, resamples=0)
    reference = leaderboard.load_reference(ref)
    assert json.loads(render(board, "json", reference=reference))["reference_unmatched"] == ["tiny/be (line 3)"]
    assert note in render(board, "md", reference=reference)


def test_a_reference_saved_by_a_spreadsheet_with_a_byte_order_mark_is_read(tmp_path):
    ref = tmp_path / "ref.csv"
    ref.write_bytes("corpus,system,uar\nemodb,svm,71.0\n".encode("utf-8-sig"))
    assert leaderboard.load_reference(ref).values == {("emodb", "svm"): 0.71}


def test_the_cli_refuses_a_duplicate_reference_before_reading_the_database(db, tmp_path):
    ref = tmp_path / "ref.csv"
    ref.write_text("corpus,system,uar\ntiny,a,70\ntiny,a,71\n")
    result = CliRunner().invoke(app, ["leaderboard", "--db", str(db), "--reference", str(ref)])
    assert result.exit_code == 2 and "lines 2 and 3" in result.output


def test_compare_with_nothing_in_common_says_which_corpora_were_skipped_and_why(tmp_path):
    db = tmp_path / "apart.db"
    one = instance("one", LABELS, ["s1", "s2"], n_clips=6)
    two = instance("two", LABELS, ["s1", "s2"], n_clips=6)
    with ResultStore(db) as store:
        for fold in range(2):
            put(store, one, "a", protocol(), 0, fold, [0, 1, 1], [0, 1, 0])
            put(store, two, "bee", protocol(), 0, fold, [0, 1, 1], [0, 1, 1])
    result = CliRunner().invoke(app, ["compare", "a", "bee", "--db", str(db)], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    message = " ".join(result.output.split())
    assert "no corpus has results of both 'a' and 'bee'" in message
    assert "one (only a has results there)" in message and "two (only bee has results there)" in message
    assert "┏" not in result.output, "no empty table"
    narrowed = CliRunner().invoke(app, ["compare", "a", "bee", "--db", str(db), "--corpus", "one"])
    assert narrowed.exit_code == 2 and "among --corpus one" in " ".join(narrowed.output.split())


def test_compare_names_the_corpora_it_left_out_beside_those_it_compared(db):
    result = CliRunner().invoke(app, ["compare", "a", "bee", "--db", str(db), "--resamples", "200"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "not compared: solo (only a has results there)" in " ".join(result.stdout.split())


def test_names_that_are_stored_but_never_together_are_explained(db):
    result = CliRunner().invoke(app, ["leaderboard", "--db", str(db), "--corpus", "solo", "--system", "bee"])
    assert result.exit_code == 2, result.output
    message = flat(result.output)
    assert "no stored within-corpus result matches --corpus solo and --system bee" in message
    assert "stored corpora: solo, tiny; systems: a, bee" in message
    exported = CliRunner().invoke(app, ["leaderboard", "--db", str(db), "--corpus", "solo", "--system", "bee",
                                        "-f", "json"])
    assert exported.exit_code == 2 and "not together" in exported.output and "{" not in exported.stdout


def test_crossboard_names_the_systems_with_cross_corpus_results(tmp_path):
    pair = CorpusInstance(corpus="one>two", version=None, manifest="m", n_clips=6, labels=tuple(LABELS),
                          fold_method="cross", fold_names=("one>two",), fold_assignment=(0,) * 6)
    db = tmp_path / "cross.db"
    with ResultStore(db) as store:
        put(store, pair, "svm-one", protocol(), 0, 0, [0, 0, 1, 1, 0, 1], [0, 1, 1, 1, 0, 0],
            speakers=["t1", "t1", "t1", "t2", "t2", "t2"])
    result = CliRunner().invoke(app, ["crossboard", "--db", str(db), "--system", "svm-on"])
    assert result.exit_code == 2, result.output
    assert "--system 'svm-on': no cross-corpus results" in flat(result.output) and "Did you mean 'svm-one'?" in result.output


# -- 7. files serbench did not write ------------------------------------------------------------------

def _cross_db(path: Path) -> Path:
    pair = CorpusInstance(corpus="one>two", version=None, manifest="m", n_clips=6, labels=tuple(LABELS),
                          fold_method="cross", fold_names=("one>two",), fold_assignment=(0,) * 6)
    with ResultStore(path) as store:
        put(store, pair, "a", protocol(), 0, 0, [0, 0, 1, 1, 0, 1], [0, 1, 1, 1, 0, 0],
            speakers=["t1", "t1", "t1", "t2", "t2", "t2"])
    return path


EXPORTS = {
    "leaderboard": lambda db, out: ["leaderboard", "--db", str(db), "--resamples", "0", "-o", str(out)],
    "crossboard": lambda db, out: ["crossboard", "--db", str(_cross_db(db.with_name("cross.db"))), "--resamples", "0",
                                   "-o", str(out)],
    "results export": lambda db, out: ["results", "export", "--db", str(db), "--resamples", "0", "-o", str(out)],
}


@pytest.mark.parametrize("name", sorted(EXPORTS))
@pytest.mark.parametrize("suffix", [".md", ".json"])
def test_an_export_never_replaces_an_existing_file_unless_forced(db, tmp_path, name, suffix):
    """`-o notes.md` onto the user's notes replaced them silently; now it is refused (exit 2), the file kept
    byte for byte, and --force replaces it saying so."""
    out = tmp_path / f"mine{suffix}"
    out.write_text("my own notes, not an export\n")
    os.utime(out, (1_000_000_000, 1_000_000_000))
    args = EXPORTS[name](db, out)
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2, refused.output
    message = flat(refused.output)
    assert f"--output {out}: the file already exists" in message and "Pass --force to replace it" in message
    assert out.read_text() == "my own notes, not an export\n" and out.stat().st_mtime == 1_000_000_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mine")], "no temporary file left behind"
    forced = CliRunner().invoke(app, [*args, "--force"], env={"COLUMNS": "300"})
    assert forced.exit_code == 0, forced.output
    assert f"replaced {out}" in forced.output and "my own notes" not in out.read_text()
    fresh = tmp_path / f"new{suffix}"
    written = CliRunner().invoke(app, EXPORTS[name](db, fresh), env={"COLUMNS": "300"})
    assert written.exit_code == 0 and f"wrote {fresh}" in written.output and fresh.stat().st_size > 0


def test_an_export_through_a_link_replaces_the_target_and_keeps_the_link(db, tmp_path):
    target = tmp_path / "real.md"
    target.write_text("old export\n")
    link = tmp_path / "board.md"
    link.symlink_to(target)
    result = CliRunner().invoke(app, ["leaderboard", "--db", str(db), "--resamples", "0", "-o", str(link), "--force"])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().startswith("# serbench leaderboard")


def test_an_export_to_dev_stdout_redirected_to_a_file_writes_the_stream_not_over_the_link(db, tmp_path):
    """With stdout redirected to a file, /dev/stdout resolves to a regular file: renaming a temporary file
    over it would replace the /dev/stdout link itself (as root), and an existing file is not the user's."""
    before = os.readlink("/dev/stdout") if os.path.islink("/dev/stdout") else None
    sink = tmp_path / "piped.csv"
    with sink.open("wb") as handle:
        done = subprocess.run([*SERBENCH, "leaderboard", "--db", str(db), "--resamples", "0", "-f", "csv",
                               "-o", "/dev/stdout"], stdout=handle, stderr=subprocess.PIPE, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (os.readlink("/dev/stdout") if os.path.islink("/dev/stdout") else None) == before
    assert "corpus,system," in sink.read_text()
    assert not list(Path("/dev").glob(".stdout.*")), "no temporary file in /dev"


def test_a_site_never_replaces_a_file_it_did_not_write(db, tmp_path):
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "index.html").write_text("<p>my own page</p>")
    refused = CliRunner().invoke(app, ["board", "build", "--db", str(db), "--resamples", "0", "-o", str(site_dir)])
    assert refused.exit_code == 2, refused.output
    message = flat(refused.output)
    assert f"{site_dir / 'index.html'}: this file was not written by serbench board build" in message
    assert "nothing was written" in message and "--force" in message
    assert sorted(p.name for p in site_dir.iterdir()) == ["index.html"], "nothing written beside it"
    assert (site_dir / "index.html").read_text() == "<p>my own page</p>"
    ours = tmp_path / "ours"
    for _ in range(2):  # a build replaces what an earlier build wrote, without --force
        built = CliRunner().invoke(app, ["board", "build", "--db", str(db), "--resamples", "0", "-o", str(ours)])
        assert built.exit_code == 0, built.output
    listed = (ours / ".serbench-files").read_text().splitlines()
    assert "index.html" in listed and "site.css" in listed and any(n.startswith("corpus/") for n in listed)
    forced = CliRunner().invoke(app, ["board", "build", "--db", str(db), "--resamples", "0", "-o", str(site_dir),
                                      "--force"])
    assert forced.exit_code == 0 and "my own page" not in (site_dir / "index.html").read_text()


# -- 8. tiny and garbled terminal widths for typer's own output ----------------------------------------

@pytest.mark.parametrize("env", [{"COLUMNS": "1"}, {"COLUMNS": "5"}, {"TERMINAL_WIDTH": "3"},
                                 {"TERMINAL_WIDTH": "abc"}, {"TERMINAL_WIDTH": "0", "COLUMNS": "2"}])
def test_help_and_usage_errors_are_readable_at_any_width(env):
    """At COLUMNS=1 typer drew empty boxes: no usage line, no error message; TERMINAL_WIDTH=abc (typer's
    own variable) was a traceback."""
    shown = serbench("--help", env=env)
    assert shown.returncode == 0 and b"Traceback" not in shown.stderr, shown.stderr
    text = flat(shown.stdout.decode())
    assert "[OPTIONS] COMMAND [ARGS]" in text and "leaderboard" in text and "validate-plugin" in text
    refused = serbench("compare", "x", "x", env=env)
    assert refused.returncode == 2 and b"Traceback" not in refused.stderr
    assert "both systems are 'x'; name two different systems" in flat(refused.stderr.decode())


def test_compare_names_a_misspelt_system_as_the_argument_it_is(db):
    """compare takes its systems as arguments; the message said `--system 'be'`, an option it has not."""
    result = CliRunner().invoke(app, ["compare", "a", "be", "--db", str(db)])
    assert result.exit_code == 2, result.output
    message = flat(result.output)
    assert "system 'be': no results stored under this name. Did you mean 'bee'?" in message
    assert "--system" not in message


def test_a_stored_single_class_corpus_is_never_shown_as_a_score(tmp_path):
    """`serbench run` refuses a corpus with one class (any model scores 100 %), but a database written
    otherwise (a bundle, an older serbench, a hand edit) showed it as 100.0 [100.0, 100.0] ▲."""
    one = instance("one", ["anger"], ["s1", "s2"], n_clips=4)
    tiny = instance("tiny", LABELS, ["s1", "s2", "s3"], n_clips=9)
    db = tmp_path / "degenerate.db"
    with ResultStore(db) as store:
        for fold in range(2):
            put(store, one, "a", protocol(), 0, fold, [0, 0], [0, 0])
        for fold in range(3):
            put(store, tiny, "a", protocol(), 0, fold, [0, 0, 1], [0, 1, 1])
    with ResultStore(db, readonly=True) as store:
        board = leaderboard.compute(store, resamples=200)
    degenerate = next(e for e in board.entries if e.corpus == "one")
    assert degenerate.uar_mean is None and degenerate.failed_cells == 2
    assert any("its corpus instance has only one class ('anger'): any model scores 100 % UAR on it, so it is not a "
               "benchmark" in note for note in board.notes)
    assert next(e for e in board.entries if e.corpus == "tiny").uar_mean == pytest.approx(0.75), "others unaffected"
    shown = CliRunner().invoke(app, ["leaderboard", "--db", str(db), "--resamples", "200"], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    row = next(line for line in shown.output.splitlines() if line.strip("│ ").startswith("one"))
    assert "100.0" not in row and "▲" not in row and "incomplete (2 failed)" in row
    exported = json.loads(render(board, "json"))
    [stored] = [e for e in exported["entries"] if e["corpus"] == "one"]
    assert stored["uar_mean"] is None and stored["failed_cells"] == 2


# -- 9. inputs that are not regular files, or far too large ---------------------------------------------

@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_an_input_that_is_a_device_or_a_fifo_is_refused_not_read_for_ever(db, tmp_path, kind):
    """--config /dev/zero ran out of memory (internal error, exit 3), --reference /dev/zero read for ever and a
    FIFO with no writer blocked before the first line; each is now refused naming the file (exit 2)."""
    if kind == "device":
        path = Path("/dev/zero")
    else:
        path = tmp_path / "pipe"
        os.mkfifo(path)
    new_db = tmp_path / "new.db"
    commands = [["suites", "--config", str(path)], ["leaderboard", "--db", str(db), "--reference", str(path)],
                ["results", "verify", str(path)], ["results", "import", str(path), "--db", str(new_db)]]
    for command in commands:
        out = subprocess.run([*SERBENCH, *command], capture_output=True, timeout=120, env=os.environ)
        assert out.returncode == 2, (command, out.stderr)
        message = flat(out.stderr.decode())
        assert f"{path}: cannot be read (it is a {'device' if kind == 'device' else 'FIFO'}, not a regular file" in \
            message, (command, message)
        assert "internal error" not in message
    assert not new_db.exists(), "a refused bundle creates no database"
    manifest = subprocess.run([*SERBENCH, "corpus", "info", "csv", "--path", str(path)], capture_output=True,
                              timeout=120, env=os.environ)
    assert manifest.returncode == 2 and f"corpus 'csv': {path} is not a regular file" in flat(manifest.stderr.decode())


def test_an_input_far_larger_than_its_kind_is_refused(db, tmp_path, monkeypatch):
    from ser_core import inputs

    # the benchmark distributions' files are read through the same bound
    root = Path(__file__).resolve().parents[1]
    limit = max(p.stat().st_size for p in (root / "plugins").glob("*/*/*.toml")) + 100
    monkeypatch.setattr(inputs, "TEXT_LIMIT", limit)
    big = tmp_path / "benchmarks.toml"
    big.write_text("# " + "x" * (limit + 10) + "\n")
    result = CliRunner().invoke(app, ["suites", "--config", str(big)])
    assert result.exit_code == 2, result.output
    assert f"{big}: cannot be read (it holds more than" in flat(result.output), result.output
    reference = tmp_path / "ref.csv"
    reference.write_text("corpus,system,uar\n" + "tiny,a,50\n" * (limit // 10 + 1))
    refused = CliRunner().invoke(app, ["leaderboard", "--db", str(db), "--reference", str(reference)])
    assert refused.exit_code == 2 and "it holds more than" in flat(refused.output)
    big.write_text('[suites.s]\ncorpora = ["synthetic"]\nsystems = ["svm-egemaps"]\n')
    assert CliRunner().invoke(app, ["suites", "--config", str(big)]).exit_code == 0, "a file within the bound is read"
