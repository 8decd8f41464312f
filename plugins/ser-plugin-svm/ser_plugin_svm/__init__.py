"""serbench's scikit-learn models: ``svm``, ``logreg``, ``mlp`` and the late fusion ``fusion``.

``svm``: ``SVC(kernel="rbf", class_weight="balanced")``. C in {2^-6, 2^-4, ..., 2^6} and gamma in
{2^-12, 2^-10, ..., 2^-2} are chosen per outer fold by an inner cross-validation on the training part
only, grouped by speaker (or CV group) so the inner folds are speaker-independent too, scored by UAR
(:mod:`ser_plugin_svm.tuning`). With a single training speaker the inner folds fall back to
stratified splits, and the estimator's description says so. Its ``predict_scores`` is the
one-vs-rest decision function built from the one-vs-one votes plus their confidences: its argmax is
``predict`` except where two classes tie on votes (``predict`` takes the first of them, the scores
the more confident one), so the estimator sets ``scores_match_predict = False``.

``logreg`` and ``mlp`` (:mod:`ser_plugin_svm.classical`) are tuned the same way; ``fusion``
(:mod:`ser_plugin_svm.fusion`) weights the class scores of one member model per feature block.
"""

from __future__ import annotations

import numpy as np

from ser_core import ModelSpec, Setting, hookimpl
from ser_plugin_svm.tuning import TunedEstimator, full_scores

DEFAULTS = {
    "C": [2.0**e for e in range(-6, 7, 2)],
    "gamma": [2.0**e for e in range(-12, -1, 2)],
    "inner_folds": 5,
}
SETTING_TYPES = {
    "C": Setting(list, items=float, minimum=1e-12),
    "gamma": Setting(list, items=float, minimum=1e-12),
    "inner_folds": Setting(int, minimum=2, maximum=20),
}


class SVMEstimator(TunedEstimator):
    """A nested-CV-tuned RBF SVM for one outer fold."""

    name = "svm"
    scores_match_predict = False  # one-vs-one vote ties: see the module docstring

    def estimator(self):
        from sklearn.svm import SVC

        return SVC(kernel="rbf", class_weight="balanced")

    def grid(self) -> dict[str, list]:
        return {"C": list(self.settings["C"]), "gamma": list(self.settings["gamma"])}

    def scores(self, fitted, features: np.ndarray) -> np.ndarray:
        return full_scores(fitted.decision_function(features), fitted.classes_, self.n_classes)

    def parameter_count(self) -> int | None:
        """Stored values of the fitted model: support vectors, dual coefficients and intercepts."""
        svc = self.search.best_estimator_
        return int(svc.support_vectors_.size + svc.dual_coef_.size + svc.intercept_.size)


@hookimpl
def register_models(register):
    from ser_plugin_svm import classical, fusion

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
    for spec in (classical.LOGREG, classical.MLP, fusion.FUSION):
        register(spec)
