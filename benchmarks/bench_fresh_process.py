"""What a fresh process per cell costs: wall time per cell of the demo suite's neural systems, each
cell in a fresh Python process (``--cell-process auto``, the default) against all in this process
(``--cell-process in-process``), in one run of this script.

Both modes run the same cells (the demo suite's systems whose model declares ``accelerator``, on the
synthetic corpus, at reduced settings: ``--epochs``, default 1) in this process's runner
(``--workers 0``), each with its own results database and one shared feature cache, extracted before
the clock starts. Per cell it reports the time a user waits (from one stored cell to the next:
process start, imports, TensorFlow's start-up, data loading, fit and predict) and the fit and predict
time the cell records itself; their difference is the cost of the mode. It also prints each mode's
mean UAR, and whether the two modes stored the same predictions.

    .venv/bin/python benchmarks/bench_fresh_process.py [--epochs N] [--system NAME ...] [--first in-process|fresh]

Timings on a shared machine vary with its load; the two modes run back to back to be comparable.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


class Clock:
    """A reporter that timestamps every stored cell (and the start of each system's cells)."""

    def __init__(self):
        from ser_core.events import Reporter

        class _Reporter(Reporter):
            def stage(inner, description: str, total: int) -> None:
                self.last = time.perf_counter()

            def cell_result(inner, key, outcome) -> None:
                now = time.perf_counter()
                self.cells.append((key.system, now - self.last, outcome.wall_time, outcome))
                self.last = now

            def note(inner, message: str) -> None:
                print(f"  note: {message}", file=sys.stderr)

        self.reporter = _Reporter()
        self.cells: list[tuple] = []
        self.last = time.perf_counter()


def run_mode(suite, mode: str, scratch: Path) -> Clock:
    from ser_core.plugins import load_registry
    from ser_core.results import ResultStore
    from ser_core.runner import Runner

    clock = Clock()
    with ResultStore(scratch / f"{mode}.db") as store:
        report = Runner(load_registry(), store, workers=0, reporter=clock.reporter, cell_process=mode).run(suite)
    if report.failed or report.skipped:
        raise SystemExit(f"{mode}: {report.failed[:1] or report.skipped[:1]}")
    return clock


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1, help="epochs per cell (default 1; the demo trains 5)")
    parser.add_argument("--system", action="append", help="a neural system of the demo suite (default: all)")
    parser.add_argument("--first", choices=("in-process", "fresh"), default="in-process",
                        help="which mode runs first (default in-process)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="serbench-bench-fresh-") as scratch:
        os.environ["SERBENCH_CACHE_DIR"] = str(Path(scratch) / "cache")
        from ser_core import features
        from ser_core.plugins import load_registry
        from ser_core.suites import load_suites

        registry = load_registry()
        demo = load_suites(None).suite("demo")
        neural = [s for s in demo.systems if registry.model(s.model).spec.accelerator]
        if args.system:
            neural = [s for s in neural if s.name in args.system]
        if not neural:
            raise SystemExit("no neural system of the demo suite selected")
        suite = dataclasses.replace(demo, systems=tuple(neural),
                                    overrides={s.name: {"epochs": args.epochs} for s in neural})
        from ser_core import corpus as corpus_mod

        manifest = corpus_mod.scan(registry.corpus("synthetic"), None)
        for name in sorted({f for s in neural for f in s.features}):
            features.extract(manifest, registry.feature(name), workers=1)  # cached: not timed below
        modes = ("in-process", "fresh") if args.first == "in-process" else ("fresh", "in-process")
        # "fresh" is what --cell-process auto does for these (neural) systems
        clocks = {mode: run_mode(suite, mode, Path(scratch)) for mode in modes}

    print(f"demo suite, neural systems at {args.epochs} epoch(s), synthetic corpus, {os.cpu_count()} cores, "
          f"{len(clocks['fresh'].cells)} cells per mode ({args.first} first)")
    print(f"{'mode':<11} {'system':<28} {'cells':>5} {'wait s/cell':>12} {'fit+predict s':>14} {'overhead s':>11} "
          f"{'UAR %':>6}")
    for mode, clock in clocks.items():
        for system in dict.fromkeys(s for s, *_ in clock.cells):
            rows = [c for c in clock.cells if c[0] == system]
            wait = statistics.mean(r[1] for r in rows)
            inside = statistics.mean(r[2] for r in rows)
            uar = 100 * statistics.mean(r[3].uar for r in rows)
            print(f"{mode:<11} {system:<28} {len(rows):>5} {wait:>12.2f} {inside:>14.2f} {wait - inside:>11.2f} {uar:>6.1f}")
    waits = {mode: statistics.mean(c[1] for c in clock.cells) for mode, clock in clocks.items()}
    print(f"a fresh process per cell costs {waits['fresh'] - waits['in-process']:.2f} s per cell "
          f"({waits['fresh'] / waits['in-process']:.2f}x the in-process wait): process start, imports and data "
          "loading (overhead column) plus TensorFlow's per-process warm-up inside the first fit")
    same = [a[3].predictions == b[3].predictions for a, b in zip(clocks["fresh"].cells, clocks["in-process"].cells)]
    print(f"same predictions in both modes: {sum(same)} of {len(same)} cells")
    first_wait = {mode: clock.cells[0][1] for mode, clock in clocks.items()}
    print("first cell (includes TensorFlow's start-up in this process when in-process): "
          + ", ".join(f"{mode} {seconds:.2f} s" for mode, seconds in first_wait.items()))


if __name__ == "__main__":
    main()
