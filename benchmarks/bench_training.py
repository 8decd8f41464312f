"""Training throughput of the four neural models: serbench's loop against plain ``model.fit``.

For each model, random inputs shaped like EMO-DB clips (durations drawn from a log-normal fitted to
EMO-DB's: median 2.5 s, clipped to 1.2-9 s; ``logmel40`` 100 frames/s, ``raw5s`` 16 kHz clipped to
5 s, ``spec5s40`` fixed 500 frames) are trained for ``--epochs`` epochs twice, in one run:

- ``serbench``: :class:`ser_keras.KerasEstimator` - length-sorted batches padded per batch
  (rounded to the model's ``pad_multiple``), tf.data feeding, one compiled function per epoch;
- ``padded-to-max``: the reference code's way - every clip zero-padded to the longest clip of the
  set, ``model.compile(Adam)`` + ``model.fit(x, y, sample_weight=w, shuffle=True)``.

- ``bf16``: the serbench loop again with ``precision = "mixed_bfloat16"``.

Before the models, a large float32 and a large bfloat16 matmul are timed: the machine's peak
GFLOP/s in each precision (what its matrix units reach on the best-shaped work). Each model's
training FLOPs per epoch are counted from its layer shapes (:func:`forward_flops`: convolutions,
dense layers and the GRU/LSTM gate matmuls; element-wise work is left out) at each batch's padded
length, times 3 for forward + backward (the backward pass computes the gradients of the weights and
of the layer's input), times 2 for layers with no weights upstream (their input gradient is never
computed). Achieved GFLOP/s = those FLOPs / the last epoch's seconds;
``%peak`` is that over the peak of the precision the run used.

Printed: training samples/s of the last epoch (the first includes tracing), the ratio, bfloat16
samples/s, GFLOPs per training sample and the fraction of peak in each precision. Figures depend on
the machine and its load; run on an otherwise idle machine to compare. Usage::

    python benchmarks/bench_training.py [--clips 64] [--epochs 2] [--models aldeneh latif zhang zhao]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from ser_core.plugins import load_registry
from ser_core.metrics import class_weights
from ser_core.specs import FeatureSpec, ModelContext
from ser_keras import as_frames, configure_tensorflow, padded_length

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


def peak_gflops(dtype: str, size: int = 4096, repeats: int = 5) -> float:
    """GFLOP/s of a ``size`` x ``size`` matmul in ``dtype`` (best of ``repeats``, after a warm-up)."""
    import tensorflow as tf

    a = tf.cast(tf.random.stateless_normal((size, size), seed=(0, 1)), dtype)
    b = tf.cast(tf.random.stateless_normal((size, size), seed=(0, 2)), dtype)
    matmul = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.matmul(a, b)[:1, :1], tf.float32)))
    matmul(a, b)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def _has_weights_upstream(layer) -> bool:
    """Whether any layer feeding ``layer`` (directly or not) has trainable weights."""
    seen, todo = set(), [node for node in layer._inbound_nodes]
    while todo:
        node = todo.pop()
        for parent in node.parent_nodes:
            if id(parent) in seen:
                continue
            seen.add(id(parent))
            if parent.operation.trainable_weights:
                return True
            todo.append(parent)
    return False


def training_flops(network, length: int) -> float:
    """Training FLOPs of one clip of ``length`` steps: forward x 3, or x 2 with no weights upstream."""
    return sum(flops * (3 if _has_weights_upstream(layer) else 2)
               for layer, flops in forward_flops(network, length).items())


def forward_flops(network, length: int) -> dict:
    """Forward FLOPs of one clip of ``length`` steps per layer: 2 x multiply-adds of layers with weights.

    Shapes come from running the model once on a zero clip of that length (batch 1): Conv1D/Conv2D
    ``2 * outputs * kernel * in_channels``, Dense ``2 * outputs * inputs``, LSTM/GRU
    ``2 * steps * gates * units * (inputs + units)`` (4 gates / 3), each direction of a Bidirectional.
    """
    import keras

    counted = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Dense, keras.layers.LSTM,
               keras.layers.GRU, keras.layers.Bidirectional)
    layers = [layer for layer in network.layers if isinstance(layer, counted)]
    probe = keras.Model(network.inputs, [layer.input for layer in layers] + [layer.output for layer in layers])
    shapes = [tuple(t.shape) for t in probe([np.zeros((1, length, network.input_shape[-1]), np.float32)])]
    inputs, outputs = shapes[: len(layers)], shapes[len(layers):]

    def recurrent(rnn, shape_in):
        gates = 4 if isinstance(rnn, keras.layers.LSTM) else 3
        return 2.0 * shape_in[1] * gates * rnn.units * (shape_in[-1] + rnn.units)

    flops = {}
    for layer, shape_in, shape_out in zip(layers, inputs, outputs):
        if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D)):
            flops[layer] = 2.0 * np.prod(shape_out) * np.prod(layer.kernel_size) * shape_in[-1]
        elif isinstance(layer, keras.layers.Dense):
            flops[layer] = 2.0 * np.prod(shape_out) * shape_in[-1]
        elif isinstance(layer, keras.layers.Bidirectional):
            flops[layer] = recurrent(layer.forward_layer, shape_in) + recurrent(layer.backward_layer, shape_in)
        else:
            flops[layer] = recurrent(layer, shape_in)
    return flops


def epoch_training_flops(estimator, items, batch_size: int) -> float:
    """Training FLOPs of one epoch (:func:`training_flops`), every batch at its padded length.

    Batches are consecutive runs of the length order (as the loop cuts them; their order does not
    change the total), each padded to its longest clip rounded up by the model's rule.
    """
    lengths = np.sort([len(x) for x in estimator._frames(items)])
    per_length: dict[int, float] = {}
    total = 0.0
    for start in range(0, len(lengths), batch_size):
        batch = lengths[start : start + batch_size]
        padded = padded_length(batch.max(), estimator.settings["pad_multiple"], estimator.min_length)
        if padded not in per_length:
            per_length[padded] = training_flops(estimator.model, padded)
        total += per_length[padded] * len(batch)
    return total


def bench_serbench(registry, model: str, items, y, epochs: int, precision: str = "float32") -> tuple[float, dict]:
    """Samples/s of the last epoch with the shared loop, its description and its training FLOPs/epoch."""
    spec = registry.model(model).spec
    feature = FeatureSpec(INPUTS[model][1], INPUTS[model][0], lambda signal, rate: signal)
    settings = {**spec.defaults, "epochs": epochs, "precision": precision}
    estimator = spec.create(ModelContext(N_CLASSES, feature, settings, 0))
    estimator.fit(items, y, np.zeros(len(y)))
    info = estimator.describe()
    info["epoch_flops"] = epoch_training_flops(estimator, items, int(settings["batch_size"]))
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
    peak = {"float32": peak_gflops("float32"), "bfloat16": peak_gflops("bfloat16")}
    print(f"peak (4096^2 matmul): float32 {peak['float32']:.0f} GFLOP/s, bfloat16 {peak['bfloat16']:.0f} GFLOP/s")
    registry = load_registry()
    header = (f"{'model':8} {'feature':9} {'serbench/s':>10} {'padded/s':>9} {'speed-up':>8} {'bf16/s':>7} "
              f"{'GFLOP/clip':>10} {'f32 GFLOP/s':>11} {'%peak':>6} {'bf16 GFLOP/s':>12} {'%peak':>6}  notes")
    print(header)
    print("-" * len(header))
    for model in args.models:
        items, y = emodb_like(model, args.clips)
        ours, info = bench_serbench(registry, model, items, y, args.epochs)
        theirs, longest = bench_padded_to_max(registry, model, items, y, args.epochs)
        bf16, info16 = bench_serbench(registry, model, items, y, args.epochs, "mixed_bfloat16")
        achieved32 = info["epoch_flops"] / info["epoch_seconds"][-1] / 1e9
        achieved16 = info16["epoch_flops"] / info16["epoch_seconds"][-1] / 1e9
        print(
            f"{model:8} {INPUTS[model][1]:9} {ours:10.1f} {theirs:9.1f} {ours / theirs:7.2f}x {bf16:7.1f} "
            f"{info['epoch_flops'] / len(items) / 1e9:10.2f} {achieved32:11.1f} {achieved32 / peak['float32']:6.0%} "
            f"{achieved16:12.1f} {achieved16 / peak['bfloat16']:6.0%}  "
            f"{info['padded_lengths']} padded lengths, {info['traces']['train_step']} trace(s); "
            f"global max {longest}",
            flush=True,
        )


if __name__ == "__main__":
    main()
