"""Is one system's speaker- vs text-independent gap larger than another's? (docs/results/README.md)

Reads a results database holding systems A and B each under both fold policies (as
benchmarks/emodb_text_gap.sh stores them), re-cuts the text-independent predictions into the speaker
folds they refine (``ser_core.leaderboard.common_folds``), takes each speaker's UAR under each of the
four, and tests the per-speaker difference of the gaps, (A_si - A_ti) - (B_si - B_ti), with a sign-flip
permutation test over the speakers (exact up to 16 speakers, else 10,000 seeded random flips) (a speaker is one observation, as in serbench compare).

    .venv/bin/python benchmarks/text_gap_interaction.py [--db docs/results/emodb-text-gap.db] [--corpus emodb] \\
        [A SI-NAME TI-NAME B SI-NAME TI-NAME]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from ser_core import leaderboard
from ser_core.results import ResultStore

DEFAULT = ["svm-whisper-tiny.en", "svm-whisper-tiny.en-text-independent", "svm-is09", "svm-is09-text-independent"]


def per_speaker(entry, reference) -> dict[str, float]:
    """Each speaker's UAR over all its clips (the speaker folds both fold structures share)."""
    rows, _ = leaderboard.common_folds(entry._rows, reference._rows, {c for r in entry._rows for c in r[2]})
    by_speaker: dict[str, tuple[list, list]] = {}
    for _, _, _, speakers, y_true, y_pred in rows:
        for s, t, p in zip(speakers, y_true, y_pred):
            by_speaker.setdefault(s, ([], []))[0].append(t)
            by_speaker[s][1].append(p)
    out = {}
    for s, (t, p) in by_speaker.items():
        t, p = np.array(t), np.array(p)
        out[s] = float(np.mean([np.mean(p[t == c] == c) for c in np.unique(t)]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="docs/results/emodb-text-gap.db")
    parser.add_argument("--corpus", default="emodb")
    parser.add_argument("systems", nargs="*", default=DEFAULT, help="A-SI A-TI B-SI B-TI")
    args = parser.parse_args()
    if len(args.systems) != 4:
        parser.error("give four systems: A speaker-independent, A text-independent, B speaker-independent, B text-independent")
    with ResultStore(args.db, readonly=True) as store:
        board = leaderboard.compute(store, [args.corpus], args.systems, statistics=False)
    entries = {e.system: e for _, by_column in board.rows for e in by_column.values()}
    missing = [name for name in args.systems if name not in entries]
    if missing:
        raise SystemExit(f"{args.db}: no results of {', '.join(missing)} on {args.corpus}")
    reference = entries[args.systems[0]]
    uar = {name: per_speaker(entries[name], reference) for name in args.systems}
    speakers = sorted(uar[args.systems[0]])
    a_si, a_ti, b_si, b_ti = args.systems
    d = np.array([(uar[a_si][s] - uar[a_ti][s]) - (uar[b_si][s] - uar[b_ti][s]) for s in speakers])
    if len(d) <= 16:  # exact over every sign flip
        flips = np.array(list(itertools.product([1, -1], repeat=len(d))))
    else:  # 10,000 random flips (seeded) beyond
        flips = np.random.default_rng(0).choice([1, -1], size=(10_000, len(d)))
    p = float(np.mean(np.abs((flips * d).mean(axis=1)) >= abs(d.mean()) - 1e-12))
    for name in args.systems:
        print(f"{name:40s} {100 * np.mean(list(uar[name].values())):5.1f}  (mean of {len(speakers)} speakers' UAR)")
    print(f"gap of {a_si} {100 * (np.mean(list(uar[a_si].values())) - np.mean(list(uar[a_ti].values()))):+.1f}, "
          f"of {b_si} {100 * (np.mean(list(uar[b_si].values())) - np.mean(list(uar[b_ti].values()))):+.1f}; "
          f"difference {100 * d.mean():+.1f} points, exact sign-flip p = {p:.3f} over {len(d)} speakers")


if __name__ == "__main__":
    main()
