"""Model ``fusion``: late fusion of member models' class scores, weights chosen on inner folds.

A fusion system lists several functionals features (``features = ["whisper-tiny.en", "is09"]``); the
core concatenates them per clip and names the blocks (:attr:`ser_core.specs.ModelContext.blocks`).
``members`` names one model of this plugin (``svm``, ``logreg``, ``mlp``) per block, in block order
(or several models on a system's single feature). For one outer fold:

1. the training part is split into speaker-grouped inner folds (as the members tune themselves);
   on each, every member is fitted (with its own nested tuning) on the inner training speakers and
   scores the held-out inner speakers, giving out-of-fold class scores of every training clip;
2. each member's scores are put on one scale: minus each clip's mean score, divided by the standard
   deviation of those out-of-fold values (fitted on the training part, kept for the test fold);
3. the weights (non-negative, summing to 1, on a grid of step ``weight_step``) that give the best UAR
   of the argmax of the weighted scaled scores over all out-of-fold clips are kept (ties: the first
   in grid order, which starts at the most even weights);
4. every member is refitted on the whole training part; the test fold's scores are the weighted sum
   of their scaled ``predict_scores``, and ``predict`` their argmax.

The test fold is never seen by any of these choices. The members (model, block, width, best
parameters), the weights, the scales and the inner-fold UARs of the fusion and of each member alone
are stored with every result (``describe``).
"""

from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np

from ser_core import FeatureBlock, FeatureSpec, ModelContext, ModelSpec, Setting, split_blocks, uar
from ser_plugin_svm.tuning import inner_splits

FUSION_DEFAULTS = {"members": ["svm", "svm"], "weight_step": 0.1, "inner_folds": 5}
FUSION_SETTINGS = {
    "members": Setting(list, items=str, choices=("svm", "logreg", "mlp")),
    "weight_step": Setting(float, minimum=0.01, maximum=1.0),
    "inner_folds": Setting(int, minimum=2, maximum=20),
}


def member_models() -> dict[str, tuple[type, dict]]:
    """The models a fusion may combine, by name, with their default settings (used as they are)."""
    from ser_plugin_svm import DEFAULTS as SVM_DEFAULTS
    from ser_plugin_svm import SVMEstimator
    from ser_plugin_svm.classical import LOGREG_DEFAULTS, MLP_DEFAULTS, LogRegEstimator, MLPEstimator

    return {"svm": (SVMEstimator, SVM_DEFAULTS), "logreg": (LogRegEstimator, LOGREG_DEFAULTS),
            "mlp": (MLPEstimator, MLP_DEFAULTS)}


def weight_grid(members: int, step: float) -> list[tuple[float, ...]]:
    """Every weight vector of ``members`` non-negative multiples of ``step`` summing to 1, the most
    even first (then in lexicographic order)."""
    units = int(round(1.0 / step))
    if abs(units * step - 1.0) > 1e-9:
        raise ValueError(f"weight_step {step} must divide 1 (e.g. 0.1, 0.05, 0.25)")
    grid = [c for c in itertools.product(range(units + 1), repeat=members) if sum(c) == units]
    grid.sort(key=lambda c: (max(c) - min(c), [-v for v in c]))
    return [tuple(v / units for v in c) for c in grid]


