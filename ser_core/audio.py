"""Audio loading in one place: any file the corpora ship comes out as 16 kHz mono float32.

Channels are averaged and other sample rates resampled with soxr (high quality). Decoding is by
content, so AIFF-C data in a file named ``.wav`` loads too. Failures raise :class:`AudioError`
naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_core.errors import SerbenchError

SAMPLE_RATE = 16_000


class AudioError(SerbenchError):
    """A file that cannot be decoded, or holds no samples."""


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read ``path`` as mono float32 at ``sample_rate``."""
    import soundfile

    path = Path(path)
    try:
        data, native_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile raises several types; all mean "cannot decode"
        raise AudioError(f"{path}: cannot decode audio ({exc}). Check the file is complete audio.") from exc
    if data.shape[0] == 0:
        raise AudioError(f"{path}: the file holds no audio samples (zero length). Replace or remove it.")
    signal = data.mean(axis=1)
    if native_rate != sample_rate:
        import soxr

        signal = soxr.resample(signal, native_rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(signal, dtype=np.float32)


def audio_info(path: str | Path) -> tuple[int, float]:
    """``(native sample rate, duration in seconds)`` of ``path`` without decoding it all."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception as exc:
        raise AudioError(f"{path}: cannot read audio header ({exc}).") from exc
    return int(info.samplerate), float(info.duration)
