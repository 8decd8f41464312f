"""`serbench validate-plugin`: conforming plugins pass, each kind of non-conformance is reported."""

from __future__ import annotations

import pytest

from ser_core.api.testing import FAKE_MODEL, fakes
from ser_core.errors import UnknownNameError
from ser_core.plugins import load_registry
from ser_core.validate import validate_plugin

BAD_PLUGIN = """
import numpy as np
from ser_core import CorpusSpec, FeatureSpec, ModelSpec, hookimpl
from ser_core.specs import ExpectedContent


def scan(root):
    return open(root / "list.txt").read()  # a raw FileNotFoundError instead of a CorpusError


def nan_feature(signal, rate):
    out = np.zeros(4, np.float32)
    out[2] = np.nan
    return out


@hookimpl
def register_corpora(register):
    register(CorpusSpec("badcorpus", scan=scan, expected=ExpectedContent({"joy": 3}, 1, 16000),
                        labels=("anger", "neutral")))


@hookimpl
def register_features(register):
    register(FeatureSpec("nanfeat", "functionals", extract=nan_feature))


@hookimpl
def register_models(register):
    offset = 1
    register(ModelSpec("closure", create=lambda context: offset, accepts=frozenset({"functionals"})))
"""


def results(checks):
    return {(c.subject, c.check): c for c in checks}


def test_a_conforming_plugin_passes():
    """The core's fakes conform (the real svm plugin's models are checked in that plugin's tests)."""
    checks = validate_plugin(load_registry([("fakes", fakes)], use_entry_points=False), "fakes")
    assert checks and all(c.passed for c in checks), [c for c in checks if not c.passed]
    by_check = results(checks)
    assert by_check[("plugin fakes", "loads and registers")].passed
    assert "parameters" in by_check[(f"model {FAKE_MODEL}", "fits and predicts on functionals data")].detail


SCORES_PLUGIN = """
import numpy as np
from ser_core import ModelSpec, hookimpl


class Base:
    scores_match_predict = True

    def __init__(self, context):
        self.n = context.n_classes

    def fit(self, X, y, groups):
        pass

    def predict(self, X):
        return np.zeros(len(X), dtype=int)

    def good(self, X):
        out = np.zeros((len(X), self.n))
        out[:, 0] = 1.0
        return out

    def parameter_count(self):
        return None

    def describe(self):
        return {}


class Good(Base):
    def predict_scores(self, X):
        return self.good(X)


class WrongShape(Base):
    def predict_scores(self, X):
        return self.good(X)[:, :2]


class NotFinite(Base):
    def predict_scores(self, X):
        out = self.good(X)
        out[1, 1] = np.nan
        return out


class Disagrees(Base):
    def predict_scores(self, X):
        return self.good(X)[:, ::-1]


class DisagreesAndSaysSo(Disagrees):
    scores_match_predict = False


class NoScores(Base):
    pass


@hookimpl
def register_models(register):
    for cls in (Good, WrongShape, NotFinite, Disagrees, DisagreesAndSaysSo, NoScores):
        register(ModelSpec(cls.__name__.lower(), create=cls, accepts=frozenset({"functionals"})))
"""


def test_predict_scores_is_checked_when_a_model_offers_it(install_distribution):
    install_distribution("ser-plugin-scores", {"scores": "ser_plugin_scores"}, {"ser_plugin_scores": SCORES_PLUGIN})
    checks = results(validate_plugin(load_registry(), "scores"))
    check = "predict_scores on functionals data"
    assert checks[("model good", check)].passed
    assert "argmax equals predict" in checks[("model good", check)].detail
    wrong = checks[("model wrongshape", check)]
    assert not wrong.passed and "shape (6, 2), expected (6, 3)" in wrong.detail
    nan = checks[("model notfinite", check)]
    assert not nan.passed and "1 non-finite values" in nan.detail
    disagrees = checks[("model disagrees", check)]
    assert not disagrees.passed and "differs from predict on 6 of 6" in disagrees.detail
    declared = checks[("model disagreesandsaysso", check)]
    assert declared.passed and "on 0 of 6 (declared scores_match_predict = False)" in declared.detail
    assert ("model noscores", check) not in checks, "predict_scores is optional"
    assert checks[("model noscores", "fits and predicts on functionals data")].passed


