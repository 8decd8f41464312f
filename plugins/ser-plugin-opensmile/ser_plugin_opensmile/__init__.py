"""serbench features from openSMILE: every functionals set that opensmile 2.6.0 ships.

=================  ==============================  ======  ==========================================
feature            openSMILE configuration         values  what it is
=================  ==============================  ======  ==========================================
``is09``           is09-13/IS09_emotion.conf          384  INTERSPEECH 2009 Emotion Challenge
``is10``           is09-13/IS10_paraling_compat      1582  INTERSPEECH 2010 Paralinguistic Challenge
``is11``           is09-13/IS11_speaker_state        4368  INTERSPEECH 2011 Speaker State Challenge
``is12``           is09-13/IS12_speaker_trait_compat 6125  INTERSPEECH 2012 Speaker Trait Challenge
``is13``           is09-13/IS13_ComParE              6373  INTERSPEECH 2013 ComParE
``compare2016``    compare/ComParE_2016              6373  ComParE 2016 (the set used since 2016)
``emobase``        emobase/emobase                    988  openSMILE's emobase emotion set
``gemaps``         gemaps/v01b/GeMAPSv01b              62  GeMAPS v01b (minimalistic set)
``egemaps-v01b``   egemaps/v01b/eGeMAPSv01b            88  extended GeMAPS v01b
``egemaps``        egemaps/v02/eGeMAPSv02              88  extended GeMAPS v02 (the current one)
=================  ==============================  ======  ==========================================

``is09`` runs the ``is09-13/IS09_emotion.conf`` file found in the installed ``opensmile`` package's
configuration folder (as it has since this plugin's first version, so its cache key is unchanged): 16
descriptors (RMS energy, MFCC 1-12, zero-crossing rate, voicing probability, F0) smoothed over 3
frames, their deltas, times 12 functionals, from 25 ms frames every 10 ms. The other sets run
through ``opensmile.FeatureSet``; each feature's cache key holds the configuration's relative path, the
functionals level, the width and the shortest clip it accepts, and the opensmile version.
``GeMAPSv01a`` and ``eGeMAPSv01a`` are left out: opensmile deprecates them in favour of v01b.

Clips shorter than a set's longest analysis window (:data:`SETS`' ``min_samples``, found as the
shortest tone for which that set returns no NaN) fail with :class:`ser_core.ClipTooShortError`
(openSMILE would silently return NaN for them); any other non-finite output fails with its count.
openSMILE is imported inside the extractor, in the worker processes that extract features, never at
plugin import: importing it after TensorFlow in one process makes its extraction abort.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser_core import FeatureError, FeatureSpec, hookimpl, require, require_samples

IS09_CONFIG = "is09-13/IS09_emotion.conf"
IS09_FRAME = 400  # 25 ms at 16 kHz
EGEMAPS_FRAME = 960  # eGeMAPS's longest analysis window (F0 and formants): 60 ms at 16 kHz


@dataclass(frozen=True)
class OpenSmileSet:
    """One openSMILE functionals set as a serbench feature."""

    name: str
    feature_set: str  # a member of opensmile.FeatureSet, or a .conf path inside its config folder
    config: str  # the configuration's path inside opensmile's config folder (for the record)
    dims: int
    min_samples: int  # the shortest clip (16 kHz samples) the set returns finite values for
    description: str


#: Every set this plugin registers, by feature name.
SETS: dict[str, OpenSmileSet] = {
    s.name: s
    for s in (
        OpenSmileSet("is09", IS09_CONFIG, IS09_CONFIG, 384, IS09_FRAME,
                     "INTERSPEECH 2009 Emotion Challenge functionals via openSMILE (384 values)"),
        OpenSmileSet("is10", "IS10", "is09-13/IS10_paraling_compat", 1582, 1120,
                     "INTERSPEECH 2010 Paralinguistic Challenge functionals via openSMILE (1582 values)"),
        OpenSmileSet("is11", "IS11", "is09-13/IS11_speaker_state", 4368, 1120,
                     "INTERSPEECH 2011 Speaker State Challenge functionals via openSMILE (4368 values)"),
        OpenSmileSet("is12", "IS12", "is09-13/IS12_speaker_trait_compat", 6125, 1120,
                     "INTERSPEECH 2012 Speaker Trait Challenge functionals via openSMILE (6125 values)"),
        OpenSmileSet("is13", "IS13", "is09-13/IS13_ComParE", 6373, 960,
                     "INTERSPEECH 2013 ComParE functionals via openSMILE (6373 values)"),
        OpenSmileSet("compare2016", "ComParE_2016", "compare/ComParE_2016", 6373, 960,
                     "ComParE 2016 functionals via openSMILE (6373 values)"),
        OpenSmileSet("emobase", "emobase", "emobase/emobase", 988, 640,
                     "openSMILE emobase functionals (988 values)"),
        OpenSmileSet("gemaps", "GeMAPSv01b", "gemaps/v01b/GeMAPSv01b", 62, 960,
                     "openSMILE GeMAPSv01b functionals (62 values)"),
        OpenSmileSet("egemaps-v01b", "eGeMAPSv01b", "egemaps/v01b/eGeMAPSv01b", 88, EGEMAPS_FRAME,
                     "openSMILE eGeMAPSv01b functionals (88 values)"),
        OpenSmileSet("egemaps", "eGeMAPSv02", "egemaps/v02/eGeMAPSv02", 88, EGEMAPS_FRAME,
                     "openSMILE eGeMAPSv02 functionals (88 values)"),
    )
}


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


@dataclass(frozen=True)
class Extractor:
    """The extractor of one set: a picklable callable, so extraction runs in worker processes."""

    name: str

    def __call__(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        chosen = SETS[self.name]
        require_samples(signal, chosen.min_samples, chosen.name, sample_rate)
        return _functionals(chosen.feature_set, signal, sample_rate, chosen.dims)


def is09(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """The 384 INTERSPEECH 2009 Emotion Challenge functionals of one clip."""
    return Extractor("is09")(signal, sample_rate)


def egemaps(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """The 88 eGeMAPSv02 functionals of one clip."""
    return Extractor("egemaps")(signal, sample_rate)


def _params(chosen: OpenSmileSet) -> dict:
    """What keys a set's cache: kept exactly as before for ``is09`` and ``egemaps``."""
    if chosen.name == "is09":
        return {"config": IS09_CONFIG, "level": "func", "dims": 384, "min_samples": IS09_FRAME}
    if chosen.name == "egemaps":
        return {"feature_set": "eGeMAPSv02", "level": "functionals", "dims": 88, "min_samples": EGEMAPS_FRAME}
    return {"feature_set": chosen.feature_set, "config": chosen.config, "level": "functionals",
            "dims": chosen.dims, "min_samples": chosen.min_samples}


@hookimpl
def register_features(register):
    for chosen in SETS.values():
        extract = {"is09": is09, "egemaps": egemaps}.get(chosen.name, Extractor(chosen.name))
        register(
            FeatureSpec(
                name=chosen.name,
                kind="functionals",
                extract=extract,
                params=_params(chosen),
                libraries=("opensmile",),
                description=chosen.description,
            )
        )
