"""Nested, speaker-grouped tuning shared by the scikit-learn models of this plugin.

Every model here chooses its hyper-parameters per outer fold by a grid search over inner folds of the
training part only, grouped by speaker (or CV group) so the inner folds are speaker-independent too,
scored by UAR, then refits the best setting on the whole training part. With a single training
group the inner folds fall back to seeded stratified splits, and the description says so.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ser_core import ModelContext, require, uar


def inner_splits(y: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> tuple[list, str]:
    """``(splits, description)``: speaker-grouped inner folds of a training part (index pairs)."""
    require("sklearn", install="scikit-learn", needed_by="the scikit-learn models (ser-plugin-svm)")
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    n_groups = len(np.unique(groups))
    placeholder = np.zeros((len(y), 1))
    if n_groups >= 2:
        n = min(folds, n_groups)
        return list(GroupKFold(n_splits=n).split(placeholder, y, groups)), f"GroupKFold({n}) over {n_groups} training groups"
    n = max(2, min(folds, int(np.bincount(y).min()) if len(y) else 2))
    splits = list(StratifiedKFold(n_splits=n, shuffle=True, random_state=seed).split(placeholder, y))
    return splits, f"StratifiedKFold({n}): one training group, not speaker-independent"


def full_scores(raw: np.ndarray, classes: np.ndarray, n_classes: int, fill: float | None = None) -> np.ndarray:
    """Scores ``(n, n_classes)`` from a fitted scikit-learn model's ``(n, len(classes))`` scores.

    A class absent from the training part has no column: it gets ``fill`` (default: one below the
    lowest score, so it is never the argmax and every value stays finite).
    """
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim == 1:  # binary decision function: positive means classes[1]
        raw = np.stack([-raw, raw], axis=1)
    out = np.full((raw.shape[0], n_classes), (raw.min() - 1.0 if raw.size else 0.0) if fill is None else fill)
    out[:, np.asarray(classes, dtype=np.int64)] = raw
    return out


class TunedEstimator:
    """A scikit-learn classifier whose grid is searched in nested speaker-grouped CV (one outer fold).

    Subclasses give :meth:`estimator` (the unfitted model), :meth:`grid` (the parameter grid),
    :meth:`scores` (class scores of the fitted model) and :meth:`parameter_count`.
    """

    #: the model's name, in messages
    name = "model"
    #: ``predict_scores``' argmax is ``predict`` (see ser_core.specs.Estimator)
    scores_match_predict = True

    def __init__(self, context: ModelContext):
        self.settings = dict(context.settings)
        self.seed = context.seed
        self.n_classes = context.n_classes
        self.search = None
        self.inner_cv = ""

    def estimator(self):
        raise NotImplementedError

    def grid(self) -> dict[str, list]:
        raise NotImplementedError

    def fit_params(self, y: np.ndarray) -> dict[str, Any]:
        """Extra arguments of the model's ``fit`` (e.g. class-balancing sample weights)."""
        return {}

    def fit(self, X: Sequence[np.ndarray], y: np.ndarray, groups: np.ndarray) -> None:
        require("sklearn", install="scikit-learn", needed_by=f"model {self.name!r} (ser-plugin-svm)")
        from sklearn.metrics import make_scorer
        from sklearn.model_selection import GridSearchCV

        features = np.stack(X)
        splits, self.inner_cv = inner_splits(np.asarray(y), np.asarray(groups), int(self.settings["inner_folds"]), self.seed)
        self.search = GridSearchCV(self.estimator(), self.grid(), scoring=make_scorer(uar), cv=splits, n_jobs=1, refit=True)
        self.search.fit(features, y, **self.fit_params(np.asarray(y)))

    def predict(self, X: Sequence[np.ndarray]) -> np.ndarray:
        return self.search.predict(np.stack(X))

    def predict_scores(self, X: Sequence[np.ndarray]) -> np.ndarray:
        """Class scores ``(len(X), n_classes)`` (see :meth:`scores`)."""
        best = self.search.best_estimator_
        return self.scores(best, np.stack(X))

    def scores(self, fitted, features: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def parameter_count(self) -> int | None:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {
            "best_params": self.search.best_params_,
            "inner_cv_uar": float(self.search.best_score_),
            "inner_cv": self.inner_cv,
        }
