"""The SVM baseline: nested speaker-grouped tuning, predictions, recorded description."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core import FeatureSpec, ModelContext
from ser_plugin_svm import DEFAULTS, SVMEstimator


def blobs(n_groups: int, per_class: int = 12, seed: int = 0):
    rng = np.random.default_rng(seed)
    X, y, groups = [], [], []
    for g in range(n_groups):
        for c in range(3):
            for _ in range(per_class):
                X.append(rng.normal(c * 2.5, 1.0, size=6).astype(np.float32))
                y.append(c)
                groups.append(f"spk{g}")
    return X, np.array(y), np.array(groups)


def context(**settings) -> ModelContext:
    feature = FeatureSpec("f", "functionals", extract=lambda s, r: s)
    return ModelContext(n_classes=3, feature=feature, settings={**DEFAULTS, **settings}, seed=0)


def test_grid_matches_the_study():
    assert DEFAULTS["C"] == pytest.approx([2.0**e for e in (-6, -4, -2, 0, 2, 4, 6)])
    assert DEFAULTS["gamma"] == pytest.approx([2.0**e for e in (-12, -10, -8, -6, -4, -2)])


def test_nested_tuning_is_speaker_grouped_and_learns():
    X, y, groups = blobs(4)
    model = SVMEstimator(context(inner_folds=5))
    model.fit(X, y, groups)
    for train, test in model.search.cv:
        assert not set(groups[train]) & set(groups[test]), "inner folds are speaker-independent"
    described = model.describe()
    assert described["inner_cv"].startswith("GroupKFold(4)")
    assert described["best_params"]["C"] in DEFAULTS["C"]
    assert described["best_params"]["gamma"] in DEFAULTS["gamma"]
    X_test, y_test, _ = blobs(1, seed=1)
    assert np.mean(model.predict(X_test) == y_test) > 0.85
    svc = model.search.best_estimator_
    assert model.parameter_count() == svc.support_vectors_.size + svc.dual_coef_.size + svc.intercept_.size


def test_one_training_speaker_falls_back_and_says_so():
    X, y, groups = blobs(1)
    model = SVMEstimator(context())
    model.fit(X, y, groups)
    assert "not speaker-independent" in model.describe()["inner_cv"]
