"""EMO-DB: file names -> speakers, labels, genders; unknown codes skipped; the real corpus matches Table 1."""

from __future__ import annotations

from pathlib import Path

import pytest

import ser_plugin_emodb
from ser_core import CorpusError
from ser_core.api.testing import compare, inspect, load_registry, scan, skip_kind


@pytest.fixture
def emodb():
    return load_registry([("emodb", ser_plugin_emodb)], use_entry_points=False).corpus("emodb")


def touch(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def test_names_give_speaker_label_gender_sentence(emodb, tmp_path):
    touch(tmp_path, "wav/03a01Fa.wav", "wav/08b02Wb.wav", "wav/16a05Lc.wav", "wav/10b10Ea.wav")
    manifest = scan(emodb, tmp_path)  # the folder above wav/ works too
    rows = {c.clip_id: (c.speaker, c.label, c.gender, c.sentence) for c in manifest.clips}
    assert rows == {
        "03a01Fa": ("03", "happiness", "M", "a01"),
        "08b02Wb": ("08", "anger", "F", "b02"),
        "16a05Lc": ("16", "boredom", "F", "a05"),
        "10b10Ea": ("10", "disgust", "M", "b10"),
    }
    assert manifest.root == tmp_path / "wav"
    assert manifest.skipped == []


def test_every_code_maps_to_the_shared_vocabulary(emodb, tmp_path):
    touch(tmp_path, *(f"03a01{code}a.wav" for code in "WLEAFTN"))
    labels = {c.clip_id[5]: c.label for c in scan(emodb, tmp_path).clips}
    assert labels == {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness",
                      "T": "sadness", "N": "neutral"}


def test_unknown_code_misnamed_and_unrelated_files_are_listed_not_guessed(emodb, tmp_path):
    touch(tmp_path, "03a01Fa.wav", "03a01Xa.wav", "03a1Fa.wav", "07a01Fa.wav", "notes.txt")
    manifest = scan(emodb, tmp_path)
    assert [c.clip_id for c in manifest.clips] == ["03a01Fa"]
    reasons = {Path(s.path).name: s.reason for s in manifest.skipped}
    assert "unknown emotion code 'X'" in reasons["03a01Xa.wav"]
    assert "expected a name like '03a01Fa'" in reasons["03a1Fa.wav"]
    assert "unknown speaker '07'" in reasons["07a01Fa.wav"]
    assert skip_kind(next(s for s in manifest.skipped if s.path.endswith("notes.txt"))) == "not audio"
    assert compare(manifest, ser_plugin_emodb.EXPECTED)  # far from complete: differences reported


def test_empty_directory_is_an_error_naming_it(emodb, tmp_path):
    with pytest.raises(CorpusError, match=str(tmp_path)):
        scan(emodb, tmp_path)


def test_expected_content_is_table_1():
    expected = ser_plugin_emodb.EXPECTED
    assert dict(expected.clips_per_label) == {"anger": 127, "happiness": 71, "sadness": 62, "fear": 69,
                                              "disgust": 46, "neutral": 79, "boredom": 81}
    assert (expected.total, expected.speakers, expected.sample_rate) == (535, 10, 16_000)


@pytest.mark.emodb
def test_real_emodb_matches_table_1(emodb, emodb_dir):
    report = inspect(emodb, Path(emodb_dir))
    assert report.problems == []
    assert report.manifest.label_counts() == dict(ser_plugin_emodb.EXPECTED.clips_per_label)
    assert report.manifest.speakers() == ["03", "08", "09", "10", "11", "12", "13", "14", "15", "16"]
    assert dict(report.sample_rates) == {16_000: 535}
    assert 1.0 < min(report.durations.values()) < max(report.durations.values()) < 10.0


def test_text_independent_folds_of_a_tiny_emodb_hand_worked(emodb, tmp_path):
    """Three speakers each say three sentences (anger and sadness): with 3 sentence groups every sentence is a
    group of its own, so the folds are the 9 (speaker, sentence) pairs, each trained on the 4 other speakers'
    other sentences' clips (8 clips), worked out by hand below."""
    from ser_core.api.testing import make_folds, text_independent

    speakers, sentences = ("03", "08", "09"), ("a01", "a02", "b01")
    touch(tmp_path, *(f"wav/{s}{t}{code}a.wav" for s in speakers for t in sentences for code in "WT"))
    manifest = scan(emodb, tmp_path)
    clips = manifest.clips
    folds = text_independent(make_folds([c.speaker for c in clips]), [c.sentence for c in clips], seed=0, n_groups=3)
    assert folds.method == "leave-one-speaker-out x 3-sentence-groups(seed=0), text-independent"
    assert sorted(folds.names) == sorted(f"{s} | sentences {t}" for s in speakers for t in sentences)
    tested = []
    for fold, name in enumerate(folds.names):
        train, test = ([clips[i] for i in part] for part in folds.split(fold))
        speaker, sentence = name.split(" | sentences ")
        assert sorted(c.clip_id for c in test) == [f"{speaker}{sentence}Ta", f"{speaker}{sentence}Wa"]
        assert sorted(c.clip_id for c in train) == sorted(
            f"{s}{t}{code}a" for s in speakers if s != speaker for t in sentences if t != sentence for code in "WT")
        assert not {c.speaker for c in train} & {c.speaker for c in test}
        assert not {c.sentence for c in train} & {c.sentence for c in test}
        tested += [c.clip_id for c in test]
    assert sorted(tested) == sorted(c.clip_id for c in clips), "every clip is tested exactly once"
    fold = folds.names.index("08 | sentences b01")
    assert folds.held_out[fold] == (speakers.index("08"), int(folds.sentence_group[folds.split(fold)[1][0]]))


@pytest.mark.emodb
def test_real_emodb_text_independent_folds_share_no_speaker_and_no_sentence(emodb, emodb_dir):
    """The real corpus's 10 sentences in 5 groups of 2 (balanced by clips): 50 folds, each keeping its test
    speaker and both its test sentences out of training; every clip tested once."""
    from ser_core.api.testing import SENTENCE_GROUPS, make_folds, text_independent

    clips = scan(emodb, Path(emodb_dir)).clips
    folds = text_independent(make_folds([c.speaker for c in clips]), [c.sentence for c in clips], seed=0)
    assert len({c.sentence for c in clips}) == 10 and len(folds) == 10 * SENTENCE_GROUPS
    assert sorted(len(name.split(" | sentences ")[1].split("+")) for name in folds.names) == [2] * 50
    count = 0
    for fold in range(len(folds)):
        train, test = folds.split(fold)
        assert not {clips[i].speaker for i in train} & {clips[i].speaker for i in test}
        assert not {clips[i].sentence for i in train} & {clips[i].sentence for i in test}
        count += len(test)
    assert count == len(clips) == 535
