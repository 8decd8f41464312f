"""serbench model ``latif``: Latif et al. (2019), parallel strided convolutions on the raw waveform.

Input: 16 kHz waveform ``(N, 1)``, ``N <= 80,000`` (longer clips are clipped; batches are padded with
zeros to their longest clip rounded up to 160 samples, one convolution stride). Three branches, each
``Conv1D(40, k, stride 160, same, linear)`` with k = 400, 240, 1600 -> BatchNorm -> ReLU ->
MaxPool1D(2); concatenated on channels (T', 120) -> channel axis -> Conv2D(32, 2x2, same) ->
BatchNorm -> ReLU -> MaxPool2D(2x2, same) -> (T'/2, 60, 32) -> (T'/2, 1920) -> LSTM(128), last state
-> Dropout 0.3 -> Dense 1024 ReLU -> Dense C softmax. Trained by
:class:`ser_keras.KerasEstimator` (batch size 32). No ``mask_padding`` setting: the spec
offers masking for attention and max-pooling only, and this model has neither.
"""

from __future__ import annotations

from typing import Any, Mapping

from ser_core import ModelSpec, hookimpl
from ser_keras import TRAINING_SETTINGS, keras_model_factory, resolve_settings, training_defaults

KERNELS = (400, 240, 1600)
STRIDE = 160
MAX_SAMPLES = 80_000
DEFAULTS = training_defaults(batch_size=32, pad_multiple=STRIDE)


def build(n_classes: int, input_shape: tuple, settings: Mapping[str, Any]):
    """The Latif model for ``input_shape = (None, 1)``."""
    import keras
    from keras import layers

    wave = keras.Input(shape=input_shape, name="waveform")
    branches = []
    for k in KERNELS:
        h = layers.Conv1D(40, k, strides=STRIDE, padding="same", name=f"conv_k{k}")(wave)
        h = layers.BatchNormalization(name=f"bn_k{k}")(h)
        h = layers.ReLU(name=f"relu_k{k}")(h)
        branches.append(layers.MaxPooling1D(2, name=f"pool_k{k}")(h))
    h = layers.Concatenate(axis=-1, name="concat")(branches)
    h = layers.Reshape((-1, 3 * 40, 1), name="add_channel")(h)
    h = layers.Conv2D(32, 2, padding="same", name="conv2d")(h)
    h = layers.BatchNormalization(name="bn2d")(h)
    h = layers.ReLU(name="relu2d")(h)
    h = layers.MaxPooling2D(2, padding="same", name="pool2d")(h)
    h = layers.Reshape((-1, 60 * 32), name="to_sequence")(h)
    # tanh/sigmoid, no recurrent dropout, not unrolled, with bias: TensorFlow's fused cuDNN kernel on a GPU
    h = layers.LSTM(128, activation="tanh", recurrent_activation="sigmoid", recurrent_dropout=0.0,
                    unroll=False, use_bias=True, name="lstm")(h)
    h = layers.Dropout(0.3, name="dropout")(h)
    h = layers.Dense(1024, activation="relu", name="dense")(h)
    scores = layers.Dense(n_classes, activation="softmax", dtype="float32", name="scores")(h)
    return keras.Model(wave, scores, name="latif")


@hookimpl
def register_models(register):
    register(
        ModelSpec(
            name="latif",
            # 2 strided steps at least, so MaxPool1D(2) leaves one
            create=keras_model_factory(build, min_length=2 * STRIDE, max_length=MAX_SAMPLES),
            accepts=frozenset({"waveform"}),
            defaults=DEFAULTS,
            setting_types=TRAINING_SETTINGS,
            resolve=resolve_settings,
            accelerator=True,
            description="Latif et al. 2019: 3 strided Conv1D(40) branches, Conv2D(32), LSTM(128), Dense 1024",
        )
    )
