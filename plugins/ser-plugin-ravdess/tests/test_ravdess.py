"""RAVDESS: Actor_NN folders and flat layouts; only audio-only speech; the full release matches."""

from __future__ import annotations

from pathlib import Path

import pytest

import ser_plugin_ravdess
from ser_core.api.testing import compare, load_registry, scan, skip_kind


@pytest.fixture
def ravdess():
    return load_registry([("ravdess", ser_plugin_ravdess)], use_entry_points=False).corpus("ravdess")


def touch(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def release_names() -> list[str]:
    """The 1440 files of Audio_Speech_Actors_01-24 (neutral has no strong intensity)."""
    names = []
    for actor in range(1, 25):
        for emotion in range(1, 9):
            for intensity in (1,) if emotion == 1 else (1, 2):
                for statement in (1, 2):
                    for repetition in (1, 2):
                        names.append(
                            f"Actor_{actor:02d}/03-01-{emotion:02d}-{intensity:02d}-{statement:02d}-{repetition:02d}-{actor:02d}.wav"
                        )
    return names


def test_full_release_in_actor_folders_matches_expected(ravdess, tmp_path):
    touch(tmp_path / "Audio_Speech_Actors_01-24", *release_names())
    manifest = scan(ravdess, tmp_path)
    assert compare(manifest, ser_plugin_ravdess.EXPECTED) == []
    assert manifest.speakers() == [f"{a:02d}" for a in range(1, 25)]
    assert manifest.skipped == []


def test_fields_labels_and_gender(ravdess, tmp_path):
    touch(tmp_path, "03-01-05-01-02-01-12.wav", "03-01-02-02-01-02-01.wav", "03-01-08-01-01-01-07.wav")
    clips = {c.clip_id: (c.speaker, c.label, c.gender, c.sentence) for c in scan(ravdess, tmp_path).clips}
    assert clips == {
        "03-01-05-01-02-01-12": ("12", "anger", "F", "02"),
        "03-01-02-02-01-02-01": ("01", "calm", "M", "01"),
        "03-01-08-01-01-01-07": ("07", "surprise", "M", "01"),
    }


def test_video_song_and_unknown_codes_are_skipped_with_reasons(ravdess, tmp_path):
    touch(
        tmp_path,
        "Actor_01/03-01-01-01-01-01-01.wav",
        "Actor_01/01-01-01-01-01-01-01.wav",  # full AV stream saved as wav: excluded
        "Actor_01/03-02-03-01-01-01-01.wav",  # song: excluded
        "Actor_01/03-01-09-01-01-01-01.wav",  # emotion 09 does not exist
        "Actor_01/02-01-06-01-02-01-01.mp4",
    )
    manifest = scan(ravdess, tmp_path)
    assert [c.clip_id for c in manifest.clips] == ["03-01-01-01-01-01-01"]
    reasons = {Path(s.path).name: s for s in manifest.skipped}
    assert skip_kind(reasons["01-01-01-01-01-01-01.wav"]) == "excluded"
    assert "audio-only" in reasons["01-01-01-01-01-01-01.wav"].reason
    assert "song" in reasons["03-02-03-01-01-01-01.wav"].reason
    assert skip_kind(reasons["03-01-09-01-01-01-01.wav"]) == "problem"
    assert "unknown emotion code '09'" in reasons["03-01-09-01-01-01-01.wav"].reason
    assert skip_kind(reasons["02-01-06-01-02-01-01.mp4"]) == "not audio"
