"""Portuguese (Castro & Lima): speaker letter before '_', emotion word after it, two archives."""

from __future__ import annotations

from pathlib import Path

import pytest

import ser_plugin_portuguese
from ser_core.api.testing import compare, load_registry, scan

WORDS = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happiness": "happy", "sadness": "sad",
         "neutral": "neutral", "surprise": "surprise"}


@pytest.fixture
def portuguese():
    return load_registry([("portuguese", ser_plugin_portuguese)], use_entry_points=False).corpus("portuguese")


def touch(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def test_a_complete_tree_in_two_archives_matches_expected(portuguese, tmp_path):
    names = []
    for label, count in ser_plugin_portuguese.EXPECTED.clips_per_label.items():
        for i in range(count):
            kind, folder = ("s", "Sents") if i % 2 else ("p", "Pseudosents")
            names.append(f"{folder}/{i // 4 + 1:02d}{kind}{'AB'[(i // 2) % 2]}_{WORDS[label]}{i % 3 + 1}.wav")
    touch(tmp_path, *names)
    manifest = scan(portuguese, tmp_path)
    assert compare(manifest, ser_plugin_portuguese.EXPECTED) == []
    assert manifest.speakers() == ["A", "B"]


def test_fields_and_bad_names(portuguese, tmp_path):
    touch(tmp_path, "12sA_angry3.wav", "07pB_surprise1.wav", "01sA_bored1.wav", "01sC_sad1.wav")
    manifest = scan(portuguese, tmp_path)
    rows = {c.clip_id: (c.speaker, c.label, c.sentence, c.language) for c in manifest.clips}
    assert rows == {"12sA_angry3": ("A", "anger", "12s", "pt"), "07pB_surprise1": ("B", "surprise", "07p", "pt")}
    reasons = {Path(s.path).stem: s.reason for s in manifest.skipped}
    assert "unknown emotion code 'bored'" in reasons["01sA_bored1"]
    assert "expected a name like '12sA_angry3'" in reasons["01sC_sad1"]
