"""Wheels: every package builds, and ser-plugin-zhang / ser-plugin-svm + ser-plugin-opensmile install
alone from them into fresh virtual environments and run (``scripts/build_wheels.py --check``).

It builds every wheel and installs TensorFlow into a fresh environment: 3.5 to 7 minutes on 2 cores, so
it runs only when asked for: ``SERBENCH_WHEELS_TEST=1 python -m pytest tests/test_wheels.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SERBENCH_WHEELS_TEST") != "1",
                    reason="builds and installs every wheel (3.5-7 min); set SERBENCH_WHEELS_TEST=1 to run it")
def test_wheels_build_and_install_alone(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_wheels.py"), str(tmp_path), "--check"],
                         capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stdout + out.stderr
    wheels = sorted(p.name.split("-")[0] for p in tmp_path.glob("*.whl"))
    packages = ["ser_core"] + sorted(p.name.replace("-", "_") for p in (ROOT / "plugins").iterdir()
                                     if (p / "pyproject.toml").exists())
    assert wheels == sorted(packages)
    assert "all checks passed" in out.stdout
