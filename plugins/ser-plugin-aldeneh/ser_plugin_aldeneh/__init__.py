"""serbench model ``aldeneh``: Aldeneh & Mower Provost (2017), parallel 1-D convolutions over log-mels.

Four branches over time, each ``Conv1D(384, k, valid, ReLU, He-normal)`` with k = 8, 16, 32, 64 and
global max-pooling over time; concatenated (1536) -> Dense 1024 ReLU -> Dense 1024 ReLU -> Dense C
softmax, no dropout. Input: log-mel frames ``(T, F)``; variable-length batches are zero-padded to a
multiple of 64 frames and at least 64 (so the widest kernel fits). With ``mask_padding`` the max-pool
only sees positions whose whole window lies inside the clip (off by default, as in the reference).
Trained by :class:`ser_keras.KerasEstimator` (batch size 32).
"""

from __future__ import annotations

from typing import Any, Mapping

from ser_core import ModelSpec, hookimpl
from ser_keras import TRAINING_SETTINGS, keras_model_factory, resolve_settings, training_defaults

KERNELS = (8, 16, 32, 64)
FILTERS = 384
DEFAULTS = training_defaults(batch_size=32, pad_multiple=64, mask_padding=False)


def build(n_classes: int, input_shape: tuple, settings: Mapping[str, Any]):
    """The Aldeneh model for ``input_shape = (None, mel bands)``."""
    import keras
    from keras import layers

    from ser_keras import keras_layers

    frames = keras.Input(shape=input_shape, name="logmel")
    pooled = []
    for k in KERNELS:
        h = layers.Conv1D(FILTERS, k, padding="valid", activation="relu",
                          kernel_initializer="he_normal", name=f"conv_k{k}")(frames)
        if settings.get("mask_padding"):
            valid = keras_layers().ValidSteps(1, k, name=f"valid_k{k}")([frames, h])
            pooled.append(keras_layers().MaskedGlobalMaxPooling(name=f"maxpool_k{k}")([h, valid]))
        else:
            pooled.append(layers.GlobalMaxPooling1D(name=f"maxpool_k{k}")(h))
    h = layers.Concatenate(name="concat")(pooled)
    h = layers.Dense(1024, activation="relu", name="dense1")(h)
    h = layers.Dense(1024, activation="relu", name="dense2")(h)
    scores = layers.Dense(n_classes, activation="softmax", dtype="float32", name="scores")(h)
    return keras.Model(frames, scores, name="aldeneh")


@hookimpl
def register_models(register):
    register(
        ModelSpec(
            name="aldeneh",
            create=keras_model_factory(build, min_length=max(KERNELS)),
            accepts=frozenset({"sequence"}),
            defaults=DEFAULTS,
            setting_types=TRAINING_SETTINGS,
            resolve=resolve_settings,
            accelerator=True,
            description="Aldeneh & Mower Provost 2017: 4 parallel Conv1D(384) + max-pool, 2x Dense 1024",
        )
    )
