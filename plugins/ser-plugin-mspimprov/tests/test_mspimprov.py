"""MSP-IMPROV plugin on generated trees with an Evaluation.txt in the distributed format."""

from pathlib import Path

import numpy as np
import pytest
import soundfile

import ser_plugin_mspimprov as msp
from ser_core import CorpusError


def wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.zeros(441, dtype=np.float32), 44_100)


def block(name: str, code: str) -> str:
    """One clip's block: consensus line, two rater lines, blank line."""
    return (
        f"UTD-IMPROV-{name}.avi; {code}; A:3.000000; V:2.500000; D:3.000000 ; N:4.000000;\n"
        "rater1; Angry; Angry,Frustrated; A:3.000000; V:2.000000; D:3.000000; N:4.000000;\n"
        "rater2; Neutral; Neutral; A:2.000000; V:3.000000; D:3.000000; N:5.000000;\n"
        "\n"
    )


CLIPS = [
    ("S01A-F01-P-FM01", "A"),
    ("S01H-M01-R-MF02", "H"),
    ("S02S-F02-S-FM01", "S"),
    ("S02N-M02-T-MF01", "N"),
    ("S03A-F06-P-FM07", "O"),
    ("S03H-M06-P-MF07", "X"),
    ("S04S-M03-P-MF03", "N"),
]


def make_tree(root: Path, clips=CLIPS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Evaluation.txt").write_text("".join(block(name, code) for name, code in clips))
    for name, _ in clips:
        speaker = name[5:8]
        session = int(speaker[1:])
        # nested session folders, as distributed: sessionN/S01A/P/
        wav(root / f"session{session}" / name[:4] / name[9] / f"MSP-IMPROV-{name}.wav")
    (root / "session1" / "S01A" / "P" / "MSP-IMPROV-S01A-F01-P-FM01.avi").write_bytes(b"\x00")
    return root


def test_scan_labels_speakers_sessions(tmp_path):
    manifest = msp.scan(make_tree(tmp_path / "msp"))
    by_id = {c.clip_id: c for c in manifest.clips}
    assert sorted(by_id) == [
        "MSP-IMPROV-S01A-F01-P-FM01", "MSP-IMPROV-S01H-M01-R-MF02", "MSP-IMPROV-S02N-M02-T-MF01",
        "MSP-IMPROV-S02S-F02-S-FM01", "MSP-IMPROV-S04S-M03-P-MF03",
    ]
    assert by_id["MSP-IMPROV-S01A-F01-P-FM01"].label == "anger"
    assert by_id["MSP-IMPROV-S01H-M01-R-MF02"].label == "happiness"
    assert by_id["MSP-IMPROV-S02S-F02-S-FM01"].label == "sadness"
    assert by_id["MSP-IMPROV-S02N-M02-T-MF01"].label == "neutral"
    # the perceptual consensus wins over the acted emotion in the name (S04S labelled N)
    assert by_id["MSP-IMPROV-S04S-M03-P-MF03"].label == "neutral"
    assert manifest.speakers() == ["F01", "F02", "M01", "M02", "M03"]
    assert by_id["MSP-IMPROV-S02S-F02-S-FM01"].group == "02"
    assert by_id["MSP-IMPROV-S04S-M03-P-MF03"].group == "03"
    assert by_id["MSP-IMPROV-S01H-M01-R-MF02"].gender == "M"
    assert by_id["MSP-IMPROV-S01A-F01-P-FM01"].sentence == "S01"


def test_dropped_codes_and_other_files_are_listed(tmp_path):
    manifest = msp.scan(make_tree(tmp_path / "msp"))
    why = {Path(s.path).name: s.reason for s in manifest.skipped}
    assert why["MSP-IMPROV-S03A-F06-P-FM07.wav"].startswith("excluded: consensus 'O'")
    assert "line 17" in why["MSP-IMPROV-S03A-F06-P-FM07.wav"]
    assert "'O'" in why["MSP-IMPROV-S03A-F06-P-FM07.wav"] and "line 17" in why["MSP-IMPROV-S03A-F06-P-FM07.wav"]
    assert "'X'" in why["MSP-IMPROV-S03H-M06-P-MF07.wav"]
    assert why["MSP-IMPROV-S01A-F01-P-FM01.avi"].startswith("not an audio file")
    assert len(manifest.skipped) == 3


def test_read_evaluation_ignores_rater_lines():
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "Evaluation.txt"
        path.write_text(block("S01A-F01-P-FM01", "A") + block("S01H-M01-R-MF02", "X"))
        assert msp.read_evaluation(path) == {
            "MSP-IMPROV-S01A-F01-P-FM01": ("A", 1),
            "MSP-IMPROV-S01H-M01-R-MF02": ("X", 5),
        }


def test_unknown_code_missing_label_missing_audio(tmp_path):
    root = make_tree(tmp_path / "msp", CLIPS + [("S05A-F05-P-FM05", "Q")])
    wav(root / "session4" / "S04A" / "P" / "MSP-IMPROV-S04A-F04-P-FM04.wav")  # not in Evaluation.txt
    (root / "session1" / "S01H" / "R" / "MSP-IMPROV-S01H-M01-R-MF02.wav").unlink()
    (root / "session2" / "stray.wav").write_bytes(b"junk")
    manifest = msp.scan(root)
    why = {Path(s.path).name: s.reason for s in manifest.skipped}
    assert "unknown consensus code 'Q'" in why["MSP-IMPROV-S05A-F05-P-FM05.wav"]
    assert "no consensus line" in why["MSP-IMPROV-S04A-F04-P-FM04.wav"]
    assert "does not follow" in why["stray.wav"]
    assert "MSP-IMPROV-S01H-M01-R-MF02 (H) has no audio" in why["Evaluation.txt:5"]
    assert len(manifest.clips) == 4


def test_malformed_consensus_line(tmp_path):
    root = make_tree(tmp_path / "msp")
    path = root / "Evaluation.txt"
    path.write_text(path.read_text().replace("FM01.avi; A;", "FM01.avi; ;"))
    with pytest.raises(CorpusError, match=r"Evaluation\.txt, line 1"):
        msp.scan(root)


def test_bad_directories_and_duplicates(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        msp.scan(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="is empty"):
        msp.scan(tmp_path / "empty")
    wav(tmp_path / "nolabels" / "MSP-IMPROV-S01A-F01-P-FM01.wav")
    with pytest.raises(CorpusError, match="no Evaluation.txt"):
        msp.scan(tmp_path / "nolabels")
    root = make_tree(tmp_path / "msp")
    wav(root / "copy" / "MSP-IMPROV-S01A-F01-P-FM01.wav")
    with pytest.raises(CorpusError, match="appears twice"):
        msp.scan(root)
