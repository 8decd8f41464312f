"""ser-keras's settings as the core records them (precision in the column key, "auto" resolved,
float16 refused without a GPU) and the repository's training benchmark's FLOP count, on the study's
Keras models (moved from the core's tests/test_training_models.py)."""

from __future__ import annotations

import pytest

from ser_core.api.testing import load_registry

pytest.importorskip("tensorflow")


def _protocol_key(name, **settings):
    """The column key the runner gives system ``name-sys`` (model ``name``) with these overrides."""
    from ser_core.records import SystemProtocol
    from ser_core.plan import resolve_settings
    from ser_core.suites import Suite, System

    system = System(f"{name}-sys", name, "logmel40", settings)
    suite = Suite("s", ("synthetic",), (system,), repeats=1, seed=0, normalisation="speaker")
    used, shown = resolve_settings(load_registry().model(name), suite, system)
    protocol = SystemProtocol(model=name, feature="logmel40", feature_params={}, settings=used,
                              normalisation="speaker", seed=0)
    # the overrides printed under a board are the resolved ones too
    assert shown.get("precision") == used.get("precision")
    return protocol.key, used


def test_precision_is_part_of_the_column_key_and_auto_is_resolved(serbench_model):
    from ser_keras import cpu_has_fast_bfloat16

    float32, used32 = _protocol_key("aldeneh")
    explicit32, _ = _protocol_key("aldeneh", precision="float32")
    bf16, used16 = _protocol_key("aldeneh", precision="mixed_bfloat16")
    auto, used_auto = _protocol_key("aldeneh", precision="auto")
    # float32 is recorded by leaving it out: float32 results keep their pre-precision column
    assert "precision" not in used32 and explicit32 == float32
    assert used16["precision"] == "mixed_bfloat16" and bf16 != float32
    # "auto" never reaches the record: it becomes what this machine trains in
    import tensorflow as tf

    fast = bool(tf.config.list_physical_devices("GPU")) or cpu_has_fast_bfloat16()
    assert used_auto.get("precision", "float32") in ("float32", "mixed_bfloat16")
    if not tf.config.list_physical_devices("GPU"):
        assert auto == (bf16 if fast else float32)


def test_float16_precision_without_a_gpu_is_refused_before_any_work(serbench_model):
    import tensorflow as tf

    from ser_core import ConfigError

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is present: mixed_float16 is allowed here")
    with pytest.raises(ConfigError, match="mixed_float16.*needs a GPU"):
        _protocol_key("zhang", precision="mixed_float16")


def test_training_benchmark_counts_flops_from_layer_shapes(serbench_model):
    """bench_training's FLOP count against the hand arithmetic: Aldeneh on 512 x 40 log-mels, Zhang
    on 2.5 s (250 windows); layers fed only by the input count forward x 2 (no input gradient)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_training.py"
    spec = importlib.util.spec_from_file_location("bench_training", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    network = serbench_model("aldeneh", 7, "sequence").build_model(40)
    convs = sum(2 * (512 - k + 1) * 384 * k * 40 for k in (8, 16, 32, 64))
    dense = 2 * (1536 * 1024 + 1024 * 1024 + 1024 * 7)
    flops = bench.forward_flops(network, 512)
    assert sum(flops.values()) == pytest.approx(convs + dense)
    assert bench.training_flops(network, 512) == pytest.approx(2 * convs + 3 * dense)

    network = serbench_model("zhang", 7, "waveform").build_model(1)
    per = {layer.name: value for layer, value in bench.forward_flops(network, 40_000).items()}
    assert per["conv1"] == pytest.approx(2 * 250 * 640 * 40 * 40 * 1)
    assert per["conv2"] == pytest.approx(2 * 250 * 320 * 40 * 40 * 40)
    assert per["gru1"] == pytest.approx(2 * 250 * 3 * 128 * (1280 + 128))
    assert per["gru2"] == pytest.approx(2 * 250 * 3 * 128 * (128 + 128))
