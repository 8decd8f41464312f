"""Time `serbench results export`, `results verify` and `board build` on a study-sized bundle.

7 systems x 15 corpora x 3 repeats, on stand-in corpora listed without audio with the clip counts,
label sets and (approximate) speaker counts of the study's 15 corpora (IEMOCAP and MSP-IMPROV fold by
session). Cells are generated through the store's API as ``serbench run`` stores them (no model is
trained: predictions are seeded draws, right with a per-system probability). The commands run
in-process through the CLI's own command functions (typer's test runner), with the stand-in corpora
as the installed corpus plugins, so the figures include reading, parsing, printing and writing.

    python benchmarks/bench_bundle.py [--repeats 3] [--resamples 1000] [--workdir DIR]

Prints the grid's size, the bundle's size and each command's wall time (seconds).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bundle_helpers import ListedCorpora, ListedCorpus, store_system  # noqa: E402

L7 = ("anger", "happiness", "sadness", "fear", "surprise", "disgust", "neutral")


def counts(*values: int, labels=L7, extra: dict | None = None) -> dict[str, int]:
    out = {label: v for label, v in zip(labels, values) if v}
    out.update(extra or {})
    return out


#: clip counts per label from the study's corpus table; speaker counts approximate
CORPORA = {
    "cafe": ListedCorpus(12, counts(144, 144, 144, 144, 144, 144, 72)),
    "cremad": ListedCorpus(91, counts(1271, 1271, 1270, 1271, 0, 1271, 1087)),
    "demos": ListedCorpus(68, counts(246, 167, 422, 177, 203, 140, 0, extra={"guilt": 209})),
    "emodb": ListedCorpus(10, counts(127, 71, 62, 69, 0, 46, 79, extra={"boredom": 81})),
    "emofilm": ListedCorpus(207, counts(232, 240, 254, 221, 0, 168)),
    "enterface": ListedCorpus(42, counts(215, 212, 215, 215, 215, 215)),
    "iemocap": ListedCorpus(10, counts(1103, 1636, 1084, 0, 0, 0, 1708), speakers_per_group=2),
    "jl": ListedCorpus(4, counts(240, 240, 240, 0, 0, 0, 240, extra={"excited": 240})),
    "mspimprov": ListedCorpus(12, counts(792, 2644, 885, 0, 0, 0, 3477), speakers_per_group=2),
    "portuguese": ListedCorpus(2, counts(63, 46, 59, 41, 64, 35, 60)),
    "ravdess": ListedCorpus(24, counts(192, 192, 192, 192, 192, 192, 96, extra={"calm": 192})),
    "savee": ListedCorpus(4, counts(60, 60, 60, 60, 60, 60, 120)),
    "shemo": ListedCorpus(87, counts(1059, 201, 449, 0, 225, 0, 1028)),
    "smartkom": ListedCorpus(79, counts(99, 118, 54, 0, 9, 0, 1786, extra={"other": 183})),
    "tess": ListedCorpus(2, counts(400, 400, 400, 400, 400, 400, 400)),
}
SYSTEMS = {"A1": 0.62, "A2": 0.64, "A3": 0.63, "L": 0.5, "N": 0.45, "O": 0.48, "svm": 0.66}


def timed(what: str, run) -> float:
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    print(f"{what}: {seconds:.2f} s (exit status {result.exit_code})", flush=True)
    if result.exit_code not in (0, 4):
        print(result.output[-3000:])
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    from typer.testing import CliRunner

    import ser_core.plugins
    from ser_core.cli import app
    from ser_core.plugins import load_registry
    from ser_core.results import ResultStore

    registry = load_registry([("stand-ins", ListedCorpora(CORPORA))], use_entry_points=False)
    ser_core.plugins.load_registry = lambda *a, **k: registry  # the commands see the stand-ins as installed
    work = args.workdir or Path(tempfile.mkdtemp(prefix="serbench-bench-bundle-"))
    work.mkdir(parents=True, exist_ok=True)
    source, target, file = work / "source.db", work / "imported.db", work / "study.serbench.json"
    for path in (source, target, file):
        path.unlink(missing_ok=True)
    start = time.perf_counter()
    with ResultStore(source) as store:
        for name in CORPORA:
            manifest = registry.corpus(name).spec.scan(None)
            for system, accuracy in SYSTEMS.items():
                store_system(store, registry, name, system, accuracy=accuracy, repeats=args.repeats,
                             manifest=manifest)
        n_cells = sum(1 for _ in store.cells())
    clips = sum(sum(c.clips_per_label.values()) for c in CORPORA.values())
    print(f"grid: {len(SYSTEMS)} systems x {len(CORPORA)} corpora x {args.repeats} repeats = {n_cells} cells, "
          f"{clips} clips per system and repeat, {clips * len(SYSTEMS) * args.repeats} predictions "
          f"(stored in {time.perf_counter() - start:.1f} s, not timed below)", flush=True)
    runner = CliRunner()
    res = ["--resamples", str(args.resamples)]
    timed("serbench results export", lambda: runner.invoke(app, ["results", "export", "--db", str(source), "-o",
                                                                  str(file), *res]))
    print(f"bundle: {file.stat().st_size / 1e6:.1f} MB", flush=True)
    timed("serbench results verify (against the 15 corpora)", lambda: runner.invoke(app, ["results", "verify", str(file)]))
    ser_core.plugins.load_registry = lambda *a, **k: load_registry([], use_entry_points=False)
    timed("serbench results verify (no corpus here: internal checks only)",
          lambda: runner.invoke(app, ["results", "verify", str(file)]))
    ser_core.plugins.load_registry = lambda *a, **k: registry
    timed("serbench results import (verifies, then stores)",
          lambda: runner.invoke(app, ["results", "import", str(file), "--db", str(target)]))
    timed("serbench board build", lambda: runner.invoke(app, ["board", "build", "--db", str(target), "-o",
                                                              str(work / "site"), *res]))
    print(f"site: {work / 'site' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
