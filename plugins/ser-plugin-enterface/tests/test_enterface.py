"""eNTERFACE'05 plugin: naming rules and known slips on empty files, decoding on tiny generated videos."""

from pathlib import Path

import numpy as np
import pytest

import ser_plugin_enterface as enterface
from ser_core import CorpusError
from ser_core.api.testing import load_registry, scan as core_scan, skip_kind

EMOTION_FOLDERS = {"an": "anger", "di": "disgust", "fe": "fear", "ha": "happiness", "sa": "sadness", "su": "surprise"}


def place(root: Path, subject: int, file_name: str, code: str, sentence: int) -> Path:
    path = root / f"subject {subject}" / EMOTION_FOLDERS[code] / f"sentence {sentence}" / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return path


@pytest.fixture
def corpus():
    return load_registry([("ser-plugin-enterface", enterface)], use_entry_points=False).corpus("enterface")


def make_tree(root: Path) -> Path:
    place(root, 1, "s1_an_1.avi", "an", 1)
    place(root, 1, "s1_su_5.avi", "su", 5)
    place(root, 3, "s_3_di_2.avi", "di", 2)        # slip: stray underscore
    place(root, 6, "s6_fe_1.avi", "fe", 1)         # subject 6: excluded
    place(root, 11, "s12_ha_1.avi", "ha", 1)       # slip: subject 11 named s12
    place(root, 12, "s12_ha_1.avi", "ha", 1)       # the real subject 12: no clash
    place(root, 16, "s16_su_3avi", "su", 3)        # slip: missing dot, no extension
    place(root, 44, "s44_sa_4.avi", "sa", 4)
    return root


def test_clips_speakers_labels_and_known_slips(tmp_path, corpus):
    manifest = core_scan(corpus, make_tree(tmp_path))
    found = {c.clip_id: (c.speaker, c.label) for c in manifest.clips}
    assert found == {
        "s1_an_1": ("s1", "anger"),
        "s1_su_5": ("s1", "surprise"),
        "s3_di_2": ("s3", "disgust"),
        "s11_ha_1": ("s11", "happiness"),
        "s12_ha_1": ("s12", "happiness"),
        "s16_su_3": ("s16", "surprise"),
        "s44_sa_4": ("s44", "sadness"),
    }
    by_id = {c.clip_id: c for c in manifest.clips}
    assert by_id["s11_ha_1"].path.parent.parent.parent.name == "subject 11"
    assert by_id["s16_su_3"].path.name == "s16_su_3avi"
    assert by_id["s44_sa_4"].sentence == "4"
    (six,) = manifest.skipped
    assert Path(six.path).name == "s6_fe_1.avi" and skip_kind(six) == "excluded"


def test_missing_dot_with_extension_too():
    assert enterface.parse(Path("subject 16/surprise/sentence 3/s16_su_3avi.avi")).clip_id == "s16_su_3"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("subject 13/anger/sentence 1/s12_an_1.avi", "not a known slip"),   # only subject 11 carries s12
        ("subject 2/anger/sentence 1/s2_ha_1.avi", "anger folder"),
        ("subject 2/anger/sentence 1/s2_xx_1.avi", "unknown emotion code 'xx'"),
        ("subject 2/anger/sentence 1/s2_an_1 (copy).avi", "does not follow"),
        ("subject 2/anger/sentence 1/s17_su_3avi", "not an audio file"),  # only the known name is a slip
        ("subject 2/readme.txt", "not an audio file"),
    ],
)
def test_names_that_break_the_convention_are_never_guessed(path, reason):
    result = enterface.parse(Path(path))
    assert isinstance(result, str) and reason in result
    assert not result.startswith("excluded")


def test_flattened_copy_uses_the_names(tmp_path, corpus):
    for name in ["s2_an_1.avi", "s2_di_1.avi", "s6_an_1.avi", "notes.txt"]:
        (tmp_path / name).touch()
    manifest = core_scan(corpus, tmp_path)
    assert [c.clip_id for c in manifest.clips] == ["s2_an_1", "s2_di_1"]
    assert {Path(s.path).name: skip_kind(s) for s in manifest.skipped} == {
        "s6_an_1.avi": "excluded", "notes.txt": "not audio"}


def test_bad_directories(tmp_path, corpus):
    with pytest.raises(CorpusError, match="does not exist|not a directory"):
        core_scan(corpus, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="empty"):
        enterface.scan(tmp_path / "empty")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "s2_an_1.avi").touch()
    (tmp_path / "flat" / "copy").mkdir()
    (tmp_path / "flat" / "copy" / "s2_an_1.avi").touch()
    with pytest.raises(CorpusError, match="appears twice"):
        core_scan(corpus, tmp_path / "flat")


def write_avi(path: Path, seconds: float = 0.5, rate: int = 48_000) -> None:
    """A tiny video with a 440 Hz stereo PCM track, as eNTERFACE's videos carry."""
    av = pytest.importorskip("av")
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=25)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        audio = container.add_stream("pcm_s16le", rate=rate, layout="stereo")
        for _ in range(int(seconds * 25)):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        n = int(seconds * rate)
        tone = (np.sin(2 * np.pi * 440 * np.arange(n) / rate) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone], axis=1).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = rate
        for packet in audio.encode(frame):
            container.mux(packet)
        for stream in (audio, video):
            for packet in stream.encode(None):
                container.mux(packet)


def test_clips_decode_from_the_videos_and_broken_videos_are_reported(tmp_path, corpus):
    from ser_core import load_audio
    from ser_core.api.testing import inspect

    root = tmp_path / "enterface"
    write_avi(root / "subject 1" / "anger" / "sentence 1" / "s1_an_1.avi")
    write_avi(root / "subject 11" / "happiness" / "sentence 2" / "s12_ha_2.avi")
    broken = root / "subject 2" / "fear" / "sentence 1" / "s2_fe_1.avi"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"RIFF\x00\x00\x00\x00AVI truncated")
    report = inspect(corpus, root)
    by_id = {c.clip_id: c for c in report.manifest.clips}
    assert sorted(by_id) == ["s11_ha_2", "s1_an_1", "s2_fe_1"]
    signal = load_audio(by_id["s11_ha_2"].path)
    assert signal.dtype == np.float32 and abs(len(signal) - 8000) <= 160  # 0.5 s at 16 kHz
    spectrum = np.abs(np.fft.rfft(signal))
    assert abs(np.argmax(spectrum) * 16_000 / len(signal) - 440) < 10
    assert report.sample_rates == {48_000: 2}
    assert [Path(u.path).name for u in report.unreadable] == ["s2_fe_1.avi"]
    assert any("s2_fe_1.avi" in problem for problem in report.problems)
