"""serbench model ``svm``: scikit-learn ``SVC(kernel="rbf", class_weight="balanced")``.

C in {2^-6, 2^-4, ..., 2^6} and gamma in {2^-12, 2^-10, ..., 2^-2} are chosen per outer fold by an
inner cross-validation on the training part only, grouped by speaker (or CV group) so the inner
folds are speaker-independent too, scored by UAR. With a single training speaker the inner folds
fall back to stratified splits, and the estimator's description says so.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ser_core import ModelSpec, Setting, hookimpl
from ser_core.dependencies import require
from ser_core.protocol import uar
from ser_core.specs import ModelContext

DEFAULTS = {
    "C": [2.0**e for e in range(-6, 7, 2)],
    "gamma": [2.0**e for e in range(-12, -1, 2)],
    "inner_folds": 5,
}
SETTING_TYPES = {
    "C": Setting(list, items=float, minimum=1e-12),
    "gamma": Setting(list, items=float, minimum=1e-12),
    "inner_folds": Setting(int, minimum=2),
}


class SVMEstimator:
    """A nested-CV-tuned RBF SVM for one outer fold."""

    def __init__(self, context: ModelContext):
        self.settings = dict(context.settings)
        self.seed = context.seed
        self.search = None
        self.inner_cv = ""

    def fit(self, X: Sequence[np.ndarray], y: np.ndarray, groups: np.ndarray) -> None:
        require("sklearn", install="scikit-learn", needed_by="model 'svm' (ser-plugin-svm)")
        from sklearn.metrics import make_scorer
        from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
        from sklearn.svm import SVC

        features = np.stack(X)
        n_groups = len(np.unique(groups))
        folds = int(self.settings["inner_folds"])
        if n_groups >= 2:
            splitter = GroupKFold(n_splits=min(folds, n_groups))
            splits = list(splitter.split(features, y, groups))
            self.inner_cv = f"GroupKFold({min(folds, n_groups)}) over {n_groups} training groups"
        else:
            n = min(folds, int(np.bincount(y).min()) if len(y) else 2)
            splitter = StratifiedKFold(n_splits=max(n, 2), shuffle=True, random_state=self.seed)
            splits = list(splitter.split(features, y))
            self.inner_cv = f"StratifiedKFold({max(n, 2)}): one training group, not speaker-independent"
        self.search = GridSearchCV(
            SVC(kernel="rbf", class_weight="balanced"),
            {"C": list(self.settings["C"]), "gamma": list(self.settings["gamma"])},
            scoring=make_scorer(uar),
            cv=splits,
            n_jobs=1,
            refit=True,
        )
        self.search.fit(features, y)

    def predict(self, X: Sequence[np.ndarray]) -> np.ndarray:
        return self.search.predict(np.stack(X))

    def parameter_count(self) -> int | None:
        """Stored values of the fitted model: support vectors, dual coefficients and intercepts."""
        svc = self.search.best_estimator_
        return int(svc.support_vectors_.size + svc.dual_coef_.size + svc.intercept_.size)

    def describe(self) -> dict[str, Any]:
        return {
            "best_params": self.search.best_params_,
            "inner_cv_uar": float(self.search.best_score_),
            "inner_cv": self.inner_cv,
        }


@hookimpl
def register_models(register):
    register(
        ModelSpec(
            name="svm",
            create=SVMEstimator,
            accepts=frozenset({"functionals"}),
            defaults=DEFAULTS,
            setting_types=SETTING_TYPES,
            description="RBF SVM, class-balanced, C/gamma by nested speaker-grouped CV (UAR)",
        )
    )
