"""CaFE: per-emotion/intensity folders, actor gender from parity, .aiff of the 192 kHz release."""

from __future__ import annotations

from pathlib import Path

import pytest

import ser_plugin_cafe
from ser_core.api.testing import compare, load_registry, scan

FOLDERS = {"C": "Colère", "D": "Dégoût", "J": "Joie", "P": "Peur", "S": "Surprise", "T": "Tristesse"}


@pytest.fixture
def cafe():
    return load_registry([("cafe", ser_plugin_cafe)], use_entry_points=False).corpus("cafe")


def touch(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def release(suffix: str = ".wav") -> list[str]:
    names = []
    for actor in range(1, 13):
        for sentence in range(1, 7):
            names.append(f"Neutre/{actor:02d}-N-1-{sentence}{suffix}")
            for code, folder in FOLDERS.items():
                for intensity, level in ((1, "Faible"), (2, "Fort")):
                    names.append(f"{folder}/{level}/{actor:02d}-{code}-{intensity}-{sentence}{suffix}")
    return names


@pytest.mark.parametrize("suffix", [".wav", ".aiff"])
def test_full_release_matches_expected(cafe, tmp_path, suffix):
    manifest = scan(cafe, touch(tmp_path / "CaFE_48k", *release(suffix)))
    assert compare(manifest, ser_plugin_cafe.EXPECTED) == []
    assert manifest.speakers() == [f"{a:02d}" for a in range(1, 13)]
    assert manifest.skipped == []


def test_fields_gender_and_bad_names(cafe, tmp_path):
    touch(tmp_path, "Joie/Fort/03-J-2-5.wav", "Neutre/10-N-4.wav", "Peur/Faible/04-X-1-1.wav", "Peur/Faible/13-P-1-1.wav")
    manifest = scan(cafe, tmp_path)
    rows = {c.clip_id: (c.speaker, c.label, c.gender, c.sentence) for c in manifest.clips}
    assert rows == {"03-J-2-5": ("03", "happiness", "M", "5"), "10-N-4": ("10", "neutral", "F", "4")}
    reasons = {Path(s.path).stem: s.reason for s in manifest.skipped}
    assert "unknown emotion code 'X'" in reasons["04-X-1-1"]
    assert "unknown actor '13'" in reasons["13-P-1-1"]
