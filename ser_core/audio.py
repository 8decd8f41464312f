"""Audio loading in one place: any file the corpora ship comes out as 16 kHz mono float32.

Files are decoded by content, never by name: libsndfile (through soundfile) reads WAV, AIFF and
AIFF-C (also when such data sits in a file named ``.wav``, as in TESS), FLAC, OGG and MP3 at any
sample rate and channel count; containers it cannot open (the ``.avi`` videos of eNTERFACE, ``.mp4``)
are read through FFmpeg's libraries (PyAV, imported only then). Channels are averaged and other
sample rates (24.414, 44.1, 48, 96 kHz, ...) resampled with soxr at high quality. Every failure raises
:class:`AudioError` naming the file and saying what to do: a file that cannot be opened (permissions)
is told apart from one that cannot be decoded, and a RIFF/WAVE file whose data chunk is shorter than
its header says (a truncated copy, which libsndfile would read silently as a shorter clip) is an error.

For feature plugins (public through :mod:`ser_core`): :func:`load_audio`, :data:`SAMPLE_RATE`, and
:func:`require_samples`, which fails a clip shorter than one analysis frame with
:class:`ClipTooShortError`.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser_core.errors import FeatureError, SerbenchError

SAMPLE_RATE = 16_000


class AudioError(SerbenchError):
    """A file that cannot be decoded, or holds no samples."""


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says: native sample rate, channel count, duration and container."""

    sample_rate: int
    channels: int
    duration: float
    container: str


def _check_not_empty(path: Path) -> None:
    """Open ``path`` for reading (so permission problems are named as such), refuse empty files and
    truncated WAV data."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                raise AudioError(
                    f"{path}: the file is empty (0 bytes). Replace it with a complete copy or remove it."
                )
            _check_wav_data(path, handle, size)
    except FileNotFoundError:
        raise AudioError(f"{path}: file not found. Re-scan the corpus or restore the file.") from None
    except IsADirectoryError:
        raise AudioError(f"{path}: is a directory, not an audio file. Remove or rename it.") from None
    except PermissionError:
        raise AudioError(
            f"{path}: permission denied: serbench may not read this file. Fix its permissions "
            "(e.g. chmod a+r) or run as a user who can read the corpus."
        ) from None
    except OSError as exc:
        raise AudioError(f"{path}: cannot be read ({exc.strerror or exc}). Check the disk and the file.") from exc


#: Data-chunk sizes that streaming writers use for "unknown length"; such files are not checked.
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)


def _check_wav_data(path: Path, handle, size: int) -> None:
    """For a RIFF/WAVE file: raise :class:`AudioError` when the data chunk holds fewer bytes than its
    header declares (the file was cut short). Other containers are left to the decoder."""
    head = handle.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    position = 12
    block_align = byte_rate = 0
    while position + 8 <= size:
        handle.seek(position)
        chunk_id, chunk_size = struct.unpack("<4sI", handle.read(8))
        if chunk_id == b"fmt ":
            fmt = handle.read(16)
            if len(fmt) == 16:
                _, _, _, byte_rate, block_align, _ = struct.unpack("<HHIIHH", fmt)
        elif chunk_id == b"data":
            available = size - position - 8
            if chunk_size in _UNKNOWN_SIZES or available >= chunk_size:
                return
            said = f"{chunk_size} bytes"
            held = f"{available} bytes"
            if byte_rate:
                said += f" ({chunk_size / byte_rate:.2f} s)"
                held += f" ({available / byte_rate:.2f} s)"
            raise AudioError(
                f"{path}: truncated: the WAV header says its audio data is {said}, but the file holds "
                f"only {held}. Replace it with a complete copy from the corpus distribution, or remove it."
            )
        position += 8 + chunk_size + (chunk_size & 1)


def _read_native(path: Path) -> tuple[np.ndarray, int]:
    """``(samples x channels float32, native rate)``, trying libsndfile first, then FFmpeg."""
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        return data, int(rate)
    except Exception as sndfile_exc:  # libsndfile raises several types; all mean "cannot decode"
        try:
            return _read_with_ffmpeg(path)
        except _NoFFmpeg:
            raise AudioError(
                f"{path}: cannot decode audio ({sndfile_exc}). Check the file is complete audio; for "
                "video containers install PyAV (`pip install av`)."
            ) from sndfile_exc
        except PermissionError:
            raise AudioError(f"{path}: permission denied while decoding. Fix its permissions.") from None
        except Exception as exc:
            raise AudioError(
                f"{path}: cannot decode audio (libsndfile: {sndfile_exc}; FFmpeg: {exc}). Check the "
                "file is complete audio, or replace it with a fresh copy from the corpus distribution."
            ) from exc


class _NoFFmpeg(Exception):
    """PyAV is not installed."""


def _read_with_ffmpeg(path: Path) -> tuple[np.ndarray, int]:
    try:
        import av
    except ImportError as exc:
        raise _NoFFmpeg() from exc
    with av.open(str(path)) as container:
        streams = container.streams.audio
        if not streams:
            raise ValueError("the file has no audio track")
        stream = streams[0]
        rate = int(stream.rate or stream.codec_context.sample_rate)
        resampler = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=rate)
        chunks = []
        for frame in container.decode(stream):
            for converted in resampler.resample(frame):
                chunks.append(converted.to_ndarray())
        for converted in resampler.resample(None):
            chunks.append(converted.to_ndarray())
    if not chunks:
        return np.zeros((0, 1), dtype=np.float32), rate
    return np.concatenate(chunks, axis=1).T.astype(np.float32, copy=False), rate


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read ``path`` as mono float32 at ``sample_rate`` (channels averaged, resampled with soxr HQ)."""
    path = Path(path)
    _check_not_empty(path)
    data, native_rate = _read_native(path)
    if data.shape[0] == 0:
        raise AudioError(f"{path}: the file holds no audio samples (zero length). Replace or remove it.")
    signal = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if native_rate != sample_rate:
        import soxr

        signal = soxr.resample(signal, native_rate, sample_rate, quality="HQ")
    signal = np.ascontiguousarray(signal, dtype=np.float32)
    if not np.isfinite(signal).all():
        raise AudioError(f"{path}: the decoded audio holds NaN or infinite values. Replace the file.")
    return signal


