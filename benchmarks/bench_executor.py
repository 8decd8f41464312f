"""The executor's wall time and scaling: EMO-DB SVM-IS09 ``paper`` cells and the demo suite, 1 and 2 workers.

Each measurement is one ``serbench run`` in a fresh process with a fresh feature cache and results
database, so it includes everything a user waits for: start-up, corpus scan, feature extraction,
the cells and writing the results. With 1 worker the cells run in that process; with 2 on a local
Dask cluster (``ser_core.executor``). ``--baseline DIR`` also times another serbench source tree (for
instance a ``git worktree`` of the commit before a change to the core) with the same interpreter,
and prints the ratio of the two. Each tree runs with its own core and its own plugins (the tree and
every ``plugins/*`` folder of it come first on ``PYTHONPATH``), so a baseline is measured as it was.
``--keep DIR`` keeps each run's results database as ``DIR/TREE-PART-wN-rR.db``, for
``scripts/same_cells.py`` (do the two trees, the two engines, and two runs of one tree store the
same cells?).

    .venv/bin/python benchmarks/bench_executor.py [--path EMODB_WAV] [--baseline OLD_TREE] [--only emodb|demo]
        [--workers N ...] [--repeats R] [--keep DIR]

Timings on a shared machine vary with its load, and the load drifts over a long invocation. So the
trees take turns: with ``--repeats R`` each measurement is made R times, the order of the trees
reversed on every other round (this, baseline, baseline, this, ...), and the fastest run of each is
compared (the one the machine disturbed least; the median is printed too).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
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


def source_path(tree: Path) -> str:
    """``PYTHONPATH`` for running ``tree``'s core with ``tree``'s own plugins."""
    return os.pathsep.join([str(tree), *(str(p) for p in sorted((tree / "plugins").glob("*")) if p.is_dir())])


def measure(tree: Path, args: list[str], workers: int, keep: Path | None = None) -> tuple[float, str]:
    """Wall seconds of one ``serbench run`` from source tree ``tree`` (fresh cache and database);
    the database is copied to ``keep`` when given."""
    with tempfile.TemporaryDirectory(prefix="serbench-bench-executor-") as scratch:
        env = dict(os.environ, SERBENCH_CACHE_DIR=str(Path(scratch) / "cache"),
                   SERBENCH_DATA_DIR=str(Path(scratch) / "data"), PYTHONPATH=source_path(tree))
        env.pop("SERBENCH_CONFIG", None)
        command = [sys.executable, "-m", "ser_core.cli", "run", *args, "--workers", str(workers),
                   "--db", str(Path(scratch) / "r.db")]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=scratch, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if keep is not None and (Path(scratch) / "r.db").is_file():
            shutil.copyfile(Path(scratch) / "r.db", keep)
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
    parser.add_argument("--repeats", type=int, default=1,
                        help="measure each tree this many times, taking turns; the fastest runs are compared (default: 1)")
    parser.add_argument("--keep", type=Path, help="keep each run's results database in this folder")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    trees = {"this": HERE}
    if args.baseline:
        trees["baseline"] = args.baseline.resolve()
    selected = args.only or ["emodb", "demo"]
    if "emodb" in selected and (args.path is None or not Path(args.path).is_dir()):
        where = f"not found at {args.path}" if args.path else "not given"
        sys.exit(f"EMO-DB {where}: pass --path (its wav/ directory), set SERBENCH_EMODB, or use --only demo")
    args.path = Path(args.path) if args.path else None
    print(f"{os.cpu_count()} cores; trees: " + ", ".join(f"{name}={path}" for name, path in trees.items()))
    counts = args.workers or [1, 2]
    if args.repeats < 1:
        sys.exit("--repeats must be 1 or more")
    samples: dict[tuple[str, str, int], list[float]] = {}
    for part in selected:
        for workers in counts:
            for repeat in range(1, args.repeats + 1):
                order = list(trees.items()) if repeat % 2 else list(reversed(trees.items()))
                for name, tree in order:
                    keep = args.keep / f"{name}-{part}-w{workers}-r{repeat}.db" if args.keep else None
                    wall, summary = measure(tree, runs(args.path)[part], workers, keep)
                    samples.setdefault((name, part, workers), []).append(wall)
                    print(f"{part:6} {name:9} workers={workers} round {repeat}: {wall:7.1f} s   {summary}", flush=True)
    walls = {k: min(v) for k, v in samples.items()}
    print()
    if args.repeats > 1:
        for (name, part, workers), values in samples.items():
            print(f"{part:6} {name:9} workers={workers}: fastest {min(values):7.1f} s, median "
                  f"{statistics.median(values):7.1f} s, of " + ", ".join(f"{v:.1f}" for v in values))
    print()
    for part in selected:
        for name in trees:
            if (name, part, 1) in walls and (name, part, 2) in walls:
                one, two = walls[name, part, 1], walls[name, part, 2]
                print(f"{part:6} {name:9} scaling 1 -> 2 workers: {one / two:.2f}x")
        if "baseline" in trees:
            for workers in counts:
                ratio = walls["this", part, workers] / walls["baseline", part, workers]
                print(f"{part:6} this / baseline wall time with {workers} worker(s): {ratio:.2f} "
                      f"({(ratio - 1) * 100:+.0f}%)")


if __name__ == "__main__":
    main()
