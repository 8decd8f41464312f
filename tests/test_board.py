"""The board end to end: corpora x systems, configurations, unscorable rows, excluded clips, compare."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
import soundfile
from typer.testing import CliRunner

from ser_core import CorpusSpec, FeatureSpec, ModelSpec, hookimpl, leaderboard
from ser_core.cli import app
from ser_core.plugins import load_registry
from ser_core.results import ResultStore
from ser_core.runner import Reporter, Runner
from ser_core.suites import Suite, System
from ser_core.synthetic import SyntheticConfig, generate


def energy_and_centroid(signal: np.ndarray, rate: int) -> np.ndarray:
    spectrum = np.abs(np.fft.rfft(signal))
    freqs = np.fft.rfftfreq(len(signal), 1 / rate)
    return np.array([np.log(np.sqrt(np.mean(signal**2)) + 1e-9), (spectrum * freqs).sum() / (spectrum.sum() + 1e-9)],
                    dtype=np.float32)


def picky(signal: np.ndarray, rate: int) -> np.ndarray:
    """Like energy_and_centroid, but has no value for short clips (as a feature with a minimum length)."""
    if len(signal) < 0.9 * rate:
        return np.full(2, np.nan, dtype=np.float32)
    return energy_and_centroid(signal, rate)


class Centroid:
    def __init__(self, context):
        self.settings = context.settings
        self.n_classes = context.n_classes

    def fit(self, X, y, groups):
        X = np.stack(X)
        self.centroids = np.stack([X[y == c].mean(axis=0) for c in np.unique(y)])

    def predict(self, X):
        predicted = np.argmin(((np.stack(X)[:, None, :] - self.centroids[None]) ** 2).sum(-1), axis=1)
        return predicted + self.settings["shift"] * self.n_classes  # shift != 0: out of range

    def parameter_count(self):
        return int(self.centroids.size)

    def describe(self):
        return {}


class Plugin:
    def __init__(self, manifests):
        self.manifests = manifests

    @hookimpl
    def register_corpora(self, register):
        for name, manifest in self.manifests.items():
            register(CorpusSpec(name, scan=lambda root, m=manifest: m, needs_path=False))

    @hookimpl
    def register_features(self, register):
        register(FeatureSpec("ec", "functionals", extract=energy_and_centroid))
        register(FeatureSpec("picky", "functionals", extract=picky))

    @hookimpl
    def register_models(self, register):
        register(ModelSpec("centroid", create=Centroid, accepts=frozenset({"functionals"}),
                           defaults={"shift": 0, "tag": 0}))


@pytest.fixture(scope="module")
def manifests(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpora")
    return {
        "alpha": generate(SyntheticConfig(speakers=4, clips_per_class=3, min_seconds=0.6, max_seconds=1.2, seed=1),
                          root / "alpha"),
        "beta": generate(SyntheticConfig(speakers=3, clips_per_class=3, min_seconds=0.6, max_seconds=1.2, seed=2),
                         root / "beta"),
    }


@pytest.fixture
def registry(manifests, serbench_cache):
    return load_registry([("t", Plugin(manifests))], use_entry_points=False)


class Notes(Reporter):
    def __init__(self):
        self.lines = []

    def note(self, message):
        self.lines.append(message)


def run(registry, db, systems, corpora=("alpha", "beta"), notes=None):
    suite = Suite("t", tuple(corpora), tuple(systems), repeats=1, seed=0, normalisation="speaker")
    with ResultStore(db) as store:
        return Runner(registry, store, workers=0, reporter=notes or Reporter()).run(suite)


ONE = System("one", "centroid", "ec")
TWO = System("two", "centroid", "ec", settings={"tag": 1})


def test_two_corpora_by_two_systems_make_a_two_by_two_board(registry, tmp_path):
    report = run(registry, tmp_path / "r.db", [ONE, TWO])
    assert report.ok
    with ResultStore(tmp_path / "r.db") as store:
        board = leaderboard.compute(store, resamples=100)
    assert board.columns == ["one", "two"], "one column per system, whatever the corpora"
    assert [row for row, _ in board.rows] == ["alpha", "beta"]
    assert all(set(by_column) == {"one", "two"} for _, by_column in board.rows)
    assert not board.notes and not board.hidden
    assert board.ranks is not None and board.ranks.corpora == ("alpha", "beta")


def test_a_changed_setting_splits_and_the_message_names_it(registry, tmp_path):
    run(registry, tmp_path / "r.db", [ONE, TWO])
    run(registry, tmp_path / "r.db", [System("two", "centroid", "ec", settings={"tag": 7})], corpora=("alpha",))
    with ResultStore(tmp_path / "r.db") as store:
        board = leaderboard.compute(store, resamples=0)
        every = leaderboard.compute(store, resamples=0, all_configs=True)
    # by default: the newest 'two' on alpha, the only 'two' on beta; their protocols differ -> two columns
    assert board.columns == ["one", "two@" + board.rows[0][1]["two@" + _key(board, "alpha")].protocol_key[:6],
                             "two@" + _key(board, "beta")]
    messages = " ".join(board.notes)
    assert "two on alpha: showing the newest of 2 stored configurations" in messages
    assert "settings.tag (1 -> 7)" in messages, messages
    assert "two@" in messages and "differ in settings.tag" in messages
    assert len(every.entries) == 5 and "two on alpha: configurations" in " ".join(every.notes)


def _key(board, corpus):
    return next(e.protocol_key[:6] for e in board.entries if e.corpus == corpus and e.system == "two")


def test_out_of_range_predictions_fail_the_cell_naming_the_plugin(registry, tmp_path):
    notes = Notes()
    report = run(registry, tmp_path / "r.db", [System("bad", "centroid", "ec", settings={"shift": 25})],
                 corpora=("alpha",), notes=notes)
    assert len(report.failed) == 4 and report.computed == 0
    message = report.failed[0][1]
    assert "class indices outside 0..3 (100, 101, 102, 103)" in message
    assert "system 'bad': model 'centroid' (in-process plugin 't')" in message
    with ResultStore(tmp_path / "r.db") as store:
        assert {c.status for c in store.cells()} == {"failed"}, "nothing unusable stored as a success"


def test_a_stored_row_that_cannot_be_scored_never_breaks_the_board(registry, tmp_path):
    run(registry, tmp_path / "r.db", [ONE, TWO], corpora=("alpha",))
    with sqlite3.connect(tmp_path / "r.db") as con:  # as an old plugin (or a hand edit) might have left it
        con.execute("""UPDATE cells SET predictions = json_replace(predictions, '$.y_pred[0]', 99)
                       WHERE system = 'one' AND fold = 0""")
        con.execute("UPDATE cells SET predictions = 'not json' WHERE system = 'two' AND fold = 1")
    with ResultStore(tmp_path / "r.db") as store:
        board = leaderboard.compute(store, resamples=100)
    one, two = board.entries
    assert one.uar_mean is None and one.failed_cells == 1 and two.failed_cells == 1
    notes = " ".join(board.notes)
    assert "outside 0..3: 99" in notes and "missing or unreadable" in notes
    result = CliRunner().invoke(app, ["leaderboard", "--db", str(tmp_path / "r.db"), "--resamples", "100"])
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert "incomplete (1 failed)" in " ".join(result.output.split())


def test_clips_a_feature_cannot_use_are_named_in_the_run_and_marked_on_the_board(registry, tmp_path, manifests):
    notes = Notes()
    run(registry, tmp_path / "r.db", [ONE, System("p", "centroid", "picky")], corpora=("alpha",), notes=notes)
    short = sorted(c.clip_id for c in manifests["alpha"].clips if soundfile.info(c.path).duration < 0.9)
    assert short, "the generated corpus has clips under 0.9 s"
    excluded = [line for line in notes.lines if "excluded from p" in line]
    assert excluded and all(clip in excluded[0] for clip in short[:5]), "named in the run's output, with the reason"
    assert f"{len(short)} of {len(manifests['alpha'].clips)} clips of alpha are excluded" in excluded[0]
    with ResultStore(tmp_path / "r.db") as store:
        board = leaderboard.compute(store, resamples=100)
    by_system = {e.system: e for e in board.entries}
    assert by_system["p"].test_set_differs and not by_system["one"].test_set_differs
    assert leaderboard.EXCLUDED in leaderboard.format_cell(by_system["p"])
    assert any(f"tested on {len(manifests['alpha'].clips) - len(short)} of" in n for n in board.notes)
    # the paired test uses only the clips both were tested on
    result = leaderboard.compare_entries(by_system["one"], by_system["p"], resamples=100)
    assert result.n_clips == len(manifests["alpha"].clips) - len(short)


def test_compare_prints_the_paired_test_per_corpus(registry, tmp_path):
    run(registry, tmp_path / "r.db", [ONE, TWO])
    result = CliRunner().invoke(app, ["compare", "one", "two", "--db", str(tmp_path / "r.db"), "--resamples", "100"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "serbench compare one two" in text and "alpha" in text and "beta" in text
    assert "+0.0" in text and " 1 " in text, "identical systems: difference 0, p = 1"
    only = CliRunner().invoke(app, ["compare", "one", "two", "--db", str(tmp_path / "r.db"), "--corpus", "beta",
                                    "--resamples", "100"])
    assert only.exit_code == 0 and "alpha" not in only.output
    typo = CliRunner().invoke(app, ["compare", "one", "tow", "--db", str(tmp_path / "r.db")])
    assert typo.exit_code == 2 and "Did you mean 'two'" in typo.output


def test_published_numbers_are_printed_beside_ours(registry, tmp_path):
    run(registry, tmp_path / "r.db", [ONE, TWO])
    reference = tmp_path / "published.csv"
    reference.write_text("# a comment\ncorpus,system,uar,source\nalpha,one,50.0,paper\nbeta,two,99.5,paper\n")
    with ResultStore(tmp_path / "r.db") as store:
        board = leaderboard.compute(store, resamples=100)
    rows = leaderboard.reference_rows(board, leaderboard.load_reference(reference))
    assert [(r["corpus"], r["system"]) for r in rows] == [("alpha", "one"), ("beta", "two")]
    ours = {(e.corpus, e.system): e.uar_mean for e in board.entries}
    assert rows[0]["difference"] == pytest.approx(ours[("alpha", "one")] - 0.5)
    result = CliRunner().invoke(app, ["leaderboard", "--db", str(tmp_path / "r.db"), "--reference", str(reference),
                                      "--resamples", "100"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Published numbers (published.csv)" in text and "99.5" in text
    assert f"{100 * (ours[('beta', 'two')] - 0.995):+.1f}" in text
    bad = tmp_path / "bad.csv"
    bad.write_text("corpus,system,uar\nalpha,one,high\n")
    result = CliRunner().invoke(app, ["leaderboard", "--db", str(tmp_path / "r.db"), "--reference", str(bad)])
    assert result.exit_code == 2 and f"{bad}:2: uar 'high' is not a number" in " ".join(result.output.split())


def test_the_study_reference_file_parses_as_a_csv_reference():
    """docs/reference/keesing2020-table3.csv (a link to the study distribution's table) is a CSV like any."""
    path = Path(__file__).resolve().parent.parent / "docs" / "reference" / "keesing2020-table3.csv"
    reference = leaderboard.load_reference(path)
    assert reference.label == "keesing2020-table3.csv" and len(reference.values) == 105
    assert reference.values[("emodb", "svm-is09")] == pytest.approx(0.821)