"""Build a wheel for ser-core and for every package in plugins/, and check that they install alone.

    python scripts/build_wheels.py DIR            # build every wheel into DIR
    python scripts/build_wheels.py DIR --check    # ... then install and run them in fresh venvs

``--check`` creates fresh virtual environments (under DIR/venvs) and, taking serbench's packages only
from DIR and third-party ones from the package index pip is configured with, at the versions
``constraints.txt`` pins (the packages themselves declare ranges):

1. installs ``ser-plugin-zhang`` alone (which brings ser-keras, Keras and TensorFlow) and runs
   ``serbench models info zhang --feature raw5s --classes 4``: it must print the model, with none of
   TensorFlow's start-up chatter;
2. installs ``ser-plugin-svm`` and ``ser-plugin-opensmile`` alone (no benchmark distribution) and runs
   an SVM on eGeMAPS on the embedded synthetic corpus from a ``benchmarks.toml`` written in an empty
   directory: the board must show it.

Each step prints its wall time; any failure exits with status 1 and the command's output.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def packages() -> list[Path]:
    """The core and every plugin package, in that order."""
    return [ROOT, *sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file())]


def run(command: list[str], *, cwd: Path | None = None, env: dict | None = None, expect: int = 0) -> str:
    """Run ``command``; return its combined output, or exit 1 when its status is not ``expect``."""
    started = time.perf_counter()
    out = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    shown = " ".join(str(c) for c in command)
    print(f"  [{time.perf_counter() - started:6.1f} s] {shown}", flush=True)
    if out.returncode != expect:
        print(f"FAILED (exit status {out.returncode}, expected {expect}):\n{out.stdout}\n{out.stderr}", file=sys.stderr)
        sys.exit(1)
    return out.stdout + out.stderr


def build(dest: Path) -> list[Path]:
    """One wheel per package into ``dest`` (built in isolation, as a publisher would)."""
    dest.mkdir(parents=True, exist_ok=True)
    for package in packages():
        with tempfile.TemporaryDirectory() as scratch:  # keep build/ and *.egg-info out of the tree
            source = Path(scratch) / package.name
            ignore = shutil.ignore_patterns(".venv", "build", "dist", "*.egg-info", "__pycache__", ".git",
                                            "plugins", "tests", "docs", "benchmarks", "scripts")
            shutil.copytree(package, source, ignore=ignore)
            run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dest), str(source)])
    return sorted(dest.glob("*.whl"))


def fresh_venv(path: Path) -> tuple[Path, dict]:
    """A new virtual environment at ``path``; its bin directory and an environment that uses it."""
    if path.exists():
        shutil.rmtree(path)
    run([sys.executable, "-m", "venv", str(path)])
    bin_dir = path / "bin"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SERBENCH_", "PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    return bin_dir, env


def check(dest: Path) -> None:
    """The install checks of the module docstring."""
    work = dest / "venvs"
    work.mkdir(exist_ok=True)
    pip_from = ["-m", "pip", "install", "-q", "--find-links", str(dest), "-c", str(ROOT / "constraints.txt")]

    print("ser-plugin-zhang alone:")
    bin_dir, env = fresh_venv(work / "zhang")
    run([str(bin_dir / "python"), *pip_from, "ser-plugin-zhang"], env=env)
    info = ["models", "info", "zhang", "--feature", "raw5s", "--classes", "4"]
    listed = run([str(bin_dir / "serbench"), "list"], env=env, cwd=work)
    print("  installed:", ", ".join(sorted({w for w in listed.split() if w.startswith("ser-")})))
    summary = run([str(bin_dir / "serbench"), *info], env=env, cwd=work)
    if "parameters: total" not in summary or "oneDNN" in summary:
        sys.exit(f"FAILED: serbench models info zhang printed:\n{summary}")
    print("  " + next(line for line in summary.splitlines() if line.startswith("parameters:")))

    print("ser-plugin-svm + ser-plugin-opensmile alone:")
    bin_dir, env = fresh_venv(work / "svm")
    run([str(bin_dir / "python"), *pip_from, "ser-plugin-svm", "ser-plugin-opensmile"], env=env)
    empty = work / "empty"
    shutil.rmtree(empty, ignore_errors=True)
    empty.mkdir()
    (empty / "benchmarks.toml").write_text('[systems.svm-egemaps]\nmodel = "svm"\nfeature = "egemaps"\n\n'
                                           '[suites.demo]\ncorpora = ["synthetic"]\nsystems = ["svm-egemaps"]\n'
                                           'repeats = 1\n')
    env = {**env, "SERBENCH_CACHE_DIR": str(work / "cache")}
    board = run([str(bin_dir / "serbench"), "run"], env=env, cwd=empty)
    if "svm-egemaps" not in board or "synthetic" not in board or "UAR %" not in board:
        sys.exit(f"FAILED: the demo's board is missing:\n{board}")
    print("  " + next(line for line in board.splitlines() if "cells computed" in line))
    for name, wanted in (("tensorflow", False), ("keras", False), ("librosa", False), ("sklearn", True)):
        found = subprocess.run([str(bin_dir / "python"), "-c", f"import {name}"], capture_output=True).returncode == 0
        if found != wanted:
            sys.exit(f"FAILED: {name} is {'installed' if found else 'missing'} in the svm + opensmile environment")
    print("  neither TensorFlow, Keras nor librosa was installed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="directory for the wheels (created if missing)")
    parser.add_argument("--check", action="store_true", help="install and run them in fresh venvs")
    parser.add_argument("--no-build", action="store_true", help="use the wheels already in DIR")
    args = parser.parse_args()
    dest = args.dest.resolve()
    started = time.perf_counter()
    wheels = sorted(dest.glob("*.whl")) if args.no_build else build(dest)
    print(f"{len(wheels)} wheels in {dest} ({time.perf_counter() - started:.0f} s)")
    if args.check:
        check(dest)
        print(f"all checks passed ({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
