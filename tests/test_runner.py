"""The data flow end to end with cheap in-process plugins: results, failures, resume, leaderboard."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core import CorpusSpec, FeatureSpec, ModelSpec, hookimpl, leaderboard
from ser_core.plugins import load_registry
from ser_core.results import ResultStore
from ser_core.runner import Reporter, Runner
from ser_core.suites import Suite, System


def loudness_and_brightness(signal: np.ndarray, rate: int) -> np.ndarray:
    """Three functionals: log RMS, zero-crossing rate, spectral centroid (Hz)."""
    spectrum = np.abs(np.fft.rfft(signal))
    freqs = np.fft.rfftfreq(len(signal), 1 / rate)
    return np.array(
        [
            np.log(np.sqrt(np.mean(signal**2)) + 1e-9),
            np.mean(np.abs(np.diff(np.sign(signal)))) / 2,
            (spectrum * freqs).sum() / (spectrum.sum() + 1e-9),
        ],
        dtype=np.float32,
    )


INTERRUPT_AT: dict[str, int] = {}


class NearestCentroid:
    """Class centroids from a random 80% of the training clips (so the seed matters)."""

    def __init__(self, context):
        self.settings = context.settings
        self.centroids = None

    def fit(self, X, y, groups):
        if self.settings["fail_group"] and self.settings["fail_group"] not in set(groups):
            raise ValueError("cannot train without " + self.settings["fail_group"])
        if INTERRUPT_AT.get("count") == 0:
            raise KeyboardInterrupt
        if "count" in INTERRUPT_AT:
            INTERRUPT_AT["count"] -= 1
        X = np.stack(X)
        keep = np.random.rand(len(y)) < 0.8
        self.centroids = np.stack([X[keep & (y == c)].mean(axis=0) for c in np.unique(y)])

    def predict(self, X):
        X = np.stack(X)
        return np.argmin(((X[:, None, :] - self.centroids[None]) ** 2).sum(-1), axis=1)

    def parameter_count(self):
        return int(self.centroids.size)

    def describe(self):
        return {"centroids": self.centroids.shape[0]}


class Plugin:
    def __init__(self, manifest):
        self.manifest = manifest

    @hookimpl
    def register_corpora(self, register):
        register(CorpusSpec("tiny", scan=lambda root: self.manifest, needs_path=False))

    @hookimpl
    def register_features(self, register):
        register(FeatureSpec("lb", "functionals", extract=loudness_and_brightness))

    @hookimpl
    def register_models(self, register):
        register(ModelSpec("centroid", create=NearestCentroid, accepts=frozenset({"functionals"}),
                           defaults={"fail_group": ""}))


def make_suite(**overrides) -> Suite:
    system = System("centroid-lb", "centroid", "lb")
    fields = dict(name="t", corpora=("tiny",), systems=(system,), repeats=2, seed=1, normalisation="speaker")
    fields.update(overrides)
    return Suite(**fields)


@pytest.fixture
def registry(synthetic_manifest):
    return load_registry([("tiny", Plugin(synthetic_manifest))], use_entry_points=False)


def run(registry, db, suite=None):
    with ResultStore(db) as store:
        report = Runner(registry, store, workers=0).run(suite or make_suite())
        cells = list(store.cells())
        entries = leaderboard.compute(store)
    return report, cells, entries


def test_a_suite_stores_one_cell_per_repeat_and_fold(registry, tmp_path, synthetic_manifest):
    report, cells, entries = run(registry, tmp_path / "r.db")
    speakers = synthetic_manifest.speakers()
    assert report.ok and report.computed == 2 * len(speakers)
    assert {(c.key.repeat, c.key.fold) for c in cells} == {(r, f) for r in range(2) for f in range(len(speakers))}
    cell = cells[0]
    (entry,) = entries.entries
    assert entry.labels == ["anger", "happiness", "sadness", "neutral"]
    test_ids = cell.predictions.clip_ids
    fold_speaker = cell.details["fold_name"]
    assert all(cid.startswith(fold_speaker) for cid in test_ids), "the test part is one speaker"
    assert set(cell.predictions.speakers) == {fold_speaker}
    assert cell.details["seeds"]["suite"] == 1 and cell.seed == cell.details["seeds"]["cell"]
    assert entry.instance.fold_method == "leave-one-speaker-out"
    assert entry.instance.manifest == synthetic_manifest.fingerprint()
    assert cell.outcome.parameter_count == 12 and entry.protocol.settings == {"fail_group": ""}
    assert entry.complete and entry.repeats_complete == 2 and entry.n_folds == len(speakers)
    per_repeat = [np.mean([c.uar for c in cells if c.key.repeat == r]) for r in range(2)]
    assert entry.uar_mean == pytest.approx(np.mean(per_repeat))
    assert entry.uar_std == pytest.approx(np.std(per_repeat))
    assert entry.uar_mean > 0.4, "prosodic functionals separate the synthetic classes above chance (0.25)"


def test_a_second_run_computes_nothing(registry, tmp_path):
    run(registry, tmp_path / "r.db")
    report, _, _ = run(registry, tmp_path / "r.db")
    assert report.computed == 0 and report.resumed == 8


def test_a_failing_cell_is_recorded_and_the_run_goes_on(registry, tmp_path, synthetic_manifest):
    first = synthetic_manifest.speakers()[0]
    system = System("centroid-lb", "centroid", "lb", settings={"fail_group": first})
    report, cells, entries = run(registry, tmp_path / "r.db", make_suite(systems=(system,), repeats=1))
    failed = [c for c in cells if c.status == "failed"]
    assert len(failed) == 1 and failed[0].details["fold_name"] == first
    assert "cannot train without" in failed[0].error
    assert report.computed == 3 and len(report.failed) == 1
    assert entries.entries[0].uar_mean is None and "1 failed" in leaderboard.format_cell(entries.entries[0])


def test_warnings_and_failures_reach_the_reporter_as_plain_typed_events(synthetic_manifest, tmp_path):
    """The library formats no markup: a missing corpus and a skipped system arrive as
    ``warning(subject, detail)``, a failed cell as ``failure(subject, error)``, all plain text (a
    name with brackets stays as it is); a reporter that overrides only ``note`` gets each as one line."""
    class Far:
        @hookimpl
        def register_corpora(self, register):
            register(CorpusSpec("[far]", scan=lambda root: None))

        @hookimpl
        def register_models(self, register):
            register(ModelSpec("seqmodel", create=NearestCentroid, accepts=frozenset({"sequence"})))

    registry = load_registry([("tiny", Plugin(synthetic_manifest)), ("far", Far())], use_entry_points=False)
    first = synthetic_manifest.speakers()[0]
    suite = make_suite(corpora=("[far]", "tiny"), repeats=1, systems=(
        System("centroid-lb", "centroid", "lb", settings={"fail_group": first}), System("bad", "seqmodel", "lb")))
    events, lines = [], []

    class Typed(Reporter):
        def warning(self, subject, detail=""):
            events.append(("warning", subject, detail))

        def failure(self, subject, detail):
            events.append(("failure", subject, detail))

    class Lines(Reporter):
        def note(self, message):
            lines.append(message)

    for reporter, db in ((Typed(), "typed.db"), (Lines(), "lines.db")):
        with ResultStore(tmp_path / db) as store:
            Runner(registry, store, workers=0, reporter=reporter).run(suite)
    kinds = [(kind, subject) for kind, subject, _ in events]
    assert ("warning", "no data for corpus [far]") in kinds and ("warning", "skipped bad on tiny") in kinds
    (failure,) = [e for e in events if e[0] == "failure"]
    assert failure[1] == "failed tiny / centroid-lb repeat 0 fold 0" and "cannot train without" in failure[2]
    assert [f"{subject}: {detail}" for _, subject, detail in events] == lines
    assert not any("[/" in text or "[yellow" in text or "[red" in text for text in lines)


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(registry, tmp_path):
    _, reference, _ = run(registry, tmp_path / "reference.db")
    INTERRUPT_AT["count"] = 3
    try:
        with pytest.raises(KeyboardInterrupt):
            run(registry, tmp_path / "resumed.db")
    finally:
        INTERRUPT_AT.clear()
    with ResultStore(tmp_path / "resumed.db") as store:
        assert len(list(store.cells())) == 3, "finished cells survive the interrupt"
    report, resumed, _ = run(registry, tmp_path / "resumed.db")
    assert report.computed == 5 and report.resumed == 3
    assert [(c.key, c.uar, c.predictions) for c in resumed] == [
        (c.key, c.uar, c.predictions) for c in reference
    ]


def test_changed_settings_never_mix_with_old_results(registry, tmp_path):
    run(registry, tmp_path / "r.db", make_suite(repeats=1))
    _, _, board = run(registry, tmp_path / "r.db", make_suite(repeats=1, normalisation="none"))
    (shown,) = board.entries
    assert shown.protocol.normalisation == "none", "the newest configuration is shown by default"
    assert board.columns == ["centroid-lb"] and len(board.hidden) == 1
    (why,) = board.notes
    assert why.startswith("centroid-lb on tiny: showing the newest of 2 stored configurations"), why
    assert "normalisation (speaker -> none)" in why
    with ResultStore(tmp_path / "r.db") as store:
        every = leaderboard.compute(store, all_configs=True, resamples=0)
    assert len(every.entries) == 2 and len(every.columns) == 2, "incomparable results get separate columns"
    assert all(e.corpus == "tiny" for e in every.entries), "cells are keyed by the corpus name the suite used"


def test_a_model_that_cannot_take_the_feature_is_skipped_with_a_reason(synthetic_manifest, tmp_path):
    class Seq:
        @hookimpl
        def register_models(self, register):
            register(ModelSpec("seqmodel", create=NearestCentroid, accepts=frozenset({"sequence"})))

    registry = load_registry([("tiny", Plugin(synthetic_manifest)), ("seq", Seq())], use_entry_points=False)
    suite = make_suite(systems=(System("bad", "seqmodel", "lb"),), repeats=1)
    notes = []

    class Notes(Reporter):
        def note(self, message):
            notes.append(message)

    with ResultStore(tmp_path / "r.db") as store:
        report = Runner(registry, store, workers=0, reporter=Notes()).run(suite)
    assert not report.ok and "accepts ['sequence']" in report.skipped[0][1]
    assert notes and "skipped bad on tiny" in notes[0]


def test_a_corpus_without_a_location_is_skipped_not_fatal(synthetic_manifest, tmp_path):
    class NeedsPath:
        @hookimpl
        def register_corpora(self, register):
            register(CorpusSpec("faraway", scan=lambda root: None))

    registry = load_registry([("tiny", Plugin(synthetic_manifest)), ("far", NeedsPath())], use_entry_points=False)
    report, cells, _ = run(registry, tmp_path / "r.db", make_suite(corpora=("faraway", "tiny"), repeats=1))
    assert report.missing[0][0] == "faraway" and "SERBENCH_CORPUS_FARAWAY" in report.missing[0][1]
    assert report.ok and len(cells) == 4, "the other corpus still ran; missing data is not a failure"


def test_a_corpus_plugin_that_raises_is_named_and_the_run_goes_on(synthetic_manifest, tmp_path):
    class Buggy:
        @hookimpl
        def register_corpora(self, register):
            register(CorpusSpec("buggy", scan=lambda root: {}["clips"], needs_path=False))

    registry = load_registry([("tiny", Plugin(synthetic_manifest)), ("buggy", Buggy())], use_entry_points=False)
    report, cells, _ = run(registry, tmp_path / "r.db", make_suite(corpora=("buggy", "tiny"), repeats=1))
    (what, why), = report.skipped
    assert what == "corpus buggy" and "((in-process) -) raised KeyError: 'clips'" in why
    assert "test_runner.py:" in why and len(cells) == 4


def test_an_unpicklable_model_runs_its_folds_in_process_with_a_note(synthetic_manifest, tmp_path):
    class Closure:
        @hookimpl
        def register_models(self, register):
            register(ModelSpec("closure", create=lambda context: NearestCentroid(context),
                               accepts=frozenset({"functionals"}), defaults={"fail_group": ""}))

    registry = load_registry([("tiny", Plugin(synthetic_manifest)), ("closure", Closure())], use_entry_points=False)
    notes = []

    class Notes(Reporter):
        def note(self, message):
            notes.append(message)

    suite = make_suite(systems=(System("c", "closure", "lb"),), repeats=1)
    with ResultStore(tmp_path / "r.db") as store:
        report = Runner(registry, store, workers=2, reporter=Notes()).run(suite)
    assert report.ok and report.computed == 4
    assert any("cannot be sent to worker processes" in n for n in notes)


class CountingCentroid(NearestCentroid):
    """Records what it was trained on, so a test can check each fold's training set."""

    def fit(self, X, y, groups):
        self.trained_on = (len(y), sorted(set(groups)))
        super().fit(X, y, groups)

    def describe(self):
        return {"clips": self.trained_on[0], "speakers": self.trained_on[1]}