def test_each_kind_of_non_conformance_is_reported(install_distribution):
    install_distribution("ser-plugin-bad", {"bad": "ser_plugin_bad"}, {"ser_plugin_bad": BAD_PLUGIN})
    checks = results(validate_plugin(load_registry(), "bad"))
    assert checks[("plugin bad", "loads and registers")].passed
    labels = checks[("corpus badcorpus", "label set and expected content")]
    assert not labels.passed and "outside the corpus's label set: ['joy']" in labels.detail
    missing = checks[("corpus badcorpus", "a missing directory is a clear CorpusError")]
    assert not missing.passed and "FileNotFoundError" in missing.detail
    assert checks[("feature nanfeat", "declares a known kind")].passed
    nan = checks[("feature nanfeat", "extracts finite arrays of its kind in a worker process")]
    assert not nan.passed and "non-finite" in nan.detail
    assert ("feature nanfeat", "is deterministic") not in checks, "no determinism check without a table"
    pickled = checks[("model closure", "factory pickles (folds can run in worker processes)")]
    assert not pickled.passed
    fitted = checks[("model closure", "fits and predicts on functionals data")]
    assert not fitted.passed and "AttributeError" in fitted.detail


def test_a_registered_name_finds_its_plugin_and_unknown_names_are_refused():
    by_thing = validate_plugin(load_registry(), "synthetic")
    assert by_thing[0].subject == "plugin synthetic" and all(c.passed for c in by_thing)
    with pytest.raises(UnknownNameError, match="no plugin or registered name 'nope'"):
        validate_plugin(load_registry(), "nope")


HANGING_PLUGIN = """
import time

import numpy as np
from ser_core import FeatureSpec, hookimpl


def hangs(signal, rate):
    time.sleep(3600)  # a decoder stuck on a file, a lock never released
    return np.zeros(4, np.float32)


@hookimpl
def register_features(register):
    register(FeatureSpec("hangs", "functionals", extract=hangs))
"""


def test_a_feature_that_never_returns_fails_a_check_within_the_bound(install_distribution, monkeypatch):
    """The model checks had a time limit; the feature checks waited on the extractor for ever."""
    import time

    from ser_core import validate

    install_distribution("ser-plugin-hangs", {"hangs": "ser_plugin_hangs"}, {"ser_plugin_hangs": HANGING_PLUGIN})
    monkeypatch.setattr(validate, "FEATURE_CHECK_SECONDS", 8)
    started = time.monotonic()
    checks = results(validate_plugin(load_registry(), "hangs"))
    assert time.monotonic() - started < 60, "stopped at the bound, not at the sleep's end"
    stopped = checks[("feature hangs", "extracts within the time limit")]
    assert not stopped.passed and "did not finish in 8 s; its processes were stopped" in stopped.detail


def test_a_distribution_name_from_serbench_list_finds_its_plugin(install_distribution):
    """`serbench list` shows each plugin's distribution (ser-plugin-emodb); validate-plugin refused it."""
    install_distribution("ser-plugin-bad", {"bad": "ser_plugin_bad"}, {"ser_plugin_bad": BAD_PLUGIN})
    by_distribution = validate_plugin(load_registry(), "ser-plugin-bad")
    assert by_distribution[0].subject == "plugin bad"
    assert {c.subject for c in by_distribution} >= {"corpus badcorpus", "feature nanfeat", "model closure"}
    with pytest.raises(UnknownNameError, match="distribution 'ser-core' holds the plugins csv, synthetic; validate "
                                               "one of them by name"):
        validate_plugin(load_registry(), "ser-core")
