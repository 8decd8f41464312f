"""The shared training loop's pure parts (no TensorFlow): padding, batching, plugin declarations."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ser_core.api.testing import load_registry
from ser_keras import (
    TRAINING_DEFAULTS,
    as_frames,
    length_sorted_batches,
    pad_batch,
    padded_length,
    training_defaults,
)


@pytest.mark.parametrize(
    "longest, multiple, minimum, expected",
    [(70, 64, 64, 128), (64, 64, 64, 64), (10, 64, 64, 64), (65, 64, 64, 128), (70, 1, 1, 70),
     (15_999, 160, 320, 16_000), (100, 160, 320, 320), (5, 0, 1, 5)],
)
def test_padded_length_rounds_up_to_the_multiple_and_the_minimum(longest, multiple, minimum, expected):
    assert padded_length(longest, multiple, minimum) == expected


def test_batches_are_consecutive_runs_of_the_length_order_in_shuffled_order():
    lengths = np.array([50, 10, 40, 20, 30, 60, 70])
    batches = length_sorted_batches(lengths, 3, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(7))
    assert sorted(len(b) for b in batches) == [1, 3, 3]
    # each batch holds neighbours in length order: {10,20,30}, {40,50,60}, {70}
    assert sorted(sorted(lengths[b].tolist()) for b in batches) == [[10, 20, 30], [40, 50, 60], [70]]


def test_batch_order_is_shuffled_each_epoch_and_reproducible_from_the_seed():
    lengths = np.arange(100)
    rng = np.random.default_rng(3)
    epochs = [[b[0] for b in length_sorted_batches(lengths, 10, rng)] for _ in range(4)]
    assert len({tuple(e) for e in epochs}) > 1
    again = np.random.default_rng(3)
    assert [b[0] for b in length_sorted_batches(lengths, 10, again)] == epochs[0]


def test_equal_lengths_are_grouped_differently_each_epoch():
    """Fixed-length features: every tie, so batch membership is re-drawn every epoch."""
    rng = np.random.default_rng(0)
    first = {frozenset(b.tolist()) for b in length_sorted_batches(np.full(40, 500), 8, rng)}
    second = {frozenset(b.tolist()) for b in length_sorted_batches(np.full(40, 500), 8, rng)}
    assert first != second


def test_pad_batch_zero_pads_at_the_end():
    a = np.ones((2, 3), np.float32)
    b = np.full((4, 3), 2.0, np.float32)
    out = pad_batch([a, b], 5)
    assert out.shape == (2, 5, 3) and out.dtype == np.float32
    assert (out[0, :2] == 1).all() and (out[0, 2:] == 0).all()
    assert (out[1, :4] == 2).all() and (out[1, 4:] == 0).all()


def test_waveforms_become_one_column_frames():
    assert as_frames(np.arange(5.0)).shape == (5, 1)
    assert as_frames(np.zeros((7, 40))).shape == (7, 40)


def test_protocol_defaults():
    assert TRAINING_DEFAULTS["epochs"] == 50 and TRAINING_DEFAULTS["learning_rate"] == 1e-4
    assert training_defaults(batch_size=16)["batch_size"] == 16


@pytest.mark.parametrize(
    "model, accepts, batch_size, pad_multiple, masks",
    [("aldeneh", {"sequence"}, 32, 64, True), ("latif", {"waveform"}, 32, 160, False),
     ("zhang", {"waveform"}, 16, 160, True), ("zhao", {"sequence"}, 64, 1, True)],
)
def test_model_plugins_declare_kinds_and_protocol_settings(model, accepts, batch_size, pad_multiple, masks):
    spec = load_registry().model(model).spec
    assert spec.accepts == frozenset(accepts)
    defaults = dict(spec.defaults)
    assert defaults["batch_size"] == batch_size and defaults["pad_multiple"] == pad_multiple
    assert defaults["epochs"] == 50 and defaults["learning_rate"] == 1e-4
    assert ("mask_padding" in defaults) == masks and defaults.get("mask_padding", False) is False


def test_loading_the_model_plugins_imports_no_tensorflow():
    code = (
        "import sys\n"
        "from ser_core.plugins import load_registry\n"
        "reg = load_registry()\n"
        "assert {'aldeneh', 'latif', 'zhang', 'zhao'} <= set(reg.items['model'])\n"
        "import ser_core.cli\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "print(','.join(heavy) or 'none')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "none"


def test_bfloat16_cpu_detection_reads_the_cpu_flags():
    from ser_keras import cpu_has_fast_bfloat16

    assert cpu_has_fast_bfloat16("flags\t\t: fpu avx512f avx512_bf16 amx_tile\n")
    assert cpu_has_fast_bfloat16("flags\t\t: fpu amx_bf16\n")
    assert not cpu_has_fast_bfloat16("flags\t\t: fpu avx2 avx512f\n")
    assert not cpu_has_fast_bfloat16("model name\t: has avx512_bf16 in its name\n")


def test_precision_is_a_declared_setting_with_its_choices():
    from ser_core.api.testing import load_registry
    from ser_keras import resolve_settings

    spec = load_registry().model("latif").spec
    assert spec.defaults["precision"] == "float32"
    assert spec.setting_problems({"precision": "bfloat16"})  # not one of the choices
    assert not spec.setting_problems({"precision": "mixed_bfloat16"})
    assert spec.resolve is resolve_settings
    assert resolve_settings({"epochs": 3, "precision": "float32"}) == {"epochs": 3}
    assert resolve_settings({"precision": "mixed_bfloat16"}) == {"precision": "mixed_bfloat16"}
