"""The shared training loop of the neural model plugins (docs/protocol.md, "Training").

A model plugin supplies only ``build(n_classes, input_shape, settings) -> keras.Model`` (ending in a
softmax); :class:`KerasEstimator` does the rest, identically for every plugin: Adam, a fixed number
of epochs without early stopping, class-balanced sample weights ``N / (C * n_c)`` from the training
part, and variable-length batching - clips sorted by length (ties broken by a fresh seeded random key
each epoch, so fixed-length features get random batches), cut into consecutive batches, each padded
with zeros to its own longest clip rounded up to ``pad_multiple`` (and at least the model's minimum
length), batch order shuffled every epoch.

Speed: the training clips live once in a ragged tensor; each epoch a ``tf.data`` pipeline gathers,
pads and prefetches the batches in TensorFlow's own threads, and each batch goes straight into one
compiled train step (``tf.function``), so Python only dispatches one call per step. The step is
traced with ``reduce_retracing``: concrete shapes first (fixed-length features keep the fastest,
shape-specialised graph), then one shape-generic trace once shapes vary, so traces stay at a few
whatever the number of padded lengths (``describe()`` reports the count). Rounding lengths up to
``pad_multiple`` bounds the distinct shapes the kernels (and XLA, with ``jit_compile``) see. Running
the whole epoch inside one ``tf.function`` was measured slower on CPU (shape-generic kernels for
every batch), so the loop over batches stays in Python.

Threads: TensorFlow's intra-op pool gets ``SERBENCH_TF_INTRA_THREADS`` threads (else
``SERBENCH_THREADS`` or ``TF_NUM_INTRAOP_THREADS``, as the runner sets them in its worker processes;
default: the cores this process may use) and the inter-op pool ``SERBENCH_TF_INTER_THREADS`` (else
``TF_NUM_INTEROP_THREADS``; default 2, enough for the parallel branches of these models), set once
before TensorFlow initialises. Determinism: each fit
seeds Python, NumPy, TensorFlow and Keras with the cell's seed and, with ``deterministic`` on (the
default), enables TensorFlow op determinism, so the same seed gives the same predictions on one
machine. A GPU is used when TensorFlow sees one; nothing here changes for it.

Precision: the ``precision`` setting trains in ``float32`` (the default, the study's),
``mixed_bfloat16`` or ``mixed_float16`` (GPUs only; the loss is scaled) - float32 weights, layers
computing in 16 bits - or ``auto``: ``mixed_bfloat16`` where the hardware runs bfloat16 fast (a GPU of
compute capability 8.0 or later, or a CPU with AMX or AVX512-BF16), else ``float32``. The model's
output layer (the softmax) and the loss stay float32. :func:`resolve_settings` (the models'
``ModelSpec.resolve``) turns ``auto`` into the precision used before the system's protocol is fixed, so
results in different precisions never share a column; float32 is recorded by leaving the setting
out, so float32 results keep the column they had before precision became a setting.

TensorFlow and Keras are imported inside functions only: importing this module is cheap, so model
plugins can import it while ``serbench list`` stays fast.
"""

from __future__ import annotations

import functools
import os
import time
from types import SimpleNamespace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ser_core import ModelContext, available_cores, ModelSummary, Setting, class_weights, missing, require, thread_count

from ser_keras.quiet import drop_per_fold_retracing_warnings, gpu_probe, import_tensorflow, quiet_tensorflow_logs

#: What to install for TensorFlow (a dependency of ser-keras; the extra adds CUDA on a GPU host).
INSTALL_TENSORFLOW = "'tensorflow==2.21.0' (or 'ser-keras[gpu]' on a GPU host)"
NEEDED_BY = "the Keras training loop of the neural models (ser-keras)"

INTRA_THREADS_ENV = "SERBENCH_TF_INTRA_THREADS"
INTER_THREADS_ENV = "SERBENCH_TF_INTER_THREADS"

