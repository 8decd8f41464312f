"""serbench features from openSMILE: ``is09`` (INTERSPEECH 2009 Emotion Challenge, 384 functionals)
and ``egemaps`` (eGeMAPSv02 functionals, 88 values per clip).

``is09`` runs the ``is09-13/IS09_emotion.conf`` configuration that ships inside the installed
``opensmile`` package (its ``FeatureSet`` enum has no IS09 member, but the package data holds the
challenge's configuration): 16 descriptors (RMS energy, MFCC 1-12, zero-crossing rate, voicing
probability, F0) smoothed over 3 frames, their deltas, times 12 functionals, from 25 ms frames every
10 ms.

Clips shorter than one analysis frame fail with :class:`ser_core.features.ClipTooShortError`
(openSMILE would silently return NaN for them); any other non-finite output fails with its count.
openSMILE is imported inside the extractor, in the worker processes that extract features, never at
plugin import: importing it after TensorFlow in one process makes its extraction abort.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np

from ser_core import FeatureSpec, hookimpl
from ser_core.dependencies import require
from ser_core.errors import FeatureError
from ser_core.features import require_samples

IS09_CONFIG = "is09-13/IS09_emotion.conf"
IS09_FRAME = 400  # 25 ms at 16 kHz
EGEMAPS_FRAME = 960  # eGeMAPS's longest analysis window (F0 and formants): 60 ms at 16 kHz


def shipped_config(relative: str) -> Path:
    """Path of a configuration file in the installed opensmile package's ``core/config`` data."""
    opensmile = require("opensmile", install="opensmile", needed_by="the openSMILE features (ser-plugin-opensmile)")

    path = Path(opensmile.__file__).parent / "core" / "config" / relative
    if not path.is_file():
        raise FeatureError(
            f"openSMILE configuration {relative} not found at {path}; this plugin needs the opensmile "
            "version pinned in its pyproject.toml, which ships it."
        )
    return path


@functools.cache
def _smile(feature_set: str):
    opensmile = require("opensmile", install="opensmile", needed_by="the openSMILE features (ser-plugin-opensmile)")

    if feature_set.endswith(".conf"):
        return opensmile.Smile(feature_set=str(shipped_config(feature_set)), feature_level="func")
    return opensmile.Smile(
        feature_set=opensmile.FeatureSet[feature_set],
        feature_level=opensmile.FeatureLevel.Functionals,
    )


def _functionals(feature_set: str, signal: np.ndarray, sample_rate: int, dims: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Segment too short, filling with NaN": checked below
        values = _smile(feature_set).process_signal(signal, sample_rate).to_numpy()[0].astype(np.float32)
    if values.shape != (dims,):
        raise FeatureError(f"openSMILE {feature_set} returned {values.shape[0]} values, expected {dims}")
    bad = np.count_nonzero(~np.isfinite(values))
    if bad:
        raise FeatureError(
            f"openSMILE {feature_set} returned {bad} non-finite values for a clip of {len(signal)} samples "
            f"({len(signal) / sample_rate:.2f} s); the clip is probably too short or silent for it"
        )
    return values


def is09(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """The 384 INTERSPEECH 2009 Emotion Challenge functionals of one clip."""
    require_samples(signal, IS09_FRAME, "is09", sample_rate)
    return _functionals(IS09_CONFIG, signal, sample_rate, 384)


def egemaps(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """The 88 eGeMAPSv02 functionals of one clip."""
    require_samples(signal, EGEMAPS_FRAME, "egemaps", sample_rate)
    return _functionals("eGeMAPSv02", signal, sample_rate, 88)


@hookimpl
def register_features(register):
    register(
        FeatureSpec(
            name="is09",
            kind="functionals",
            extract=is09,
            params={"config": IS09_CONFIG, "level": "func", "dims": 384, "min_samples": IS09_FRAME},
            libraries=("opensmile",),
            description="INTERSPEECH 2009 Emotion Challenge functionals via openSMILE (384 values)",
        )
    )
    register(
        FeatureSpec(
            name="egemaps",
            kind="functionals",
            extract=egemaps,
            params={"feature_set": "eGeMAPSv02", "level": "functionals", "dims": 88, "min_samples": EGEMAPS_FRAME},
            libraries=("opensmile",),
            description="openSMILE eGeMAPSv02 functionals (88 values)",
        )
    )
