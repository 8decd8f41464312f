"""The embedded synthetic corpus: deterministic, speaker- and class-structured, prosody that differs."""

from __future__ import annotations

import numpy as np
import soundfile

from ser_core.default_plugins.synthetic import DEMO
from ser_core.synthetic import SyntheticConfig, generate, synthesise, voices


def test_demo_config_meets_the_corpus_requirements():
    assert DEMO.speakers >= 8 and len(DEMO.classes) >= 4
    total = DEMO.speakers * len(DEMO.classes) * DEMO.clips_per_class
    assert 200 <= total <= 600


def test_generation_is_deterministic_and_listed(tmp_path, synthetic_manifest):
    config = SyntheticConfig(speakers=2, clips_per_class=1, min_seconds=0.5, max_seconds=0.6)
    a = generate(config, tmp_path / "a")
    b = generate(config, tmp_path / "b")
    assert [c.clip_id for c in a.clips] == [c.clip_id for c in b.clips]
    for x, y in zip(a.clips, b.clips):
        assert x.path.read_bytes() == y.path.read_bytes()
    assert not any(p.name.startswith(".partial") for p in (tmp_path / "a").iterdir())
    assert generate(config, tmp_path / "a").root == a.root, "a second call reuses the corpus"
    manifest = synthetic_manifest
    assert len(manifest.speakers()) == 4 and manifest.labels() == ["anger", "happiness", "sadness", "neutral"]
    assert set(manifest.label_counts().values()) == {12}
    audio, rate = soundfile.read(manifest.clips[0].path)
    assert rate == 16000 and audio.ndim == 1 and 0.05 < np.abs(audio).max() < 1


def _pitch(signal: np.ndarray, rate: int) -> float:
    """Autocorrelation pitch estimate over 60-400 Hz of the loudest 100 ms."""
    frame = int(0.1 * rate)
    energy = [np.sum(signal[i : i + frame] ** 2) for i in range(0, len(signal) - frame, frame // 2)]
    start = int(np.argmax(energy)) * frame // 2
    x = signal[start : start + frame] - signal[start : start + frame].mean()
    ac = np.correlate(x, x, "full")[frame - 1 :]
    lags = np.arange(rate // 400, rate // 60)
    return rate / lags[np.argmax(ac[lags])]


def test_classes_differ_in_prosody_and_speakers_in_voice():
    config = SyntheticConfig()
    female, male = voices(config)[:2]
    assert female.base_f0 > male.base_f0 + 40 and female.formant_scale > male.formant_scale
    rms, pitch = {}, {}
    for label in ("anger", "sadness"):
        clips = [synthesise(male, label, np.random.default_rng(i), config) for i in range(6)]
        rms[label] = np.mean([np.sqrt(np.mean(c**2)) for c in clips])
        pitch[label] = np.median([_pitch(c, config.sample_rate) for c in clips])
    assert rms["anger"] > 1.5 * rms["sadness"]
    assert pitch["anger"] > 1.15 * pitch["sadness"]
