"""``serbench models info``: summaries and parameter counts, and the errors for bad input.

Runs in-process (typer's CliRunner) so TensorFlow is imported once for all of these tests.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ser_core.api.testing import FAKE_FEATURE, FAKE_MODEL
from ser_core.cli import app
from ser_core.plugins import load_registry

pytest.importorskip("tensorflow")

FEATURES = set(load_registry().items["feature"])


def invoke(*args):
    return CliRunner().invoke(app, ["models", "info", *args])


@pytest.mark.parametrize(
    "model, feature, classes, total, trainable",
    [("aldeneh", "logmel40", "4", "4,472,324", "4,472,324"),
     ("latif", "raw5s", "7", "1,278,847", "1,278,543"),
     ("zhao", "spec5s40", "4", "597,700", "597,060")],
)
def test_info_prints_the_summary_and_parameter_counts(model, feature, classes, total, trainable):
    if feature not in FEATURES:
        pytest.skip(f"feature {feature} is not installed")
    result = invoke(model, "--feature", feature, "--classes", classes)
    assert result.exit_code == 0, result.output
    assert f"parameters: total {total}  trainable {trainable}" in result.output
    assert f"Total params: {total}" in result.output  # Keras's own summary agrees
    assert f"forward pass -> (1, {classes})" in result.output
    assert "scores (Dense)" in result.output


def test_unknown_model_is_a_friendly_error():
    result = invoke("aldenhe", "--feature", "logmel40")
    assert result.exit_code == 2
    assert "unknown model 'aldenhe'" in result.output and "Did you mean 'aldeneh'?" in result.output


def test_feature_of_the_wrong_kind_is_refused():
    if "raw5s" not in FEATURES:
        pytest.skip("feature raw5s is not installed")
    result = invoke("aldeneh", "--feature", "raw5s")
    assert result.exit_code == 2
    assert "accepts ['sequence'] features, but 'raw5s' is a 'waveform' feature" in result.output


def test_a_model_without_a_network_says_so(serbench_fakes):
    result = invoke(FAKE_MODEL, "--feature", FAKE_FEATURE)
    assert result.exit_code == 2
    assert "has no network to summarise before training" in result.output