#: The protocol's training settings; plugins override ``batch_size`` (and ``pad_multiple``).
TRAINING_DEFAULTS: dict[str, Any] = {
    "epochs": 50,
    "batch_size": 32,
    "learning_rate": 1e-4,
    "pad_multiple": 1,
    "deterministic": True,
    "jit_compile": False,
    "precision": "float32",
}
#: The ``precision`` values; ``auto`` resolves to one of the others on the machine that trains.
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")
#: Type and range of each training setting (``ModelSpec.setting_types``), checked before a suite runs.
TRAINING_SETTINGS: dict[str, Setting] = {
    "epochs": Setting(int, minimum=1, maximum=10_000),
    "batch_size": Setting(int, minimum=1, maximum=65_536),
    "learning_rate": Setting(float, minimum=1e-12),
    "pad_multiple": Setting(int, minimum=1, maximum=65_536),
    "mask_padding": Setting(bool),
    "deterministic": Setting(bool),
    "jit_compile": Setting(bool),
    "precision": Setting(str, choices=PRECISIONS),
}

BuildFn = Callable[[int, tuple, Mapping[str, Any]], Any]

_runtime: dict[str, Any] | None = None


def training_defaults(**overrides: Any) -> dict[str, Any]:
    """The protocol's default training settings with a model's own values (batch size, ...) applied."""
    return {**TRAINING_DEFAULTS, **overrides}


def configure_tensorflow() -> dict[str, Any]:
    """Import TensorFlow with serbench's thread settings (once per process); return what was set.

    Thread pools can only be sized before TensorFlow's runtime starts; if something else started it
    first, the sizes it chose are kept and reported.
    """
    global _runtime
    if _runtime is not None:
        return _runtime
    quiet_tensorflow_logs()
    # processes sharing a GPU (Dask workers, fresh cell processes) take the memory they use, not all of it
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    # openSMILE and TensorFlow export the same FFT symbols: whichever loads second gets the other's,
    # and openSMILE's extraction then aborts (malloc(): invalid size). Loading openSMILE first (when
    # it is installed) keeps in-process extraction working after training in this process.
    try:
        import opensmile  # noqa: F401
    except ImportError:
        pass
    try:
        tf = import_tensorflow()
    except ImportError as exc:
        raise missing("tensorflow", INSTALL_TENSORFLOW, NEEDED_BY, exc) from exc
    require("keras", install="'ser-keras'", needed_by=NEEDED_BY)
    drop_per_fold_retracing_warnings()

    intra = thread_count(INTRA_THREADS_ENV, "SERBENCH_THREADS", "TF_NUM_INTRAOP_THREADS", default=available_cores())
    inter = thread_count(INTER_THREADS_ENV, "TF_NUM_INTEROP_THREADS", default=2)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    except RuntimeError:  # the runtime was already initialised: keep its pools
        pass
    with gpu_probe():  # the first device query (a machine without a GPU says so on stderr)
        gpus = tf.config.list_physical_devices("GPU")
    _runtime = {
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "device": f"GPU ({len(gpus)}: {gpus[0].name})" if gpus else "CPU",
        "tensorflow": tf.__version__,
    }
    return _runtime


def cpu_has_fast_bfloat16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU has bfloat16 matrix instructions (AMX or AVX512-BF16), from ``/proc/cpuinfo``."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
                cpuinfo = handle.read()
        except OSError:  # not Linux: no way to tell, so no
            return False
    flags = {flag for line in cpuinfo.splitlines() if line.startswith("flags") for flag in line.split()}
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def _gpu_compute_capabilities() -> list[tuple[int, int]]:
    """Compute capability of each GPU TensorFlow sees (imports TensorFlow)."""
    configure_tensorflow()
    import tensorflow as tf

    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        found.append(tuple(capability) if capability else (0, 0))
    return found


def resolve_precision(precision: str | None) -> str:
    """The precision a model will train in for the ``precision`` setting (``None``: float32).

    ``auto`` becomes ``mixed_bfloat16`` on a GPU of compute capability 8.0 or later or on a CPU with
    AMX/AVX512-BF16, else ``float32``. :raises ValueError: an unknown precision, or ``mixed_float16``
    without a GPU (float16 is slow or unsupported on CPUs; use ``mixed_bfloat16`` or ``auto`` there).
    """
    precision = precision or "float32"
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        capabilities = _gpu_compute_capabilities()
        if capabilities:
            return "mixed_bfloat16" if min(capabilities) >= (8, 0) else "float32"
        return "mixed_bfloat16" if cpu_has_fast_bfloat16() else "float32"
    if precision == "mixed_float16" and not _gpu_compute_capabilities():
        raise ValueError(
            "precision 'mixed_float16' needs a GPU (TensorFlow sees none); use 'mixed_bfloat16' or 'auto' on a CPU"
        )
    return precision


