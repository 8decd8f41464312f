"""SAVEE: speaker folders (AudioData/DC/a01.wav) and flat names (DC_a01.wav) give the same manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

import ser_plugin_savee
from ser_core import CorpusError
from ser_core.api.testing import compare, load_registry, scan

PER_SPEAKER = {"a": 15, "d": 15, "f": 15, "h": 15, "n": 30, "sa": 15, "su": 15}


@pytest.fixture
def savee():
    return load_registry([("savee", ser_plugin_savee)], use_entry_points=False).corpus("savee")


def touch(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def files(speaker_folders: bool) -> list[str]:
    return [
        f"AudioData/{s}/{code}{i:02d}.wav" if speaker_folders else f"{s}_{code}{i:02d}.wav"
        for s in ("DC", "JE", "JK", "KL") for code, n in PER_SPEAKER.items() for i in range(1, n + 1)
    ]


@pytest.mark.parametrize("speaker_folders", [True, False])
def test_both_layouts_give_the_full_corpus(savee, tmp_path, speaker_folders):
    manifest = scan(savee, touch(tmp_path, *files(speaker_folders)))
    assert compare(manifest, ser_plugin_savee.EXPECTED) == []
    assert manifest.speakers() == ["DC", "JE", "JK", "KL"]
    assert {c.gender for c in manifest.clips} == {"M"}
    rows = {c.clip_id: (c.speaker, c.label) for c in manifest.clips}
    assert rows["JK_sa03"] == ("JK", "sadness") and rows["KL_su15"] == ("KL", "surprise")
    assert rows["DC_a01"] == ("DC", "anger") and rows["JE_n30"] == ("JE", "neutral")


def test_bad_names_are_reported(savee, tmp_path):
    touch(tmp_path, "AudioData/DC/a01.wav", "AudioData/DC/x01.wav", "AudioData/XX/a01.wav", "AudioData/ZZ_a01.wav")
    manifest = scan(savee, tmp_path)
    assert [c.clip_id for c in manifest.clips] == ["DC_a01"]
    reasons = {str(Path(s.path).relative_to(tmp_path)): s.reason for s in manifest.skipped}
    assert "unknown emotion code 'x'" in reasons["AudioData/DC/x01.wav"]
    assert "not in a speaker folder" in reasons["AudioData/XX/a01.wav"]
    assert "unknown speaker 'ZZ'" in reasons["AudioData/ZZ_a01.wav"]


def test_both_layouts_at_once_are_duplicates_naming_both_files(savee, tmp_path):
    touch(tmp_path, "DC/a01.wav", "flat/DC_a01.wav")
    with pytest.raises(CorpusError, match=r"DC_a01.*appears twice.*DC/a01\.wav.*DC_a01\.wav"):
        scan(savee, tmp_path)
