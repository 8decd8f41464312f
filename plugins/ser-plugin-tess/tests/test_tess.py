"""TESS: flat and per-emotion folder layouts, the OA_ prefix quirk, AIFF-C data named .wav, 96 kHz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

import ser_plugin_tess
from ser_core import load_audio
from ser_core.api.testing import compare, inspect, load_registry, scan

WORDS = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "ps": "surprise",
         "sad": "sadness", "neutral": "neutral"}


@pytest.fixture
def tess():
    return load_registry([("tess", ser_plugin_tess)], use_entry_points=False).corpus("tess")


def touch(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def test_full_set_in_per_emotion_folders_with_the_oa_quirk(tess, tmp_path):
    words = [a + b for a in "bcdfghjkl" for b in "aeiouyrstlnmpqvwxzbcdfghjk"][:200]  # 200 made-up target words
    names = [f"{s}_{e}/{s}_{w}_{e}.wav" for s in ("OAF", "YAF") for e in WORDS for w in words]
    names[names.index("OAF_neutral/OAF_ba_neutral.wav")] = "OAF_neutral/OA_ba_neutral.wav"
    touch(tmp_path, *names)
    manifest = scan(tess, tmp_path)
    assert compare(manifest, ser_plugin_tess.EXPECTED) == []
    assert manifest.speakers() == ["OAF", "YAF"]
    quirk = next(c for c in manifest.clips if c.clip_id == "OA_ba_neutral")
    assert (quirk.speaker, quirk.label, quirk.sentence) == ("OAF", "neutral", "ba")


def test_labels_flat_layout_and_unknown_word(tess, tmp_path):
    touch(tmp_path, *(f"YAF_back_{w}.wav" for w in WORDS), "YAF_back_Fear.wav", "YAF_back_calm.wav", "XAF_back_sad.wav")
    manifest = scan(tess, tmp_path)
    found = {c.clip_id: c.label for c in manifest.clips}
    assert found == {**{f"YAF_back_{w}": label for w, label in WORDS.items()}, "YAF_back_Fear": "fear"}
    reasons = {Path(s.path).stem: s.reason for s in manifest.skipped}
    assert "unknown emotion code 'calm'" in reasons["YAF_back_calm"]
    assert "expected a name like 'OAF_back_angry'" in reasons["XAF_back_sad"]


def test_quirky_audio_is_read_by_content(tess, tmp_path):
    """AIFF-C data in a .wav name and a 96 kHz file load, and info reports their rates as notes only."""
    tone = (0.2 * np.sin(np.arange(24_414) * 2 * np.pi * 220 / 24_414)).astype(np.float32)
    soundfile.write(tmp_path / "OAF_back_angry.wav", tone, 24_414)
    soundfile.write(tmp_path / "OAF_bar_angry.wav", tone, 24_414, format="AIFF", subtype="FLOAT")  # AIFF-C
    hi = (0.2 * np.sin(np.arange(96_000) * 2 * np.pi * 220 / 96_000)).astype(np.float32)
    soundfile.write(tmp_path / "YAF_back_angry.wav", hi, 96_000)
    assert (tmp_path / "OAF_bar_angry.wav").read_bytes()[8:12] == b"AIFC"
    for name in ("OAF_back_angry", "OAF_bar_angry", "YAF_back_angry"):
        assert load_audio(tmp_path / f"{name}.wav").shape == (16_000,)
    report = inspect(tess, tmp_path)
    assert dict(report.sample_rates) == {24_414: 2, 96_000: 1}
    assert any("96000 Hz" in note for note in report.notes)
    assert report.unreadable == []
    assert not any("96000" in problem for problem in report.problems)
