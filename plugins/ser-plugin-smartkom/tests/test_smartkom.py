"""SmartKom plugin: the majority-duration rule on hand-worked cases, and scans of generated sessions
with BAS Partitur files (TRN turns + USH user states) and tiny session audio."""

from pathlib import Path

import numpy as np
import pytest
import soundfile

import ser_plugin_smartkom as smartkom
from ser_core import CorpusError
from ser_core.api.testing import load_registry, scan as core_scan, skip_kind
from ser_plugin_smartkom import Segment, majority_state, normalise_state


def states(*rows):
    return [Segment(begin, end, label, line) for line, (begin, end, label) in enumerate(rows, start=1)]


# Neutral covers samples 0..99, Aerger 100..199, nothing 200..249, Freude 250..349.
BASIC = states((0, 99, "Neutral"), (100, 199, "Aerger"), (250, 349, "Freude"))


@pytest.mark.parametrize(
    ("turn", "expected"),
    [
        ((0, 99), "Neutral"),      # one interval covers the whole turn
        ((50, 179), "Aerger"),     # partial overlaps: Neutral 50 samples, Aerger 80
        ((180, 259), "Aerger"),    # Aerger 20, unlabelled 50 (counts for nobody), Freude 10
        ((50, 149), "Neutral"),    # tie 50:50 goes to the state that comes first in the turn
        ((200, 249), None),        # only an unlabelled stretch: no label
        ((400, 499), None),        # after every interval
    ],
)
def test_majority_state_hand_worked(turn, expected):
    found = majority_state(*turn, BASIC)
    assert (found[0] if found else None) == expected


def test_majority_sums_pieces_of_one_state():
    # Freude 25 + 20 = 45 beats Neutral's single, longest interval of 35
    pieces = states((0, 24, "Freude"), (25, 59, "Neutral"), (60, 79, "Freude"))
    label, first = majority_state(0, 79, pieces)
    assert label == "Freude" and first.begin == 0
    # 20:20 tie between a state in two pieces and one in one piece: the earlier one wins, either way round
    assert majority_state(0, 39, states((0, 9, "Neutral"), (10, 29, "Aerger"), (30, 39, "Neutral")))[0] == "Neutral"
    assert majority_state(0, 39, states((0, 19, "Aerger"), (20, 29, "Neutral"), (30, 39, "Neutral")))[0] == "Aerger"


def test_state_names_and_spellings():
    assert normalise_state('"Neutral"') == "neutral"
    assert normalise_state("Freude/Erfolg") == normalise_state("Freude_Erfolg") == "happiness"
    assert normalise_state("Ärger/Mißerfolg") == normalise_state("Aerger/Misserfolg") == "anger"
    assert normalise_state("Arger_Miserfolg") == "anger"
    assert normalise_state("Überlegen/Nachdenken") == normalise_state("Uberlegen_Nachdenken") == "pondering"
    assert normalise_state("Ratlosigkeit") == "helplessness"
    assert normalise_state("Ueberraschung/Verwunderung") == "surprise"
    assert normalise_state("Restklasse") == "unknown"
    assert normalise_state("Weltschmerz") is None


HEADER = "LHD: Partitur 1.3\nREP: Muenchen\nSNB: 2\nSAM: 16000\nSBF: 01\nSSB: 16\nNCH: 1\nSPN: {spk}\nLBD:\n"


def partitur(path: Path, speaker: str, turns, user_states, encoding="latin-1") -> None:
    """A user BPF file: header, a few ORT words, TRN turns and USH states (inclusive ends)."""
    lines = [HEADER.format(spk=speaker), "ORT: 0 guten\n", "ORT: 1 Tag\n"]
    session = path.stem[: -len(speaker) - 1]
    lines += [f"TRN: {b} {e - b} 0,1 {session}_{i:03d}\n" for i, (b, e) in enumerate(turns)]
    lines += [f'USH: {b} {e - b} "{label}"\n' for b, e, label in user_states]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(lines).encode(encoding))


def session_audio(path: Path, frames: int, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.arange(frames, dtype=np.int16), rate, subtype="PCM_16")


def make_tree(root: Path) -> Path:
    s1 = root / "SK-Public" / "w001_pk"
    session_audio(s1 / "w001_pkd.wav", 16_000, 16_000)
    session_audio(s1 / "w001_pke.wav", 16_000, 16_000)  # a second channel
    partitur(
        s1 / "w001_pk_AAA.par", "AAA",
        turns=[(1000, 4999), (6000, 9999), (10000, 11999), (13500, 14499), (14600, 15499), (15500, 16999)],
        user_states=[(0, 3999, "Neutral"), (4000, 7999, "Freude_Erfolg"), (9000, 12999, "Ärger/Mißerfolg"),
                     (14500, 15499, "Weltschmerz"), (15500, 19999, "Restklasse")],
    )
    (s1 / "w001_pk_SMA.par").write_text(HEADER.format(spk="SMA"))
    (s1 / "w001_pk.avi").write_bytes(b"\x00")
    s2 = root / "SK-Public" / "w002_pk"
    session_audio(s2 / "w002_pkd.wav", 8000, 8000)  # audio at 8 kHz, BPF times in 1/16000 s
    partitur(s2 / "w002_pk_BBB.par", "BBB", turns=[(0, 7999), (8000, 15999)],
             user_states=[(0, 15999, "Uberlegen_Nachdenken")])
    s3 = root / "SK-Public" / "w003_pk"
    session_audio(s3 / "w003_pkd.wav", 1600, 16_000)
    partitur(s3 / "w003_pk_CCC.par", "CCC", turns=[(0, 1599)], user_states=[])  # no USH tier
    return root


