"""Training throughput of the four neural models: serbench's loop against plain ``model.fit``.

For each model, random inputs shaped like EMO-DB clips (durations drawn from a log-normal fitted to
EMO-DB's: median 2.5 s, clipped to 1.2-9 s; ``logmel40`` 100 frames/s, ``raw5s`` 16 kHz clipped to
5 s, ``spec5s40`` fixed 500 frames) are trained for ``--epochs`` epochs twice, in one run:

- ``serbench``: :class:`ser_keras.KerasEstimator` - length-sorted batches padded per batch
  (rounded to the model's ``pad_multiple``), tf.data feeding, one compiled function per epoch;
- ``padded-to-max``: the reference code's way - every clip zero-padded to the longest clip of the
  set, ``model.compile(Adam)`` + ``model.fit(x, y, sample_weight=w, shuffle=True)``.

Printed: training samples/s of the last epoch (the first includes tracing) and the ratio. Figures
depend on the machine and its load; run on an otherwise idle machine to compare. Usage::

    python benchmarks/bench_training.py [--clips 64] [--epochs 2] [--models aldeneh latif zhang zhao]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ser_core.plugins import load_registry
from ser_core.protocol import class_weights
from ser_core.specs import FeatureSpec, ModelContext
from ser_keras import as_frames, configure_tensorflow

#: model -> (feature kind, feature name it is benchmarked on, item maker from a duration in seconds)
INPUTS = {
    "aldeneh": ("sequence", "logmel40", lambda s, rng: rng.standard_normal((int(s * 100), 40))),
    "latif": ("waveform", "raw5s", lambda s, rng: rng.standard_normal(int(min(s, 5.0) * 16_000))),
    "zhang": ("waveform", "raw5s", lambda s, rng: rng.standard_normal(int(min(s, 5.0) * 16_000))),
    "zhao": ("sequence", "spec5s40", lambda s, rng: rng.standard_normal((500, 40))),
}
N_CLASSES = 7


def emodb_like(model: str, clips: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """``clips`` random items with EMO-DB-like durations for ``model``'s feature, and 7-class labels."""
    rng = np.random.default_rng(seed)
    seconds = np.clip(rng.lognormal(np.log(2.5), 0.45, clips), 1.2, 9.0)
    make = INPUTS[model][2]
    items = [make(s, rng).astype(np.float32) for s in seconds]
    return items, rng.integers(0, N_CLASSES, clips)


def bench_serbench(registry, model: str, items, y, epochs: int) -> tuple[float, dict]:
    """Samples/s of the last epoch with the shared loop, and its description."""
    spec = registry.model(model).spec
    feature = FeatureSpec(INPUTS[model][1], INPUTS[model][0], lambda signal, rate: signal)
    estimator = spec.create(ModelContext(N_CLASSES, feature, {**spec.defaults, "epochs": epochs}, 0))
    estimator.fit(items, y, np.zeros(len(y)))
    info = estimator.describe()
    return len(items) / info["epoch_seconds"][-1], info


def bench_padded_to_max(registry, model: str, items, y, epochs: int) -> tuple[float, int]:
    """Samples/s of the last epoch of ``model.fit`` on arrays padded to the global maximum length."""
    import keras

    spec = registry.model(model).spec
    feature = FeatureSpec(INPUTS[model][1], INPUTS[model][0], lambda signal, rate: signal)
    estimator = spec.create(ModelContext(N_CLASSES, feature, dict(spec.defaults), 0))
    frames = [as_frames(x) for x in items]
    longest = max(estimator._pad_to(max(len(x) for x in frames)), estimator.min_length)
    x = np.zeros((len(frames), longest, frames[0].shape[1]), np.float32)
    for i, item in enumerate(frames):
        x[i, : len(item)] = item
    network = estimator.build_model(frames[0].shape[1])
    network.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
    seconds: list[float] = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.started)

    weights = class_weights(y, N_CLASSES)[y].astype(np.float32)
    network.fit(x, y, sample_weight=weights, batch_size=int(spec.defaults["batch_size"]), epochs=epochs,
                shuffle=True, verbose=0, callbacks=[EpochTimer()])
    return len(items) / seconds[-1], longest


def main() -> None:
    """Parse arguments, run both ways for each model, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=64, help="clips per model (EMO-DB has 535)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run; the last one is timed")
    parser.add_argument("--models", nargs="+", default=list(INPUTS), choices=list(INPUTS))
    args = parser.parse_args()
    runtime = configure_tensorflow()
    print(f"device {runtime['device']}, TensorFlow {runtime['tensorflow']}, threads intra "
          f"{runtime['intra_op_threads']} inter {runtime['inter_op_threads']}; {args.clips} EMO-DB-shaped "
          f"clips, {args.epochs} epochs, last epoch timed")
    registry = load_registry()
    header = f"{'model':8} {'feature':9} {'serbench/s':>10} {'padded/s':>9} {'speed-up':>8}  notes"
    print(header)
    print("-" * len(header))
    for model in args.models:
        items, y = emodb_like(model, args.clips)
        ours, info = bench_serbench(registry, model, items, y, args.epochs)
        theirs, longest = bench_padded_to_max(registry, model, items, y, args.epochs)
        print(
            f"{model:8} {INPUTS[model][1]:9} {ours:10.1f} {theirs:9.1f} {ours / theirs:7.2f}x  "
            f"{info['padded_lengths']} padded lengths, {info['traces']['train_step']} trace(s); "
            f"global max {longest}",
            flush=True,
        )


if __name__ == "__main__":
    main()