class FusionEstimator:
    """Weighted late fusion of one member model per feature block, for one outer fold."""

    def __init__(self, context: ModelContext):
        self.context = context
        self.settings = dict(context.settings)
        self.seed = context.seed
        self.n_classes = context.n_classes
        names = list(self.settings["members"])
        available = member_models()
        unknown = [n for n in names if n not in available]
        if unknown or len(names) < 2:
            raise ValueError(f"fusion members must be two or more of {', '.join(available)}; got {names}")
        self.names = names
        self.members: list[Any] = []
        self.weights: tuple[float, ...] = ()
        self.scales: list[float] = []
        self.blocks: tuple[FeatureBlock, ...] = ()
        self.block_of: list[int] = []
        self.inner: dict[str, Any] = {}

    def _assign(self, width: int) -> None:
        blocks = self.context.blocks or (FeatureBlock(self.context.feature.name, width),)
        if len(blocks) == len(self.names):
            self.block_of = list(range(len(blocks)))
        elif len(blocks) == 1:
            self.block_of = [0] * len(self.names)
        else:
            raise ValueError(
                f"fusion has {len(self.names)} members ({', '.join(self.names)}) for {len(blocks)} feature blocks "
                f"({', '.join(b.name for b in blocks)}); give one member per feature (settings.members)"
            )
        self.blocks = tuple(blocks)

    def _member(self, index: int):
        cls, defaults = member_models()[self.names[index]]
        block = self.blocks[self.block_of[index]]
        feature = FeatureSpec(block.name, "functionals", extract=self.context.feature.extract)
        return cls(ModelContext(self.n_classes, feature, dict(defaults), self.seed + index))

    def _parts(self, X: Sequence[np.ndarray]) -> list[np.ndarray]:
        cut = [split_blocks(np.asarray(x), self.blocks) for x in X]
        return [np.stack([c[b] for c in cut]) for b in range(len(self.blocks))]

    def _scaled(self, index: int, scores: np.ndarray) -> np.ndarray:
        return (scores - scores.mean(axis=1, keepdims=True)) / self.scales[index]

    def fit(self, X: Sequence[np.ndarray], y: np.ndarray, groups: np.ndarray) -> None:
        y, groups = np.asarray(y), np.asarray(groups)
        self._assign(int(np.asarray(X[0]).shape[-1]))
        parts = self._parts(X)
        splits, self.inner_cv = inner_splits(y, groups, int(self.settings["inner_folds"]), self.seed)
        oof = [np.zeros((len(y), self.n_classes)) for _ in self.names]
        for train, held in splits:
            for m in range(len(self.names)):
                member = self._member(m)
                data = parts[self.block_of[m]]
                member.fit(list(data[train]), y[train], groups[train])
                oof[m][held] = member.predict_scores(list(data[held]))
        covered = np.concatenate([held for _, held in splits])
        self.scales = []
        for scores in oof:
            centred = scores[covered] - scores[covered].mean(axis=1, keepdims=True)
            self.scales.append(float(centred.std()) or 1.0)
        scaled = [self._scaled(m, oof[m])[covered] for m in range(len(self.names))]
        truth = y[covered]
        best, best_uar = None, -1.0
        for weights in weight_grid(len(self.names), float(self.settings["weight_step"])):
            fused = sum(w * s for w, s in zip(weights, scaled))
            score = uar(truth, fused.argmax(axis=1))
            if score > best_uar + 1e-12:
                best, best_uar = weights, score
        self.weights = best
        self.inner = {
            "fusion_uar": best_uar,
            "member_uar": [uar(truth, s.argmax(axis=1)) for s in scaled],
        }
        self.members = []
        for m in range(len(self.names)):
            member = self._member(m)
            member.fit(list(parts[self.block_of[m]]), y, groups)
            self.members.append(member)

    def predict_scores(self, X: Sequence[np.ndarray]) -> np.ndarray:
        """The weighted sum of the members' scaled class scores, ``(len(X), n_classes)``."""
        parts = self._parts(X)
        return sum(
            w * self._scaled(m, np.asarray(member.predict_scores(list(parts[self.block_of[m]]))))
            for m, (w, member) in enumerate(zip(self.weights, self.members))
        )

    def predict(self, X: Sequence[np.ndarray]) -> np.ndarray:
        return np.asarray(self.predict_scores(X)).argmax(axis=1)

    def parameter_count(self) -> int | None:
        counts = [member.parameter_count() for member in self.members]
        return None if any(c is None for c in counts) else int(sum(counts))

    def describe(self) -> dict[str, Any]:
        return {
            "members": [
                {"model": name, "block": self.blocks[self.block_of[m]].name, "width": self.blocks[self.block_of[m]].width,
                 **member.describe()}
                for m, (name, member) in enumerate(zip(self.names, self.members))
            ],
            "weights": list(self.weights),
            "scales": self.scales,
            "inner_cv": self.inner_cv,
            "inner_cv_uar": self.inner["fusion_uar"],
            "member_inner_cv_uar": self.inner["member_uar"],
        }


FUSION = ModelSpec(
    name="fusion",
    create=FusionEstimator,
    accepts=frozenset({"functionals"}),
    defaults=FUSION_DEFAULTS,
    setting_types=FUSION_SETTINGS,
    description="Late fusion: one member model (svm/logreg/mlp) per feature block, score weights by nested speaker-grouped CV",
)
