"""IEMOCAP plugin on generated trees that follow the distribution's layout and annotation format."""

from pathlib import Path

import numpy as np
import pytest
import soundfile

import ser_plugin_iemocap as iemocap
from ser_core import CorpusError
from ser_core.api.testing import scan as core_scan

HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"


def wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.zeros(160, dtype=np.float32), 16_000)


def evaluation(session_dir: Path, dialog: str, rows: list[tuple[str, str]]) -> Path:
    """An EmoEvaluation file in the distributed format: summary line plus rater lines per turn."""
    lines = [HEADER]
    for i, (utterance, code) in enumerate(rows):
        lines.append(f"[{i * 3.5:.4f} - {i * 3.5 + 2.25:.4f}]\t{utterance}\t{code}\t[2.5000, 3.0000, 3.5000]\n")
        lines.append("C-E2:\tNeutral;\t()\n")
        lines.append("A-E3:\tval 3; act 2; dom  2;\t()\n\n")
    path = session_dir / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return path


def make_tree(root: Path) -> Path:
    s1, s2 = root / "Session1", root / "Session2"
    rows1 = [
        ("Ses01F_impro01_F000", "neu"),
        ("Ses01F_impro01_M000", "ang"),  # male turn in a dialog where the female wears the markers
        ("Ses01F_impro01_F001", "exc"),
        ("Ses01F_impro01_M001", "fru"),
        ("Ses01F_impro01_F002", "xxx"),
    ]
    evaluation(s1, "Ses01F_impro01", rows1)
    rows2 = [("Ses01M_script01_1_F000", "hap"), ("Ses01M_script01_1_M000", "sad")]
    evaluation(s1, "Ses01M_script01_1", rows2)
    for utterance, _ in rows1:
        wav(s1 / "sentences" / "wav" / "Ses01F_impro01" / f"{utterance}.wav")
    for utterance, _ in rows2:
        wav(s1 / "sentences" / "wav" / "Ses01M_script01_1" / f"{utterance}.wav")
    # per-rater files in a subfolder must not be read as summary files
    (s1 / "dialog" / "EmoEvaluation" / "Categorical").mkdir()
    (s1 / "dialog" / "EmoEvaluation" / "Categorical" / "Ses01F_impro01_e2_cat.txt").write_text(
        "Ses01F_impro01_F000 :Neutral state; ()\n"
    )
    rows3 = [("Ses02F_impro03_F010", "sad"), ("Ses02F_impro03_M004", "neu")]
    evaluation(s2, "Ses02F_impro03", rows3)
    for utterance, _ in rows3:
        wav(s2 / "sentences" / "wav" / "Ses02F_impro03" / f"{utterance}.wav")
    (s2 / "sentences" / "wav" / "Ses02F_impro03" / "Ses02F_impro03.pk").write_bytes(b"\x00")
    return root


def reasons(manifest) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in manifest.skipped}


def test_scan_reads_labels_speakers_and_sessions(tmp_path):
    manifest = iemocap.scan(make_tree(tmp_path))
    by_id = {c.clip_id: c for c in manifest.clips}
    assert sorted(by_id) == [
        "Ses01F_impro01_F000", "Ses01F_impro01_F001", "Ses01F_impro01_M000",
        "Ses01M_script01_1_F000", "Ses01M_script01_1_M000",
        "Ses02F_impro03_F010", "Ses02F_impro03_M004",
    ]
    assert by_id["Ses01F_impro01_F000"].label == "neutral"
    assert by_id["Ses01F_impro01_F001"].label == "happiness"  # exc merged into happiness
    assert by_id["Ses01M_script01_1_F000"].label == "happiness"
    assert by_id["Ses01F_impro01_M000"].label == "anger"
    assert by_id["Ses01M_script01_1_M000"].label == "sadness"
    # the speaker is the utterance's speaker, not the dialog's marker wearer
    assert by_id["Ses01F_impro01_M000"].speaker == "01M"
    assert by_id["Ses01F_impro01_F000"].speaker == "01F"
    assert by_id["Ses01M_script01_1_F000"].speaker == "01F"
    assert by_id["Ses01F_impro01_M000"].gender == "M"
    assert manifest.speakers() == ["01F", "01M", "02F", "02M"]
    assert {c.group for c in manifest.clips} == {"01", "02"}
    assert by_id["Ses02F_impro03_F010"].group == "02"
    assert manifest.label_counts() == {"anger": 1, "happiness": 2, "sadness": 2, "neutral": 2}


