"""serbench model ``zhang``: Zhang, Wu & Schuller (2019), a per-window CNN on the framed raw waveform.

Input: 16 kHz waveform ``(N, 1)``, clipped to 80,000 samples. The framing is the model's first
layer, so the estimator only pads batches (to a multiple of the 160-sample hop, which leaves the
windows unchanged): windows of 640 samples every 160, the end zero-padded so the last hop gets a full
window (``ceil(N / 160)`` windows: 500 for 5 s) -> (T, 640). Then Dropout 0.1 on the windows, and per
window: Conv1D(40, 40, same, ReLU) -> MaxPool1D(2) -> Conv1D(40, 40, same, ReLU) -> max-pool by 10
across the 40 filters -> (320, 4) -> 1280 values. Two stacked GRU(128) returning sequences ->
attention pooling (128) -> Dense C softmax. With ``mask_padding`` the attention ignores windows that
start after the clip's end (the GRUs run forwards, so padding cannot reach the earlier windows) (off by default, as in the reference). Trained by
:class:`ser_keras.KerasEstimator` (batch size 16).
"""

from __future__ import annotations

from typing import Any, Mapping

from ser_core import ModelSpec, hookimpl
from ser_keras import TRAINING_SETTINGS, keras_model_factory, resolve_settings, training_defaults

WINDOW = 640
HOP = 160
MAX_SAMPLES = 80_000
DEFAULTS = training_defaults(batch_size=16, pad_multiple=HOP, mask_padding=False)
#: The GRU configuration TensorFlow runs as one fused cuDNN kernel on a GPU (Keras's defaults, stated
#: so that a change of defaults cannot silently move the model onto the slow step-by-step loop). No
#: mask reaches the GRUs (``mask_padding`` only masks the attention), so nothing forces the slow path.
CUDNN_GRU = dict(activation="tanh", recurrent_activation="sigmoid", recurrent_dropout=0.0, unroll=False,
                 use_bias=True, reset_after=True)


def _window_layers():
    """Framing, (batch x windows) folding and filter-axis pooling as Keras layers (built lazily)."""
    import keras
    from keras import ops

    class Frames(keras.layers.Layer):
        """``(B, N, 1)`` -> ``(B, ceil(N / hop), window)``; the end is zero-padded."""

        def call(self, wave):
            x = wave[..., 0]
            n = ops.shape(x)[1]
            hops = (n + HOP - 1) // HOP
            blocks_per_window = WINDOW // HOP
            total = (hops + blocks_per_window - 1) * HOP
            x = ops.pad(x, [[0, 0], [0, total - n]])
            blocks = ops.reshape(x, (ops.shape(x)[0], hops + blocks_per_window - 1, HOP))
            return ops.concatenate([blocks[:, i : i + hops] for i in range(blocks_per_window)], axis=-1)

        def compute_output_shape(self, input_shape):
            return (input_shape[0], None, WINDOW)

    class FoldWindows(keras.layers.Layer):
        """``(B, T, W)`` -> ``(B * T, W, 1)``: every window becomes one item for the CNN."""

        def call(self, frames):
            return ops.reshape(frames, (-1, WINDOW, 1))

        def compute_output_shape(self, input_shape):
            return (None, WINDOW, 1)

    class UnfoldWindows(keras.layers.Layer):
        """``[(B * T, ...), (B, T, W)]`` -> ``(B, T, prod(...))``."""

        def call(self, inputs):
            h, frames = inputs
            return ops.reshape(h, (ops.shape(frames)[0], ops.shape(frames)[1], -1))

        def compute_output_shape(self, input_shape):
            h, frames = input_shape
            return (frames[0], frames[1], h[1] * h[2])

    class FilterMaxPool(keras.layers.Layer):
        """Max over groups of ``size`` consecutive filters: ``(..., S, F)`` -> ``(..., S, F / size)``."""

        def __init__(self, size: int, **kwargs):
            super().__init__(**kwargs)
            self.size = size

        def call(self, h):
            groups = h.shape[-1] // self.size
            return ops.max(ops.reshape(h, (-1, h.shape[1], groups, self.size)), axis=-1)

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], input_shape[-1] // self.size)

    return Frames, FoldWindows, UnfoldWindows, FilterMaxPool


def build(n_classes: int, input_shape: tuple, settings: Mapping[str, Any]):
    """The Zhang model for ``input_shape = (None, 1)``."""
    import keras
    from keras import layers

    from ser_keras import keras_layers

    Frames, FoldWindows, UnfoldWindows, FilterMaxPool = _window_layers()
    wave = keras.Input(shape=input_shape, name="waveform")
    frames = Frames(name="frames")(wave)
    h = layers.Dropout(0.1, name="input_dropout")(frames)
    h = FoldWindows(name="fold_windows")(h)
    h = layers.Conv1D(40, 40, padding="same", activation="relu", name="conv1")(h)
    h = layers.MaxPooling1D(2, name="pool_time")(h)
    h = layers.Conv1D(40, 40, padding="same", activation="relu", name="conv2")(h)
    h = FilterMaxPool(10, name="pool_filters")(h)
    h = UnfoldWindows(name="unfold_windows")([h, frames])
    h = layers.GRU(128, return_sequences=True, name="gru1", **CUDNN_GRU)(h)
    h = layers.GRU(128, return_sequences=True, name="gru2", **CUDNN_GRU)(h)
    if settings.get("mask_padding"):
        valid = keras_layers().ValidSteps(HOP, 1, name="valid_windows")([wave, h])
        h = keras_layers().AttentionPooling(name="attention")([h, valid])
    else:
        h = keras_layers().AttentionPooling(name="attention")(h)
    scores = layers.Dense(n_classes, activation="softmax", dtype="float32", name="scores")(h)
    return keras.Model(wave, scores, name="zhang")


@hookimpl
def register_models(register):
    register(
        ModelSpec(
            name="zhang",
            create=keras_model_factory(build, min_length=HOP, max_length=MAX_SAMPLES),
            accepts=frozenset({"waveform"}),
            defaults=DEFAULTS,
            setting_types=TRAINING_SETTINGS,
            resolve=resolve_settings,
            accelerator=True,
            description="Zhang, Wu & Schuller 2019: per-window CNN on raw 640/160 windows, 2x GRU(128), attention",
        )
    )
