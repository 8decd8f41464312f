"""Do two results databases hold the same cells? For checking that a change to the core leaves results alone.

Run the same suite from two source trees (before and after a change) into two databases, then

    .venv/bin/python scripts/same_cells.py BEFORE.db AFTER.db

compares every cell by its key (corpus, system, protocol digest, instance digest, repeat, fold): the
status, the UAR, the predictions (clip ids, speakers, true and predicted classes), the seed, the
parameter count, the estimator's description and the stored details (wall times, run ids and
timestamps are expected to differ and are not compared). It prints one line per difference and a
summary, and exits 0 when the cells are identical, 1 when they differ, 2 when a file is not a results
database. It reads both files read-only with ``sqlite3`` only, so it works on databases of any
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


def normalised(column: str, value):
    """A column's value as compared: JSON parsed (so key order and spacing do not count)."""
    if column in ("predictions", "estimator", "details") and isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
        if column == "details" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in VOLATILE_DETAILS}
    return value


def differences(before: dict[tuple, dict], after: dict[tuple, dict]) -> list[str]:
    """One line per cell only one side has and per column two cells disagree on."""
    lines = []
    for key in sorted(before.keys() - after.keys(), key=str):
        lines.append(f"only in the first: {'/'.join(map(str, key))}")
    for key in sorted(after.keys() - before.keys(), key=str):
        lines.append(f"only in the second: {'/'.join(map(str, key))}")
    for key in sorted(before.keys() & after.keys(), key=str):
        for column in COMPARED:
            a, b = normalised(column, before[key][column]), normalised(column, after[key][column])
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
    args = parser.parse_args()
    before, after = cells(args.first), cells(args.second)
    found = differences(before, after)
    for line in found:
        print(line)
    ok = sum(1 for c in before.values() if c["status"] == "ok")
    systems = sorted({(k[0], k[1]) for k in before})
    print(f"{len(before)} cells in {args.first} ({ok} ok; " + ", ".join(f"{c}/{s}" for c, s in systems)
          + f"), {len(after)} in {args.second}: " + ("identical" if not found else f"{len(found)} differences"))
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