def test_excluded_codes_and_unrelated_files_are_listed_with_reasons(tmp_path):
    manifest = iemocap.scan(make_tree(tmp_path))
    why = reasons(manifest)
    assert why["Ses01F_impro01_M001.wav"].startswith("excluded: label 'fru'")
    assert "four-class" in why["Ses01F_impro01_M001.wav"]
    assert "'xxx'" in why["Ses01F_impro01_F002.wav"]
    assert why["Ses02F_impro03.pk"].startswith("not an audio file")
    assert len(manifest.skipped) == 3


def test_core_scan_validates_groups(tmp_path):
    from ser_core.api.testing import load_registry

    registry = load_registry([("ser-plugin-iemocap", iemocap)], use_entry_points=False)
    corpus = registry.corpus("iemocap")
    assert corpus.spec.fold_by == "group"
    assert corpus.spec.expected.total == 5531
    manifest = core_scan(corpus, make_tree(tmp_path))
    assert len(manifest.clips) == 7


def test_label_line_without_audio_and_audio_without_label(tmp_path):
    root = make_tree(tmp_path)
    (root / "Session2" / "sentences" / "wav" / "Ses02F_impro03" / "Ses02F_impro03_M004.wav").unlink()
    wav(root / "Session2" / "sentences" / "wav" / "Ses02F_impro03" / "Ses02F_impro03_F011.wav")
    manifest = iemocap.scan(root)
    ids = {c.clip_id for c in manifest.clips}
    assert "Ses02F_impro03_M004" not in ids and "Ses02F_impro03_F011" not in ids
    missing = [s for s in manifest.skipped if "Ses02F_impro03_M004" in s.reason]
    assert len(missing) == 1 and missing[0].path.endswith("Ses02F_impro03.txt:7")
    assert "no label" in reasons(manifest)["Ses02F_impro03_F011.wav"]


def test_unknown_code_is_skipped_and_unreadable_audio_reported(tmp_path):
    from ser_core.api.testing import inspect, load_registry, skip_kind

    root = tmp_path / "iemocap"
    s1 = root / "Session1"
    evaluation(s1, "Ses01F_impro02", [("Ses01F_impro02_F000", "angry"), ("Ses01F_impro02_F001", "sad"),
                                      ("Ses01F_impro02_F002", "neu")])
    folder = s1 / "sentences" / "wav" / "Ses01F_impro02"
    wav(folder / "Ses01F_impro02_F000.wav")
    (folder / "Ses01F_impro02_F001.wav").write_bytes(b"not audio at all")
    wav(folder / "Ses01F_impro02_F002.wav")
    manifest = iemocap.scan(root)
    assert [c.clip_id for c in manifest.clips] == ["Ses01F_impro02_F001", "Ses01F_impro02_F002"]
    (unknown,) = manifest.skipped
    assert "unknown label code 'angry'" in unknown.reason and "Ses01F_impro02.txt line 3" in unknown.reason
    assert skip_kind(unknown) == "problem"  # not a planned exclusion: corpus info flags it

    registry = load_registry([("ser-plugin-iemocap", iemocap)], use_entry_points=False)
    report = inspect(registry.corpus("iemocap"), root)
    assert [Path(u.path).name for u in report.unreadable] == ["Ses01F_impro02_F001.wav"]
    assert any("Ses01F_impro02_F001.wav" in p and "cannot read" in p for p in report.problems)


def test_malformed_summary_line_names_file_and_line(tmp_path):
    root = make_tree(tmp_path)
    path = root / "Session2" / "dialog" / "EmoEvaluation" / "Ses02F_impro03.txt"
    path.write_text(path.read_text().replace("\tsad\t", " sad "))
    with pytest.raises(CorpusError, match=r"Ses02F_impro03\.txt, line 3"):
        iemocap.scan(root)


def test_duplicate_utterance_names_both_paths(tmp_path):
    root = make_tree(tmp_path)
    wav(root / "Session1" / "sentences" / "wav" / "copy" / "Ses01F_impro01_F000.wav")
    with pytest.raises(CorpusError, match=r"appears twice.*Ses01F_impro01_F000\.wav.*copy"):
        iemocap.scan(root)


def test_bad_directories(tmp_path):
    with pytest.raises(CorpusError, match="does not exist"):
        iemocap.scan(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="is empty"):
        iemocap.scan(tmp_path / "empty")
    (tmp_path / "other" / "stuff").mkdir(parents=True)
    with pytest.raises(CorpusError, match="no Session1"):
        iemocap.scan(tmp_path / "other")
    (tmp_path / "nolabels" / "Session1" / "sentences" / "wav").mkdir(parents=True)
    with pytest.raises(CorpusError, match="EmoEvaluation"):
        iemocap.scan(tmp_path / "nolabels")
