"""JL-corpus: primary emotions used, secondary ones excluded with a reason, transcripts ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

import ser_plugin_jl
from ser_core.api.testing import compare, load_registry, scan, skip_kind

RAW = "Raw JL corpus (unchecked and unannotated)/JL(wav+txt)"
PRIMARY = {"angry": "anger", "sad": "sadness", "neutral": "neutral", "happy": "happiness", "excited": "excitedness"}


@pytest.fixture
def jl():
    return load_registry([("jl", ser_plugin_jl)], use_entry_points=False).corpus("jl")


def touch(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def test_full_download_matches_expected(jl, tmp_path):
    speakers = ("male1", "male2", "female1", "female2")
    names = []
    for s in speakers:
        for emotion in PRIMARY:
            names += [f"{RAW}/{s}_{emotion}_{n}{v}_{t}.wav" for n in range(1, 16) for v in "ab" for t in (1, 2)]
        names += [f"{RAW}/{s}_{e}_{n}a_1.wav" for e in ser_plugin_jl.SECONDARY for n in (1, 2)]
    names += [n[:-4] + ".txt" for n in names[:5]]
    touch(tmp_path, *names, "Other folder/male1_angry_1a_1.wav")  # outside the raw folder: not read
    manifest = scan(jl, tmp_path)
    assert compare(manifest, ser_plugin_jl.EXPECTED) == []
    assert manifest.speakers() == ["female1", "female2", "male1", "male2"]
    kinds = [skip_kind(s) for s in manifest.skipped]
    assert kinds.count("excluded") == 4 * 5 * 2 and kinds.count("not audio") == 5 and "problem" not in kinds
    assert all("secondary emotion" in s.reason for s in manifest.skipped if skip_kind(s) == "excluded")


def test_fields(jl, tmp_path):
    touch(tmp_path, "female2_excited_12b_2.wav", "male1_happy_3a_1.wav", "male3_sad_1a_1.wav", "male1_bored_1a_1.wav")
    manifest = scan(jl, tmp_path)
    rows = {c.clip_id: (c.speaker, c.label, c.gender, c.sentence) for c in manifest.clips}
    assert rows == {"female2_excited_12b_2": ("female2", "excitedness", "F", "12b"),
                    "male1_happy_3a_1": ("male1", "happiness", "M", "3a")}
    reasons = {Path(s.path).stem: s.reason for s in manifest.skipped}
    assert "expected a name like 'male1_angry_10a_1'" in reasons["male3_sad_1a_1"]
    assert "unknown emotion code 'bored'" in reasons["male1_bored_1a_1"]
