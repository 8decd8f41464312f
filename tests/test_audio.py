"""Audio loading: every rate, channel count and container the corpora ship -> 16 kHz mono float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from ser_core.audio import SAMPLE_RATE, AudioError, audio_info, load_audio


def tone(rate: int, seconds: float = 0.5, freq: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return mono if channels == 1 else np.stack([mono] * channels, axis=1)


def dominant_frequency(signal: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return float(np.fft.rfftfreq(len(signal), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("rate", [8_000, 16_000, 24_414, 44_100, 48_000, 96_000])
def test_any_rate_becomes_16k_with_pitch_and_level_kept(tmp_path, rate):
    path = tmp_path / "clip.wav"
    soundfile.write(path, tone(rate), rate, subtype="PCM_24")
    signal = load_audio(path)
    assert signal.dtype == np.float32 and signal.ndim == 1
    assert len(signal) == pytest.approx(SAMPLE_RATE * 0.5, abs=2)
    assert dominant_frequency(signal, SAMPLE_RATE) == pytest.approx(440, abs=3)
    assert np.max(np.abs(signal[1000:-1000])) == pytest.approx(0.5, abs=0.02)


def test_stereo_channels_are_averaged(tmp_path):
    left = tone(44_100, freq=300)
    right = np.zeros_like(left)
    soundfile.write(tmp_path / "stereo.wav", np.stack([left, right], axis=1), 44_100)
    signal = load_audio(tmp_path / "stereo.wav")
    assert np.max(np.abs(signal[1000:-1000])) == pytest.approx(0.25, abs=0.01)
    assert audio_info(tmp_path / "stereo.wav").channels == 2


def test_aiff_c_data_in_a_wav_name_is_read_by_content(tmp_path):
    path = tmp_path / "OAF_bath_angry.wav"
    soundfile.write(path, tone(24_414), 24_414, format="AIFF", subtype="FLOAT")
    assert path.read_bytes()[:4] == b"FORM" and path.read_bytes()[8:12] == b"AIFC"
    info = audio_info(path)
    assert (info.sample_rate, info.container) == (24_414, "AIFF")
    assert info.duration == pytest.approx(0.5, abs=1e-3)
    assert dominant_frequency(load_audio(path), SAMPLE_RATE) == pytest.approx(440, abs=3)


def test_flac_and_8_bit_audio(tmp_path):
    soundfile.write(tmp_path / "a.flac", tone(48_000), 48_000)
    soundfile.write(tmp_path / "b.wav", tone(11_025), 11_025, subtype="PCM_U8")
    assert load_audio(tmp_path / "a.flac").shape == (8_000,)
    assert len(load_audio(tmp_path / "b.wav")) == pytest.approx(8_000, abs=2)


def test_video_container_audio_track(tmp_path):
    """eNTERFACE ships .avi videos: their audio track is read through FFmpeg's libraries."""
    av = pytest.importorskip("av")
    path = tmp_path / "s1_an_1.avi"
    samples = (tone(44_100, channels=2) * 32767).astype(np.int16)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=44_100)
        stream.layout = "stereo"
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = 44_100
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    info = audio_info(path)
    assert (info.sample_rate, info.channels) == (44_100, 2)
    signal = load_audio(path)
    assert len(signal) == pytest.approx(8_000, abs=2)
    assert dominant_frequency(signal, SAMPLE_RATE) == pytest.approx(440, abs=3)


def test_zero_byte_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "03a01Fa.wav"
    path.write_bytes(b"")
    for read in (load_audio, audio_info):
        with pytest.raises(AudioError, match=rf"{path}: the file is empty \(0 bytes\)\. Replace"):
            read(path)


def test_header_without_samples_is_an_error_naming_it(tmp_path):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros(0, dtype=np.float32), 16_000)
    assert path.stat().st_size > 0
    with pytest.raises(AudioError, match=rf"{path}: the file holds no audio samples"):
        load_audio(path)


@pytest.mark.parametrize("content", [b"not audio at all" * 10, b"RIFF\x10\x00\x00\x00WAVEfmt "])
def test_corrupt_file_is_an_error_naming_it(tmp_path, content):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=rf"{path}: cannot decode audio .*Check the file"):
        load_audio(path)
    with pytest.raises(AudioError, match=rf"{path}: cannot read the audio header"):
        audio_info(path)


def test_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(AudioError, match=rf"{tmp_path / 'gone.wav'}: file not found"):
        load_audio(tmp_path / "gone.wav")
