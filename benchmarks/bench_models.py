"""Training time per fold of the classical models (svm, logreg, mlp, fusion) on the real EMO-DB.

For each (model, features) pair the script takes EMO-DB's features from the cache (extracting them
first when they are not there), standardises them per speaker (the suites' default), and trains and
tests the model on leave-one-speaker-out folds (``--folds``, default the first 2 speakers), exactly as a
suite's cell does (nested speaker-grouped tuning included). It prints, per pair, the mean and largest
wall time per fold and the folds' UAR (a check that the run is real, not a result: the boards in
docs/results/ are the results).

    .venv/bin/python benchmarks/bench_models.py [--path DIR] [--folds N] [--pair MODEL:FEATURE[+FEATURE]] ...

Default pairs: svm:is09, logreg:is09, mlp:is09, svm:compare2016, fusion:egemaps+is09 (members svm, svm).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_PAIRS = ["svm:is09", "logreg:is09", "mlp:is09", "svm:compare2016", "fusion:egemaps+is09"]


def main() -> None:
    """Run the benchmark and print one row per (model, features) pair."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=os.environ.get("SERBENCH_EMODB") or None,
                        help="EMO-DB's wav/ directory (default: $SERBENCH_EMODB)")
    parser.add_argument("--folds", type=int, default=2, help="leave-one-speaker-out folds to time (default 2)")
    parser.add_argument("--pair", action="append", help="MODEL:FEATURE or MODEL:FEATURE+FEATURE (repeatable)")
    parser.add_argument("--workers", type=int, default=1, help="extraction processes when features are not cached")
    args = parser.parse_args()
    if args.path is None or not Path(args.path).is_dir():
        where = f"not found at {args.path}" if args.path else "not given"
        sys.exit(f"EMO-DB {where}: pass --path (its wav/ directory) or set SERBENCH_EMODB")

    from ser_core import corpus, features
    from ser_core.blocks import extract_combined
    from ser_core.plugins import load_registry
    from ser_core.protocol import as_rows, from_rows, make_folds, standardise
    from ser_core.metrics import uar
    from ser_core.cell import seed_everything
    from ser_core.specs import ModelContext

    registry = load_registry()
    manifest = corpus.scan(registry.corpus("emodb"), Path(args.path))
    labels = manifest.labels()
    by_id = {c.clip_id: c for c in manifest.clips}
    folds = make_folds([c.speaker for c in manifest.clips])
    print(f"EMO-DB: {len(manifest.clips)} clips, {len(folds)} speakers; timing {args.folds} folds per pair "
          f"on {os.cpu_count()} cores (cache: {features.cache_dir()})")
    print(f"{'model':8} {'features':22} {'width':>6} {'s/fold mean':>12} {'s/fold max':>11} {'UAR folds':>18}")
    for pair in args.pair or DEFAULT_PAIRS:
        model_name, _, feature_names = pair.partition(":")
        parts = [registry.feature(name) for name in feature_names.split("+")]
        if len(parts) == 1:
            table, blocks = features.extract(manifest, parts[0], workers=args.workers), ()
            spec = parts[0].spec
        else:
            from ser_core.blocks import combined_spec

            table, blocks = extract_combined(manifest, parts, workers=args.workers)
            spec = combined_spec(parts)
        model = registry.model(model_name).spec
        speakers = np.array([by_id[c].speaker for c in table.clip_ids])
        y = np.array([labels.index(by_id[c].label) for c in table.clip_ids])
        fold_of = np.array([folds.assignment[manifest.clips.index(by_id[c])] for c in table.clip_ids])
        items = standardise([as_rows(x, "functionals") for x in table.items], speakers, np.ones(len(y), bool), "speaker")
        X = [from_rows(x, "functionals") for x in items]
        walls, scores = [], []
        for fold in range(min(args.folds, len(folds))):
            train, test = np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold)
            seed_everything(fold)
            started = time.perf_counter()
            estimator = model.create(ModelContext(len(labels), spec, dict(model.defaults), fold, tuple(blocks)))
            estimator.fit([X[i] for i in train], y[train], speakers[train])
            predicted = estimator.predict([X[i] for i in test])
            walls.append(time.perf_counter() - started)
            scores.append(uar(y[test], predicted))
        width = len(table.items[0])
        shown = " ".join(f"{100 * s:.1f}" for s in scores)
        print(f"{model_name:8} {feature_names:22} {width:6d} {np.mean(walls):12.1f} {np.max(walls):11.1f} {shown:>18}",
              flush=True)


if __name__ == "__main__":
    main()
