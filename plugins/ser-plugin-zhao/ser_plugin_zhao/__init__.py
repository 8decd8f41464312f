"""serbench model ``zhao``: Zhao et al. (2019), BiLSTM and CNN branches with attention pooling.

Input: a fixed 5 s 40-mel spectrogram ``(T ~ 500, 40)`` (variable lengths work too, at least 32
frames). Branch A: bidirectional LSTM, 128 units each way, input dropout 0.2, returning sequences ->
attention pooling (256). Branch B: channel axis, then three blocks Conv2D (valid) -> BatchNorm ->
ReLU -> MaxPool2D(2x2) -> Dropout 0.2 with 64 filters 8x8, 128 5x5, 128 3x3; the remaining
time x frequency positions become a sequence of 128-d vectors -> Dense 128 tanh per position ->
attention pooling (128). Concatenated (384) -> Dense 128 ReLU -> Dense C softmax. With
``mask_padding`` (off by default, as in the reference) the BiLSTM skips padded frames and both
attention poolings ignore padded steps (CNN positions count as padded unless their whole receptive
field, 31 frames with stride 8, lies inside the clip). Trained by :class:`ser_keras.KerasEstimator`
(batch size 64).
"""

from __future__ import annotations

from typing import Any, Mapping

from ser_core import ModelSpec, hookimpl
from ser_keras import TRAINING_SETTINGS, keras_model_factory, resolve_settings, training_defaults

CONV_BLOCKS = ((64, 8), (128, 5), (128, 3))
#: the fewest frames that leave one position after the three conv + pool blocks
MIN_FRAMES = 32
DEFAULTS = training_defaults(batch_size=64, mask_padding=False)
#: The LSTM configuration TensorFlow runs as one fused cuDNN kernel on a GPU (Keras's defaults, stated
#: so that a change of defaults cannot silently move the model onto the slow step-by-step loop). Input
#: dropout keeps the fused kernel (Keras applies it to the input beforehand); recurrent dropout would
#: not. With ``mask_padding`` the mask is right-padded (valid frames first, at least one), which is
#: the only mask cuDNN accepts, so masking keeps the fast path too.
CUDNN_LSTM = dict(activation="tanh", recurrent_activation="sigmoid", recurrent_dropout=0.0, unroll=False,
                  use_bias=True)


def _receptive_field() -> tuple[int, int]:
    """(stride, span) in input frames of one time position after the conv blocks: (8, 31)."""
    stride, span = 1, 1
    for _, k in CONV_BLOCKS:
        span += (k - 1) * stride  # valid convolution
        span += stride  # 2x2 max-pool
        stride *= 2
    return stride, span


def build(n_classes: int, input_shape: tuple, settings: Mapping[str, Any]):
    """The Zhao model for ``input_shape = (None, mel bands)``."""
    import keras
    from keras import layers

    from ser_keras import keras_layers

    mask = bool(settings.get("mask_padding"))
    spec = keras.Input(shape=input_shape, name="spectrogram")
    bilstm = layers.Bidirectional(layers.LSTM(128, dropout=0.2, return_sequences=True, **CUDNN_LSTM), name="bilstm")
    if mask:
        frames = keras_layers().ValidSteps(1, 1, name="valid_frames")([spec, spec])
        a = bilstm(spec, mask=frames)
        a = keras_layers().AttentionPooling(name="attention_lstm")([a, frames])
    else:
        a = keras_layers().AttentionPooling(name="attention_lstm")(bilstm(spec))
    b = layers.Reshape((-1, input_shape[-1], 1), name="add_channel")(spec)
    for i, (filters, k) in enumerate(CONV_BLOCKS, start=1):
        b = layers.Conv2D(filters, k, padding="valid", name=f"conv{i}")(b)
        b = layers.BatchNormalization(name=f"bn{i}")(b)
        b = layers.ReLU(name=f"relu{i}")(b)
        b = layers.MaxPooling2D(2, name=f"pool{i}")(b)
        b = layers.Dropout(0.2, name=f"dropout{i}")(b)
    positions = b
    b = layers.Reshape((-1, CONV_BLOCKS[-1][0]), name="positions")(b)
    b = layers.Dense(128, activation="tanh", name="position_dense")(b)
    if mask:
        stride, span = _receptive_field()
        valid = keras_layers().ValidSteps(stride, span, name="valid_positions")([spec, positions])
        b = keras_layers().AttentionPooling(name="attention_cnn")([b, valid])
    else:
        b = keras_layers().AttentionPooling(name="attention_cnn")(b)
    h = layers.Concatenate(name="concat")([a, b])
    h = layers.Dense(128, activation="relu", name="dense")(h)
    scores = layers.Dense(n_classes, activation="softmax", dtype="float32", name="scores")(h)
    return keras.Model(spec, scores, name="zhao")


@hookimpl
def register_models(register):
    register(
        ModelSpec(
            name="zhao",
            create=keras_model_factory(build, min_length=MIN_FRAMES),
            accepts=frozenset({"sequence"}),
            defaults=DEFAULTS,
            setting_types=TRAINING_SETTINGS,
            resolve=resolve_settings,
            accelerator=True,
            description="Zhao et al. 2019: BiLSTM(128x2) + 3-block CNN branches, attention pooling, Dense 128",
        )
    )
