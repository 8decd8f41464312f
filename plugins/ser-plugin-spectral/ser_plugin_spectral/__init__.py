"""serbench spectral features computed with librosa: ``logmel40``, ``logmel240``, ``spec5s40``,
``spec5s240`` and ``raw5s`` (the protocol's features table).

- ``logmel*``: variable length. 25 ms Hamming frames (400 samples) every 10 ms (160), no padding at
  either end (``1 + (n - 400) // 160`` frames), pre-emphasis 0.97 on the whole clip, each frame
  zero-padded to ``n_fft`` for the FFT, power spectrum -> librosa mel filterbank over 0-8 kHz ->
  natural log floored at 1e-10. ``n_fft`` is 512 for 40 bands and 1024 for 240 bands: with 512
  points (31.25 Hz bins) 18 of the 240 low-frequency filters hold no FFT bin and would be dead.
- ``spec5s*``: the clip cropped (its first 5 s) or zero-padded at the end to exactly 80,000 samples;
  centred STFT with a 400-sample Hann window, hop 160 (501 frames), power mel over 0-8 kHz, dB
  relative to the clip's maximum, floored at -60 dB, mapped linearly to [-1, 1] (-60 dB -> -1,
  the maximum -> 1; digital silence is all -1). ``n_fft`` is 512 for 40 bands as the protocol says;
  for 240 bands it is 1024 (the same 400-sample window, zero-padded) because 512 leaves 18 empty
  filters, i.e. bands that would be constant -1 for every clip.
- ``raw5s``: the waveform's first 80,000 samples (5 s), not padded.

A clip shorter than one analysis frame (400 samples, 25 ms) fails with
:class:`ser_core.ClipTooShortError` for every feature here. The mel scale and filter
normalisation are librosa's defaults (Slaney). librosa is imported inside the extractors, so
listing plugins stays fast; its first call in a process costs a few seconds (numba).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ser_core import FeatureSpec, hookimpl, require, require_samples

FRAME = 400  # 25 ms at 16 kHz
HOP = 160  # 10 ms at 16 kHz
FIVE_SECONDS = 80_000

LOGMEL_COMMON: dict[str, Any] = {
    "frame_length": FRAME,
    "hop_length": HOP,
    "window": "hamming",
    "preemphasis": 0.97,
    "fmin": 0.0,
    "fmax": 8000.0,
    "log_floor": 1e-10,
}
SPEC5S_COMMON: dict[str, Any] = {
    "samples": FIVE_SECONDS,
    "win_length": FRAME,
    "hop_length": HOP,
    "window": "hann",
    "fmin": 0.0,
    "fmax": 8000.0,
    "top_db": 60.0,
}


@functools.lru_cache(maxsize=8)
def mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """librosa's mel filterbank, shape ``(n_mels, 1 + n_fft // 2)`` (cached per process)."""
    librosa = require("librosa", install="librosa", needed_by="the spectral features (ser-plugin-spectral)")

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)


def logmel(
    signal: np.ndarray,
    sample_rate: int,
    *,
    name: str,
    n_mels: int,
    n_fft: int,
    frame_length: int,
    hop_length: int,
    window: str,
    preemphasis: float,
    fmin: float,
    fmax: float,
    log_floor: float,
) -> np.ndarray:
    """Log power mel spectrogram, shape ``(frames, n_mels)`` with ``1 + (n - frame_length) // hop`` frames."""
    librosa = require("librosa", install="librosa", needed_by="the spectral features (ser-plugin-spectral)")

    require_samples(signal, frame_length, name, sample_rate)
    emphasised = librosa.effects.preemphasis(np.asarray(signal, dtype=np.float32), coef=preemphasis)
    frames = librosa.util.frame(emphasised, frame_length=frame_length, hop_length=hop_length, axis=0)
    windowed = frames * librosa.filters.get_window(window, frame_length, fftbins=True)
    power = np.abs(np.fft.rfft(windowed, n=n_fft, axis=1)) ** 2
    mel = power @ mel_filters(sample_rate, n_fft, n_mels, fmin, fmax).T
    return np.log(np.maximum(mel, log_floor)).astype(np.float32)


def spec5s(
    signal: np.ndarray,
    sample_rate: int,
    *,
    name: str,
    n_mels: int,
    n_fft: int,
    samples: int,
    win_length: int,
    hop_length: int,
    window: str,
    fmin: float,
    fmax: float,
    top_db: float,
) -> np.ndarray:
    """Fixed-length mel spectrogram in [-1, 1], shape ``(1 + samples // hop_length, n_mels)``."""
    librosa = require("librosa", install="librosa", needed_by="the spectral features (ser-plugin-spectral)")

    require_samples(signal, win_length, name, sample_rate)
    fixed = librosa.util.fix_length(np.asarray(signal, dtype=np.float32), size=samples)
    power = librosa.feature.melspectrogram(
        y=fixed, sr=sample_rate, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
        window=window, center=True, pad_mode="constant", power=2.0, n_mels=n_mels, fmin=fmin, fmax=fmax,
    )
    if not power.max() > 0:  # digital silence: every bin is at the floor
        return np.full((power.shape[1], n_mels), -1.0, dtype=np.float32)
    decibels = librosa.power_to_db(power, ref=np.max, top_db=top_db)  # in [-top_db, 0]
    return np.clip(decibels / (top_db / 2) + 1.0, -1.0, 1.0).T.astype(np.float32)


def raw5s(signal: np.ndarray, sample_rate: int, *, name: str, max_samples: int, min_samples: int) -> np.ndarray:
    """The waveform's first ``max_samples`` samples, not padded."""
    require_samples(signal, min_samples, name, sample_rate)
    return np.array(signal[:max_samples], dtype=np.float32)


def _spec(name: str, kind: str, function, params: dict[str, Any], description: str) -> FeatureSpec:
    return FeatureSpec(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        extract=functools.partial(function, name=name, **params),
        params=params,
        libraries=("librosa", "numpy") if function is not raw5s else (),
        description=description,
    )


def feature_specs() -> list[FeatureSpec]:
    """The features this plugin registers (their ``params`` are exactly the extractor's settings)."""
    return [
        _spec("logmel40", "sequence", logmel, {"n_mels": 40, "n_fft": 512, **LOGMEL_COMMON},
              "log mel, 40 bands, 25/10 ms Hamming, pre-emphasis 0.97, variable length"),
        _spec("logmel240", "sequence", logmel, {"n_mels": 240, "n_fft": 1024, **LOGMEL_COMMON},
              "log mel, 240 bands (n_fft 1024), 25/10 ms Hamming, pre-emphasis 0.97, variable length"),
        _spec("spec5s40", "sequence", spec5s, {"n_mels": 40, "n_fft": 512, **SPEC5S_COMMON},
              "5 s mel spectrogram, 40 bands, 501 frames, -60 dB floor scaled to [-1, 1]"),
        _spec("spec5s240", "sequence", spec5s, {"n_mels": 240, "n_fft": 1024, **SPEC5S_COMMON},
              "5 s mel spectrogram, 240 bands (n_fft 1024), 501 frames, -60 dB floor scaled to [-1, 1]"),
        _spec("raw5s", "waveform", raw5s, {"max_samples": FIVE_SECONDS, "min_samples": FRAME},
              "raw waveform, at most 80,000 samples (5 s), not padded"),
    ]


@hookimpl
def register_features(register):
    for spec in feature_specs():
        register(spec)
