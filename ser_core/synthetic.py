"""A synthetic emotional-speech corpus, generated deterministically from a seed.

Clips are speech-like voiced signals: a harmonic source whose pitch follows a syllable-by-syllable
contour, shaped by formant resonators (vowel-like, scaled per speaker) and by syllable envelopes.
Emotion classes differ in prosody (pitch level and range, speaking rate, loudness, spectral tilt);
speakers differ in voice (base pitch, formant scale, loudness habit). Per-clip jitter makes the
classes overlap, so a sensible system scores well above chance but not perfectly. The corpus is
written once to a directory (atomically) and re-used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ser_core.errors import CacheError
from ser_core.outputs import describe_os_error
from ser_core.specs import Clip, Manifest

GENERATOR_VERSION = "1"

#: class -> (pitch factor, pitch range in semitones, syllables per second, loudness dB, tilt exponent)
PROSODY: dict[str, tuple[float, float, float, float, float]] = {
    "anger": (1.22, 4.0, 5.0, 5.0, 0.9),
    "happiness": (1.28, 6.5, 4.6, 2.5, 1.2),
    "sadness": (0.92, 1.5, 3.2, -5.0, 1.8),
    "neutral": (1.0, 2.5, 4.0, 0.0, 1.4),
    "fear": (1.35, 3.0, 5.6, -1.5, 1.5),  # only in the second corpus, synthetic-b
}

VOWELS = np.array(
    [[730, 1090, 2440], [530, 1840, 2480], [270, 2290, 3010], [570, 840, 2410], [300, 870, 2240]],
    dtype=np.float64,
)


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. The defaults are the demo corpus: 8 speakers x 4 classes x 10 clips."""

    speakers: int = 8
    clips_per_class: int = 10
    classes: tuple[str, ...] = ("anger", "happiness", "sadness", "neutral")
    seed: int = 0
    min_seconds: float = 1.2
    max_seconds: float = 2.4
    sample_rate: int = 16_000
    jitter: float = 1.0  # scales the per-clip spread of every prosodic cue

    def digest(self) -> str:
        payload = json.dumps([GENERATOR_VERSION, asdict(self)], sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:12]


@dataclass(frozen=True)
class Voice:
    speaker: str
    gender: str
    base_f0: float
    formant_scale: float
    loudness_db: float


def voices(config: SyntheticConfig) -> list[Voice]:
    """The speakers: alternating female/male, each with its own pitch, formant scale and loudness."""
    rng = np.random.default_rng([config.seed, 1])
    out = []
    for i in range(config.speakers):
        female = i % 2 == 0
        out.append(
            Voice(
                speaker=f"{'f' if female else 'm'}{i + 1:02d}",
                gender="female" if female else "male",
                base_f0=float(rng.normal(205 if female else 115, 15 if female else 10)),
                formant_scale=float(rng.normal(1.15 if female else 1.0, 0.04)),
                loudness_db=float(rng.normal(0, 2.0)),
            )
        )
    return out


def _resonator(signal: np.ndarray, freq: float, bandwidth: float, sr: int) -> np.ndarray:
    from scipy.signal import lfilter

    r = np.exp(-np.pi * bandwidth / sr)
    theta = 2 * np.pi * freq / sr
    return lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], signal)


