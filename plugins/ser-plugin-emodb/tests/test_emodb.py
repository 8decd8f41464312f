"""EMO-DB: file names -> speakers, labels, genders; unknown codes skipped; the real corpus matches Table 1."""

from __future__ import annotations

from pathlib import Path

import pytest

import ser_plugin_emodb
from ser_core.corpus import compare, inspect, scan, skip_kind
from ser_core.errors import CorpusError
from ser_core.plugins import load_registry


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
