"""SSL features through the local-directory route, on tiny random-weight encoders: extraction, the
cache key, layer selection, chunking, and the error for a model that is nowhere to be found."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

import ser_plugin_ssl
from ser_core import FeatureError
from ser_core.api.testing import cache_key, extract
from ser_plugin_ssl import MODEL_DIR_VARIABLE, ModelParams, ssl_feature
from ser_plugin_ssl.extraction import chunk_bounds, extract as encode


def options(folder, **changes):
    base = dict(model=str(folder), revision="main", local_name="tiny", layer="all", pooling="frames",
                chunk_seconds=20.0, batch_chunks=8)
    return {**base, **changes}


def test_registration_is_cheap_and_names_every_model():
    specs = {spec.name: spec for spec in ser_plugin_ssl.feature_specs()}
    for name in ("wavlm-base-plus", "hubert-base", "wav2vec2-base", "wav2vec2-large"):
        assert specs[name].kind == "functionals" and specs[f"{name}-frames"].kind == "sequence"
        assert set(specs[name].libraries) == {"torch", "transformers"}
    assert isinstance(specs["wavlm-base-plus"].params, ModelParams)
    assert specs["wavlm-base-plus"].params._resolved is None, "nothing is looked up at registration"
    assert "not yet resolved" in repr(specs["hubert-base"].params)


def test_listing_plugins_imports_no_torch_or_transformers():
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ser_core.cli import app\n"
        "result = CliRunner().invoke(app, ['list', '--json'])\n"
        "assert result.exit_code == 0 and 'wavlm-base-plus' in result.output and 'ssl-head' in result.output\n"
        "print(sorted(m for m in ('torch', 'transformers', 'huggingface_hub', 'tensorflow') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_extraction_from_the_model_directory_with_cache(tiny_models, synthetic_manifest, serbench_registry,
                                                        serbench_cache, monkeypatch):
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(tiny_models))
    registry = serbench_registry(ser_plugin_ssl)
    feature = registry.feature("wavlm-base-plus")
    table = extract(synthetic_manifest, feature, workers=0)
    assert not table.failures and len(table) == len(synthetic_manifest.clips)
    params = dict(feature.spec.params)
    assert params["model"] == "microsoft/wavlm-base-plus" and params["weights"].startswith("sha256:")
    assert params["layers_kept"] == 3 and params["hidden_size"] == 16  # CNN output + 2 transformer layers
    assert {item.shape for item in table.items} == {(3 * 16,)}
    again = extract(synthetic_manifest, feature, workers=0)
    assert again.from_cache and np.array_equal(np.stack(again.items), np.stack(table.items))
    frames = extract(synthetic_manifest, registry.feature("wavlm-base-plus-frames"), workers=0)
    assert all(item.ndim == 2 and item.shape[1] == 16 for item in frames.items)
    # one clip through a spawned worker process (how serbench extracts) gives the same values
    one = synthetic_manifest.__class__(synthetic_manifest.corpus, synthetic_manifest.clips[:1], synthetic_manifest.root)
    spawned = extract(one, registry.feature("wavlm-base-plus"), workers=1, use_cache=False)
    np.testing.assert_allclose(spawned.items[0], table.items[0], rtol=1e-5, atol=1e-6)


def test_the_weights_key_the_cache(tiny_models, make_tiny, tmp_path, synthetic_manifest, serbench_registry, monkeypatch):
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(tiny_models))
    first = cache_key(synthetic_manifest, serbench_registry(ser_plugin_ssl).feature("wavlm-base-plus"))
    assert first == cache_key(synthetic_manifest, serbench_registry(ser_plugin_ssl).feature("wavlm-base-plus"))
    copy = tmp_path / "copy"
    shutil.copytree(tiny_models, copy)  # the same weights elsewhere: the same table
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(copy))
    assert cache_key(synthetic_manifest, serbench_registry(ser_plugin_ssl).feature("wavlm-base-plus")) == first
    other = tmp_path / "other"
    make_tiny("wavlm", other / "wavlm-base-plus", seed=7)  # other weights: another table
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(other))
    assert cache_key(synthetic_manifest, serbench_registry(ser_plugin_ssl).feature("wavlm-base-plus")) != first
    # a feature pointing at a directory is keyed by it as well as by the weights
    direct = ssl_feature("mine", str(tiny_models / "wavlm-base-plus"))
    assert dict(direct.params)["weights"] == dict(ssl_feature("mine", str(copy / "wavlm-base-plus")).params)["weights"]
    assert dict(direct.params)["model"] != dict(ssl_feature("mine", str(copy / "wavlm-base-plus")).params)["model"]


@pytest.mark.parametrize("kind", ["wavlm-base-plus", "hubert-base", "wav2vec2-base"])
def test_layer_selection_and_pooling(tiny_models, kind):
    folder = tiny_models / kind
    signal = np.random.default_rng(0).normal(0, 0.1, 16_000).astype(np.float32)
    every = encode(signal, 16_000, **options(folder))  # (frames, 3 * 16), layer-major
    frames = every.shape[0]
    assert every.shape == (49, 48)  # 1 s at 50 frames/s, less the first convolution's 25 ms
    last = encode(signal, 16_000, **options(folder, layer=-1))
    np.testing.assert_allclose(last, every[:, 32:48], rtol=1e-5, atol=1e-6)
    first = encode(signal, 16_000, **options(folder, layer=0))
    np.testing.assert_allclose(first, every[:, :16], rtol=1e-5, atol=1e-6)
    assert not np.allclose(first, last)
    mean = encode(signal, 16_000, **options(folder, pooling="mean"))
    np.testing.assert_allclose(mean, every.reshape(frames, 3, 16).mean(axis=0).reshape(-1), rtol=1e-5, atol=1e-6)
    with pytest.raises(FeatureError, match="outside the 3 hidden states"):
        dict(ssl_feature("x", str(folder), layer=5).params)


def test_chunks_bound_the_input_and_batch_like_single_chunks(tiny_models):
    assert chunk_bounds(50_000, 16_000) == [(0, 16_000), (16_000, 32_000), (32_000, 48_000), (48_000, 50_000)]
    assert chunk_bounds(48_100, 16_000) == [(0, 16_000), (16_000, 32_000), (32_000, 48_100)]  # short tail joins
    assert chunk_bounds(300, 16_000) == [(0, 300)]
    folder = tiny_models / "wavlm-base-plus"
    signal = np.random.default_rng(1).normal(0, 0.1, 40_000).astype(np.float32)
    chunked = encode(signal, 16_000, **options(folder, chunk_seconds=1.0))
    alone = [encode(signal[a:b], 16_000, **options(folder)) for a, b in chunk_bounds(40_000, 16_000)]
    np.testing.assert_allclose(chunked, np.concatenate(alone), rtol=1e-4, atol=1e-5)
    one_by_one = encode(signal, 16_000, **options(folder, chunk_seconds=1.0, batch_chunks=1))
    np.testing.assert_allclose(one_by_one, chunked, rtol=1e-4, atol=1e-5)
    whole = encode(signal, 16_000, **options(folder))
    assert abs(whole.shape[0] - chunked.shape[0]) <= 3  # the same frame rate, a frame lost per cut at most


def test_a_clip_shorter_than_the_first_convolution_fails_clearly(tiny_models):
    with pytest.raises(FeatureError, match="shorter than one analysis frame"):
        encode(np.zeros(200, np.float32), 16_000, **options(tiny_models / "hubert-base"))


def test_a_missing_model_names_how_to_provide_a_local_copy(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-empty"))
    monkeypatch.delenv(MODEL_DIR_VARIABLE, raising=False)
    spec = {s.name: s for s in ser_plugin_ssl.feature_specs()}["hubert-base"]
    with pytest.raises(FeatureError) as caught:
        dict(spec.params)
    message = str(caught.value)
    assert "facebook/hubert-base-ls960" in message and MODEL_DIR_VARIABLE in message
    assert "hf download facebook/hubert-base-ls960 --local-dir DIR/hubert-base" in message and "HF_HUB_OFFLINE" in message
    monkeypatch.setenv(MODEL_DIR_VARIABLE, str(tmp_path / "models"))
    (tmp_path / "models").mkdir()
    spec = {s.name: s for s in ser_plugin_ssl.feature_specs()}["wav2vec2-large"]
    with pytest.raises(FeatureError, match=r"has no folder 'wav2vec2-large'.*hf download facebook/wav2vec2-large-lv60"):
        dict(spec.params)
    (tmp_path / "models" / "wav2vec2-large").mkdir()
    (tmp_path / "models" / "wav2vec2-large" / "config.json").write_text("{}")
    spec = {s.name: s for s in ser_plugin_ssl.feature_specs()}["wav2vec2-large"]
    with pytest.raises(FeatureError, match="not a complete model folder: it lacks preprocessor_config.json, the weights"):
        dict(spec.params)
    with pytest.raises(FeatureError, match="does not exist"):
        dict(ssl_feature("x", str(tmp_path / "nowhere")).params)


def test_the_shipped_ssl_suite_pairs_each_base_encoder_with_the_head():
    from ser_core.api.testing import load_registry
    from ser_core.plan import check_suite
    from ser_core.suites import registered

    suite = registered().suite("ssl")
    registry = load_registry()
    pairs = {s.name: (s.model, s.feature) for s in suite.systems}
    assert pairs == {
        "wavlm-base-plus-head": ("ssl-head", "wavlm-base-plus"),
        "hubert-base-head": ("ssl-head", "hubert-base"),
        "wav2vec2-base-head": ("ssl-head", "wav2vec2-base"),
    }
    for model, feature in pairs.values():
        assert registry.feature(feature).spec.kind in registry.model(model).spec.accepts
    assert len(suite.corpora) == 15
    check_suite(registry, suite)
