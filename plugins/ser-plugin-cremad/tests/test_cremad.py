"""CREMA-D: names -> speaker, sentence, label; the silent clip excluded; demographics give gender."""

from __future__ import annotations

from itertools import cycle
from pathlib import Path

import pytest

import ser_plugin_cremad
from ser_core.api.testing import compare, load_registry, scan, skip_kind

CODES = {"anger": "ANG", "disgust": "DIS", "fear": "FEA", "happiness": "HAP", "neutral": "NEU", "sadness": "SAD"}
SENTENCES = ["IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI"]


@pytest.fixture
def cremad():
    return load_registry([("cremad", ser_plugin_cremad)], use_entry_points=False).corpus("cremad")


def touch(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def test_names_and_demographics(cremad, tmp_path):
    touch(tmp_path, "AudioWAV/1001_DFA_ANG_XX.wav", "AudioWAV/1002_IEO_HAP_HI.wav", "AudioWAV/1091_TIE_NEU_XX.wav")
    (tmp_path / "VideoDemographics.csv").write_text("ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n1002,21,Female,Caucasian,Not Hispanic\n")
    manifest = scan(cremad, tmp_path)
    rows = {c.clip_id: (c.speaker, c.label, c.sentence, c.gender) for c in manifest.clips}
    assert rows == {
        "1001_DFA_ANG_XX": ("1001", "anger", "DFA", "M"),
        "1002_IEO_HAP_HI": ("1002", "happiness", "IEO", "F"),
        "1091_TIE_NEU_XX": ("1091", "neutral", "TIE", None),
    }


def test_silent_clip_is_excluded_with_its_reason(cremad, tmp_path):
    touch(tmp_path, "1076_MTI_SAD_XX.wav", "1076_MTI_ANG_XX.wav", "1001_DFA_CAL_XX.wav")
    manifest = scan(cremad, tmp_path)
    assert [c.clip_id for c in manifest.clips] == ["1076_MTI_ANG_XX"]
    by_name = {Path(s.path).stem: s for s in manifest.skipped}
    assert skip_kind(by_name["1076_MTI_SAD_XX"]) == "excluded"
    assert "silent" in by_name["1076_MTI_SAD_XX"].reason
    assert skip_kind(by_name["1001_DFA_CAL_XX"]) == "problem"
    assert "unknown emotion code 'CAL'" in by_name["1001_DFA_CAL_XX"].reason


def test_a_complete_tree_matches_the_expected_content(cremad, tmp_path):
    """7442 files following the convention: the study's counts per label plus the silent clip."""
    speakers = [str(1001 + i) for i in range(91)]
    slots = [(s, sentence, level) for level in ("LO", "MD", "HI", "XX") for sentence in SENTENCES for s in speakers]
    names = ["1076_MTI_SAD_XX"]  # XX slots come last, so the generated clips never collide with it
    for label, count in ser_plugin_cremad.EXPECTED.clips_per_label.items():
        names += [f"{s}_{sentence}_{CODES[label]}_{level}" for s, sentence, level in slots[:count]]
    touch(tmp_path / "AudioWAV", *(f"{n}.wav" for n in names))
    manifest = scan(cremad, tmp_path)
    assert len(manifest.clips) == 7441
    assert compare(manifest, ser_plugin_cremad.EXPECTED) == []
    assert len(manifest.speakers()) == 91
    assert [skip_kind(s) for s in manifest.skipped] == ["excluded"]
