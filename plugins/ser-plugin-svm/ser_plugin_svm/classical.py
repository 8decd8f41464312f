"""Models ``logreg`` and ``mlp``: logistic regression and a multi-layer perceptron (scikit-learn).

Both are tuned like the SVM (:mod:`ser_plugin_svm.tuning`: grid search on speaker-grouped inner folds
of the training part, scored by UAR, best setting refitted on the whole training part), are
class-balanced, and are seeded from the cell's seed. The grids were fixed a priori, before any
result on a real corpus was seen.

- ``logreg``: ``LogisticRegression`` (multinomial, L2, lbfgs, ``class_weight="balanced"``), C in
  {1e-4, 1e-3, 1e-2, 1e-1, 1, 10}.
- ``mlp``: ``MLPClassifier`` (ReLU, Adam, ``max_iter`` epochs without early stopping, whose held-out
  part would not be speaker-independent), one hidden layer of 128 or 256 units, L2 penalty alpha in
  {1e-3, 1e-1, 1}; classes balanced by sample weights ``N / (C * n_c)``.

``predict_scores`` is ``predict_proba`` (absent training classes get probability 0); its argmax is
``predict``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ser_core import ModelSpec, Setting, class_weights
from ser_plugin_svm.tuning import TunedEstimator, full_scores

LOGREG_DEFAULTS = {"C": [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0], "max_iter": 2000, "inner_folds": 5}
LOGREG_SETTINGS = {
    "C": Setting(list, items=float, minimum=1e-12),
    "max_iter": Setting(int, minimum=1, maximum=10_000_000),
    "inner_folds": Setting(int, minimum=2, maximum=20),
}
MLP_DEFAULTS = {"hidden": [128, 256], "alpha": [1e-3, 1e-1, 1.0], "learning_rate": 1e-3, "max_iter": 200,
                "batch_size": 64, "inner_folds": 5}
MLP_SETTINGS = {
    "hidden": Setting(list, items=int, minimum=1, maximum=65_536),
    "alpha": Setting(list, items=float, minimum=0.0),
    "learning_rate": Setting(float, minimum=1e-8),
    "max_iter": Setting(int, minimum=1, maximum=10_000_000),
    "batch_size": Setting(int, minimum=1, maximum=65_536),
    "inner_folds": Setting(int, minimum=2, maximum=20),
}


class LogRegEstimator(TunedEstimator):
    """Nested-CV-tuned multinomial logistic regression for one outer fold."""

    name = "logreg"

    def estimator(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(class_weight="balanced", max_iter=int(self.settings["max_iter"]),
                                  random_state=self.seed)

    def grid(self) -> dict[str, list]:
        return {"C": list(self.settings["C"])}

    def scores(self, fitted, features: np.ndarray) -> np.ndarray:
        return full_scores(fitted.predict_proba(features), fitted.classes_, self.n_classes, fill=0.0)

    def parameter_count(self) -> int | None:
        """Weights and intercepts of the fitted model."""
        best = self.search.best_estimator_
        return int(best.coef_.size + best.intercept_.size)


class MLPEstimator(TunedEstimator):
    """Nested-CV-tuned one-hidden-layer perceptron for one outer fold."""

    name = "mlp"

    def estimator(self):
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(
            learning_rate_init=float(self.settings["learning_rate"]), max_iter=int(self.settings["max_iter"]),
            batch_size=int(self.settings["batch_size"]), early_stopping=False, random_state=self.seed,
        )

    def grid(self) -> dict[str, list]:
        return {"hidden_layer_sizes": [(int(h),) for h in self.settings["hidden"]], "alpha": list(self.settings["alpha"])}

    def fit_params(self, y: np.ndarray) -> dict[str, Any]:
        return {"sample_weight": class_weights(y, int(y.max()) + 1)[y]}

    def fit(self, X, y, groups) -> None:
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the training budget, on purpose
            warnings.filterwarnings("ignore", message="Got `batch_size`", category=UserWarning)  # small data: clipped
            # UAR already weighs every class equally: the scorer needs no sample weights
            warnings.filterwarnings("ignore", message="The scoring .* does not support sample_weight", category=UserWarning)
            super().fit(X, y, groups)

    def scores(self, fitted, features: np.ndarray) -> np.ndarray:
        return full_scores(fitted.predict_proba(features), fitted.classes_, self.n_classes, fill=0.0)

    def parameter_count(self) -> int | None:
        """Weights and biases of every layer of the fitted network."""
        best = self.search.best_estimator_
        return int(sum(w.size for w in best.coefs_) + sum(b.size for b in best.intercepts_))

    def describe(self) -> dict[str, Any]:
        described = super().describe()
        best = described["best_params"]
        described["best_params"] = {**best, "hidden_layer_sizes": list(best["hidden_layer_sizes"])}
        described["epochs_run"] = int(self.search.best_estimator_.n_iter_)
        return described


LOGREG = ModelSpec(
    name="logreg",
    create=LogRegEstimator,
    accepts=frozenset({"functionals"}),
    defaults=LOGREG_DEFAULTS,
    setting_types=LOGREG_SETTINGS,
    description="Logistic regression, class-balanced, C by nested speaker-grouped CV (UAR)",
)
MLP = ModelSpec(
    name="mlp",
    create=MLPEstimator,
    accepts=frozenset({"functionals"}),
    defaults=MLP_DEFAULTS,
    setting_types=MLP_SETTINGS,
    description="One-hidden-layer MLP (scikit-learn), class-balanced, width/alpha by nested speaker-grouped CV (UAR)",
)
