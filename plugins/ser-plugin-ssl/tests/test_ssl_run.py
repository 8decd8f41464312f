"""`serbench run` end to end: a suite of a tiny SSL encoder (local-directory route) and the PyTorch head
on the synthetic corpus; a board row comes out, and neither TensorFlow nor Keras is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ser_plugin_ssl import MODEL_DIR_VARIABLE

SUITE = """
[systems.tiny-wavlm-head]
model = "ssl-head"
feature = "wavlm-base-plus"
settings = { hidden = 16, epochs = 10, patience = 5, learning_rate = 1e-2 }

[suites.tiny-ssl]
corpora = ["synthetic"]
systems = ["tiny-wavlm-head"]
repeats = 1
"""

PROBE = """
import sys, time
from typer.testing import CliRunner
from ser_core.cli import app
started = time.perf_counter()
result = CliRunner().invoke(app, sys.argv[1:])
print(result.output)
print("EXIT", result.exit_code, "SECONDS", round(time.perf_counter() - started, 2))
print("HEAVY", sorted(m for m in ("tensorflow", "keras", "tf_keras", "opensmile", "librosa") if m in sys.modules))
print("TORCH", "torch" in sys.modules)
"""


def test_serbench_run_with_the_tiny_ssl_feature_and_the_torch_head(tiny_models, tmp_path):
    config = tmp_path / "benchmarks.toml"
    config.write_text(SUITE)
    env = {
        **os.environ,
        MODEL_DIR_VARIABLE: str(tiny_models),
        "SERBENCH_DB": str(tmp_path / "serbench.db"),
        "SERBENCH_TORCH_THREADS": "1",  # tiny tensors: threads only add synchronisation
    }
    args = ["run", "--suite", "tiny-ssl", "--config", str(config), "--workers", "0"]
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "EXIT 0 " in out.stdout, out.stdout
    assert "HEAVY []" in out.stdout, "the torch head's run imports neither TensorFlow nor Keras"
    assert "TORCH True" in out.stdout  # it did run the torch code in this process
    board = subprocess.run([sys.executable, "-m", "ser_core.cli", "leaderboard", "--format", "json"],
                           capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert board.returncode == 0, board.stderr
    entries = {(e["corpus"], e["system"]): e for e in json.loads(board.stdout)["entries"]}
    row = entries[("synthetic", "tiny-wavlm-head")]
    assert row["repeats_complete"] == 1 and row["failed_cells"] == 0
    assert row["clips_scored"] == row["clips_in_corpus"] == 320
    assert 0.0 <= row["uar_mean"] <= 1.0


def test_a_run_without_the_model_is_one_clear_error(tmp_path):
    config = tmp_path / "benchmarks.toml"
    config.write_text('[suites.offline]\ncorpora = ["synthetic"]\nsystems = ["hubert-base-head"]\nrepeats = 1\n')
    env = {k: v for k, v in os.environ.items() if k not in (MODEL_DIR_VARIABLE, "SERBENCH_DEBUG")}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), SERBENCH_DB=str(tmp_path / "serbench.db"))
    out = subprocess.run([sys.executable, "-m", "ser_core.cli", "run", "--suite", "offline", "--config", str(config)],
                         capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    text = " ".join((out.stdout + out.stderr).split())
    assert out.returncode != 0 and "Traceback" not in text, text
    assert "facebook/hubert-base-ls960" in text and MODEL_DIR_VARIABLE in text and "hf download" in text, text