def peak(path: str | Path) -> float:
    """The largest absolute sample value of ``path`` at its native rate (0.0 for digital silence)."""
    path = Path(path)
    _check_not_empty(path)
    data, _ = _read_native(path)
    return float(np.max(np.abs(data))) if data.size else 0.0


def audio_info(path: str | Path) -> AudioInfo:
    """The header of ``path`` (sample rate, channels, duration, container) without decoding it all."""
    import soundfile

    path = Path(path)
    _check_not_empty(path)
    try:
        info = soundfile.info(str(path))
        return AudioInfo(int(info.samplerate), int(info.channels), float(info.duration), str(info.format))
    except Exception as sndfile_exc:
        try:
            return _info_with_ffmpeg(path)
        except _NoFFmpeg:
            raise AudioError(
                f"{path}: cannot read the audio header ({sndfile_exc}). Check the file is complete audio."
            ) from sndfile_exc
        except Exception as exc:
            raise AudioError(
                f"{path}: cannot read the audio header (libsndfile: {sndfile_exc}; FFmpeg: {exc}). "
                "Check the file is complete audio."
            ) from exc


def _info_with_ffmpeg(path: Path) -> AudioInfo:
    try:
        import av
    except ImportError as exc:
        raise _NoFFmpeg() from exc
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError("the file has no audio track")
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = float(container.duration or 0) / 1_000_000
        return AudioInfo(
            int(stream.rate or stream.codec_context.sample_rate),
            int(stream.channels or stream.codec_context.channels),
            duration,
            container.format.name.upper(),
        )


#: Clips whose absolute peak stays below this (-80 dBFS) are reported as silent.
SILENT_PEAK = 1e-4


class ClipTooShortError(FeatureError):
    """A clip holds fewer samples than one analysis frame of the feature."""


def require_samples(signal: np.ndarray, minimum: int, feature: str, sample_rate: int = SAMPLE_RATE) -> None:
    """Raise :class:`ClipTooShortError` when ``signal`` is shorter than ``minimum`` samples.

    Feature plugins call this first, so a clip shorter than one analysis frame fails with a clear
    reason instead of producing an empty or padded-garbage array.
    """
    if len(signal) < minimum:
        raise ClipTooShortError(
            f"{len(signal)} samples ({1000 * len(signal) / sample_rate:.1f} ms) is shorter than one "
            f"analysis frame of {feature!r} ({minimum} samples, {1000 * minimum / sample_rate:.1f} ms)"
        )
