"""Diagnostic: how much of a short-budget model's test UAR is lost to unconverged BatchNorm statistics?

Keras's BatchNormalization keeps moving averages of each batch's mean and variance (momentum 0.99) and
uses them at test time. After few optimiser steps (Zhao at the `paper-cpu` budget: 15 epochs x 8
batches of 64 = 120 steps, where the study's 50 epochs give 400) the averages still carry their
initial values (0.99^120 = 30% of them), although training, which normalises with each batch's own
statistics, goes well. This script trains chosen folds of a system of the `paper-cpu` suite on EMO-DB,
in this process, exactly as `serbench run` does (same data, seeds and settings, into a throw-away
database), and scores each fold twice: as trained, and after the moving statistics were recomputed
as the plain average of the batch statistics over the fold's training clips (no weight changes).

    python benchmarks/diagnose_batchnorm.py --path EMODB_WAV_DIR --folds 0,7 [--system O-zhao-spec5s40]

Prints one JSON line per fold. It reaches into the runner (to run only the chosen folds) and the
Keras estimator (to recompute the statistics), so it is a diagnostic, not part of the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", default=os.environ.get("SERBENCH_EMODB"), help="EMO-DB's wav/ directory (default: $SERBENCH_EMODB)")
    parser.add_argument("--folds", default="0", help="comma-separated fold indices (speakers in EMO-DB's order)")
    parser.add_argument("--system", default="O-zhao-spec5s40", help="a system of the paper-cpu suite")
    parser.add_argument("--epochs", type=int, help="train this many epochs instead of the suite's (a quick check)")
    args = parser.parse_args()
    if not args.path or not Path(args.path).is_dir():
        sys.exit(f"EMO-DB {'not found at ' + args.path if args.path else 'not given'}: pass --path or set SERBENCH_EMODB")
    folds = [int(f) for f in args.folds.split(",")]

    import ser_keras.training as training
    from ser_core.plugins import load_registry
    from ser_core.metrics import uar
    from ser_core.results import ResultStore
    from ser_core.runner import Runner
    from ser_core.suites import load_suites

    recalibrated: list[np.ndarray] = []
    fit, predict = training.KerasEstimator.fit, training.KerasEstimator.predict

    def keep_training_clips(self, X, y, groups=None):
        self._diagnostic_train = list(X)
        return fit(self, X, y, groups)

    def predict_both_ways(self, X):
        import keras
        import tensorflow as tf

        as_trained = predict(self, X)
        norms = [layer for layer in self.model.layers if isinstance(layer, keras.layers.BatchNormalization)]
        items = self._frames(self._diagnostic_train)
        lengths = np.array([len(x) for x in items])
        order = np.random.default_rng(0).permutation(len(items))
        size = int(self.settings["batch_size"])
        for k, start in enumerate(range(0, len(order), size)):
            chunk = order[start:start + size]
            for layer in norms:
                layer.momentum = k / (k + 1)  # running arithmetic mean of the batch statistics
            self.model(tf.constant(training.pad_batch([items[i] for i in chunk], self._pad_to(lengths[chunk].max()))),
                       training=True)
        self._predict_fn = None
        recalibrated.append(predict(self, X))
        return as_trained

    training.KerasEstimator.fit, training.KerasEstimator.predict = keep_training_clips, predict_both_ways
    plan_system = Runner._plan_system

    def only_chosen_folds(self, *a, **k):
        unit = plan_system(self, *a, **k)
        unit.todo = sorted((key for key in unit.todo if key.fold in folds), key=lambda key: folds.index(key.fold))
        return unit

    Runner._plan_system = only_chosen_folds
    suite = load_suites(None).suite("paper-cpu").subset(["emodb"], [args.system])
    if args.epochs:
        suite.overrides[args.system] = {**suite.overrides.get(args.system, {}), "epochs": args.epochs}
    with tempfile.TemporaryDirectory() as scratch, ResultStore(Path(scratch) / "diagnostic.db") as store:
        Runner(load_registry(), store, corpus_paths={"emodb": Path(args.path)}, workers=0).run(suite, {})
        cells = {cell.key.fold: cell for cell in store.cells("emodb", args.system)}
    for fold, again in zip(folds, recalibrated):
        cell = cells[fold]
        y = np.array(cell.predictions.y_true)
        print(json.dumps({
            "system": args.system, "fold": fold, "speaker": cell.details.get("fold_name"),
            "uar_as_trained": round(100 * cell.uar, 1), "uar_statistics_recomputed": round(100 * uar(y, again), 1),
            "train_loss_per_epoch": cell.outcome.estimator["train_loss_per_epoch"],
            "precision": cell.outcome.estimator["precision"],
        }), flush=True)


if __name__ == "__main__":
    main()
