"""URDU: file names -> speakers, labels, genders; folder and letter must agree; the real copy matches."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import ser_plugin_urdu
from ser_core.api.testing import compare, inspect, load_registry, scan

FOLDER = {"anger": ("Angry", "A"), "happiness": ("Happy", "H"), "neutral": ("Neutral", "N"), "sadness": ("Sad", "S")}
REAL = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared", "data", "urdu", "URDU")


@pytest.fixture
def urdu():
    return load_registry([("urdu", ser_plugin_urdu)], use_entry_points=False).corpus("urdu")


def touch(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def test_a_complete_tree_matches_expected_content(urdu, tmp_path):
    speakers = [f"SM{i}" for i in list(range(1, 8)) + list(range(17, 28))] + [f"SF{i}" for i in range(1, 12)]
    names = []
    for label, (folder, letter) in FOLDER.items():
        names += [f"{folder}/{speakers[n % 29]}_F{n}_{letter}{n:03d}.wav" for n in range(1, 101)]
    manifest = scan(urdu, touch(tmp_path, *names))
    assert compare(manifest, ser_plugin_urdu.EXPECTED) == []
    assert len(manifest.speakers()) == 29


def test_fields_folder_disagreement_and_misnamed_files(urdu, tmp_path):
    touch(tmp_path, "Angry/SM1_F10_A010.wav", "Sad/SF11_F3_S0100.wav", "Happy/SM2_F4_A004.wav",
          "Neutral/SM2_F4_X004.wav", "Neutral/M2_F4_N004.wav")
    manifest = scan(urdu, tmp_path)
    rows = {c.clip_id: (c.speaker, c.label, c.gender, c.language) for c in manifest.clips}
    assert rows == {"SM1_F10_A010": ("SM1", "anger", "M", "ur"), "SF11_F3_S0100": ("SF11", "sadness", "F", "ur")}
    reasons = {Path(s.path).stem: s.reason for s in manifest.skipped}
    assert "disagrees with the folder 'Happy'" in reasons["SM2_F4_A004"]
    assert "expected a name like 'SM1_F10_A010'" in reasons["SM2_F4_X004"]  # only A, H, N, S are letters
    assert "expected a name like 'SM1_F10_A010'" in reasons["M2_F4_N004"]


def test_expected_content():
    expected = ser_plugin_urdu.EXPECTED
    assert dict(expected.clips_per_label) == {"anger": 100, "happiness": 100, "sadness": 100, "neutral": 100}
    assert (expected.total, expected.speakers, expected.sample_rate) == (400, 29, 44_100)


def test_real_urdu_passes_the_strict_check():
    path = os.path.abspath(os.environ.get("SERBENCH_URDU") or REAL)
    if not os.path.isdir(path):
        pytest.skip(f"real URDU not found at {path}: set SERBENCH_URDU to its folder (Angry, Happy, ...) to run this test")
    corpus = load_registry([("urdu", ser_plugin_urdu)], use_entry_points=False).corpus("urdu")
    report = inspect(corpus, Path(path))
    assert report.problems == [], report.problems
    assert report.manifest.skipped == []
    speakers = report.manifest.speakers()
    assert len(speakers) == 29
    # the naming's speaker codes: SM1-SM7, SM17-SM27 and SF1-SF11 have clips, SM8-SM16 none
    assert {int(s[2:]) for s in speakers if s.startswith("SM")} == set(range(1, 8)) | set(range(17, 28))
    assert {int(s[2:]) for s in speakers if s.startswith("SF")} == set(range(1, 12))
    assert dict(report.sample_rates) == {16_000: 400}
    assert any("44100 Hz" in note for note in report.notes), report.notes
