"""The core's fakes (ser_core.testing_fakes): opt-in, deterministic and better than chance (that they
conform to the plugin contract is in test_validate.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from ser_core.api.testing import (FAKE_FEATURE, FAKE_MODEL, FakeCentroid, ManifestCorpus, fake_stats, fakes,
                                  load_registry)
from ser_core.metrics import uar


def _listed(env=None) -> set[str]:
    out = subprocess.run([sys.executable, "-m", "ser_core.cli", "list", "--json"], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return {row["name"] for row in json.loads(out.stdout)}


def test_the_fakes_are_not_registered_unless_asked_for():
    """No entry point names the fakes: a user's registry and `serbench list` never show them."""
    registry = load_registry()
    assert FAKE_FEATURE not in registry.items["feature"] and FAKE_MODEL not in registry.items["model"]
    assert FAKE_MODEL not in _listed()


def test_the_fixture_registers_them_in_process_and_for_subprocesses(serbench_fakes):
    registry = load_registry()
    assert registry.feature(FAKE_FEATURE).plugin.distribution == "serbench-test-fakes"
    assert registry.model(FAKE_MODEL).spec.create is FakeCentroid
    assert {FAKE_FEATURE, FAKE_MODEL} <= _listed()


def test_the_fake_model_is_deterministic_and_above_chance(synthetic_manifest):
    """Trained on two of every three clips of the synthetic corpus (every speaker), tested on the
    third: the same predictions twice, a UAR well above chance (four classes: 0.25)."""
    from ser_core.audio import load_audio

    classes = sorted({clip.label for clip in synthetic_manifest.clips})
    X = [fake_stats(load_audio(clip.path), 16_000) for clip in synthetic_manifest.clips]
    y = np.array([classes.index(clip.label) for clip in synthetic_manifest.clips])
    train = np.arange(len(X)) % 3 != 0
    runs = []
    for _ in range(2):
        model = FakeCentroid(None)
        model.fit([x for x, t in zip(X, train) if t], y[train], None)
        runs.append(model.predict([x for x, t in zip(X, train) if not t]))
    assert np.array_equal(runs[0], runs[1])
    assert uar(y[~train], runs[0]) > 0.4
    assert model.parameter_count() == 4 * len(classes) + 8 and model.describe()["classes"] == len(classes)
    assert X[0].dtype == np.float32 and X[0].shape == (4,)


def test_manifest_corpus_scans_to_its_manifest(synthetic_manifest):
    registry = load_registry([("tiny", ManifestCorpus(synthetic_manifest, name="mini"))], use_entry_points=False)
    assert registry.corpus("mini").spec.scan(None) is synthetic_manifest
