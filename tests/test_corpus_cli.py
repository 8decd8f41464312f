"""``serbench corpus info``: clips per label, speakers, durations, warnings, ``--strict`` and bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile
from typer.testing import CliRunner

from ser_core.api.testing import fake_suite_toml
from ser_core.cli import app

runner = CliRunner()


def invoke(*args: str, **env: str):
    result = runner.invoke(app, list(args), env={"COLUMNS": "120", **env})
    return result, re.sub(r"\s+", " ", result.output)


def write_tone(path: Path, rate: int = 16_000, seconds: float = 0.5) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, (0.1 * np.sin(np.arange(int(rate * seconds)) * 0.2)).astype(np.float32), rate)


@pytest.fixture
def small_emodb(tmp_path):
    """Five EMO-DB-named clips plus one with an unknown code and one zero-length file."""
    root = tmp_path / "wav"
    for name in ("03a01Fa", "03a01Wa", "08a02Ta", "09b01Nb", "10b03Lc"):
        write_tone(root / f"{name}.wav", seconds=1.0 if name == "03a01Fa" else 0.5)
    write_tone(root / "03a01Qa.wav")
    (root / "11a01Ea.wav").write_bytes(b"")
    return root


def test_mismatches_are_warnings_and_strict_fails(small_emodb):
    result, text = invoke("corpus", "info", "emodb", "--path", str(small_emodb))
    assert result.exit_code == 0, text
    assert "anger happiness sadness fear disgust neutral boredom total" in text  # the corpus's labels
    assert "found 1 1 1 1 1 1 6" in text  # no fear clip; the empty (disgust) clip counts
    assert "expected 127 71 62 69 46 79 81 535" in text
    assert "Speakers: 5 (expected 10)" in text
    assert "unknown emotion code 'Q'" in text and "03a01Qa.wav" in text
    assert f"{small_emodb / '11a01Ea.wav'}: the file is empty (0 bytes)" in text
    assert "anger: 126 clips missing (expected 127, found 1)" in text
    assert "Duration: total 3.00 s, min 0.50 s, max 1.00 s" in text
    assert "Sample rates found: 16000 Hz (5 clips)" in text
    strict, _ = invoke("corpus", "info", "emodb", "--path", str(small_emodb), "--strict")
    assert strict.exit_code == 1


def test_location_from_the_environment_and_no_audio(small_emodb):
    result, text = invoke("corpus", "info", "emodb", "--no-audio", SERBENCH_CORPUS_EMODB=str(small_emodb.parent))
    assert result.exit_code == 0, text
    assert f"read from: {small_emodb}" in text
    assert "Audio headers not read" in text and "the file is empty" not in text


def test_location_from_the_benchmarks_file(small_emodb, tmp_path, serbench_fakes):
    config = tmp_path / "bench.toml"
    config.write_text(
        fake_suite_toml(("emodb",), suite="mine") + '\n'
        '[corpora.emodb]\npath = "wav"\n'  # relative to the benchmarks file
    )
    result, text = invoke("corpus", "info", "emodb", "--config", str(config), "--no-audio")
    assert result.exit_code == 0, text
    assert f"read from: {small_emodb}" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["emodb", "--path", "{tmp}/missing"], "{tmp}/missing does not exist"),
        (["emodb", "--path", "{tmp}"], "no clips found, the directory holds no files"),
        (["emodbb", "--path", "{tmp}"], "unknown corpus 'emodbb'. Did you mean 'emodb'?"),
        (["emodb"], "SERBENCH_CORPUS_EMODB=DIR"),
    ],
)
def test_bad_input_is_a_message_not_a_traceback(tmp_path, monkeypatch, args, message):
    monkeypatch.delenv("SERBENCH_CORPUS_EMODB", raising=False)
    monkeypatch.chdir(tmp_path)  # no benchmarks.toml here
    result, text = invoke("corpus", "info", *(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert result.exit_code == 2
    assert message.replace("{tmp}", str(tmp_path)) in text
    assert "Traceback" not in text


def test_a_benchmarks_file_whose_suites_use_shipped_systems_gives_its_corpus_paths(small_emodb, tmp_path, monkeypatch):
    """`serbench run` reads ./benchmarks.toml on top of the shipped suites; `corpus info`, `corpus list` and
    `features extract` read it alone, and refused a valid file ("unknown system 'svm-is09'")."""
    monkeypatch.delenv("SERBENCH_CORPUS_EMODB", raising=False)
    monkeypatch.delenv("SERBENCH_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "benchmarks.toml").write_text(
        f'[corpora.emodb]\npath = "{small_emodb}"\n\n[suites.mine]\ncorpora = ["emodb"]\nsystems = ["svm-is09"]\n')
    result, text = invoke("corpus", "info", "emodb", "--no-audio")
    assert "unknown system" not in text and str(small_emodb) in text, text
    listed, text = invoke("corpus", "list", "--json")
    assert listed.exit_code == 0, text
    [emodb] = [row for row in json.loads(listed.stdout) if row["corpus"] == "emodb"]
    assert emodb["available"] and emodb["where"] == str(small_emodb)


def test_csv_corpus_info(tmp_path):
    for name in ("a", "b", "c", "d"):
        write_tone(tmp_path / f"{name}.wav", rate=44_100)
    (tmp_path / "mine.csv").write_text("path,speaker,label,group\na.wav,s1,anger,x\nd.wav,s1,fear,x\n"
                                       "b.wav,s2,fear,y\nc.wav,s2,anger,y\n")
    result, text = invoke("corpus", "info", "csv-grouped", "--path", str(tmp_path / "mine.csv"), "--strict")
    assert result.exit_code == 0, text
    assert "found 2 2 4" in text
    assert "Groups: 2 (CV folds use these groups): x (2), y (2)" in text
    assert "Sample rates found: 44100 Hz (4 clips)" in text


@pytest.mark.emodb
def test_real_emodb_is_table_1_and_passes_strict(emodb_dir):
    result, text = invoke("corpus", "info", "emodb", "--path", emodb_dir, "--strict")
    assert result.exit_code == 0, text
    assert "found 127 71 62 69 46 79 81 535" in text
    assert "expected 127 71 62 69 46 79 81 535" in text
    assert "Speakers: 10 (expected 10)" in text
    assert "F: 5: 08, 09, 13, 14, 16" in text and "M: 5: 03, 10, 11, 12, 15" in text
    assert "Sample rates found: 16000 Hz (535 clips)" in text
    assert "OK: 535 clips, as expected." in text
    assert "warning" not in text


def _csv(tmp_path: Path, rows: str, header: str = "path,speaker,label") -> Path:
    for line in rows.strip().splitlines():
        write_tone(tmp_path / line.split(",")[0])
    path = tmp_path / "mine.csv"
    path.write_text(f"{header}\n{rows.strip()}\n")
    return path


@pytest.mark.parametrize("rows, corpus, reason", [
    ("a.wav,s1,anger\nb.wav,s2,anger\nc.wav,s3,anger",
     "csv", "corpus 'csv' has only one class ('anger', 3 clips): any model scores 100 % UAR on it"),
    ("a.wav,s1,anger\nb.wav,s1,fear\nc.wav,s1,fear",
     "csv", "corpus 'csv' has 1 speaker (s1): speaker-independent folds need at least 2"),
    ("a.wav,s1,anger,g1\nb.wav,s2,fear,g1",
     "csv-grouped", "corpus 'csv-grouped' has 1 CV group (g1): CV group-independent folds need at least 2"),
    ("a.wav,s1,anger\nb.wav,s1,anger\nc.wav,s2,fear",  # each speaker one class: no fold trains on two
     "csv", "corpus 'csv': fold 's1' trains on only class 'fear', so its model cannot tell classes apart"),
])
def test_a_corpus_that_cannot_be_benchmarked_is_not_ok_and_exits_1(tmp_path, rows, corpus, reason):
    header = "path,speaker,label,group" if corpus == "csv-grouped" else "path,speaker,label"
    path = _csv(tmp_path, rows, header)
    for strict in ((), ("--strict",)):
        result, text = invoke("corpus", "info", corpus, "--path", str(path), "--no-audio", *strict)
        assert result.exit_code == 1, text
        assert f"not usable: {reason}" in text and f"NOT OK: {corpus} cannot be cross-validated or scored" in text
        assert "OK: " not in text.replace("NOT OK: ", "") and "Traceback" not in text


def test_the_same_file_under_two_speakers_is_refused_naming_both(tmp_path):
    path = _csv(tmp_path, "a.wav,s1,anger\nb.wav,s2,fear\nc.wav,s2,anger\n./a.wav,s3,fear")
    result, text = invoke("corpus", "info", "csv", "--path", str(path), "--no-audio")
    assert result.exit_code == 2, text
    assert "line 5: the same audio file as line 2 (./a.wav) is listed under two speakers, 's1' (line 2) and 's3'" in text
    assert "folds would test on a recording they trained on" in text and "Traceback" not in text


def test_the_same_content_hash_under_two_speakers_is_refused(tmp_path):
    digest = "ab" * 32
    path = _csv(tmp_path, f"a.wav,s1,anger,{digest}\nb.wav,s2,fear,{digest.upper()}\nc.wav,s2,anger,cd",
                header="path,speaker,label,sha256")
    result, text = invoke("corpus", "info", "csv", "--path", str(path), "--no-audio")
    assert result.exit_code == 2, text
    assert ("line 3: the same audio content (sha256) as line 2 (b.wav) is listed under two speakers, 's1' (line 2) "
            "and 's2'") in text


def test_serbench_run_refuses_a_single_class_corpus_before_any_work(tmp_path, serbench_fakes):
    path = _csv(tmp_path, "a.wav,s1,anger\nb.wav,s2,anger\nc.wav,s3,anger")
    config = tmp_path / "bench.toml"
    config.write_text(fake_suite_toml(("csv",), suite="one"))
    db = tmp_path / "r.db"
    for extra in (["--dry-run"], []):
        result, text = invoke("run", "--config", str(config), "--suite", "one", "--db", str(db),
                              "--corpus-path", f"csv={path}", "--workers", "0", *extra,
                              SERBENCH_CACHE_DIR=str(tmp_path / "cache"))
        assert "csv: refused, it cannot be cross-validated or scored: corpus 'csv' has only one class" in text, text
        assert "any model scores 100 % UAR on it" in text and "Traceback" not in text
    assert result.exit_code == 1 and "Nothing ran" in text and "0 cells computed" in text
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.npz"))  # nothing extracted
