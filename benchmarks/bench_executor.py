"""The executor's wall time and scaling: EMO-DB SVM-IS09 ``paper`` cells and the demo suite, 1 and 2 workers.

Each measurement is one ``serbench run`` in a fresh process with a fresh feature cache and results
database, so it includes everything a user waits for: start-up, corpus scan, feature extraction,
the cells and writing the results. With 1 worker the cells run in that process; with 2 on a local
Dask cluster (``ser_core.executor``). ``--baseline DIR`` also times another serbench source tree (for
instance a ``git worktree`` of the commit before the Dask executor, whose 2 workers are a
``multiprocessing`` pool) with the same interpreter, and prints the ratio of the two.

    .venv/bin/python benchmarks/bench_executor.py [--path EMODB_WAV] [--baseline OLD_TREE] [--only emodb|demo]
        [--workers N ...]

Timings on a shared machine vary with its load; run both trees in the same invocation to compare.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def runs(emodb: Path) -> dict[str, list[str]]:
    return {
        "emodb": ["--suite", "paper", "--corpus", "emodb", "--system", "svm-is09", "--corpus-path", f"emodb={emodb}"],
        "demo": ["--suite", "demo"],
    }


def measure(tree: Path, args: list[str], workers: int) -> tuple[float, str]:
    """Wall seconds of one ``serbench run`` from source tree ``tree`` (fresh cache and database)."""
    with tempfile.TemporaryDirectory(prefix="serbench-bench-executor-") as scratch:
        env = dict(os.environ, SERBENCH_CACHE_DIR=str(Path(scratch) / "cache"),
                   SERBENCH_DATA_DIR=str(Path(scratch) / "data"), PYTHONPATH=str(tree))
        env.pop("SERBENCH_CONFIG", None)
        command = [sys.executable, "-m", "ser_core.cli", "run", *args, "--workers", str(workers),
                   "--db", str(Path(scratch) / "r.db")]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=scratch, capture_output=True, text=True)
        wall = time.perf_counter() - started
    summary = next((line for line in done.stdout.splitlines() if "cells computed" in line), "")
    if done.returncode != 0:
        summary = f"exit {done.returncode}: {(done.stderr or done.stdout).strip().splitlines()[-1:]}"
    return wall, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=os.environ.get("SERBENCH_EMODB") or None,
                        help="EMO-DB's wav/ directory (default: $SERBENCH_EMODB)")
    parser.add_argument("--baseline", type=Path, help="another serbench source tree to time the same way")
    parser.add_argument("--only", choices=("emodb", "demo"), action="append", help="run only this part (repeatable)")
    parser.add_argument("--workers", type=int, action="append", help="worker counts to time (default: 1 and 2)")
    args = parser.parse_args()
    trees = {"dask": HERE}
    if args.baseline:
        trees["baseline"] = args.baseline.resolve()
    selected = args.only or ["emodb", "demo"]
    if "emodb" in selected and (args.path is None or not Path(args.path).is_dir()):
        where = f"not found at {args.path}" if args.path else "not given"
        sys.exit(f"EMO-DB {where}: pass --path (its wav/ directory), set SERBENCH_EMODB, or use --only demo")
    args.path = Path(args.path) if args.path else None
    print(f"{os.cpu_count()} cores; trees: " + ", ".join(f"{name}={path}" for name, path in trees.items()))
    counts = args.workers or [1, 2]
    walls: dict[tuple[str, str, int], float] = {}
    for part in selected:
        for name, tree in trees.items():
            for workers in counts:
                wall, summary = measure(tree, runs(args.path)[part], workers)
                walls[name, part, workers] = wall
                print(f"{part:6} {name:9} workers={workers}: {wall:7.1f} s   {summary}", flush=True)
    print()
    for part in selected:
        for name in trees:
            if (name, part, 1) in walls and (name, part, 2) in walls:
                one, two = walls[name, part, 1], walls[name, part, 2]
                print(f"{part:6} {name:9} scaling 1 -> 2 workers: {one / two:.2f}x")
        if "baseline" in trees and 2 in counts:
            ratio = walls["dask", part, 2] / walls["baseline", part, 2]
            print(f"{part:6} dask / baseline wall time with 2 workers: {ratio:.2f} ({(ratio - 1) * 100:+.0f}%)")


if __name__ == "__main__":
    main()
