"""Cross-corpus protocols on generated corpora of known structure: shared classes, label maps,
refusals, caps, isolation of the test corpus, records, resume, and the cross-corpus board."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from ser_core import CorpusSpec, FeatureSpec, ModelSpec, crossboard, hookimpl, leaderboard
from ser_core.crosscorpus import capped, pairs
from ser_core.errors import ConfigError
from ser_core.plugins import load_registry
from ser_core.results import ResultStore
from ser_core.runner import Runner
from ser_core.suites import Suite, System, load_benchmarks
from ser_core.synthetic import SyntheticConfig, generate

from crosscorpus_parts import RecordingCentroid  # importable by Dask workers too

CALLS = {"extract": 0}


def loudness_and_pitchiness(signal: np.ndarray, rate: int) -> np.ndarray:
    CALLS["extract"] += 1
    spectrum = np.abs(np.fft.rfft(signal))
    freqs = np.fft.rfftfreq(len(signal), 1 / rate)
    return np.array([np.log(np.sqrt(np.mean(signal**2)) + 1e-9), np.mean(np.abs(np.diff(np.sign(signal)))) / 2,
                     (spectrum * freqs).sum() / (spectrum.sum() + 1e-9)], dtype=np.float32)


def corpus(tmp_path_factory, name, classes, seed, speakers=4, clips=3, relabel=None):
    config = SyntheticConfig(speakers=speakers, clips_per_class=clips, classes=tuple(classes), seed=seed,
                             min_seconds=0.5, max_seconds=0.7)
    manifest = generate(config, tmp_path_factory.mktemp(name), name=name)
    if relabel:
        manifest = replace(manifest, clips=[replace(c, label=relabel(i, c)) for i, c in enumerate(manifest.clips)])
    return manifest


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """alpha: 4 classes; beta: shares 3 of them (fear instead of happiness); gamma: its own labels,
    rage and fury both mapped onto anger, calm onto neutral; delta: shares only anger."""
    alpha = corpus(tmp_path_factory, "alpha", ("anger", "happiness", "sadness", "neutral"), 0)
    beta = corpus(tmp_path_factory, "beta", ("anger", "sadness", "neutral", "fear"), 1)
    gamma = corpus(tmp_path_factory, "gamma", ("anger", "neutral"), 2, clips=4,
                   relabel=lambda i, c: {"anger": "rage" if i % 2 else "fury", "neutral": "calm"}[c.label])
    delta = corpus(tmp_path_factory, "delta", ("anger", "neutral"), 3,
                   relabel=lambda i, c: "boredom" if c.label == "neutral" else c.label)
    return {"alpha": alpha, "beta": beta, "gamma": gamma, "delta": delta}


class Plugin:
    def __init__(self, manifests):
        self.manifests = manifests

    @hookimpl
    def register_corpora(self, register):
        labels = {"gamma": ("rage", "fury", "calm"), "delta": ("anger", "boredom")}
        maps = {"gamma": {"rage": "anger", "fury": "anger", "calm": "neutral"}}
        for name, manifest in self.manifests.items():
            register(CorpusSpec(name, scan=lambda root, m=manifest: m, needs_path=False,
                                labels=labels.get(name, ()), label_map=maps.get(name, {})))

    @hookimpl
    def register_features(self, register):
        register(FeatureSpec("lp", "functionals", extract=loudness_and_pitchiness))

    @hookimpl
    def register_models(self, register):
        register(ModelSpec("rec", create=RecordingCentroid, accepts=frozenset({"functionals"})))


def suite(corpora, protocol="cross", **fields) -> Suite:
    values = dict(name="x", corpora=tuple(corpora), systems=(System("rec-lp", "rec", "lp"),), repeats=1, seed=3,
                  normalisation="fold", protocol=protocol)
    values.update(fields)
    return Suite(**values)


def run(manifests, db, chosen):
    registry = load_registry([("t", Plugin(manifests))], use_entry_points=False)
    with ResultStore(db) as store:
        report = Runner(registry, store, workers=0).run(chosen)
        cells = {c.key.corpus: c for c in store.cells()}
        instances = store.instances()
    return report, cells, instances


def test_a_pair_trains_and_tests_on_the_three_shared_classes_and_counts_the_rest(corpora, tmp_path):
    report, cells, instances = run(corpora, tmp_path / "r.db", suite(["alpha", "beta"]))
    assert report.ok and report.computed == 2
    assert set(cells) == {"alpha>beta", "beta>alpha"}
    cell = cells["alpha>beta"]
    assert instances[cell.key.instance].labels == ("anger", "sadness", "neutral")
    assert instances[cell.key.instance].fold_method == "cross"
    pair = cell.details["cross"]
    assert pair["classes"] == ["anger", "sadness", "neutral"]
    assert pair["train"][0] == {**pair["train"][0], "corpus": "alpha", "clips": 36, "left_out": {"happiness": 12}}
    assert pair["test"]["left_out"] == {"fear": 12} and pair["test"]["clips"] == 36
    assert cell.outcome.estimator["n"] == 36 and cell.outcome.estimator["classes"] == [0, 1, 2]
    assert len(cell.predictions.clip_ids) == 36
    assert {c for c in cell.predictions.clip_ids} == {c.clip_id for c in corpora["beta"].clips if c.label != "fear"}
    assert 0.0 <= cell.outcome.uar <= 1.0


def test_a_label_map_sending_two_labels_to_one_class(corpora, tmp_path):
    _, cells, instances = run(corpora, tmp_path / "r.db", suite(["alpha", "gamma"]))
    to_gamma = cells["alpha>gamma"]
    assert instances[to_gamma.key.instance].labels == ("anger", "neutral")
    # rage and fury are both anger (class 0): every one of gamma's 32 clips is tested, none left out
    assert to_gamma.details["cross"]["test"]["left_out"] == {}
    truth = dict(zip(to_gamma.predictions.clip_ids, to_gamma.predictions.y_true))
    original = {c.clip_id: c.label for c in corpora["gamma"].clips}
    assert {original[k] for k, v in truth.items() if v == 0} == {"rage", "fury"}
    assert {original[k] for k, v in truth.items() if v == 1} == {"calm"}
    assert len(truth) == 32
    from_gamma = cells["gamma>alpha"]
    assert from_gamma.outcome.estimator["n"] == 32 and from_gamma.outcome.estimator["classes"] == [0, 1]
    assert from_gamma.details["cross"]["test"]["left_out"] == {"happiness": 12, "sadness": 12}


def test_a_pair_with_one_shared_class_is_refused_before_any_work(corpora, tmp_path):
    CALLS["extract"] = 0
    report, cells, _ = run(corpora, tmp_path / "r.db", suite(["alpha", "delta"]))
    assert cells == {} and report.computed == 0 and CALLS["extract"] == 0
    reasons = dict(report.skipped)
    assert set(reasons) == {"alpha>delta", "delta>alpha"}
    assert "refused: 1 shared class (anger); at least 2 are needed" in reasons["alpha>delta"]
    assert "delta: anger" in reasons["alpha>delta"]  # boredom has no shared label: not listed
    assert not report.ok


def test_the_suites_classes_refuse_a_pair_that_lacks_them(corpora, tmp_path):
    report, cells, _ = run(corpora, tmp_path / "r.db", suite(["alpha", "beta"], classes=("happiness", "anger")))
    assert cells == {} and all("of the suite's classes (happiness, anger)" in why for _, why in report.skipped)


@pytest.mark.parametrize("normalisation", ["fold", "speaker", "corpus", "none"])
def test_nothing_of_the_test_corpus_reaches_training(corpora, tmp_path, normalisation):
    beta = corpora["beta"]
    rng = np.random.default_rng(0)
    # the test corpus's labels shuffled among the shared classes (fear, left out, stays where it is)
    shared = [i for i, c in enumerate(beta.clips) if c.label != "fear"]
    labels = [c.label for c in beta.clips]
    for i, j in zip(shared, rng.permutation(shared)):
        labels[i] = beta.clips[j].label
    shuffled = replace(beta, clips=[replace(c, label=l) for c, l in zip(beta.clips, labels)])
    chosen = suite(["alpha", "beta"], normalisation=normalisation)
    _, plain, _ = run({"alpha": corpora["alpha"], "beta": beta}, tmp_path / "a.db", chosen)
    _, mixed, _ = run({"alpha": corpora["alpha"], "beta": shuffled}, tmp_path / "b.db", chosen)
    a, b = plain["alpha>beta"], mixed["alpha>beta"]
    assert a.predictions.y_true != b.predictions.y_true  # the test labels did change
    assert a.outcome.estimator == b.outcome.estimator  # the same fit: data, labels, inner-CV groups
    assert a.predictions.y_pred == b.predictions.y_pred and a.predictions.clip_ids == b.predictions.clip_ids
    assert all(g.startswith("alpha/") for g in a.outcome.estimator["groups"])  # inner CV: training speakers only
    assert len(a.outcome.estimator["groups"]) == 4


def test_cap_per_training_corpus_is_seeded_stratified_and_recorded(corpora, tmp_path):
    _, cells, _ = run(corpora, tmp_path / "r.db", suite(["alpha", "beta"], cap_per_corpus=12))
    cell = cells["alpha>beta"]
    assert cell.outcome.estimator["n"] == 12
    assert cell.details["corpora"]["alpha"] == {**cell.details["corpora"]["alpha"], "clips": 12, "capped_away": 24}
    assert cell.details["corpora"]["beta"]["clips"] == 36  # the test corpus is never capped
    assert cell.details["cross"]["cap_per_corpus"] == 12
    labels = np.repeat([0, 1, 2], [20, 10, 6])
    chosen = capped(labels, 12, seed=5)
    assert np.bincount(labels[chosen]).tolist() == [7, 3, 2] and np.array_equal(chosen, capped(labels, 12, seed=5))


def test_leave_one_corpus_out_trains_on_all_the_others(corpora, tmp_path):
    report, cells, instances = run(corpora, tmp_path / "r.db", suite(["alpha", "beta", "gamma"],
                                                                     protocol="leave-one-corpus-out"))
    assert set(cells) == {"beta+gamma>alpha", "alpha+gamma>beta", "alpha+beta>gamma"}
    cell = cells["beta+gamma>alpha"]
    assert instances[cell.key.instance].labels == ("anger", "neutral")
    assert instances[cell.key.instance].fold_method == "leave-one-corpus-out"
    assert {g.split("/")[0] for g in cell.outcome.estimator["groups"]} == {"beta", "gamma"}
    assert cell.outcome.estimator["n"] == 24 + 32  # beta's anger and neutral, all of gamma
    assert pairs(["a", "b", "c"], "cross") == [(("a",), "b"), (("a",), "c"), (("b",), "a"), (("b",), "c"),
                                               (("c",), "a"), (("c",), "b")]


def test_cross_results_resume_and_never_mix_with_within_corpus_ones(corpora, tmp_path, monkeypatch):
    monkeypatch.setenv("SERBENCH_CACHE_DIR", str(tmp_path / "cache"))  # an empty feature cache
    db = tmp_path / "r.db"
    CALLS["extract"] = 0
    within = suite(["alpha", "beta"], protocol="within", classes=("anger", "sadness", "neutral"))
    report, cells, instances = run(corpora, db, within)
    assert report.ok and {k for k in cells} == {"alpha", "beta"}
    assert instances[cells["alpha"].key.instance].labels == ("anger", "sadness", "neutral")
    extracted = CALLS["extract"]
    assert extracted == 48 + 48  # every clip of both corpora, the left-out classes too (one table per corpus)
    report, cells, _ = run(corpora, db, suite(["alpha", "beta"]))
    assert report.computed == 2 and CALLS["extract"] == extracted  # the cached tables are reused
    report, _, _ = run(corpora, db, suite(["alpha", "beta"]))
    assert report.computed == 0 and report.resumed == 2
    with ResultStore(db) as store:
        assert {e.corpus for e in leaderboard.compute(store, resamples=0).entries} == {"alpha", "beta"}
        board = crossboard.compute(store, resamples=200)
    matrix = board.matrix("rec-lp")
    assert set(matrix) == {("alpha", "alpha"), ("alpha", "beta"), ("beta", "alpha"), ("beta", "beta")}
    assert matrix[("alpha", "alpha")].kind == "within" and matrix[("alpha", "beta")].kind == "cross"
    assert matrix[("alpha", "alpha")].classes == ["anger", "sadness", "neutral"]
    ci = matrix[("alpha", "beta")].entry.ci
    assert ci is not None and ci.low <= matrix[("alpha", "beta")].entry.uar_mean <= ci.high


def test_the_board_in_every_format(corpora, tmp_path):
    db = tmp_path / "r.db"
    two = suite(["alpha", "beta"], systems=(System("rec-lp", "rec", "lp"), System("rec-raw", "rec", "lp",
                                                                                 normalisation="none")))
    run(corpora, db, two)
    with ResultStore(db) as store:
        board = crossboard.compute(store, resamples=200)
    assert board.systems == ["rec-lp", "rec-raw"]
    assert {p.cell for p in board.paired} == {"alpha>beta", "beta>alpha"}  # same test clips, two systems
    data = json.loads(crossboard.to_json(board))
    assert data["schema"] == "serbench-crossboard/1"
    first = data["systems"][0]["cells"][0]
    assert {"system", "kind", "train", "test", "uar", "ci", "classes", "left_out", "test_speakers"} <= set(first)
    assert first["test_speakers"] == 4
    lines = crossboard.to_csv(board).splitlines()
    assert lines[0].startswith("system,kind,train,test,uar,ci_low,ci_high") and len(lines) == 5
    md = crossboard.to_markdown(board)
    assert "| train \\ test | alpha | beta |" in md and "Paired tests" in md
    page = crossboard.to_html(board)
    assert page.count("<table>") == 2 and "background:#" in page


def test_suite_keys_are_checked(tmp_path):
    path = tmp_path / "b.toml"
    base = '[systems.s]\nmodel = "svm"\nfeature = "is09"\n[suites.x]\ncorpora = ["a", "b"]\nsystems = ["s"]\n'
    path.write_text(base + 'protocol = "cross"\nclasses = ["anger", "neutral"]\ncap_per_corpus = 100\n'
                    'normalisation = "corpus"\n')
    loaded = load_benchmarks(path).suite("x")
    assert (loaded.protocol, loaded.classes, loaded.cap, loaded.normalisation) == (
        "cross", ("anger", "neutral"), 100, "corpus")
    for extra, key in (('protocol = "pairs"\n', "protocol"), ('protocol = "cross"\nclasses = ["anger"]\n', "classes"),
                       ('protocol = "cross"\nclasses = ["anger", "rage"]\n', "classes"),
                       ('normalisation = "corpus"\n', "normalisation"), ("cap_per_corpus = 10\n", "cap_per_corpus")):
        path.write_text(base + extra)
        with pytest.raises(ConfigError, match=f"suites.x.{key}"):
            load_benchmarks(path)


@pytest.mark.parametrize("protocol", ["leave-one-corpus-out", "within"])
def test_dask_workers_compute_the_same_cells(corpora, tmp_path, protocol):
    # within: restricted to two classes, folds on Dask workers from the full corpus's feature table
    chosen = suite(["alpha", "beta", "gamma"], protocol=protocol,
                   classes=("anger", "neutral") if protocol == "within" else ())
    registry = load_registry([("t", Plugin(corpora))], use_entry_points=False)
    results = []
    for workers, db in ((0, tmp_path / "one.db"), (2, tmp_path / "two.db")):
        with ResultStore(db) as store:
            report = Runner(registry, store, workers=workers).run(chosen)
            assert report.ok and report.computed == (3 if protocol != "within" else 12)
            results.append([(c.key, c.uar, c.predictions, c.outcome.estimator["fit"]) for c in store.cells()])
    assert results[0] == results[1]


def test_serbench_crossboard_prints_the_matrix_and_writes_the_heat_map(corpora, tmp_path):
    from typer.testing import CliRunner

    from ser_core.cli import app

    db = tmp_path / "r.db"
    run(corpora, db, suite(["alpha", "beta"]))
    shown = CliRunner().invoke(app, ["crossboard", "--db", str(db), "--resamples", "100"], env={"COLUMNS": "160"})
    assert shown.exit_code == 0, shown.output
    assert "rec-lp" in shown.output and "train \\ test" in shown.output and "alpha" in shown.output
    page = tmp_path / "board.html"
    written = CliRunner().invoke(app, ["crossboard", "--db", str(db), "--resamples", "100", "-o", str(page)])
    assert written.exit_code == 0 and "<h2>rec-lp" in page.read_text()
    within_only = tmp_path / "w.db"
    run(corpora, within_only, suite(["alpha"], protocol="within"))
    refused = CliRunner().invoke(app, ["crossboard", "--db", str(within_only)])
    assert refused.exit_code != 0 and "no cross-corpus results stored" in refused.output


def test_the_board_says_when_it_hides_an_older_configuration(corpora, tmp_path):
    db = tmp_path / "r.db"
    run(corpora, db, suite(["alpha", "beta"], normalisation="fold"))
    run(corpora, db, suite(["alpha", "beta"], normalisation="corpus"))
    with ResultStore(db) as store:
        board = crossboard.compute(store, resamples=0)
    assert {crossboard.normalisation(c) for c in board.cells["rec-lp"]} == {"corpus"}
    assert any("showing the newest of 2 stored configurations" in n and "alpha>beta" in n for n in board.notes)
