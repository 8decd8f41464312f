"""ser-benchmark-keesing2020: the study's systems and suites from the repository's top-level
benchmarks.toml (one file, shipped as this package's data), and its Table 3 as published references."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
import zipfile
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = Path(__file__).resolve().parents[1]
STUDY_CORPORA = ("cafe", "cremad", "demos", "emodb", "emofilm", "enterface", "iemocap", "jl", "mspimprov",
                 "portuguese", "ravdess", "savee", "shemo", "smartkom", "tess")
STUDY_SYSTEMS = ("A1-aldeneh-logmel40", "A2-aldeneh-logmel240", "A3-aldeneh-spec5s240", "L-latif-raw5s",
                 "N-zhang-raw5s", "O-zhao-spec5s40", "svm-is09")


def registered():
    from ser_core.suites import registered as registered_benchmarks

    return registered_benchmarks()


def test_the_installed_benchmarks_file_is_the_repositorys_top_level_file():
    installed = files("ser_benchmark_keesing2020") / "benchmarks.toml"
    assert installed.read_bytes() == (ROOT / "benchmarks.toml").read_bytes()


def test_the_wheel_ships_the_top_level_file_itself(tmp_path):
    """The package's benchmarks.toml is a link to the top-level file: the wheel must hold its content."""
    try:  # build with this environment's setuptools when it is recent enough, else let pip fetch one
        import setuptools

        local = int(setuptools.__version__.split(".")[0]) >= 77
    except ImportError:
        local = False
    flags = ["--no-build-isolation"] if local else []
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *flags, "-q",
                            "-w", str(tmp_path), str(PACKAGE)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("ser_benchmark_keesing2020-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("ser_benchmark_keesing2020/benchmarks.toml")
        names = set(archive.namelist())
    assert shipped == (ROOT / "benchmarks.toml").read_bytes()
    assert {"ser_benchmark_keesing2020/table3.csv", "ser_benchmark_keesing2020/human.csv"} <= names


def test_the_paper_suites_cover_the_study_grid():
    benchmarks = registered()
    paper, quick = benchmarks.suite("paper"), benchmarks.suite("paper-quick")
    assert paper.corpora == STUDY_CORPORA and tuple(s.name for s in paper.systems) == STUDY_SYSTEMS
    assert paper.repeats == 3 and not paper.overrides, "the paper suite runs the study's settings"
    assert paper.corpora == quick.corpora and paper.systems == quick.systems
    assert {s.name for s in quick.systems} - set(quick.overrides) == {"svm-is09"}
    assert {benchmarks.suite_origins[n] for n in ("paper", "paper-quick", "paper-cpu")} == {
        "ser-benchmark-keesing2020 0.1.0"}


def test_paper_cpu_runs_the_study_systems_on_one_corpus_within_the_study_budget():
    """Fewer epochs only ever with a higher learning rate (1e-4 x 50 / epochs, at most 1e-3), every
    system valid for its model (precision included), and the description says it is not the study's."""
    from ser_core.plan import check_suite
    from ser_core.plugins import load_registry

    benchmarks = registered()
    cpu, paper = benchmarks.suite("paper-cpu"), benchmarks.suite("paper")
    assert cpu.systems == paper.systems and cpu.corpora == ("emodb",) and cpu.repeats == 1
    assert "NOT the study's settings" in cpu.description
    for name, settings in cpu.overrides.items():
        epochs = settings.get("epochs", 50)
        assert 1 <= epochs <= 50 and settings.get("precision", "float32") in ("float32", "auto", "mixed_bfloat16")
        expected = min(1e-3, 1e-4 * 50 / epochs)
        assert settings.get("learning_rate", 1e-4) == pytest.approx(expected, rel=0.25), name
    check_suite(load_registry(), cpu)  # every override is a valid setting of its model


def test_table_3_is_registered_whole():
    from ser_core.plugins import load_registry

    table = load_registry().reference("keesing2020").spec
    assert table.measure == "uar" and "Keesing" in table.citation
    assert len(table.rows) == 105
    assert {(r.corpus, r.system) for r in table.rows} == {(c, s) for c in STUDY_CORPORA for s in STUDY_SYSTEMS}
    spot = {("emodb", "svm-is09"): 82.1, ("emodb", "A1-aldeneh-logmel40"): 73.2, ("smartkom", "A1-aldeneh-logmel40"): 15.8,
            ("tess", "N-zhang-raw5s"): 30.6, ("jl", "A3-aldeneh-spec5s240"): 47.9, ("cafe", "L-latif-raw5s"): 22.3,
            ("ravdess", "svm-is09"): 60.6, ("mspimprov", "O-zhao-spec5s40"): 48.6}
    assert {k: table.value(*k) for k in spot} == spot
    assert {r.repeats for r in table.rows if r.system == "N-zhang-raw5s"} == {1}, "the study ran Zhang once"
    assert {r.repeats for r in table.rows if r.system != "N-zhang-raw5s"} == {3}


def test_the_human_row_is_a_separate_accuracy_reference():
    from ser_core.plugins import load_registry

    human = load_registry().reference("keesing2020-human").spec
    assert human.measure == "accuracy" and {r.system for r in human.rows} == {"human"}
    values = {r.corpus: r.value for r in human.rows}
    assert len(values) == 11 and not {"cafe", "enterface", "shemo", "smartkom"} & set(values), "blank where unknown"
    assert (values["emodb"], values["cremad"], values["tess"]) == (84.3, 40.0, 82.0)


def serbench(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ if env is None else env, COLUMNS="200")  # wide enough that no table cell wraps
    return subprocess.run([sys.executable, "-m", "ser_core.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600)


def test_the_reference_by_name_prints_every_emodb_difference(tmp_path):
    done = serbench("leaderboard", "--db", str(ROOT / "docs" / "results" / "emodb.db"), "--reference", "keesing2020",
                    "--resamples", "100", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "Published numbers (keesing2020)" in text
    rows = [line for line in text.splitlines() if line.strip("│ ").startswith("emodb") and "%" not in line]
    published = {s: v for s, v in zip(STUDY_SYSTEMS, ("73.2", "74.6", "72.7", "45.2", "49.7", "53.7", "82.1"))}
    for system, value in published.items():
        (row,) = [r for r in rows if f" {system} " in r and f" {value} " in r]
        assert any(cell.strip().startswith(("+", "-")) for cell in row.split("│")), row
    human = serbench("leaderboard", "--db", str(ROOT / "docs" / "results" / "emodb.db"), "--reference",
                     "keesing2020-human", "--resamples", "100", cwd=tmp_path)
    assert human.returncode == 0, human.stderr
    assert "Published accuracy (keesing2020-human): not a UAR" in " ".join(human.stdout.split())
    assert [line for line in human.stdout.splitlines() if "emodb" in line and " human " in line and " 84.3 " in line]
    typo = serbench("leaderboard", "--db", str(ROOT / "docs" / "results" / "emodb.db"), "--reference",
                    "keesing202", cwd=tmp_path)
    assert typo.returncode == 2 and "did you mean 'keesing2020'" in " ".join(typo.stderr.split())


def write_savee_stand_in(root: Path) -> Path:
    """SAVEE's layout (AudioData/DC/a01.wav) with short generated clips: each emotion its own pitch."""
    rate = 16_000
    rng = np.random.default_rng(7)
    codes = ("a", "d", "f", "h", "n", "sa", "su")
    for speaker in ("DC", "JE", "JK", "KL"):
        folder = root / "AudioData" / speaker
        folder.mkdir(parents=True)
        for k, code in enumerate(codes):
            for i in range(1, 4):
                t = np.arange(int(0.8 * rate)) / rate
                pitch = 120 + 45 * k + rng.normal(0, 4)
                signal = 0.3 * np.sin(2 * np.pi * pitch * t) + 0.02 * rng.standard_normal(t.size)
                with wave.open(str(folder / f"{code}{i:02d}.wav"), "wb") as out:
                    out.setnchannels(1)
                    out.setsampwidth(2)
                    out.setframerate(rate)
                    out.writeframes((signal * 32767).astype(np.int16).tobytes())
    return root


def test_the_reference_prints_the_savee_row_of_a_database_holding_savee(tmp_path):
    data = write_savee_stand_in(tmp_path / "savee")
    env = dict(os.environ, SERBENCH_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("SERBENCH_CONFIG", None)
    db = tmp_path / "r.db"
    ran = serbench("run", "--suite", "paper-quick", "--corpus", "savee", "--system", "svm-is09", "--corpus-path",
                   f"savee={data}", "--db", str(db), "--workers", "1", cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    done = serbench("leaderboard", "--db", str(db), "--reference", "keesing2020", "--resamples", "100",
                    cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    (row,) = [line for line in done.stdout.splitlines() if "savee" in line and " 57.0 " in line]
    assert " svm-is09 " in row
