"""`serbench validate-plugin svm`: the four classical models conform to the plugin contract (moved
from the core's tests, which now validate the core's fakes)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_validate_plugin_passes_every_model():
    env = dict(os.environ, COLUMNS="300")
    out = subprocess.run([sys.executable, "-m", "ser_core.cli", "validate-plugin", "svm"], capture_output=True,
                         text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    rows = {}
    for line in out.stdout.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 4:
            rows[(cells[0], cells[1])] = (cells[2], cells[3])
    assert rows and all(result == "pass" for result, _ in rows.values()), rows
    assert "parameters" in rows[("model svm", "fits and predicts on functionals data")][1]
    for model in ("svm", "logreg", "mlp", "fusion"):
        assert rows[(f"model {model}", "predict_scores on functionals data")][0] == "pass"
    assert "argmax equals predict" in rows[("model logreg", "predict_scores on functionals data")][1]
    assert "declared scores_match_predict = False" in rows[("model svm", "predict_scores on functionals data")][1]
