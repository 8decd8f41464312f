"""DEMoS plugin on a generated tree following the distribution's names (empty files: only names matter)."""

from pathlib import Path

import pytest

import ser_plugin_demos as demos
from ser_core import CorpusError
from ser_core.api.testing import load_registry, scan as core_scan, skip_kind

FILES = {
    "DEMOS/PR_01_rab01b.wav": ("01", "anger"),
    "DEMOS/PR_01_gio03a.wav": ("01", "happiness"),
    "DEMOS/PR_02_tri01a.wav": ("02", "sadness"),
    "DEMOS/PR_02_pau02c.wav": ("02", "fear"),
    "DEMOS/PR_33_dis10a.wav": ("33", "disgust"),
    "DEMOS/PR_33_col04b.wav": ("33", "guilt"),
    "DEMOS/PR_68_sor07a.wav": ("68", "surprise"),
}
OTHERS = ["DEMOS/NP_01_rab02a.wav", "NEU/PR_05_neu01a.wav", "DEMOS/PR_05_xyz01a.wav",
          "DEMOS/XX_05_rab01a.wav", "DEMOS/demos_readme.wav", "DEMOS/list.txt"]


def make_tree(root: Path) -> Path:
    for name in list(FILES) + OTHERS:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).touch()
    return root


@pytest.fixture
def corpus():
    return load_registry([("ser-plugin-demos", demos)], use_entry_points=False).corpus("demos")


def test_prototypical_clips_with_speakers_and_labels(tmp_path, corpus):
    manifest = core_scan(corpus, make_tree(tmp_path))
    found = {c.clip_id: (c.speaker, c.label) for c in manifest.clips}
    assert found == {Path(name).stem: value for name, value in FILES.items()}
    assert manifest.speakers() == ["01", "02", "33", "68"]
    assert "neutral" not in manifest.labels()
    assert corpus.spec.fold_by == "speaker" and corpus.spec.expected.total == 1564


def test_exclusions_and_problems_are_listed(tmp_path, corpus):
    manifest = core_scan(corpus, make_tree(tmp_path))
    why = {Path(s.path).name: s for s in manifest.skipped}
    assert set(why) == {Path(name).name for name in OTHERS}
    assert skip_kind(why["NP_01_rab02a.wav"]) == "excluded" and "NP_" in why["NP_01_rab02a.wav"].reason
    assert skip_kind(why["PR_05_neu01a.wav"]) == "excluded" and "neutral" in why["PR_05_neu01a.wav"].reason
    assert skip_kind(why["PR_05_xyz01a.wav"]) == "problem" and "'xyz'" in why["PR_05_xyz01a.wav"].reason
    assert skip_kind(why["XX_05_rab01a.wav"]) == "problem" and "'XX'" in why["XX_05_rab01a.wav"].reason
    assert skip_kind(why["demos_readme.wav"]) == "problem"
    assert skip_kind(why["list.txt"]) == "not audio"


def test_bad_directories(tmp_path, corpus):
    with pytest.raises(CorpusError, match="does not exist|not a directory"):
        core_scan(corpus, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no clips"):
        core_scan(corpus, tmp_path / "empty")
    make_tree(tmp_path / "twice")
    (tmp_path / "twice" / "copy").mkdir()
    (tmp_path / "twice" / "copy" / "PR_01_rab01b.wav").touch()
    with pytest.raises(CorpusError, match="appears twice"):
        core_scan(corpus, tmp_path / "twice")
