"""Whisper features on tiny random-weight models through both routes (CTranslate2, converted here by
ctranslate2's own converter, and transformers): shapes, determinism, the covered frames only, chunks
of long clips, the cache key, the errors; then the real tiny.en weights when they are installed."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys

import numpy as np
import pytest

import ser_plugin_whisper
from ser_core import FeatureError
from ser_core.api.testing import cache_key, extract
from ser_plugin_whisper import MODEL_DIR_VARIABLE, WhisperParams, whisper_feature
from ser_plugin_whisper.extraction import covered_frames, extract as encode

RATE = 16_000


def options(folder, route="ctranslate2", **changes):
    base = dict(route=route, model=str(folder), local_name="tiny", layer=-1, pooling="frames",
                compute_type="float32", batch_chunks=4)
    return {**base, **changes}


def noise(seconds: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.1, int(seconds * RATE)).astype(np.float32)


def test_registration_is_cheap_and_names_the_family():
    specs = {spec.name: spec for spec in ser_plugin_whisper.feature_specs()}
    for size in ser_plugin_whisper.SIZES:
        base = f"whisper-{size}"
        assert specs[base].kind == specs[f"{base}-meanstd"].kind == specs[f"{base}-layers"].kind == "functionals"
        assert specs[f"{base}-frames"].kind == "sequence"
        assert set(specs[base].libraries) == {"ctranslate2", "transformers"}
        assert set(specs[f"{base}-layers"].libraries) == {"torch", "transformers"}
    tiny = specs["whisper-tiny.en"]
    assert isinstance(tiny.params, WhisperParams) and tiny.params._resolved is None, "nothing looked up at registration"
    assert "Systran/faster-whisper-tiny.en" in repr(tiny.params) and "not yet resolved" in repr(tiny.params)
    assert specs["whisper-large-v3-layers"].extract.keywords["model"] == "openai/whisper-large-v3"
    with pytest.raises(ValueError, match="last layer only"):
        whisper_feature("x", "m", layer=2)
    with pytest.raises(ValueError, match="pooling must be one of"):
        whisper_feature("x", "m", pooling="max")


def test_listing_plugins_imports_no_ctranslate2_torch_or_transformers():
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ser_core.cli import app\n"
        "result = CliRunner().invoke(app, ['list', '--json'])\n"
        "assert result.exit_code == 0 and 'whisper-tiny.en-frames' in result.output, result.output\n"
        "print(sorted(m for m in ('ctranslate2', 'torch', 'transformers', 'huggingface_hub', 'tensorflow') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_covered_frames_are_one_per_320_samples():
    assert covered_frames(320) == 1 and covered_frames(321) == 2 and covered_frames(16_000) == 50
    assert covered_frames(30 * RATE) == 1500 and covered_frames(31 * RATE) == 1500


def test_ctranslate2_route_shapes_determinism_and_padding_excluded(tiny_whisper):
    import ctranslate2

    folder = tiny_whisper / "whisper-tiny.en"
    signal = noise(1.01)  # 16,160 samples: 51 covered frames
    frames = encode(signal, RATE, **options(folder))
    assert frames.shape == (51, 16) and frames.dtype == np.float32
    np.testing.assert_array_equal(frames, encode(signal, RATE, **options(folder)))  # deterministic
    mean = encode(signal, RATE, **options(folder, pooling="mean"))
    meanstd = encode(signal, RATE, **options(folder, pooling="meanstd"))
    np.testing.assert_allclose(mean, frames.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(meanstd, np.concatenate([frames.mean(axis=0), frames.std(axis=0)]), rtol=1e-5, atol=1e-6)
    # the frames are the first 51 of the encoder's 1,500 for the clip padded to 30 s, as Whisper pads
    import transformers

    mels = transformers.WhisperFeatureExtractor(feature_size=80)(signal, sampling_rate=RATE, return_tensors="np").input_features
    model = ctranslate2.models.Whisper(str(folder), device="cpu")
    full = np.array(model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mels)), to_cpu=True))[0]
    assert full.shape == (1500, 16)
    np.testing.assert_allclose(frames, full[:51], rtol=1e-4, atol=1e-5)
    assert not np.allclose(mean, full.mean(axis=0), atol=1e-3), "the padding's frames would change the mean"


def test_transformers_route_every_layer_and_agreement_with_ctranslate2(tiny_whisper):
    folder = tiny_whisper / "whisper-tiny.en-transformers"
    signal = noise(0.7, seed=1)  # 11,200 samples: 35 covered frames
    every = encode(signal, RATE, **options(folder, route="transformers", layer="all"))
    assert every.shape == (35, 3 * 16)  # the convolutional front end's output + 2 layers, layer-major
    np.testing.assert_array_equal(every, encode(signal, RATE, **options(folder, route="transformers", layer="all")))
    last = encode(signal, RATE, **options(folder, route="transformers", layer=-1))
    np.testing.assert_allclose(last, every[:, 32:], rtol=1e-5, atol=1e-6)
    mean = encode(signal, RATE, **options(folder, route="transformers", layer="all", pooling="mean"))
    np.testing.assert_allclose(mean, every.reshape(35, 3, 16).mean(axis=0).reshape(-1), rtol=1e-5, atol=1e-6)
    converted = encode(signal, RATE, **options(tiny_whisper / "whisper-tiny.en"))
    np.testing.assert_allclose(converted, last, rtol=1e-3, atol=1e-3)  # the same weights through both routes
    params = dict(whisper_feature("mine", str(folder), route="transformers", layer="all").params)
    assert params["layers_kept"] == 3 and params["hidden_size"] == 16 and params["n_mels"] == 80
    with pytest.raises(FeatureError, match="outside the 3 hidden states"):
        dict(whisper_feature("x", str(folder), route="transformers", layer=3).params)


def test_clips_over_30_seconds_are_encoded_in_chunks(tiny_whisper):
    folder = tiny_whisper / "whisper-tiny.en"
    signal = noise(65.0, seed=2)  # 30 s + 30 s + 5 s
    frames = encode(signal, RATE, **options(folder, batch_chunks=2))
    assert frames.shape == (1500 + 1500 + 250, 16)
    first = encode(signal[: 30 * RATE], RATE, **options(folder))
    tail = encode(signal[60 * RATE :], RATE, **options(folder))
    np.testing.assert_allclose(frames[:1500], first, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(frames[3000:], tail, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(encode(signal, RATE, **options(folder, batch_chunks=1)), frames, rtol=1e-4, atol=1e-5)


def test_extraction_through_the_core_with_the_model_directory(tiny_whisper, synthetic_manifest, serbench_registry,
                                                             serbench_cache, monkeypatch):
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(tiny_whisper))
    registry = serbench_registry(ser_plugin_whisper)
    feature = registry.feature("whisper-tiny.en")
    table = extract(synthetic_manifest, feature, workers=0)
    assert not table.failures and len(table) == len(synthetic_manifest.clips)
    assert {item.shape for item in table.items} == {(16,)}
    params = dict(feature.spec.params)
    assert params["model"] == "Systran/faster-whisper-tiny.en" and params["weights"].startswith("sha256:")
    assert (params["route"], params["layer"], params["pooling"], params["n_mels"]) == ("ctranslate2", -1, "mean", 80)
    again = extract(synthetic_manifest, feature, workers=0)
    assert again.from_cache and np.array_equal(np.stack(again.items), np.stack(table.items))
    frames = extract(synthetic_manifest, registry.feature("whisper-tiny.en-frames"), workers=0)
    import soundfile

    paths = {c.clip_id: c.path for c in synthetic_manifest.clips}
    for clip_id, item in zip(frames.clip_ids, frames.items):  # 16 kHz clips: one frame per 320 samples
        assert item.shape == (covered_frames(soundfile.info(str(paths[clip_id])).frames), 16)
    layers = extract(synthetic_manifest, registry.feature("whisper-tiny.en-layers"), workers=0)
    assert {item.shape for item in layers.items} == {(3 * 16,)}
    # one clip through a spawned worker process (how serbench extracts) gives the same values
    one = synthetic_manifest.__class__(synthetic_manifest.corpus, synthetic_manifest.clips[:1], synthetic_manifest.root)
    spawned = extract(one, registry.feature("whisper-tiny.en"), workers=1, use_cache=False)
    np.testing.assert_allclose(spawned.items[0], table.items[0], rtol=1e-5, atol=1e-6)


def test_the_weights_key_the_cache(tiny_whisper, make_tiny, tmp_path, synthetic_manifest, serbench_registry, monkeypatch):
    save_tiny, convert = make_tiny
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(tiny_whisper))
    first = cache_key(synthetic_manifest, serbench_registry(ser_plugin_whisper).feature("whisper-tiny.en"))
    layers = cache_key(synthetic_manifest, serbench_registry(ser_plugin_whisper).feature("whisper-tiny.en-layers"))
    copy = tmp_path / "copy"
    shutil.copytree(tiny_whisper, copy)  # the same weights elsewhere: the same tables
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(copy))
    assert cache_key(synthetic_manifest, serbench_registry(ser_plugin_whisper).feature("whisper-tiny.en")) == first
    assert cache_key(synthetic_manifest, serbench_registry(ser_plugin_whisper).feature("whisper-tiny.en-layers")) == layers
    other = tmp_path / "other"
    convert(save_tiny(other / "whisper-tiny.en-transformers", seed=7), other / "whisper-tiny.en")  # other weights
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(other))
    assert cache_key(synthetic_manifest, serbench_registry(ser_plugin_whisper).feature("whisper-tiny.en")) != first
    assert cache_key(synthetic_manifest, serbench_registry(ser_plugin_whisper).feature("whisper-tiny.en-layers")) != layers
    meanstd = cache_key(synthetic_manifest, serbench_registry(ser_plugin_whisper).feature("whisper-tiny.en-meanstd"))
    assert meanstd != cache_key(synthetic_manifest, serbench_registry(ser_plugin_whisper).feature("whisper-tiny.en"))


def test_a_missing_or_wrong_model_names_how_to_provide_it(tiny_whisper, tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-empty"))
    monkeypatch.delenv(MODEL_DIR_VARIABLE, raising=False)
    spec = {s.name: s for s in ser_plugin_whisper.feature_specs()}["whisper-base.en"]
    with pytest.raises(FeatureError) as caught:
        dict(spec.params)
    message = str(caught.value)
    assert "Systran/faster-whisper-base.en" in message and MODEL_DIR_VARIABLE in message
    assert "hf download Systran/faster-whisper-base.en --local-dir DIR/whisper-base.en" in message
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(tmp_path / "models"))
    (tmp_path / "models").mkdir()
    spec = {s.name: s for s in ser_plugin_whisper.feature_specs()}["whisper-small.en-layers"]
    with pytest.raises(FeatureError, match=r"no folder 'whisper-small.en-transformers'.*hf download openai/whisper-small.en"):
        dict(spec.params)
    with pytest.raises(FeatureError, match=r"lacks model.bin \(a CTranslate2 conversion\).*ct2-transformers-converter"):
        dict(whisper_feature("x", str(tiny_whisper / "whisper-tiny.en-transformers")).params)
    with pytest.raises(FeatureError, match="shorter than one analysis frame"):
        encode(np.zeros(100, np.float32), RATE, **options(tiny_whisper / "whisper-tiny.en"))


def test_the_real_tiny_en_weights_when_installed(real_tiny_en):
    folder = real_tiny_en
    spec = whisper_feature("whisper-tiny.en", str(folder))
    params = dict(spec.params)
    assert params["n_mels"] == 80 and params["weights"].startswith("sha256:")
    t = np.arange(int(1.5 * RATE)) / RATE
    voiced = (0.3 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    first = spec.extract(voiced, RATE)
    assert first.shape == (384,) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, spec.extract(voiced, RATE))
    frames = whisper_feature("f", str(folder), pooling="frames").extract(voiced, RATE)
    assert frames.shape == (math.ceil(len(voiced) / 320), 384)
    np.testing.assert_allclose(frames.mean(axis=0), first, rtol=1e-4, atol=1e-5)


def test_the_shipped_head_system_trains_on_whisper_frames(tiny_whisper, synthetic_manifest, serbench_cache, monkeypatch,
                                                          tmp_path):
    """``head-whisper-tiny.en`` (the modern suite's Whisper + PyTorch head) as shipped, through the runner on the
    tiny random-weight model, with the modern-cpu suite's head settings cut further to 2 epochs for the test."""
    torchhead = pytest.importorskip("ser_plugin_torchhead", reason="the head system needs ser-plugin-torchhead")
    import dataclasses

    from ser_core import CorpusSpec, hookimpl, leaderboard
    from ser_core.api.testing import load_registry
    from ser_core.results import ResultStore
    from ser_core.runner import Runner
    from ser_core.suites import registered

    class Tiny:
        @hookimpl
        def register_corpora(self, register):
            register(CorpusSpec("tiny", scan=lambda root: synthetic_manifest, needs_path=False))

    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(tiny_whisper))
    cpu = registered().suite("modern-cpu")
    (head,) = [s for s in cpu.systems if s.name == "head-whisper-tiny.en"]
    assert cpu.settings_for(head) == {"epochs": 40, "patience": 5}
    suite = dataclasses.replace(cpu, corpora=("tiny",), systems=(head,), overrides={head.name: {"epochs": 2, "patience": 1}})
    registry = load_registry([("whisper", ser_plugin_whisper), ("torchhead", torchhead), ("tiny", Tiny())],
                             use_entry_points=False)
    with ResultStore(tmp_path / "r.db") as store:
        report = Runner(registry, store, workers=0).run(suite)
        cells = list(store.cells())
        (entry,) = leaderboard.compute(store).entries
    assert report.ok and len(cells) == len(synthetic_manifest.speakers()) and all(c.status == "ok" for c in cells)
    assert entry.protocol.feature == "whisper-tiny.en-frames" and entry.protocol.model == "ssl-head"
    assert entry.protocol.settings["epochs"] == 2 and entry.protocol.settings["pooling"] == "attentive"
    assert entry.protocol.feature_params["pooling"] == "frames"
    assert 0.0 <= entry.uar_mean <= 1.0
