"""EMOVO: file names -> speakers, labels, genders, sentences; unknown codes skipped; the real copy matches."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import ser_plugin_emovo
from ser_core.api.testing import compare, inspect, load_registry, scan

CODES = {"disgust": "dis", "happiness": "gio", "neutral": "neu", "fear": "pau", "anger": "rab",
         "surprise": "sor", "sadness": "tri"}
SENTENCES = ["b1", "b2", "b3", "d1", "d2", "l1", "l2", "l3", "l4", "n1", "n2", "n3", "n4", "n5"]
SPEAKERS = ["f1", "f2", "f3", "m1", "m2", "m3"]
REAL = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared", "data", "emovo", "EMOVO")


@pytest.fixture
def emovo():
    return load_registry([("emovo", ser_plugin_emovo)], use_entry_points=False).corpus("emovo")


def touch(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def test_a_complete_tree_matches_expected_content(emovo, tmp_path):
    touch(tmp_path, *(f"{s}/{CODES[label]}-{s}-{n}.wav" for s in SPEAKERS for label in CODES for n in SENTENCES),
          "documents/lrec14_paper3.pdf")
    manifest = scan(emovo, tmp_path)
    assert len(manifest.clips) == 588
    assert compare(manifest, ser_plugin_emovo.EXPECTED) == []
    assert manifest.speakers() == SPEAKERS


def test_fields_unknown_codes_and_misnamed_files(emovo, tmp_path):
    touch(tmp_path, "f1/rab-f1-b2.wav", "m3/gio-m3-n5.wav", "m3/xyz-m3-n5.wav", "m3/gio-m4-n5.wav",
          "m3/gio-m3-n6.wav")
    manifest = scan(emovo, tmp_path)
    rows = {c.clip_id: (c.speaker, c.label, c.gender, c.sentence, c.language) for c in manifest.clips}
    assert rows == {"rab-f1-b2": ("f1", "anger", "F", "b2", "it"), "gio-m3-n5": ("m3", "happiness", "M", "n5", "it")}
    reasons = {Path(s.path).stem: s.reason for s in manifest.skipped}
    assert "unknown emotion code 'xyz'" in reasons["xyz-m3-n5"]
    assert "expected a name like 'rab-f1-b2'" in reasons["gio-m4-n5"]
    assert "expected a name like 'rab-f1-b2'" in reasons["gio-m3-n6"]


def test_expected_content_is_the_papers():
    expected = ser_plugin_emovo.EXPECTED
    assert set(expected.clips_per_label.values()) == {84}
    assert (expected.total, expected.speakers, expected.sample_rate) == (588, 6, 48_000)


def test_real_emovo_passes_the_strict_check():
    path = os.path.abspath(os.environ.get("SERBENCH_EMOVO") or REAL)
    if not os.path.isdir(path):
        pytest.skip(f"real EMOVO not found at {path}: set SERBENCH_EMOVO to its folder (f1 ... m3) to run this test")
    corpus = load_registry([("emovo", ser_plugin_emovo)], use_entry_points=False).corpus("emovo")
    report = inspect(corpus, Path(path))
    assert report.problems == [], report.problems
    assert report.manifest.label_counts() == dict(ser_plugin_emovo.EXPECTED.clips_per_label)
    # this copy is resampled to 16 kHz: reported as a note, not a mismatch
    assert dict(report.sample_rates) == {16_000: 588}
    assert any("48000 Hz" in note for note in report.notes), report.notes
