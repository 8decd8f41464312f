"""The worked example in CONTRIBUTING.md works as written: its plugin registers, passes
`validate-plugin`, and its own test passes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from ser_core.plugins import load_registry
from ser_core.validate import validate_plugin

DOC = Path(__file__).resolve().parents[1] / "CONTRIBUTING.md"


def snippet(lang: str, marker: str) -> str:
    blocks = [body for kind, body in re.findall(r"```(\w+)\n(.*?)```", DOC.read_text(), re.S) if kind == lang]
    (found,) = [body for body in blocks if marker in body]
    return found


def test_the_worked_example_plugin(install_distribution, tmp_path):
    assert 'energy = "ser_plugin_energy"' in snippet("toml", "ser-plugin-energy")
    site = install_distribution("ser-plugin-energy", {"energy": "ser_plugin_energy"},
                                {"ser_plugin_energy": snippet("python", "def energy_stats")})
    checks = validate_plugin(load_registry(), "energy")
    assert len(checks) == 4 and all(c.passed for c in checks), [c for c in checks if not c.passed]

    test_file = tmp_path / "test_energy.py"
    test_file.write_text(snippet("python", "def test_energy"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


CODES = {"anger": "ang", "happiness": "hap", "neutral": "neu", "sadness": "con"}


def test_the_corpus_model_and_feature_examples_install_and_run_together(install_distribution, synthetic_manifest,
                                                                         serbench_cache, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from ser_core.cli import app

    assert 'mycorpus = "ser_plugin_mycorpus"' in snippet("toml", "ser-plugin-mycorpus")
    install_distribution("ser-plugin-mycorpus", {"mycorpus": "ser_plugin_mycorpus"},
                         {"ser_plugin_mycorpus": snippet("python", "NamingConvention(")})
    install_distribution("ser-plugin-centroid", {"centroid": "ser_plugin_centroid"},
                         {"ser_plugin_centroid": snippet("python", "class NearestCentroid")})
    install_distribution("ser-plugin-energy", {"energy": "ser_plugin_energy"},
                         {"ser_plugin_energy": snippet("python", "def energy_stats")})
    registry = load_registry()
    for name in ("mycorpus", "centroid"):
        checks = validate_plugin(registry, name)
        assert checks and all(c.passed for c in checks), [c for c in checks if not c.passed]

    # A copy of the synthetic corpus under the example's naming convention (speakers f01.., m01..).
    corpus = tmp_path / "mycorpus"
    corpus.mkdir()
    for clip in synthetic_manifest.clips:
        take = clip.clip_id.rsplit("_", 1)[1]
        (corpus / f"{clip.speaker}_{CODES[clip.label]}_{take}.wav").write_bytes(clip.path.read_bytes())
    (corpus / "f01_xxx_00.wav").write_bytes(synthetic_manifest.clips[0].path.read_bytes())
    (corpus / "README.txt").write_text("My Corpus")
    config = snippet("toml", "[suites.mine]").replace("/data/mycorpus", str(corpus))
    config = config.replace('"centroid-energy", "svm-egemaps"', '"centroid-energy"')  # keep the test fast
    (tmp_path / "benchmarks.toml").write_text(config)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SERBENCH_CONFIG", raising=False)
    runner = CliRunner()

    info = runner.invoke(app, ["corpus", "info", "mycorpus"])
    text = " ".join(info.output.split())
    assert "anger happiness neutral contempt total" in text and "found 12 12 12 12 48" in text, text
    assert "1 file excluded: unlabelled takes" in text and "1 files that are not audio" in text

    run = runner.invoke(app, ["run", "--suite", "mine", "--workers", "1", "--db", str(tmp_path / "r.db")])
    assert run.exit_code == 0, run.output
    assert "4 cells computed" in run.output and "centroid-energy" in run.output and "mycorpus" in run.output


def test_the_benchmark_example_runs_its_column_beside_a_shipped_system(install_distribution, serbench_cache, tmp_path,
                                                                        monkeypatch):
    from typer.testing import CliRunner

    from ser_core.cli import app

    assert 'mine = "ser_benchmark_mine"' in DOC.read_text()
    install_distribution("ser-benchmark-mine", {"mine": "ser_benchmark_mine"},
                         {"ser_benchmark_mine": snippet("python", "def register_benchmarks")})
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SERBENCH_CONFIG", raising=False)
    runner = CliRunner()
    listed = runner.invoke(app, ["suites", "--json"])
    origin = {s["name"]: s["defined_in"] for s in json.loads(listed.output)["suites"]}
    assert origin["mine-synthetic"].startswith("ser-benchmark-mine ")
    run = runner.invoke(app, ["run", "--suite", "mine-synthetic", "--workers", "1", "--db", str(tmp_path / "r.db")])
    assert run.exit_code == 0, run.output
    board = runner.invoke(app, ["leaderboard", "--db", str(tmp_path / "r.db"), "--format", "json", "--resamples", "100"])
    assert board.exit_code == 0, board.output
    cells = {(e["corpus"], e["system"]): e["uar_mean"] for e in json.loads(board.output)["entries"]}
    assert set(cells) == {("synthetic", "logreg-egemaps"), ("synthetic", "svm-egemaps")}
    assert all(v is not None and v > 0.25 for v in cells.values()), cells  # above chance (4 classes)