def test_text_independent_folds_train_on_neither_speaker_nor_sentence_of_the_test(synthetic_manifest, tmp_path):
    import dataclasses

    from ser_core.records import fold_policy

    texts = dataclasses.replace(
        synthetic_manifest, corpus="texts",
        clips=[dataclasses.replace(c, sentence=f"t{i % 3}") for i, c in enumerate(synthetic_manifest.clips)],
    )

    class Corpora:
        @hookimpl
        def register_corpora(self, register):
            register(CorpusSpec("texts", scan=lambda root: texts, needs_path=False))

        @hookimpl
        def register_models(self, register):
            register(ModelSpec("counting", create=CountingCentroid, accepts=frozenset({"functionals"}),
                               defaults={"fail_group": ""}))

    registry = load_registry([("tiny", Plugin(synthetic_manifest)), ("texts", Corpora())], use_entry_points=False)
    suite = make_suite(corpora=("texts", "tiny"), systems=(System("counting-lb", "counting", "lb"),), repeats=1,
                       folds="text-independent")
    report, cells, entries = run(registry, tmp_path / "r.db", suite)
    (what, why), = report.skipped
    assert what == "corpus tiny" and "does not record sentences" in why, "refused with a reason, not run"
    speakers = texts.speakers()
    assert len(cells) == len(speakers) * 3 and all(c.status == "ok" for c in cells)
    by_clip = {c.clip_id: c for c in texts.clips}
    tested = []
    for cell in cells:
        test = [by_clip[cid] for cid in cell.predictions.clip_ids]
        (speaker,) = {c.speaker for c in test}
        (sentence,) = {c.sentence for c in test}
        assert cell.details["fold_name"] == f"{speaker} | sentences {sentence}"
        expected = [c for c in texts.clips if c.speaker != speaker and c.sentence != sentence]
        assert cell.outcome.estimator == {"clips": len(expected), "speakers": sorted({c.speaker for c in expected})}
        tested += cell.predictions.clip_ids
    assert sorted(tested) == sorted(by_clip), "every clip tested once"
    (entry,) = entries.entries
    assert entry.protocol.fold_policy == fold_policy("text-independent")
    assert entry.instance.fold_method.endswith("3-sentence-groups(seed=1), text-independent")
    assert entries.notes == ["folds: text-independent (neither speaker nor sentence shared): counting-lb"]
    # the same model on the same clips with speaker-independent folds: compared across the two fold policies
    plain = make_suite(corpora=("texts",), systems=(System("counting-si", "counting", "lb"),), repeats=1)
    _, _, both = run(registry, tmp_path / "r.db", plain)
    si, ti = (next(e for e in both.entries if e.system == name) for name in ("counting-si", "counting-lb"))
    assert si.instance_key != ti.instance_key and leaderboard.same_clips(si, ti)
    assert leaderboard.compare_entries(si, ti) is None, "the board never pairs different folds"
    result = leaderboard.compare_entries(si, ti, across_folds=True, resamples=100)
    assert result is not None and result.n_speakers == len(speakers) and result.n_clips == len(texts.clips)
    assert result.uar_a == pytest.approx(si.uar_mean), "speaker folds: A's UAR as on its board"
