"""Folds, normalisation, class weights and UAR against hand-worked examples."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core.protocol import as_rows, balanced_speaker_groups, cell_seed, from_rows, make_folds, standardise
from ser_core.metrics import class_weights, uar


def test_leave_one_speaker_out_up_to_twelve_speakers():
    speakers = ["b", "a", "c", "a", "b", "c", "c"]
    folds = make_folds(speakers)
    assert folds.method == "leave-one-speaker-out"
    assert folds.names == ("a", "b", "c")
    assert folds.assignment.tolist() == [1, 0, 2, 0, 1, 2, 2]
    for fold in range(len(folds)):
        train, test = folds.split(fold)
        assert {speakers[i] for i in test} == {folds.names[fold]}
        assert not {speakers[i] for i in train} & {speakers[i] for i in test}


def test_twelve_speakers_is_still_leave_one_out_thirteen_is_groups():
    assert len(make_folds([f"s{i}" for i in range(12)])) == 12
    folds = make_folds([f"s{i}" for i in range(13)], seed=3)
    assert len(folds) == 6 and folds.method == "6-speaker-groups(seed=3)"


def _many_speakers(rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    speakers = []
    for s in range(30):
        speakers += [f"spk{s:02d}"] * int(rng.integers(5, 40))
    return speakers


def test_speaker_groups_are_speaker_independent_balanced_and_seeded():
    speakers = _many_speakers()
    folds = make_folds(speakers, seed=7)
    for fold in range(6):
        train, test = folds.split(fold)
        assert not {speakers[i] for i in train} & {speakers[i] for i in test}
    sizes = np.bincount(folds.assignment)
    assert sizes.max() - sizes.min() <= 40, "greedy assignment keeps groups within one speaker's size"
    again = make_folds(speakers, seed=7)
    assert np.array_equal(folds.assignment, again.assignment), "same seed, same groups"
    other = make_folds(speakers, seed=8)
    assert not np.array_equal(folds.assignment, other.assignment), "the seed matters"


def test_balanced_groups_hand_worked():
    # Shuffle with seed 0 of ['a','b','c','d'] is fixed; whatever the order, greedy by clip count
    # with these sizes must put the two big speakers in different groups.
    speakers = ["a"] * 10 + ["b"] * 10 + ["c"] * 1 + ["d"] * 1
    groups = balanced_speaker_groups(speakers, 2, seed=0)
    assert groups["a"] != groups["b"]
    sizes = [sum(1 for s in speakers if groups[s] == g) for g in range(2)]
    assert sizes == [11, 11]


def test_corpus_defined_groups_make_the_folds():
    folds = make_folds(["x1", "x2", "y1"], ["Ses2", "Ses1", "Ses2"])
    assert folds.names == ("Ses1", "Ses2") and folds.assignment.tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="CV group"):
        make_folds(["x"], [None])
    with pytest.raises(ValueError, match="at least 2 speakers"):
        make_folds(["only", "only"])


def test_uar_hand_worked_examples():
    # class 0 recall 2/3, class 1 recall 1/1 -> (0.6667 + 1) / 2
    assert uar([0, 0, 0, 1], [0, 0, 1, 1]) == pytest.approx(5 / 6)
    # a predicted class absent from the truth does not count as a class
    assert uar([0, 0, 1, 1], [0, 2, 1, 1]) == pytest.approx(0.75)
    # golden: UAR is not weighted accuracy (which would be 0.9 here)
    assert uar([0] * 9 + [1], [0] * 10) == pytest.approx(0.5)
    assert uar([2, 2], [2, 2]) == 1.0
    with pytest.raises(ValueError):
        uar([], [])


def test_class_weights_are_n_over_c_times_count():
    weights = class_weights(np.array([0, 0, 0, 1]), 3)
    # two classes present: 4 / (2 * 3) and 4 / (2 * 1); an absent class weighs nothing
    assert weights == pytest.approx([2 / 3, 2.0, 0.0])
    y = np.array([0, 0, 0, 1])
    assert (weights[y]).sum() == pytest.approx(len(y)), "weights keep the total sample mass"


def test_per_speaker_standardisation_hand_worked():
    items = [np.array([[1.0], [3.0]]), np.array([[5.0]]), np.array([[10.0], [20.0]])]
    out = standardise(items, ["a", "a", "b"], np.ones(3, bool), "speaker")
    # speaker a: rows 1,3,5 -> mean 3, std sqrt(8/3)
    std_a = np.sqrt(8 / 3)
    assert out[0][:, 0] == pytest.approx([-2 / std_a, 0.0])
    assert out[1][0, 0] == pytest.approx(2 / std_a)
    assert out[2][:, 0] == pytest.approx([-1.0, 1.0])


def test_fold_standardisation_uses_training_statistics_only():
    items = [np.array([[0.0]]), np.array([[2.0]]), np.array([[100.0]])]
    out = standardise(items, ["a", "b", "c"], np.array([True, True, False]), "fold")
    assert [x[0, 0] for x in out] == pytest.approx([-1.0, 1.0, 99.0])
    assert standardise(items, ["a", "b", "c"], np.ones(3, bool), "none")[2] is items[2]
    with pytest.raises(ValueError, match="unknown normalisation"):
        standardise(items, ["a", "b", "c"], np.ones(3, bool), "global")


def test_rows_round_trip_per_kind():
    functionals, waveform, sequence = np.arange(4.0), np.arange(6.0), np.ones((5, 3))
    assert as_rows(functionals, "functionals").shape == (1, 4)
    assert as_rows(waveform, "waveform").shape == (6, 1)
    assert as_rows(sequence, "sequence") is sequence
    assert np.array_equal(from_rows(as_rows(waveform, "waveform"), "waveform"), waveform)


def test_cell_seed_depends_only_on_its_cell():
    assert cell_seed(0, 1, 2) == cell_seed(0, 1, 2)
    assert len({cell_seed(0, r, f) for r in range(3) for f in range(10)}) == 30


def test_text_independent_folds_hand_worked():
    from ser_core.protocol import text_independent

    speakers = ["a", "a", "b", "b", "c", "c", "c"]
    sentences = ["s1", "s2", "s1", "s2", "s1", "s2", "s1"]
    folds = text_independent(make_folds(speakers), sentences, seed=0)
    group = balanced_speaker_groups(sentences, 2, 0)  # two sentences: two groups, one sentence each
    assert sorted(group.values()) == [0, 1]
    assert folds.method == "leave-one-speaker-out x 2-sentence-groups(seed=0), text-independent"
    assert len(folds) == 6  # 3 speakers x 2 sentence groups
    tested = np.zeros(len(speakers), int)
    for fold in range(len(folds)):
        train, test = folds.split(fold)
        tested[test] += 1
        (speaker,) = {speakers[i] for i in test}
        (sentence,) = {sentences[i] for i in test}
        assert folds.names[fold] == f"{speaker} | sentences {sentence}"
        other = "s2" if sentence == "s1" else "s1"
        # trains on exactly the other speakers' clips of the other sentence
        assert train.tolist() == [i for i in range(7) if speakers[i] != speaker and sentences[i] == other]
    assert tested.tolist() == [1] * 7, "every clip is tested exactly once"
    (fold_c_s1,) = [f for f, n in enumerate(folds.names) if n == "c | sentences s1"]
    assert folds.split(fold_c_s1)[1].tolist() == [4, 6] and folds.split(fold_c_s1)[0].tolist() == [1, 3]


def test_text_independent_groups_sentences_and_refuses_corpora_without_them():
    from ser_core.protocol import SENTENCE_GROUPS, text_independent

    speakers = [f"s{i % 4}" for i in range(80)]
    sentences = [f"t{(i // 4) % 10}" for i in range(80)]  # every speaker says each of 10 sentences twice
    folds = text_independent(make_folds(speakers), sentences, seed=3)
    assert len(folds) == 4 * SENTENCE_GROUPS and "5-sentence-groups(seed=3)" in folds.method
    for fold in range(len(folds)):
        train, test = folds.split(fold)
        assert not {speakers[i] for i in train} & {speakers[i] for i in test}
        assert not {sentences[i] for i in train} & {sentences[i] for i in test}
        assert len({sentences[i] for i in test}) == 2 and len({sentences[i] for i in train}) == 8
    with pytest.raises(ValueError, match=r"2 of 3 clips have none.*does not record sentences"):
        text_independent(make_folds(["a", "b", "b"]), ["x", None, ""])
    with pytest.raises(ValueError, match="at least 2 different sentences"):
        text_independent(make_folds(["a", "b"]), ["x", "x"])
    with pytest.raises(ValueError, match="'a | sentences x' has no training clip"):  # b never says y
        text_independent(make_folds(["a", "a", "b"]), ["x", "y", "x"])


def test_the_fold_policy_record_keeps_old_keys_and_names_text_independence():
    from ser_core.records import FOLD_POLICY, SystemProtocol, fold_policy

    assert fold_policy() == fold_policy("speaker-independent") == dict(FOLD_POLICY)
    assert fold_policy("text-independent") == {**FOLD_POLICY, "text": "independent", "n_sentence_groups": 5}
    old = {"model": "svm", "feature": "is09", "feature_params": {}, "settings": {}, "normalisation": "speaker", "seed": 0}
    default = SystemProtocol.from_record(old)  # a record stored before fold policies were chosen
    assert default.key == SystemProtocol(**old, fold_policy=fold_policy()).key
    assert default.key != SystemProtocol(**old, fold_policy=fold_policy("text-independent")).key
    with pytest.raises(ValueError, match="unknown fold policy"):
        fold_policy("sentence")
