"""EmoFilm plugin on a generated tree following the distribution's names (empty files: only names matter)."""

from pathlib import Path

import pytest

import ser_plugin_emofilm as emofilm
from ser_core import CorpusError
from ser_core.api.testing import load_registry, scan as core_scan, skip_kind

FILES = {
    "f_ans1a_en": ("en-f", "fear", "en"),
    "m_dis12b_en": ("en-m", "disgust", "en"),
    "f_gio3c_es": ("es-f", "happiness", "es"),
    "m_rab7a_es": ("es-m", "anger", "es"),
    "f_tri10a_it": ("it-f", "sadness", "it"),
    "m_tri2b_it": ("it-m", "sadness", "it"),
}


def make_tree(root: Path) -> Path:
    audio = root / "wav_corpus"
    audio.mkdir(parents=True)
    for stem in list(FILES) + ["f_sor1a_it", "f_ans1a_fr", "x_ans1a_en"]:
        (audio / f"{stem}.wav").touch()
    (root / "f_m_corpus_it_es_en_legend.xlsx").touch()  # above wav_corpus: not walked
    (audio / "notes.txt").touch()
    return root


@pytest.fixture
def corpus():
    return load_registry([("ser-plugin-emofilm", emofilm)], use_entry_points=False).corpus("emofilm")


def test_languages_are_the_cv_groups(tmp_path, corpus):
    assert corpus.spec.fold_by == "group"
    manifest = core_scan(corpus, make_tree(tmp_path))
    found = {c.clip_id: (c.speaker, c.label, c.group) for c in manifest.clips}
    assert found == FILES
    assert {c.group for c in manifest.clips} == {"en", "es", "it"}
    assert all(c.language == c.group for c in manifest.clips)
    assert {c.gender for c in manifest.clips} == {"F", "M"}
    assert corpus.spec.expected.total == 1115


def test_unknown_codes_languages_and_files_are_listed(tmp_path, corpus):
    manifest = core_scan(corpus, make_tree(tmp_path))
    why = {Path(s.path).name: s for s in manifest.skipped}
    assert set(why) == {"f_sor1a_it.wav", "f_ans1a_fr.wav", "x_ans1a_en.wav", "notes.txt"}
    assert "'sor'" in why["f_sor1a_it.wav"].reason and skip_kind(why["f_sor1a_it.wav"]) == "problem"
    assert "does not follow" in why["f_ans1a_fr.wav"].reason
    assert "does not follow" in why["x_ans1a_en.wav"].reason
    assert skip_kind(why["notes.txt"]) == "not audio"


def test_flat_folder_and_bad_directories(tmp_path, corpus):
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "f_ans1a_en.wav").touch()
    assert [c.clip_id for c in core_scan(corpus, flat).clips] == ["f_ans1a_en"]
    with pytest.raises(CorpusError, match="does not exist|not a directory"):
        core_scan(corpus, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no clips"):
        core_scan(corpus, tmp_path / "empty")
