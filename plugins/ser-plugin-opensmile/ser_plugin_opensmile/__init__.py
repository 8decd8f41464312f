"""serbench features from openSMILE: ``egemaps`` (eGeMAPSv02 functionals, 88 values per clip).

openSMILE is imported inside the extractor, in the worker processes that extract features, never at
plugin import: importing it after TensorFlow in one process makes its extraction abort.
"""

from __future__ import annotations

import functools

import numpy as np

from ser_core import FeatureSpec, hookimpl


@functools.cache
def _smile(feature_set: str):
    import opensmile

    return opensmile.Smile(
        feature_set=opensmile.FeatureSet[feature_set],
        feature_level=opensmile.FeatureLevel.Functionals,
    )


def egemaps(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """The 88 eGeMAPSv02 functionals of one clip."""
    return _smile("eGeMAPSv02").process_signal(signal, sample_rate).to_numpy()[0].astype(np.float32)


@hookimpl
def register_features(register):
    register(
        FeatureSpec(
            name="egemaps",
            kind="functionals",
            extract=egemaps,
            params={"feature_set": "eGeMAPSv02", "level": "functionals", "dims": 88},
            libraries=("opensmile",),
            description="openSMILE eGeMAPSv02 functionals (88 values)",
        )
    )
