"""The corpus core: locations, the shared walker, naming conventions, expected-content reports, CSV corpora."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from ser_core import hookimpl
from ser_core.cli_corpus import label_columns
from ser_core.corpus import compare, env_var, inspect, locate, scan, skip_kind, validate
from ser_core.readers import ManifestBuilder, NamingConvention, excluded, filename_corpus, scan_files, subdirectory
from ser_core.default_plugins import csv_corpus
from ser_core.errors import CorpusError
from ser_core.plugins import load_registry
from ser_core.specs import Clip, ExpectedContent, Manifest, SkippedFile

TOY = NamingConvention(
    pattern=r"(?P<speaker>s\d)_(?P<code>[a-z]+)_(?P<take>\d)",
    example="s1_ang_1",
    labels={"ang": "anger", "neu": "neutral"},
    excluded={"fea": "too few clips"},
)
TOY_EXPECTED = ExpectedContent({"anger": 2, "neutral": 2}, speakers=2, sample_rate=16_000)


def toy_parse(path: Path):
    name = TOY.match(path.stem)
    if isinstance(name, str):
        return name
    return Clip(path.stem, path, name["speaker"], name.label)


class ToyPlugin:
    @hookimpl
    def register_corpora(self, register):
        register(filename_corpus("toy", toy_parse, expected=TOY_EXPECTED, description="toy", audio_folders=("audio",)))


@pytest.fixture
def toy():
    return load_registry([("toy", ToyPlugin())], use_entry_points=False).corpus("toy")


def write_tone(path: Path, rate: int = 16_000, seconds: float = 0.25) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, (0.1 * np.sin(np.arange(int(rate * seconds)) * 0.3)).astype(np.float32), rate)
    return path


# --- where a corpus lives --------------------------------------------------------------------------


def test_locate_takes_the_first_source_then_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SERBENCH_CORPUS_EMODB", str(tmp_path / "from-env"))
    assert locate("emodb", True, {"emodb": tmp_path / "cli"}, {"emodb": tmp_path / "toml"}) == tmp_path / "cli"
    assert locate("emodb", True, {}, {"emodb": tmp_path / "toml"}) == tmp_path / "toml"
    assert locate("emodb", True, {}, {}) == tmp_path / "from-env"
    assert env_var("csv-grouped") == "SERBENCH_CORPUS_CSV_GROUPED"


def test_locate_without_a_location_says_all_three_ways(monkeypatch):
    monkeypatch.delenv("SERBENCH_CORPUS_EMODB", raising=False)
    with pytest.raises(CorpusError) as error:
        locate("emodb", True, {})
    message = str(error.value)
    assert "--corpus-path emodb=DIR" in message and "[corpora.emodb]" in message
    assert "SERBENCH_CORPUS_EMODB" in message
    assert locate("synthetic", False, {}) is None


def test_scan_of_a_missing_directory_names_it(toy, tmp_path):
    with pytest.raises(CorpusError, match=rf"{tmp_path / 'nope'} does not exist"):
        scan(toy, tmp_path / "nope")


def test_scan_of_a_file_where_a_directory_is_needed(toy, tmp_path):
    (tmp_path / "x.wav").write_bytes(b"")
    with pytest.raises(CorpusError, match=rf"{tmp_path / 'x.wav'} is not a directory"):
        scan(toy, tmp_path / "x.wav")


def test_empty_and_unrelated_directories_are_errors_naming_them(toy, tmp_path):
    with pytest.raises(CorpusError, match=rf"at {tmp_path}: no clips found, the directory holds no files"):
        scan(toy, tmp_path)
    (tmp_path / "holiday.jpg").write_bytes(b"x")
    (tmp_path / "song.wav").write_bytes(b"x")
    with pytest.raises(CorpusError, match=r"all 2 files were skipped .*holiday\.jpg: not an audio file"):
        scan(toy, tmp_path)


# --- the shared walker and naming conventions ------------------------------------------------------


def test_scan_files_lists_every_file_it_does_not_use(tmp_path):
    for name in ("s1_ang_1.wav", "s1_neu_1.WAV", "s2_fea_1.wav", "s2_sad_1.wav", "s2-ang-1.wav", "notes.txt",
                 ".hidden/s9_ang_1.wav", "._s1_ang_1.wav"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    manifest = scan_files("toy", tmp_path, toy_parse)
    assert [(c.clip_id, c.speaker, c.label) for c in manifest.clips] == [
        ("s1_ang_1", "s1", "anger"), ("s1_neu_1", "s1", "neutral")]
    reasons = {Path(s.path).name: s.reason for s in manifest.skipped}
    assert set(reasons) == {"s2_fea_1.wav", "s2_sad_1.wav", "s2-ang-1.wav", "notes.txt"}
    assert reasons["s2_fea_1.wav"] == "excluded: too few clips (code 'fea')"
    assert "unknown emotion code 'sad'" in reasons["s2_sad_1.wav"] and "not guessed" in reasons["s2_sad_1.wav"]
    assert "expected a name like 's1_ang_1'" in reasons["s2-ang-1.wav"]
    kinds = {Path(s.path).name: skip_kind(s) for s in manifest.skipped}
    assert kinds == {"s2_fea_1.wav": "excluded", "s2_sad_1.wav": "problem", "s2-ang-1.wav": "problem",
                     "notes.txt": "not audio"}


def test_scan_files_refuses_duplicate_clip_ids_naming_both(tmp_path):
    for name in ("a/s1_ang_1.wav", "b/s1_ang_1.wav"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(CorpusError, match=r"'s1_ang_1' appears twice, as .*a/s1_ang_1\.wav and .*b/s1_ang_1\.wav"):
        scan_files("toy", tmp_path, toy_parse)


def test_naming_convention_checks_itself():
    with pytest.raises(ValueError, match="no \\(\\?P<code>"):
        NamingConvention(pattern=r"(?P<speaker>\d)", example="1", labels={})
    with pytest.raises(ValueError, match="does not match"):
        NamingConvention(pattern=r"(?P<code>\d)", example="a", labels={"1": "anger"})
    folded = NamingConvention(pattern=r"(?P<code>[A-Za-z]+)", example="Ang", labels={"ang": "anger"}, fold_case=True)
    assert folded.match("ANG").label == "anger"
    assert excluded("song") == "excluded: song"


def test_subdirectory_prefers_the_audio_folder(tmp_path):
    assert subdirectory(tmp_path, "wav") == tmp_path
    (tmp_path / "wav").mkdir()
    assert subdirectory(tmp_path, "AudioWAV", "wav") == tmp_path / "wav"


def test_validate_names_duplicate_and_unknown_labels(tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    with pytest.raises(CorpusError, match=r"duplicate clip id 'x' \(.*a\.wav and .*b\.wav\)"):
        validate(Manifest("c", [Clip("x", a, "s", "anger"), Clip("x", b, "s", "anger")]))
    with pytest.raises(CorpusError, match=r"labels outside the shared vocabulary \['angry'\] \(e\.g\. .*a\.wav\)"):
        validate(Manifest("c", [Clip("x", a, "s", "angry")]))
    with pytest.raises(CorpusError, match=r"outside the corpus's label set \['anger'\].*declares: calm, neutral"):
        validate(Manifest("c", [Clip("x", a, "s", "anger")]), labels=("calm", "neutral"))
    validate(Manifest("c", [Clip("x", a, "s", "contempt")]), labels=("contempt", "neutral"))
    validate(Manifest("c", [Clip("x", a, "s", "anything")]), any_labels=True)
    with pytest.raises(CorpusError, match=r"folds use CV groups but .*a\.wav has none"):
        validate(Manifest("c", [Clip("x", a, "s", "anger")]), fold_by="group")


# --- comparing with the expected content -----------------------------------------------------------


def test_compare_reports_missing_extra_and_speakers(tmp_path):
    clips = [Clip(f"c{i}", tmp_path / f"c{i}.wav", "s1", label) for i, label in
             enumerate(["anger", "anger", "anger", "neutral", "fear"])]
    problems = compare(Manifest("toy", clips), TOY_EXPECTED)
    assert problems == [
        "anger: 1 clips more than expected (expected 2, found 3)",
        "neutral: 1 clips missing (expected 2, found 1)",
        "fear: 1 clips more than expected (expected 0, found 1)",
        "speakers: expected 2, found 1",
    ]


def test_inspect_a_complete_corpus_is_ok(toy, tmp_path):
    for name in ("s1_ang_1", "s1_neu_1", "s2_ang_1", "s2_neu_1"):
        write_tone(tmp_path / "audio" / f"{name}.wav")
    write_tone(tmp_path / "audio" / "s2_fea_1.wav")
    (tmp_path / "audio" / "README.txt").write_text("about")
    report = inspect(toy, tmp_path)
    assert report.ok and report.problems == []
    assert dict(report.sample_rates) == {16_000: 4}
    assert sorted(report.durations.values()) == pytest.approx([0.25] * 4)
    assert report.notes == ["1 file excluded: too few clips (code 'fea')",
                            "1 files that are not audio were ignored (README.txt)"]


def test_inspect_reports_unreadable_misnamed_and_missing(toy, tmp_path):
    write_tone(tmp_path / "s1_ang_1.wav", rate=44_100)
    (tmp_path / "s1_neu_1.wav").write_bytes(b"")
    (tmp_path / "s2_ang_1.wav").write_bytes(b"garbage" * 20)
    write_tone(tmp_path / "s2_xyz_1.wav")
    report = inspect(toy, tmp_path)
    assert not report.ok
    text = "\n".join(report.problems)
    assert "neutral: 1 clips missing (expected 2, found 1)" in text
    assert f"{tmp_path / 's2_xyz_1.wav'}: unknown emotion code 'xyz'" in text
    assert f"{tmp_path / 's1_neu_1.wav'}: the file is empty (0 bytes)" in text
    assert f"{tmp_path / 's2_ang_1.wav'}: cannot read the audio header" in text
    assert sorted(Path(u.path).name for u in report.unreadable) == ["s1_neu_1.wav", "s2_ang_1.wav"]
    assert any("1 at 44100 Hz" in note for note in report.notes)


def test_label_columns_follow_the_shared_vocabulary_then_the_corpus_order():
    row = label_columns({"anger": 127, "happiness": 71, "neutral": 79, "boredom": 81, "fear": 0})
    assert row == {"anger": "127", "happiness": "71", "fear": "", "neutral": "79", "boredom": "81", "total": "358"}
    own = label_columns({"neutral": 5, "pondering": 2, "helplessness": 1, "unknown": 3},
                        ("neutral", "pondering", "helplessness", "unknown"))
    assert list(own) == ["neutral", "pondering", "helplessness", "unknown", "total"] and own["total"] == "11"


# --- users' own data: the CSV corpora ---------------------------------------------------------------


@pytest.fixture
def csv_registry():
    return load_registry([("csv", csv_corpus)], use_entry_points=False)


def test_csv_manifest_relative_paths_and_groups(csv_registry, tmp_path):
    for name in ("a.wav", "b.wav", "sub/c.wav"):
        write_tone(tmp_path / "data" / name)
    (tmp_path / "data" / "manifest.csv").write_text(
        "path,speaker,label,group,gender\n"
        "a.wav,spk1,anger,g1,F\n"
        "b.wav,spk2,Neutral,g2,\n"
        f"{tmp_path / 'data' / 'sub' / 'c.wav'},spk2,sadness,g2,M\n"
    )
    for name in ("csv", "csv-grouped"):
        manifest = scan(csv_registry.corpus(name), tmp_path / "data")  # the directory holding manifest.csv
        rows = [(c.path, c.speaker, c.label, c.group, c.gender) for c in manifest.clips]
        assert rows == [
            (tmp_path / "data" / "a.wav", "spk1", "anger", "g1", "F"),
            (tmp_path / "data" / "b.wav", "spk2", "neutral", "g2", None),
            (tmp_path / "data" / "sub" / "c.wav", "spk2", "sadness", "g2", "M"),
        ]
        assert manifest.corpus == name
    assert csv_registry.corpus("csv").spec.fold_by == "speaker"
    assert csv_registry.corpus("csv-grouped").spec.fold_by == "group"


def test_csv_problems_are_listed_with_line_numbers(csv_registry, tmp_path):
    write_tone(tmp_path / "a.wav")
    path = tmp_path / "clips.csv"
    path.write_text("speaker,path,label\ns1,a.wav,anger\ns1,missing.wav,anger\n,a.wav,happy\ns2,a.wav,neutral,extra\n")
    with pytest.raises(CorpusError) as error:
        scan(csv_registry.corpus("csv"), path)
    message = str(error.value)
    assert message.startswith(f"{path}: 5 problems in the manifest")
    assert f"line 3: audio file {tmp_path / 'missing.wav'} not found" in message
    assert "line 4: empty speaker for a.wav" in message
    assert "line 4: label 'happy' is not in the shared vocabulary" in message
    assert "line 4: clip 'a.wav' is listed twice (also on line 2)" in message
    assert "line 5: more fields than columns in the header" in message


def test_csv_header_and_location_errors(csv_registry, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("file,speeker,label\nx.wav,s,anger\n")
    with pytest.raises(CorpusError, match=r"missing columns \['path', 'speaker'\] and unknown columns \['file', 'speeker'\]"):
        scan(csv_registry.corpus("csv"), path)
    path.write_text("path,speaker,label\n")
    write_tone(tmp_path / "x.wav")
    with pytest.raises(CorpusError, match="lists no clips"):
        scan(csv_registry.corpus("csv"), path)
    path.write_text("path,speaker,label\nx.wav,s,anger\n")
    with pytest.raises(CorpusError, match=r"missing columns \['group'\]"):
        scan(csv_registry.corpus("csv-grouped"), path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match=rf"{tmp_path / 'empty'} holds no manifest\.csv"):
        scan(csv_registry.corpus("csv"), tmp_path / "empty")


def test_skipped_file_kinds():
    assert skip_kind(SkippedFile("x", excluded("song"))) == "excluded"
    assert skip_kind(SkippedFile("x", "not an audio file (.wav)")) == "not audio"
    assert skip_kind(SkippedFile("x", "unknown emotion code 'Q'")) == "problem"


def test_naming_convention_parse_makes_the_clip_from_the_name(tmp_path):
    naming = NamingConvention(pattern=r"(?P<speaker>\d\d)(?P<sentence>[ab]\d\d)(?P<code>[A-Z])(?P<gender>[mf])",
                              example="03a01Wm", labels={"W": "anger"}, language="de")
    clip = naming.parse(tmp_path / "03a01Wm.wav")
    assert clip == Clip("03a01Wm", tmp_path / "03a01Wm.wav", "03", "anger", gender="m", language="de", sentence="a01")
    assert "unknown emotion code 'X'" in naming.parse(tmp_path / "03a01Xm.wav")
    match = naming.match("03a01Wm")
    assert match.clip(tmp_path / "x.wav", speaker="s3", group="g").speaker == "s3"
    assert match.clip(tmp_path / "x.wav", group="g").clip_id == "x"


def test_manifest_builder_refuses_a_clip_found_twice_and_keeps_skipped_files(tmp_path):
    found = ManifestBuilder("toy", tmp_path)
    found.add(Clip("a", tmp_path / "a.wav", "s1", "anger"))
    found.skip(tmp_path / "notes.txt", "not an audio file")
    found.claim("b", tmp_path / "b.wav")
    assert "a" in found and "b" in found and "c" not in found
    with pytest.raises(CorpusError, match=r"corpus 'toy': clip 'a' appears twice, as .*a\.wav and .*copy/a\.wav"):
        found.add(Clip("a", tmp_path / "copy" / "a.wav", "s1", "anger"))
    manifest = found.manifest()
    assert [c.clip_id for c in manifest.clips] == ["a"] and manifest.root == tmp_path
    assert [(Path(s.path).name, s.reason) for s in manifest.skipped] == [("notes.txt", "not an audio file")]


# --- what cannot be benchmarked, and one file given as two clips ---------------------------------------


def test_validate_refuses_one_file_under_two_speakers_or_twice(tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    with pytest.raises(CorpusError) as error:
        validate(Manifest("c", [Clip("x", a, "s1", "anger"), Clip("y", b, "s1", "neutral"),
                                Clip("z", tmp_path / "sub" / ".." / "a.wav", "s2", "anger")]))
    message = str(error.value)
    assert "corpus 'c': the same audio file" in message and "a.wav is listed under two speakers, 's1' (clip 'x')" in message
    assert "and 's2' (clip 'z')" in message and "Give the file its one true speaker" in message
    with pytest.raises(CorpusError, match=r"a\.wav is listed twice, as clips 'x' and 'y' \(speaker 's1'\)"):
        validate(Manifest("c", [Clip("x", a, "s1", "anger"), Clip("y", a, "s1", "anger")]))


def _clips(rows: list[tuple[str, str]], tmp_path: Path, **fields) -> list[Clip]:
    return [Clip(f"c{i}", tmp_path / f"c{i}.wav", speaker, label, **fields) for i, (speaker, label) in enumerate(rows)]


def test_benchmark_problems_name_every_family(tmp_path):
    from ser_core.corpus import benchmark_problems, fold_problems
    one_class = Manifest("c", _clips([("s1", "anger"), ("s2", "anger")], tmp_path))
    assert benchmark_problems(one_class)[0].startswith("corpus 'c' has only one class ('anger', 2 clips)")
    many = Manifest("c", _clips([(f"s{i % 2}", f"class{i:03d}") for i in range(202)], tmp_path))
    assert benchmark_problems(many)[0].startswith("corpus 'c' has 202 classes (e.g. 'class000', 'class001', "
                                                  "'class002'); at most 100 are allowed")
    one_speaker = Manifest("c", _clips([("s1", "anger"), ("s1", "fear")], tmp_path))
    assert "has 1 speaker (s1): speaker-independent folds need at least 2" in benchmark_problems(one_speaker)[0]
    split = Manifest("c", _clips([("s1", "anger"), ("s2", "fear")], tmp_path))
    problems = fold_problems(split)
    assert problems == [
        "corpus 'c': fold 's1' trains on only class 'fear', so its model cannot tell classes apart; the folds need "
        "clips of at least 2 classes outside each fold. Add clips of other speakers.",
        "corpus 'c': fold 's2' trains on only class 'anger', so its model cannot tell classes apart; the folds need "
        "clips of at least 2 classes outside each fold. Add clips of other speakers.",
    ]
    fine = Manifest("c", _clips([("s1", "anger"), ("s1", "fear"), ("s2", "anger"), ("s2", "fear")], tmp_path))
    assert fold_problems(fine) == []
    # folds that hold out speaker and sentence group (as text-independent folds do), built by hand so that
    # no fold trains on the 'fear' clip: it can never be predicted
    from ser_core.protocol import Folds

    held = Manifest("c", _clips([("s1", "fear"), ("s1", "anger"), ("s2", "anger"), ("s2", "neutral")], tmp_path))
    folds = Folds(np.array([0, 1, 0, 1]), ("f0", "f1"), "by hand", np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]),
                  ((0, 0), (1, 0)))
    found = benchmark_problems(held, folds)
    assert found[-1].startswith("corpus 'c': class 'fear' never appears in any fold's training part"), found
    assert "fold 'f0' trains on only class 'neutral'" in found[0]


def test_inspect_marks_a_single_class_corpus_not_ok(toy, tmp_path):
    for speaker in ("s1", "s2"):
        for take in (1, 2):
            write_tone(tmp_path / "audio" / f"{speaker}_ang_{take}.wav")
    report = inspect(toy, tmp_path, read_audio=False)
    assert not report.ok and report.unusable[0].startswith("corpus 'toy' has only one class ('anger', 4 clips)")


def test_a_link_to_a_file_under_another_speaker_is_the_same_file(tmp_path):
    a = write_tone(tmp_path / "a.wav")
    (tmp_path / "link.wav").symlink_to(a)
    with pytest.raises(CorpusError, match=r"link\.wav is listed under two speakers, 's1' \(clip 'x'\) and 's2'"):
        validate(Manifest("c", [Clip("x", a, "s1", "anger"), Clip("y", tmp_path / "link.wav", "s2", "neutral")]))
