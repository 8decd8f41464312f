"""logreg, mlp and fusion: nested speaker-grouped tuning, scores, and fusion weights that never see the test fold."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core import FeatureBlock, FeatureSpec, ModelContext, uar
from ser_core.cell import CellTask, Prepared, compute_cell
from ser_core.results import CellKey
from ser_core.validate import check_scores
from ser_plugin_svm import DEFAULTS, SVMEstimator
from ser_plugin_svm.classical import LOGREG_DEFAULTS, MLP_DEFAULTS, LogRegEstimator, MLPEstimator
from ser_plugin_svm.fusion import FUSION_DEFAULTS, FusionEstimator, weight_grid


def blobs(n_groups: int, per_class: int = 10, seed: int = 0, informative: int = 4, noise: int = 4, spread: float = 2.0):
    """Three classes separated along ``informative`` columns, followed by ``noise`` pure-noise columns."""
    rng = np.random.default_rng(seed)
    X, y, groups = [], [], []
    for g in range(n_groups):
        for c in range(3):
            for _ in range(per_class):
                signal = rng.normal(c * spread, 1.0, size=informative)
                X.append(np.concatenate([signal, rng.normal(size=noise)]).astype(np.float32))
                y.append(c)
                groups.append(f"spk{g}")
    return X, np.array(y), np.array(groups)


def context(defaults, n_classes: int = 3, blocks=(), seed: int = 0, **settings) -> ModelContext:
    feature = FeatureSpec("f", "functionals", extract=lambda s, r: s)
    return ModelContext(n_classes, feature, {**defaults, **settings}, seed, tuple(blocks))


@pytest.mark.parametrize("cls, defaults, grid_key", [(LogRegEstimator, LOGREG_DEFAULTS, "C"),
                                                     (MLPEstimator, MLP_DEFAULTS, "alpha")])
def test_models_are_tuned_on_speaker_grouped_inner_folds_and_learn(cls, defaults, grid_key):
    X, y, groups = blobs(4)
    model = cls(context(defaults, max_iter=100) if cls is MLPEstimator else context(defaults, C=[1e-2, 1.0]))
    model.fit(X, y, groups)
    for train, test in model.search.cv:
        assert not set(groups[train]) & set(groups[test]), "inner folds are speaker-independent"
    described = model.describe()
    assert described["inner_cv"].startswith("GroupKFold(4)")
    assert described["best_params"][grid_key] in defaults[grid_key]
    X_test, y_test, _ = blobs(1, seed=1)
    assert uar(y_test, model.predict(X_test)) > 0.85
    assert model.parameter_count() > 0
    scores = model.predict_scores(X_test)
    assert scores.shape == (len(X_test), 3)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-6)  # probabilities
    assert "argmax equals predict" in check_scores(model, X_test, model.predict(X_test), 3)


def test_the_mlp_is_seeded_and_balances_classes():
    X, y, groups = blobs(3, seed=2)
    keep = np.ones(len(y), bool)
    keep[np.flatnonzero(y == 2)[5:]] = False  # class 2 rare in training
    X = [x for x, k in zip(X, keep) if k]
    y, groups = y[keep], groups[keep]
    first, second = (MLPEstimator(context(MLP_DEFAULTS, seed=7, max_iter=60)) for _ in range(2))
    first.fit(X, y, groups)
    second.fit(X, y, groups)
    X_test, _, _ = blobs(1, seed=3)
    np.testing.assert_array_equal(first.predict_scores(X_test), second.predict_scores(X_test))
    weights = first.fit_params(y)["sample_weight"]
    assert weights[y == 2][0] > weights[y == 0][0], "the rare class weighs more"
    assert np.sum(weights) == pytest.approx(len(y))


def test_scores_of_a_class_absent_from_training_are_finite_and_never_chosen():
    X, y, groups = blobs(3)
    keep = y != 1
    X_train = [x for x, k in zip(X, keep) if k]
    for model in (SVMEstimator(context(DEFAULTS, n_classes=3, inner_folds=3)),
                  LogRegEstimator(context(LOGREG_DEFAULTS, n_classes=3, inner_folds=3))):
        model.fit(X_train, y[keep], groups[keep])
        scores = model.predict_scores(X)
        assert scores.shape == (len(X), 3) and np.isfinite(scores).all()
        assert not np.any(scores.argmax(axis=1) == 1)


def test_svm_scores_agree_with_its_predictions_except_on_vote_ties():
    X, y, groups = blobs(4)
    model = SVMEstimator(context(DEFAULTS, inner_folds=3))
    model.fit(X, y, groups)
    X_test, _, _ = blobs(1, seed=5)
    scores = model.predict_scores(X_test)
    assert scores.shape == (len(X_test), 3) and np.isfinite(scores).all()
    votes = np.floor(scores + 0.5)  # one-vs-rest from one-vs-one: votes plus confidences within (-1/2, 1/2)
    untied = (votes == votes.max(axis=1, keepdims=True)).sum(axis=1) == 1
    assert untied.any()
    np.testing.assert_array_equal(scores.argmax(axis=1)[untied], model.predict(X_test)[untied])


def test_the_weight_grid_covers_the_simplex_most_even_first():
    grid = weight_grid(2, 0.25)
    assert grid[0] == (0.5, 0.5) and len(grid) == 5
    assert set(grid) == {(0.0, 1.0), (0.25, 0.75), (0.5, 0.5), (0.75, 0.25), (1.0, 0.0)}
    assert all(sum(w) == pytest.approx(1.0) for w in weight_grid(3, 0.1)) and len(weight_grid(3, 0.1)) == 66
    with pytest.raises(ValueError, match="must divide 1"):
        weight_grid(2, 0.3)


def two_blocks(n_groups: int, seed: int = 0):
    """Block "good" (4 informative + 2 noise columns) then block "noise" (6 pure-noise columns)."""
    X, y, groups = blobs(n_groups, seed=seed, informative=4, noise=2)
    rng = np.random.default_rng(seed + 100)
    X = [np.concatenate([x, rng.normal(size=6).astype(np.float32)]) for x in X]
    return X, y, groups, (FeatureBlock("good", 6), FeatureBlock("noise", 6))


def test_fusion_weights_the_informative_block_and_records_its_members():
    X, y, groups, blocks = two_blocks(4)
    model = FusionEstimator(context(FUSION_DEFAULTS, blocks=blocks, members=["svm", "svm"], weight_step=0.25,
                                    inner_folds=3))
    model.fit(X, y, groups)
    described = model.describe()
    assert [m["block"] for m in described["members"]] == ["good", "noise"]
    assert [m["model"] for m in described["members"]] == ["svm", "svm"]
    assert described["weights"][0] > described["weights"][1], "the informative block weighs more"
    assert sum(described["weights"]) == pytest.approx(1.0)
    assert described["member_inner_cv_uar"][0] > described["member_inner_cv_uar"][1]
    assert described["inner_cv"].startswith("GroupKFold(3)")
    X_test, y_test, _, _ = two_blocks(1, seed=9)
    assert uar(y_test, model.predict(X_test)) > 0.85
    assert "argmax equals predict" in check_scores(model, X_test, model.predict(X_test), 3)
    assert model.parameter_count() == sum(m.parameter_count() for m in model.members)


def test_fusion_needs_one_member_per_block():
    X, y, groups, blocks = two_blocks(3)
    model = FusionEstimator(context(FUSION_DEFAULTS, blocks=blocks + (FeatureBlock("third", 0),)))
    with pytest.raises(ValueError, match="2 members .* for 3 feature blocks"):
        model.fit(X, y, groups)
    with pytest.raises(ValueError, match="two or more of svm, logreg, mlp"):
        FusionEstimator(context(FUSION_DEFAULTS, members=["svm", "knn"]))


def test_fusion_weights_never_see_the_test_fold():
    """Shuffling the test fold's labels (through the runner's cell) leaves the fusion weights unchanged."""
    X, y, groups, blocks = two_blocks(4, seed=3)
    fold_of = np.array([int(g[3:]) for g in groups])
    feature = FeatureSpec("good+noise", "functionals", extract=lambda s, r: s)
    settings = {**FUSION_DEFAULTS, "members": ["svm", "svm"], "weight_step": 0.1, "inner_folds": 3}

    def run(labels: np.ndarray):
        data = Prepared(items=[x.reshape(1, -1) for x in X], y=labels, clip_ids=[f"c{i}" for i in range(len(y))],
                        speakers=groups, groups=groups, fold_of=fold_of)
        task = CellTask(key=CellKey("c", "fusion", "p", "i", 0, 2), create=FusionEstimator, feature=feature,
                        settings=settings, n_classes=3, normalisation="none", seed=11, blocks=blocks)
        outcome = compute_cell(task, data)
        assert outcome.ok, outcome.error
        return outcome

    original = run(y)
    shuffled_y = y.copy()
    test = np.flatnonzero(fold_of == 2)
    shuffled_y[test] = np.random.default_rng(0).permutation(y[test])[::-1]
    assert not np.array_equal(shuffled_y[test], y[test])
    shuffled = run(shuffled_y)
    assert original.estimator["weights"] == shuffled.estimator["weights"]
    assert original.estimator["scales"] == shuffled.estimator["scales"]
    assert original.predictions.y_pred == shuffled.predictions.y_pred, "only the scoring of the test fold changed"
    assert original.predictions.y_true != shuffled.predictions.y_true