def resolve_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``ModelSpec.resolve`` of the Keras models: ``precision`` as it will be used on this machine.

    ``auto`` is resolved (:func:`resolve_precision`); float32 is recorded by leaving the setting out,
    so a float32 system keeps the protocol (column) it had before precision was a setting.
    :raises ConfigError: the precision cannot be used here.
    """
    from ser_core import ConfigError

    resolved = dict(settings)
    try:
        precision = resolve_precision(resolved.pop("precision", None))
    except ValueError as exc:
        raise ConfigError(f"setting 'precision': {exc}") from None
    if precision != "float32":
        resolved["precision"] = precision
    return resolved


def padded_length(longest: int, multiple: int, minimum: int = 1) -> int:
    """Length a batch whose longest item has ``longest`` steps is padded to.

    Rounded up to a multiple of ``multiple``, and at least ``minimum``: ``padded_length(70, 64, 64)``
    is 128, ``padded_length(10, 64, 64)`` is 64, ``padded_length(70, 1)`` is 70.
    """
    multiple = max(int(multiple), 1)
    return max(int(minimum), -(-int(longest) // multiple) * multiple)


def length_sorted_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """One epoch's batches: indices sorted by length, cut into consecutive batches, order shuffled.

    Ties in length are broken by a random key drawn from ``rng``, so items of equal length (all of
    them, for fixed-length features) are grouped differently every epoch.
    """
    lengths = np.asarray(lengths)
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def pad_batch(items: Sequence[np.ndarray], length: int) -> np.ndarray:
    """Stack ``(steps, dims)`` items into ``(batch, length, dims)`` float32, zero-padded at the end."""
    out = np.zeros((len(items), length, items[0].shape[1]), dtype=np.float32)
    for row, item in enumerate(items):
        out[row, : len(item)] = item
    return out


def as_frames(item: np.ndarray) -> np.ndarray:
    """A per-clip array as ``(steps, dims)`` float32: waveforms ``(N,)`` become ``(N, 1)``."""
    item = np.asarray(item, dtype=np.float32)
    return item.reshape(-1, 1) if item.ndim == 1 else item


_layers: SimpleNamespace | None = None


def keras_layers() -> SimpleNamespace:
    """Layers shared by the model plugins (built on first use, so importing Keras stays lazy).

    - ``AttentionPooling()``: one learned vector ``w`` (no bias), ``a = softmax_t(h_t . w)``, output
      ``sum_t a_t h_t``; called as ``layer(h)`` or ``layer([h, valid])`` with a boolean ``(B, T)``
      mask of steps that may receive weight.
    - ``MaskedGlobalMaxPooling()``: ``layer([h, valid])``, the maximum over valid steps only.
    - ``ValidSteps(stride, span)``: ``layer([x, h])`` -> boolean mask of the steps of ``h`` whose
      receptive field ``[t * stride, t * stride + span)`` on the input lies inside the clip, where
      the clip length is the number of input steps up to the last non-zero one (so a valid
      convolution of kernel ``k`` uses ``span = k``); at least the first step stays valid. For a 4-D
      ``h`` (time, frequency, channels) the mask covers its time x frequency positions, time-major.
    """
    global _layers
    if _layers is not None:
        return _layers
    configure_tensorflow()
    import keras
    from keras import ops

    class AttentionPooling(keras.layers.Layer):
        """Attention pooling over time with one learned scoring vector (no bias).

        Padded steps are excluded through the explicit ``valid`` input; a Keras mask arriving with
        ``h`` is consumed here (the pooled output has no time axis left to mask).
        """

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def compute_mask(self, inputs, mask=None):
            return None

        def build(self, input_shape):
            shape = input_shape[0] if isinstance(input_shape, (list, tuple)) and isinstance(
                input_shape[0], (list, tuple)) else input_shape
            self.w = self.add_weight(shape=(shape[-1],), initializer="glorot_uniform", name="w")

        def call(self, inputs):
            h, valid = (inputs[0], inputs[1]) if isinstance(inputs, (list, tuple)) else (inputs, None)
            scores = ops.tensordot(h, self.w, axes=[[2], [0]])
            if valid is not None:
                scores = ops.where(valid, scores, ops.full_like(scores, -1e9))
            weights = ops.softmax(scores, axis=1)
            return ops.sum(h * ops.expand_dims(weights, -1), axis=1)

        def compute_output_shape(self, input_shape):
            shape = input_shape[0] if isinstance(input_shape[0], (list, tuple)) else input_shape
            return (shape[0], shape[-1])

    class MaskedGlobalMaxPooling(keras.layers.Layer):
        """Global max-pooling over time that ignores padded steps."""

        def call(self, inputs):
            h, valid = inputs
            low = ops.full_like(h, -1e9)
            return ops.max(ops.where(ops.expand_dims(valid, -1), h, low), axis=1)

        def compute_output_shape(self, input_shape):
            return (input_shape[0][0], input_shape[0][-1])

    class ValidSteps(keras.layers.Layer):
        """Boolean mask of the steps of a (downsampled) sequence that lie wholly inside each clip."""

        def __init__(self, stride: int = 1, span: int = 1, **kwargs):
            super().__init__(**kwargs)
            self.stride = stride
            self.span = span

        def call(self, inputs):
            x, h = inputs
            nonzero = ops.any(ops.not_equal(x, 0), axis=-1)
            positions = ops.arange(1, ops.shape(x)[1] + 1, dtype="int32")
            length = ops.max(ops.where(nonzero, positions, ops.zeros_like(positions)), axis=1)
            steps = ops.maximum((length - self.span) // self.stride + 1, 1)
            index = ops.arange(ops.shape(h)[1], dtype="int32")
            valid = ops.less(ops.expand_dims(index, 0), ops.expand_dims(steps, 1))
            if len(h.shape) == 4:  # (B, T, F, C): every frequency position of a valid time step
                valid = ops.repeat(valid, h.shape[2], axis=1)
            return valid

        def compute_output_shape(self, input_shape):
            h = input_shape[1]
            return (h[0], None if len(h) == 4 else h[1])

    _layers = SimpleNamespace(
        AttentionPooling=AttentionPooling,
        MaskedGlobalMaxPooling=MaskedGlobalMaxPooling,
        ValidSteps=ValidSteps,
    )
    return _layers


class KerasEstimator:
    """An :class:`~ser_core.specs.Estimator` training a plugin's Keras model by the protocol.

    :param context: the fold's classes, feature, settings (see :data:`TRAINING_DEFAULTS`) and seed.
    :param build: ``build(n_classes, input_shape, settings)`` returning an uncompiled Keras model
        whose input is ``(steps, dims)`` with ``steps`` ``None`` and whose output is softmax scores.
    :param min_length: batches are padded to at least this many steps (the widest kernel must fit).
    :param max_length: clips are clipped to at most this many steps (``None``: no limit).
    """

    def __init__(
        self,
        context: ModelContext,
        build: BuildFn,
        *,
        min_length: int = 1,
        max_length: int | None = None,
    ):
        self.context = context
        self.settings = dict(context.settings)
        self.build = build
        self.min_length = min_length
        self.max_length = max_length
        self.model = None
        self.precision: str | None = None
        self.history: list[float] = []
        self.runtime: dict[str, Any] = {}
        self.fit_info: dict[str, Any] = {}
        self._predict_fn = None

    def _frames(self, X: Sequence[np.ndarray]) -> list[np.ndarray]:
        items = [as_frames(x) for x in X]
        if self.max_length is not None:
            items = [x[: self.max_length] for x in items]
        return items

    def _pad_to(self, longest: int) -> int:
        return padded_length(longest, self.settings["pad_multiple"], self.min_length)

    def build_model(self, dims: int):
        """Seed everything, then build the plugin's model for items with ``dims`` values per step."""
        self.runtime = configure_tensorflow()
        import keras
        import tensorflow as tf

        keras.backend.clear_session(free_memory=False)
        keras.utils.set_random_seed(self.context.seed)
        if self.settings["deterministic"]:
            tf.config.experimental.enable_op_determinism()
        if self.precision is None:
            self.precision = resolve_precision(self.settings.get("precision"))
        # Layers take the global dtype policy when they are created: set it for this build only.
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(self.precision)
        try:
            model = self.build(self.context.n_classes, (None, dims), self.settings)
        finally:
            keras.config.set_dtype_policy(previous)
        if any(keras.backend.standardize_dtype(out.dtype) != "float32" for out in model.outputs):
            raise ValueError(
                f"model {model.name!r} outputs {model.outputs[0].dtype} scores in precision {self.precision!r}; "
                "its build() must give the output (softmax) layer dtype='float32' so the softmax and the "
                "loss stay float32"
            )
        self.model = model
        return self.model

    def fit(self, X: Sequence[np.ndarray], y: np.ndarray, groups: np.ndarray | None = None) -> None:
        """Train for ``epochs`` epochs on the training part of one fold."""
        items = self._frames(X)
        y = np.asarray(y, dtype=np.int32)
        if not items:
            raise ValueError("no training clips")
        self.build_model(items[0].shape[1])
        import keras
        import tensorflow as tf

        model = self.model
        batch_size = int(self.settings["batch_size"])
        weights = class_weights(y, self.context.n_classes)[y].astype(np.float32)
        lengths = np.array([len(x) for x in items])
        clips = tf.RaggedTensor.from_row_lengths(np.concatenate(items), lengths)
        labels = tf.constant(y)
        sample_weights = tf.constant(weights)
        multiple = max(int(self.settings["pad_multiple"]), 1)
        minimum = int(self.min_length)

        def make_batch(index):
            x = tf.gather(clips, index).to_tensor()
            steps = tf.shape(x)[1]
            target = tf.maximum(minimum, (steps + multiple - 1) // multiple * multiple)
            x = tf.pad(x, [[0, 0], [0, target - steps], [0, 0]])
            return x, tf.gather(labels, index), tf.gather(sample_weights, index)

        optimizer = keras.optimizers.Adam(learning_rate=float(self.settings["learning_rate"]))
        if self.precision == "mixed_float16":  # float16 gradients underflow without loss scaling
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        optimizer.build(model.trainable_variables)
        loss_fn = keras.losses.SparseCategoricalCrossentropy()

        # reduce_retracing: concrete shapes are traced first (fast kernels for fixed-length
        # features); once shapes vary, TensorFlow traces one shape-generic version and reuses it.
        @tf.function(jit_compile=bool(self.settings["jit_compile"]), reduce_retracing=True)
        def train_step(x, target, weight):
            with tf.GradientTape() as tape:
                scores = model(x, training=True)
                loss = loss_fn(target, scores, sample_weight=weight)
                scaled = optimizer.scale_loss(loss)
            grads = tape.gradient(scaled, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)
            return loss

        rng = np.random.default_rng(self.context.seed)
        shapes: set[int] = set()
        self.history = []
        epoch_seconds = []
        started = time.perf_counter()
        for _ in range(int(self.settings["epochs"])):
            epoch_started = time.perf_counter()
            batches = length_sorted_batches(lengths, batch_size, rng)
            shapes.update(self._pad_to(lengths[b].max()) for b in batches)
            index = tf.RaggedTensor.from_row_lengths(
                np.concatenate(batches).astype(np.int64), [len(b) for b in batches]
            )
            dataset = (
                tf.data.Dataset.from_tensor_slices(index)
                .map(make_batch)
                .prefetch(2)
            )
            total = 0.0
            for x, target, weight in dataset:
                total += float(train_step(x, target, weight)) * int(target.shape[0])
            self.history.append(total / len(items))
            epoch_seconds.append(round(time.perf_counter() - epoch_started, 3))
        seconds = time.perf_counter() - started
        self.fit_info = {
            "epochs_run": len(self.history),
            "train_clips": len(items),
            "train_seconds": round(seconds, 3),
            "train_samples_per_second": round(len(items) * len(self.history) / seconds, 2) if seconds else None,
            "epoch_seconds": epoch_seconds,
            "padded_lengths": len(shapes),
            "traces": {"train_step": train_step.experimental_get_tracing_count()},
        }
        self._predict_fn = None

    def predict_scores(self, X: Sequence[np.ndarray]) -> np.ndarray:
        """Softmax scores ``(clips, classes)``, batched by length like training (no shuffling)."""
        import tensorflow as tf

        if self.model is None:
            raise RuntimeError("predict before fit")
        if self._predict_fn is None:
            model = self.model
            spec = tf.TensorSpec((None, None, model.input_shape[-1]), tf.float32)
            self._predict_fn = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        items = self._frames(X)
        lengths = np.array([len(x) for x in items])
        order = np.argsort(lengths, kind="stable")
        batch_size = int(self.settings["batch_size"])
        scores = np.zeros((len(items), self.context.n_classes), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            x = pad_batch([items[i] for i in chunk], self._pad_to(lengths[chunk].max()))
            scores[chunk] = self._predict_fn(tf.constant(x)).numpy()
        return scores

    def summarise(self, item: np.ndarray) -> ModelSummary:
        """Build the model for ``item``'s width, run it on ``item`` and describe it (``serbench models info``)."""
        network = self.build_model(as_frames(item).shape[1])
        lines: list[str] = []
        network.summary(line_length=80, print_fn=lambda line, **_: lines.extend(line.splitlines()))
        scores = self.predict_scores([item])
        trainable = sum(int(np.prod(w.shape)) for w in network.trainable_weights)
        return ModelSummary(tuple(lines), tuple(scores.shape), int(network.count_params()), trainable)

    def predict(self, X: Sequence[np.ndarray]) -> np.ndarray:
        """Predicted class index of each clip."""
        return self.predict_scores(X).argmax(axis=1)

    def parameter_count(self) -> int | None:
        """All weights of the model, trainable or not (BatchNorm statistics included)."""
        return None if self.model is None else int(self.model.count_params())

    def describe(self) -> dict[str, Any]:
        """Settings used, seeds, epochs run, final training loss, device, threads and traces."""
        info: dict[str, Any] = {
            "settings": dict(self.settings),
            "precision": self.precision or self.settings.get("precision", "float32"),
            "seeds": {"python": self.context.seed, "numpy": self.context.seed,
                      "tensorflow": self.context.seed, "batching": self.context.seed},
            "op_determinism": bool(self.settings["deterministic"]),
            "min_length": self.min_length,
            "max_length": self.max_length,
            "final_train_loss": self.history[-1] if self.history else None,
            "train_loss_per_epoch": [round(v, 5) for v in self.history],
            **self.fit_info,
            **self.runtime,
        }
        if self._predict_fn is not None:
            info["traces"] = {**info.get("traces", {}),
                              "predict": self._predict_fn.experimental_get_tracing_count()}
        try:
            import keras

            info["keras"] = keras.__version__
        except ImportError:
            pass
        return info


def keras_model_factory(
    build: BuildFn, *, min_length: int = 1, max_length: int | None = None
) -> Callable[[ModelContext], KerasEstimator]:
    """``ModelSpec.create`` for a plugin's ``build`` function: a fresh :class:`KerasEstimator`.

    A ``functools.partial`` of module-level objects, so the spec pickles (the runner may send it
    to worker processes); ``build`` must therefore be a module-level function.
    """
    return functools.partial(KerasEstimator, build=build, min_length=min_length, max_length=max_length)


__all__ = [
    "KerasEstimator",
    "TRAINING_DEFAULTS",
    "TRAINING_SETTINGS",
    "as_frames",
    "PRECISIONS",
    "configure_tensorflow",
    "cpu_has_fast_bfloat16",
    "keras_layers",
    "keras_model_factory",
    "length_sorted_batches",
    "pad_batch",
    "padded_length",
    "resolve_precision",
    "resolve_settings",
    "training_defaults",
]
