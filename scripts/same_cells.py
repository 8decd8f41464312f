"""Do two results databases hold the same cells? For checking that a change to the core leaves results alone.

Run the same suite from two source trees (before and after a change) into two databases, then

    .venv/bin/python scripts/same_cells.py BEFORE.db AFTER.db

compares every cell by its key (corpus, system, protocol digest, instance digest, repeat, fold): the
status, the UAR, the predictions (clip ids, speakers, true and predicted classes), the seed, the
parameter count, the estimator's description and the stored details. What records how long or when,
not what, is expected to differ and is not compared: the cell's wall time, and every key of the
estimator's description whose name ends in ``_seconds`` or ``_per_second`` (training times, throughput;
the naming convention docs/writing-a-plugin.md asks of a model's ``describe()``). A difference that is
known and stated can be left out by name: ``--ignore details.cell_process`` (a key a newer version
adds) or ``--ignore details.feature_cache_key`` (the synthetic corpus regenerated: new file times);
each ignored key is named in the summary. It prints one line per difference and a summary, and exits
0 when the cells are identical, 1 when they differ, 2 when a file is not a results database or an
``--ignore`` is malformed. It reads both files read-only with ``sqlite3`` only, so it works on databases of any
serbench version with a ``cells`` table.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

KEY = ("corpus", "system", "protocol", "instance", "repeat", "fold")
COMPARED = ("status", "uar", "predictions", "seed", "parameter_count", "estimator", "error", "details")
#: details that record where and when, not what: they may differ between two runs of the same cells
VOLATILE_DETAILS = ("wall_time",)
#: suffixes of the estimator description's keys that hold wall-clock timings (seconds, throughput)
TIMING_SUFFIXES = ("_seconds", "_per_second")


def cells(path: Path) -> dict[tuple, dict]:
    """Every cell of the database at ``path`` by key (read-only)."""
    if not path.is_file():
        raise SystemExit(f"{path}: no such file")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(f"SELECT {', '.join(KEY + COMPARED)} FROM cells").fetchall()
    except sqlite3.DatabaseError as exc:
        print(f"{path}: not a serbench results database ({exc})", file=sys.stderr)
        raise SystemExit(2) from None
    return {tuple(row[k] for k in KEY): dict(row) for row in rows}


JSON_COLUMNS = ("predictions", "estimator", "details")


def parse_ignored(specs: list[str]) -> dict[str, set[str]]:
    """``["details.cell_process", ...]`` as ``{"details": {"cell_process"}}``; a malformed one exits 2."""
    ignored: dict[str, set[str]] = {}
    for spec in specs:
        column, _, key = spec.partition(".")
        if column not in JSON_COLUMNS or not key:
            print(f"--ignore {spec!r}: expected COLUMN.KEY with COLUMN one of {', '.join(JSON_COLUMNS)} "
                  "(for example details.cell_process)", file=sys.stderr)
            raise SystemExit(2)
        ignored.setdefault(column, set()).add(key)
    return ignored


def is_timing(key: str) -> bool:
    return key.endswith(TIMING_SUFFIXES)


def normalised(column: str, value, ignored: dict[str, set[str]] | None = None):
    """A column's value as compared: JSON parsed (so key order and spacing do not count), without the
    keys that record how long or when (and those ``ignored`` names)."""
    if column in JSON_COLUMNS and isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
        if isinstance(value, dict):
            skip = set((ignored or {}).get(column, ()))
            if column == "details":
                skip.update(VOLATILE_DETAILS)
            value = {k: v for k, v in value.items()
                     if k not in skip and not (column == "estimator" and is_timing(k))}
    return value


def differences(before: dict[tuple, dict], after: dict[tuple, dict],
                ignored: dict[str, set[str]] | None = None) -> list[str]:
    """One line per cell only one side has and per column two cells disagree on."""
    lines = []
    for key in sorted(before.keys() - after.keys(), key=str):
        lines.append(f"only in the first: {'/'.join(map(str, key))}")
    for key in sorted(after.keys() - before.keys(), key=str):
        lines.append(f"only in the second: {'/'.join(map(str, key))}")
    for key in sorted(before.keys() & after.keys(), key=str):
        for column in COMPARED:
            a = normalised(column, before[key][column], ignored)
            b = normalised(column, after[key][column], ignored)
            if a != b:
                if isinstance(a, dict) and isinstance(b, dict):
                    changed = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
                    what = f"{column} keys {', '.join(changed)}"
                else:
                    what = f"{column}: {str(a)[:60]!r} != {str(b)[:60]!r}"
                lines.append(f"{'/'.join(map(str, key))}: {what}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    parser.add_argument("--ignore", action="append", default=[], metavar="COLUMN.KEY",
                        help="leave out one key of details, estimator or predictions (repeatable), "
                             "for a difference that is known and stated")
    args = parser.parse_args()
    ignored = parse_ignored(args.ignore)
    before, after = cells(args.first), cells(args.second)
    found = differences(before, after, ignored)
    for line in found:
        print(line)
    ok = sum(1 for c in before.values() if c["status"] == "ok")
    systems = sorted({(k[0], k[1]) for k in before})
    print(f"{len(before)} cells in {args.first} ({ok} ok; " + ", ".join(f"{c}/{s}" for c, s in systems)
          + f"), {len(after)} in {args.second}: " + ("identical" if not found else f"{len(found)} differences")
          + (f" (ignoring {', '.join(sorted(args.ignore))})" if args.ignore else ""))
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
