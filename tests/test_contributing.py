"""The worked example in CONTRIBUTING.md works as written: its plugin registers, passes
`validate-plugin`, and its own test passes."""

from __future__ import annotations

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