@pytest.fixture
def corpus():
    return load_registry([("ser-plugin-smartkom", smartkom)], use_entry_points=False).corpus("smartkom")


def test_scan_turns_labels_speakers_and_audio(tmp_path, serbench_cache, corpus):
    manifest = core_scan(corpus, make_tree(tmp_path / "smartkom"))
    found = {c.clip_id: (c.speaker, c.label) for c in manifest.clips}
    assert found == {
        "w001_pk_AAA_000": ("AAA", "neutral"),     # Neutral 3000 samples, Freude 1000
        "w001_pk_AAA_001": ("AAA", "happiness"),   # Freude 2000, unlabelled 1000, Aerger 1000
        "w001_pk_AAA_002": ("AAA", "anger"),
        "w002_pk_BBB_000": ("BBB", "pondering"),
        "w002_pk_BBB_001": ("BBB", "pondering"),
    }
    assert all(c.clip_id[8:11] == c.speaker for c in manifest.clips)
    by_id = {c.clip_id: c for c in manifest.clips}
    data, rate = soundfile.read(str(by_id["w001_pk_AAA_000"].path), dtype="int16")
    assert rate == 16_000 and len(data) == 4000 and data[0] == 1000 and data[-1] == 4999
    data, rate = soundfile.read(str(by_id["w002_pk_BBB_001"].path), dtype="int16")
    assert rate == 8000 and len(data) == 4000 and data[0] == 4000 and data[-1] == 7999
    assert all(Path(c.path).is_relative_to(serbench_cache / "smartkom-turns") for c in manifest.clips)
    assert not list(serbench_cache.rglob("*.part"))


def test_skipped_turns_sessions_and_files(tmp_path, serbench_cache, corpus):
    manifest = core_scan(corpus, make_tree(tmp_path / "smartkom"))
    reasons = [(Path(s.path.split(":")[0]).name, s.reason, skip_kind(s)) for s in manifest.skipped]
    turn_reasons = [r for name, r, _ in reasons if name == "w001_pk_AAA.par"]
    assert any("w001_pk_AAA_003 overlaps no USH" in r for r in turn_reasons)
    assert any("'Weltschmerz'" in r and "not a SmartKom user state" in r for r in turn_reasons)
    assert any("w001_pk_AAA_005 ends at" in r for r in turn_reasons)
    assert ("w003_pk_CCC.par", "excluded: no USH tier: this session has no user-state labels, so it gives no clips",
            "excluded") in reasons
    kinds = {name: kind for name, _, kind in reasons}
    assert kinds["w001_pke.wav"] == "excluded"
    assert kinds["w001_pk_SMA.par"] == kinds["w001_pk.avi"] == "not audio"
    problem_lines = [s.path for s in manifest.skipped if "Weltschmerz" in s.reason]
    assert problem_lines[0].endswith("w001_pk_AAA.par:16")


def test_second_scan_reuses_the_cut_turns(tmp_path, serbench_cache):
    root = make_tree(tmp_path / "smartkom")
    first = {c.clip_id: c.path for c in smartkom.scan(root).clips}
    stamps = {cid: Path(p).stat().st_mtime_ns for cid, p in first.items()}
    second = {c.clip_id: c.path for c in smartkom.scan(root).clips}
    assert second == first
    assert {cid: Path(p).stat().st_mtime_ns for cid, p in second.items()} == stamps


def test_bad_input(tmp_path, serbench_cache):
    with pytest.raises(CorpusError, match="does not exist"):
        smartkom.scan(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="is empty"):
        smartkom.scan(tmp_path / "empty")
    (tmp_path / "wavs").mkdir()
    session_audio(tmp_path / "wavs" / "w001_pkd.wav", 100, 16_000)
    with pytest.raises(CorpusError, match="no user BPF files"):
        smartkom.scan(tmp_path / "wavs")
    root = make_tree(tmp_path / "bad")
    par = root / "SK-Public" / "w002_pk" / "w002_pk_BBB.par"
    par.write_bytes(par.read_bytes().replace(b"TRN: 8000 7999", b"TRN: 8000 long"))
    with pytest.raises(CorpusError, match=r"w002_pk_BBB\.par, line 13"):
        smartkom.scan(root)
    root = make_tree(tmp_path / "twice")
    make_tree(tmp_path / "twice" / "copy")
    with pytest.raises(CorpusError, match="appears twice"):
        smartkom.scan(root)
