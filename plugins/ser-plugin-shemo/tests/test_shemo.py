"""ShEMO: female/ and male/ folders, gender from the speaker code, fear excluded with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

import ser_plugin_shemo
from ser_core.api.testing import compare, load_registry, scan, skip_kind

CODES = {"anger": "A", "happiness": "H", "neutral": "N", "sadness": "S", "surprise": "W"}


@pytest.fixture
def shemo():
    return load_registry([("shemo", ser_plugin_shemo)], use_entry_points=False).corpus("shemo")


def touch(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def test_a_complete_tree_matches_expected_and_fear_is_excluded(shemo, tmp_path):
    speakers = [f"F{i:02d}" for i in range(1, 32)] + [f"M{i:02d}" for i in range(1, 57)]
    names = []
    for label, count in ser_plugin_shemo.EXPECTED.clips_per_label.items():
        names += [f"{s}{CODES[label]}{n:02d}" for n in range(1, 100) for s in speakers][:count]
    names += [f"{s}F{n:02d}" for n in range(1, 3) for s in speakers][:38]
    touch(tmp_path, *(f"{'female' if n[0] == 'F' else 'male'}/{n}.wav" for n in names))
    manifest = scan(shemo, tmp_path)
    assert compare(manifest, ser_plugin_shemo.EXPECTED) == []
    assert len(manifest.speakers()) == 87
    assert len(manifest.skipped) == 38
    assert all(skip_kind(s) == "excluded" and "fear" in s.reason for s in manifest.skipped)


def test_fields_and_unknown_code(shemo, tmp_path):
    touch(tmp_path, "female/F14A09.wav", "male/M02W01.wav", "male/M02X01.wav", "male/M2A01.wav")
    manifest = scan(shemo, tmp_path)
    rows = {c.clip_id: (c.speaker, c.label, c.gender, c.language) for c in manifest.clips}
    assert rows == {"F14A09": ("F14", "anger", "F", "fa"), "M02W01": ("M02", "surprise", "M", "fa")}
    reasons = {Path(s.path).stem: s.reason for s in manifest.skipped}
    assert "unknown emotion code 'X'" in reasons["M02X01"]
    assert "expected a name like 'F01A01'" in reasons["M2A01"]
