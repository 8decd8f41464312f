"""The librosa features of ser-plugin-spectral on generated signals: shapes, tone position, floor, range."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

import ser_plugin_spectral as spectral
from ser_core import ClipTooShortError

SR = 16_000


def tone(seconds: float, frequency: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * SR))) / SR
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.fixture(scope="module")
def specs():
    return {spec.name: spec for spec in spectral.feature_specs()}


def test_registers_the_protocol_features(serbench_registry):
    registry = serbench_registry(spectral)
    assert sorted(registry.items["feature"]) == ["logmel240", "logmel40", "raw5s", "spec5s240", "spec5s40"]
    kinds = {name: item.spec.kind for name, item in registry.items["feature"].items()}
    assert kinds["raw5s"] == "waveform" and kinds["logmel40"] == "sequence"


@pytest.mark.parametrize("name,bands", [("logmel40", 40), ("logmel240", 240)])
def test_logmel_is_variable_length_without_padding(specs, name, bands):
    extract = specs[name].extract
    for samples in (400, 559, 560, 16_000, 40_123):
        signal = np.random.default_rng(samples).standard_normal(samples).astype(np.float32) * 0.1
        values = extract(signal, SR)
        assert values.shape == (1 + (samples - 400) // 160, bands)
        assert values.dtype == np.float32 and np.isfinite(values).all()


@pytest.mark.parametrize("name,bands", [("spec5s40", 40), ("spec5s240", 240)])
def test_spec5s_crops_and_pads_to_five_seconds(specs, name, bands):
    extract = specs[name].extract
    long = np.random.default_rng(1).standard_normal(7 * SR).astype(np.float32) * 0.1
    short = long[: 2 * SR]
    for signal in (long, short, long[:80_000]):
        assert extract(signal, SR).shape == (501, bands)
    # cropping keeps the first 5 s; padding is with zeros at the end
    np.testing.assert_array_equal(extract(long, SR), extract(long[:80_000], SR))
    padded = np.concatenate([short, np.zeros(3 * SR, np.float32)])
    np.testing.assert_array_equal(extract(short, SR), extract(padded, SR))
    # frames well after the end of the 2 s clip hold only padding: exactly at the -60 dB floor
    assert (extract(short, SR)[2 * SR // 160 + 3 :] == -1.0).all()


@pytest.mark.parametrize("name", ["logmel40", "logmel240", "spec5s40", "spec5s240"])
def test_pure_tone_peaks_in_the_expected_mel_band(specs, name):
    spec = specs[name]
    params = spec.params
    centres = librosa.mel_frequencies(params["n_mels"] + 2, fmin=params["fmin"], fmax=params["fmax"])[1:-1]
    for frequency in (440.0, 1000.0, 3000.0):
        values = spec.extract(tone(1.0, frequency), SR)
        middle = values[20:60] if values.shape[0] > 60 else values  # steady-state frames of the tone
        peak_band = int(np.argmax(np.median(middle, axis=0)))
        assert peak_band == int(np.argmin(np.abs(centres - frequency))), (name, frequency)


@pytest.mark.parametrize("name", ["spec5s40", "spec5s240"])
def test_spec5s_is_relative_to_the_clip_maximum_floored_at_minus_60_db(specs, name):
    extract = specs[name].extract
    signal = tone(3.0, 1000.0)
    values = extract(signal, SR)
    assert values.min() == -1.0 and values.max() == 1.0
    assert ((values >= -1.0) & (values <= 1.0)).all()
    # relative to the clip's own maximum: a 40 dB quieter copy gives the same picture
    np.testing.assert_allclose(extract(signal * 0.01, SR), values, atol=1e-4)
    # a tone 20 dB below the loudest one sits about 20/30 below +1, far above the floor
    mixed = signal + tone(3.0, 3000.0, amplitude=0.05)
    centres = librosa.mel_frequencies(specs[name].params["n_mels"] + 2, fmin=0.0, fmax=8000.0)[1:-1]
    quiet_band = int(np.argmin(np.abs(centres - 3000.0)))
    level = np.median(extract(mixed, SR)[20:200, quiet_band])
    assert -0.6 < level < 0.9
    # digital silence has no maximum to be relative to: everything is at the floor
    assert (extract(np.zeros(SR, np.float32), SR) == -1.0).all()


def test_logmel_uses_a_small_log_floor_for_silence(specs):
    values = specs["logmel40"].extract(np.zeros(SR, np.float32), SR)
    np.testing.assert_allclose(values, np.log(1e-10))
    loud = specs["logmel40"].extract(tone(1.0, 1000.0), SR)
    assert loud.min() >= np.float32(np.log(1e-10)) and loud.max() > 0.0


def test_raw5s_clips_to_80000_samples_without_padding(specs):
    extract = specs["raw5s"].extract
    exact = np.random.default_rng(2).uniform(-1, 1, 80_000).astype(np.float32)
    np.testing.assert_array_equal(extract(exact, SR), exact)
    longer = np.random.default_rng(3).uniform(-1, 1, 123_456).astype(np.float32)
    np.testing.assert_array_equal(extract(longer, SR), longer[:80_000])
    assert extract(longer[:30_000], SR).shape == (30_000,)


@pytest.mark.parametrize("name", ["logmel40", "logmel240", "spec5s40", "spec5s240", "raw5s"])
def test_clip_shorter_than_one_frame_fails_clearly(specs, name):
    with pytest.raises(ClipTooShortError, match=rf"399 samples .* one analysis frame of '{name}' \(400 samples"):
        specs[name].extract(np.ones(399, np.float32) * 0.1, SR)


@pytest.mark.parametrize("name", ["logmel40", "logmel240", "spec5s40", "spec5s240"])
def test_no_mel_filter_is_empty(specs, name):
    p = specs[name].params
    filters = spectral.mel_filters(SR, p["n_fft"], p["n_mels"], p["fmin"], p["fmax"])
    assert filters.shape == (p["n_mels"], p["n_fft"] // 2 + 1)
    assert (filters.max(axis=1) > 0).all()


def test_protocol_n_fft_would_leave_empty_filters_for_240_bands():
    """Why the 240-band features use n_fft 1024: with 512 some bands would never see energy."""
    with pytest.warns(UserWarning, match="Empty filters"):
        filters = spectral.mel_filters(SR, 512, 240, 0.0, 8000.0)
    assert (filters.max(axis=1) == 0).sum() > 0
