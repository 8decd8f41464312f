"""The metric and the class weighting, each defined once (part of the plugin API: import them from :mod:`ser_core`).

Unweighted average recall (UAR) is computed by :func:`uar_from_counts` everywhere: a cell's score
(:func:`uar`), the statistics' bootstrap and permutation tests, and the board, which recomputes every
figure from the stored predictions. :func:`class_weights` is the per-class training weight every
model uses.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def class_weights(y: np.ndarray, n_classes: int) -> np.ndarray:
    """Per-class weights ``N / (C * n_c)`` over the classes present in ``y`` (absent classes get 0)."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(n_classes)
    weights[present] = len(y) / (present.sum() * counts[present])
    return weights


def uar_from_counts(true: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Unweighted average recall from counts: the one definition of UAR (cells, statistics, board).

    :param true: test clips per class, shape ``(..., C)`` (counts may be fractional or weighted).
    :param correct: of those, correctly predicted, same shape.
    :returns: shape ``(...)``: the mean of ``correct / true`` over the classes with ``true > 0``;
        a class absent from the test clips counts for nothing (neither a recall of 0 nor of 1), and
        where no class has a test clip the UAR is NaN (undefined, for the caller to skip).
    """
    true = np.asarray(true, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    present = true > 0
    n_present = present.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(present, correct / np.where(present, true, 1.0), 0.0)
        return np.where(n_present > 0, recall.sum(-1) / np.maximum(n_present, 1), np.nan)


def uar(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """Unweighted average recall: the mean of per-class recalls over classes present in ``y_true``
    (:func:`uar_from_counts` of the per-class counts)."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError("uar needs two non-empty label arrays of the same length")
    classes, index = np.unique(y_true, return_inverse=True)
    index = index.reshape(-1)
    true = np.bincount(index, minlength=len(classes))
    correct = np.bincount(index[(y_pred == y_true).reshape(-1)], minlength=len(classes))
    return float(uar_from_counts(true, correct))
