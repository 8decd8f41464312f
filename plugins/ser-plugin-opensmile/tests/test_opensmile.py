"""openSMILE features (every shipped functionals set) on generated signals, and extraction after TensorFlow
is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile

import ser_plugin_opensmile as smile
from ser_core import ClipTooShortError

SR = 16_000


def voiced(seconds: float, f0: float = 180.0, seed: int = 0) -> np.ndarray:
    """A harmonic, vowel-like signal with a little noise and a rising pitch."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.2 * t / seconds)) / SR
    signal = sum(np.sin(k * phase) / k for k in range(1, 8)) * 0.2 + 0.01 * rng.standard_normal(len(t))
    return signal.astype(np.float32)


def test_is09_has_384_finite_deterministic_values():
    signal = voiced(1.5)
    first = smile.is09(signal, SR)
    assert first.shape == (384,) and first.dtype == np.float32 and np.isfinite(first).all()
    np.testing.assert_array_equal(smile.is09(signal.copy(), SR), first)
    other = smile.is09(voiced(1.5, f0=120.0, seed=1), SR)
    assert not np.allclose(other, first)


def test_is09_config_is_the_one_shipped_with_opensmile():
    path = smile.shipped_config(smile.IS09_CONFIG)
    assert path.name == "IS09_emotion.conf" and "opensmile" in str(path)
    columns = list(smile._smile(smile.IS09_CONFIG).feature_names)
    assert len(columns) == 384
    # 16 smoothed descriptors + their deltas, 12 functionals each
    assert columns[0] == "pcm_RMSenergy_sma_max" and columns[-1] == "F0_sma_de_kurtosis"
    assert sum(name.endswith("_amean") for name in columns) == 32


def test_egemaps_has_88_values():
    values = smile.egemaps(voiced(1.5), SR)
    assert values.shape == (88,) and np.isfinite(values).all()


#: The width openSMILE's documentation gives for each set (ComParE 2016: 6,373; IS10: 1,582; ...).
WIDTHS = {"is09": 384, "is10": 1582, "is11": 4368, "is12": 6125, "is13": 6373, "compare2016": 6373,
          "emobase": 988, "gemaps": 62, "egemaps-v01b": 88, "egemaps": 88}


def test_every_shipped_set_is_registered_with_its_configuration_in_the_cache_key():
    from ser_core.api.testing import load_registry

    registry = load_registry()
    assert set(smile.SETS) == set(WIDTHS)
    for name, chosen in smile.SETS.items():
        spec = registry.feature(name).spec
        assert spec.kind == "functionals" and spec.params["dims"] == WIDTHS[name]
        assert spec.params["min_samples"] == chosen.min_samples and "opensmile" in spec.libraries
        assert chosen.config in (spec.params.get("config"), f"egemaps/v02/{spec.params.get('feature_set')}")
        assert smile.shipped_config(chosen.config + ("" if chosen.config.endswith(".conf") else ".conf")).is_file()


@pytest.mark.parametrize("name", sorted(WIDTHS))
def test_each_set_has_its_width_of_finite_deterministic_values(name):
    extract = smile.Extractor(name)
    signal = voiced(0.8)
    first = extract(signal, SR)
    assert first.shape == (WIDTHS[name],) and first.dtype == np.float32 and np.isfinite(first).all()
    np.testing.assert_array_equal(extract(signal.copy(), SR), first)
    assert not np.allclose(extract(voiced(0.8, f0=120.0, seed=1), SR), first)
    shortest = smile.SETS[name].min_samples
    assert np.isfinite(extract(voiced(1.0)[:shortest], SR)).all()
    with pytest.raises(ClipTooShortError, match=f"{shortest - 1} samples"):
        extract(voiced(1.0)[:shortest - 1], SR)


def test_too_short_clips_fail_instead_of_returning_nan():
    with pytest.raises(ClipTooShortError, match="399 samples"):
        smile.is09(voiced(1.0)[:399], SR)
    assert np.isfinite(smile.is09(voiced(1.0)[:400], SR)).all()
    with pytest.raises(ClipTooShortError, match="959 samples"):
        smile.egemaps(voiced(1.0)[:959], SR)
    assert np.isfinite(smile.egemaps(voiced(1.0)[:960], SR)).all()


TF_FIRST = textwrap.dedent(
    """
    import json, sys
    import tensorflow  # imported first, on purpose: opensmile in this process would abort
    from pathlib import Path
    from ser_core import Clip, Manifest
    from ser_core.api.testing import extract, load_registry

    paths = json.loads(sys.argv[1])
    manifest = Manifest("tones", [Clip(Path(p).stem, Path(p), "s1", "neutral") for p in paths])
    registry = load_registry()
    out = {}
    for name in ("is09", "egemaps", "compare2016"):
        table = extract(manifest, registry.feature(name), workers=1, use_cache=False)
        out[name] = {"ids": table.clip_ids, "values": [v.tolist() for v in table.items],
                     "failures": table.failures}
    print("RESULT" + json.dumps(out))
    """
)


def test_extraction_works_after_the_parent_imported_tensorflow(tmp_path):
    paths = []
    for i, f0 in enumerate((150.0, 220.0)):
        path = tmp_path / f"clip{i}.wav"
        soundfile.write(path, voiced(1.2, f0=f0, seed=i), SR)
        paths.append(str(path))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", TF_FIRST, json.dumps(paths)], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT", 1)[1])
    expected = {"is09": smile.is09, "egemaps": smile.egemaps, "compare2016": smile.Extractor("compare2016")}
    for name, function in expected.items():
        assert result[name]["failures"] == {} and result[name]["ids"] == ["clip0", "clip1"]
        for path, values in zip(paths, result[name]["values"]):
            signal, _ = soundfile.read(path, dtype="float32")
            np.testing.assert_allclose(values, function(signal, SR), rtol=1e-5, atol=1e-6)