def synthesise(voice: Voice, label: str, rng: np.random.Generator, config: SyntheticConfig) -> np.ndarray:
    """One clip of ``voice`` speaking with emotion ``label`` (float32, peak below 1)."""
    sr = config.sample_rate
    pitch, semitones, rate, loud, tilt = PROSODY[label]
    j = config.jitter
    pitch *= np.exp(rng.normal(0, 0.07 * j))
    semitones *= np.exp(rng.normal(0, 0.3 * j))
    rate *= np.exp(rng.normal(0, 0.15 * j))
    loud += rng.normal(0, 2.5 * j) + voice.loudness_db
    tilt += rng.normal(0, 0.25 * j)

    seconds = rng.uniform(config.min_seconds, config.max_seconds)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    n_syll = max(2, int(round(rate * seconds)))
    centres = (np.arange(n_syll) + 0.5 + rng.uniform(-0.2, 0.2, n_syll)) * seconds / n_syll
    targets = rng.normal(0, semitones / 2, n_syll) - np.linspace(0, semitones / 3, n_syll)
    contour = np.interp(t, centres, targets)
    f0 = voice.base_f0 * pitch * 2 ** (contour / 12) * (1 + 0.004 * rng.standard_normal(n))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    n_harm = int(4000 // f0.max())
    k = np.arange(1, n_harm + 1)[:, None]
    source = ((k.astype(np.float64) ** -tilt) * np.sin(k * phase)).sum(axis=0)

    signal = np.zeros(n)
    width = 0.8 * seconds / n_syll
    for c in range(n_syll):
        vowel = VOWELS[rng.integers(len(VOWELS))] * voice.formant_scale
        shaped = source
        for formant, bandwidth in zip(vowel, (80.0, 110.0, 160.0)):
            shaped = _resonator(shaped, formant, bandwidth, sr)
        envelope = np.clip(1 - ((t - centres[c]) / (width / 2)) ** 2, 0, None) ** 0.7
        signal += envelope * shaped
    signal += 0.01 * signal.std() * rng.standard_normal(n)
    target_rms = 10 ** ((-24 + loud) / 20)
    signal *= target_rms / (np.sqrt(np.mean(signal**2)) + 1e-12)
    return np.clip(signal, -0.99, 0.99).astype(np.float32)


def _manifest(config: SyntheticConfig, root: Path, name: str = "synthetic") -> Manifest:
    clips = []
    for voice in voices(config):
        for label in config.classes:
            for i in range(config.clips_per_class):
                clip_id = f"{voice.speaker}_{label}_{i:02d}"
                clips.append(
                    Clip(clip_id, root / f"{clip_id}.wav", voice.speaker, label, gender=voice.gender)
                )
    return Manifest(name, clips, root=root)


def generate(config: SyntheticConfig, root: Path, name: str = "synthetic") -> Manifest:
    """Write the corpus of ``config`` under ``root/<digest>`` (once) and return its manifest
    (of the corpus ``name``).

    Generation happens in a temporary directory that is renamed into place when complete, so an
    interrupted or concurrent generation never leaves a partial corpus behind.
    """
    target = Path(root) / f"v{GENERATOR_VERSION}-{config.digest()}"
    if not target.is_dir():
        try:
            _generate_into(config, target)
        except OSError as exc:  # read-only cache, disk full: nothing half-written is left behind
            raise CacheError(
                f"cannot generate the synthetic corpus: {describe_os_error(target.parent, exc)} "
                "Set SERBENCH_CACHE_DIR to a writable directory with space."
            ) from None
        except RuntimeError as exc:  # libsndfile's write errors (e.g. a full disk)
            raise CacheError(
                f"cannot generate the synthetic corpus in {target.parent}: {exc}. Set SERBENCH_CACHE_DIR to "
                "a writable directory with space."
            ) from None
    return _manifest(config, target, name)


def _generate_into(config: SyntheticConfig, target: Path) -> None:
    """Write the clips into a staging directory next to ``target`` and rename it into place."""
    import soundfile

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".partial-"))
    try:
        staged = _manifest(config, staging)
        by_voice = {v.speaker: v for v in voices(config)}
        for index, clip in enumerate(staged.clips):
            rng = np.random.default_rng([config.seed, 2, index])
            audio = synthesise(by_voice[clip.speaker], clip.label, rng, config)
            soundfile.write(clip.path, audio, config.sample_rate, subtype="PCM_16")
        try:
            os.rename(staging, target)
        except OSError:  # another process finished first: use theirs
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
