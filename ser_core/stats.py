"""Statistics of the board, computed from stored predictions and aware of speakers.

Clips of one speaker are not independent, so every resampling here resamples (or swaps) whole
speakers. The statistic is always the board's own: UAR per fold (mean recall over the classes present
in the fold's test clips), mean over folds, mean over complete repeats. Because a fold tests the same
clips in every repeat, the repeat mean equals the fold UAR of the repeat-averaged correct counts, so a
cell's data reduce to two arrays per (fold, speaker, class): clips, and correct predictions averaged
over repeats (:class:`SpeakerCounts`).

- :func:`bootstrap_ci`: confidence interval of a cell's UAR by a speaker-level (cluster) bootstrap
  (``scipy.stats.bootstrap`` over speakers, percentile method).
- :func:`paired_test`: two systems on the same clips and folds: the UAR difference, its speaker-level
  paired-bootstrap CI, and a speaker-level paired permutation test (``scipy.stats.permutation_test``,
  exact when ``2**speakers`` is at most the number of resamples).
- :func:`per_speaker_uar`: UAR over each speaker's clips.
- :func:`friedman`: average ranks over corpora, the Friedman test and the Nemenyi critical difference
  (``scipy.stats.friedmanchisquare`` and ``scipy.stats.studentized_range``).

Resampling runs in batches (scipy's ``batch=``) sized to :data:`MEMORY_BUDGET`, so memory does not
grow with the number of resamples; the number itself is bounded (:func:`check_resamples`): below
:data:`MIN_RESAMPLES` a 95% interval's 2.5th and 97.5th percentiles are one or two draws, above
:data:`MAX_RESAMPLES` the run time grows with no gain in precision.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ser_core.metrics import uar_from_counts

DEFAULT_RESAMPLES = 1000
#: Fewer resamples than this give an interval whose ends are one or two draws: refused, not computed.
MIN_RESAMPLES = 100
#: The Monte Carlo error of a percentile or p-value at this many draws is already far below the
#: speaker-level uncertainty; more only costs time (each statistic is linear in the resamples).
MAX_RESAMPLES = 100_000
#: Bytes a batch of resamples may hold at once (arrays of the statistic, not counting scipy's own).
MEMORY_BUDGET = 64 * 2**20
DEFAULT_LEVEL = 0.95
ALPHA = 0.05


def resamples_problem(resamples: int) -> str | None:
    """Why ``resamples`` cannot be used (0 turns the statistics off), or ``None`` when it can."""
    if resamples == 0 or MIN_RESAMPLES <= resamples <= MAX_RESAMPLES:
        return None
    if resamples < 0:
        return f"{resamples} is negative; give 0 (statistics off) or {MIN_RESAMPLES} to {MAX_RESAMPLES}"
    if resamples < MIN_RESAMPLES:
        return (f"{resamples} is too few for a 95% interval (its ends would be one or two draws); give 0 "
                f"(statistics off) or {MIN_RESAMPLES} to {MAX_RESAMPLES} (default {DEFAULT_RESAMPLES})")
    return (f"{resamples} is more than {MAX_RESAMPLES}, which already makes the resampling error negligible "
            f"beside the speakers' spread, while the time grows with every resample; give {MIN_RESAMPLES} to "
            f"{MAX_RESAMPLES} (default {DEFAULT_RESAMPLES})")


def check_resamples(resamples: int) -> None:
    """:raises ValueError: ``resamples`` is neither 0 nor within MIN_RESAMPLES..MAX_RESAMPLES."""
    problem = resamples_problem(resamples)
    if problem:
        raise ValueError(f"resamples: {problem}")


def check_seed(seed: int) -> None:
    """:raises ValueError: ``seed`` is not a non-negative integer (numpy's generators refuse others)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: {seed!r} is not a non-negative integer; give 0 or more")


def _batch(per_resample_floats: int) -> int:
    """Resamples per batch so that one batch's arrays stay within :data:`MEMORY_BUDGET`."""
    return max(1, MEMORY_BUDGET // (8 * max(1, per_resample_floats)))


@dataclass(frozen=True)
class SpeakerCounts:
    """One cell's test results by fold, speaker and class.

    ``true[f, s, c]``: test clips of class ``c`` of speaker ``s`` in fold ``f``;
    ``correct[f, s, c]``: of those, correctly predicted, averaged over the repeats.
    """

    speakers: tuple[str, ...]
    true: np.ndarray
    correct: np.ndarray
    repeats: int

    @property
    def n_clips(self) -> int:
        return int(round(self.true.sum()))


def speaker_counts(
    folds: Iterable[tuple[int, int, Sequence[str], Sequence[str], Sequence[int], Sequence[int]]],
    n_classes: int,
    *,
    clips: set[str] | None = None,
    speakers: Sequence[str] | None = None,
) -> SpeakerCounts | None:
    """Counts from ``(repeat, fold, clip_ids, speakers, y_true, y_pred)`` of complete repeats.

    :param clips: keep only these clip ids (the clips two systems share, for a paired test).
    :param speakers: the speaker order to use (a paired test gives both systems the same one).
    """
    rows = list(folds)
    if not rows:
        return None
    keep = (lambda cid: cid in clips) if clips is not None else (lambda cid: True)
    order = list(speakers) if speakers is not None else sorted({s for r in rows for s in r[3]})
    fold_ids = sorted({r[1] for r in rows})
    repeats = sorted({r[0] for r in rows})
    s_index = {s: i for i, s in enumerate(order)}
    f_index = {f: i for i, f in enumerate(fold_ids)}
    true = np.zeros((len(fold_ids), len(order), n_classes))
    correct = np.zeros_like(true)
    first = repeats[0]
    for repeat, fold, clip_ids, spk, y_true, y_pred in rows:
        for cid, s, t, p in zip(clip_ids, spk, y_true, y_pred):
            if not keep(cid) or s not in s_index:
                continue
            f, i = f_index[fold], s_index[s]
            if repeat == first:
                true[f, i, t] += 1
            correct[f, i, t] += p == t
    correct /= len(repeats)
    return SpeakerCounts(tuple(order), true, correct, len(repeats))


def _weights(indices: np.ndarray, n_units: int) -> np.ndarray:
    """Resampled unit indices ``(..., n)`` -> multiplicity of each unit ``(..., n_units)``."""
    flat = indices.reshape(-1, indices.shape[-1])
    offsets = (np.arange(flat.shape[0])[:, None] * n_units + flat).ravel()
    counts = np.bincount(offsets, minlength=flat.shape[0] * n_units).reshape(flat.shape[0], n_units)
    return counts.reshape(indices.shape[:-1] + (n_units,)).astype(float)


def _fold_mean_uar(true: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """``true``/``correct`` of shape ``(..., F, C)`` -> fold-mean UAR ``(...)``: the UAR of each fold
    (:func:`ser_core.metrics.uar_from_counts`), averaged over the folds that have test clips."""
    per_fold = uar_from_counts(true, correct)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(per_fold, axis=-1)


def weighted_uar(counts: SpeakerCounts, weights: np.ndarray) -> np.ndarray:
    """The board's UAR with each speaker's clips counted ``weights[..., s]`` times."""
    true = np.einsum("...s,fsc->...fc", weights, counts.true)
    correct = np.einsum("...s,fsc->...fc", weights, counts.correct)
    return _fold_mean_uar(true, correct)


def uar_of(counts: SpeakerCounts) -> float:
    """The board's UAR (every speaker once)."""
    return float(weighted_uar(counts, np.ones(len(counts.speakers))))


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    level: float
    resamples: int


def bootstrap_ci(counts: SpeakerCounts, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                 level: float = DEFAULT_LEVEL) -> Interval | None:
    """Speaker-level bootstrap CI of UAR: speakers resampled with replacement, UAR recomputed over
    their clips. ``None`` with fewer than two speakers (there is nothing to resample)."""
    from scipy import stats

    check_resamples(resamples)
    check_seed(seed)
    n = len(counts.speakers)
    if n < 2 or resamples < 1:
        return None
    folds, _, classes = counts.true.shape
    # per resample: its indices and weights (n each), two weighted count tables and the recall temporaries
    batch = _batch(2 * n + 8 * folds * classes)

    def statistic(indices, axis=-1):
        return weighted_uar(counts, _weights(np.moveaxis(np.asarray(indices), axis, -1), n))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.bootstrap((np.arange(n),), statistic, vectorized=True, n_resamples=resamples, batch=batch,
                                 confidence_level=level, method="percentile", rng=np.random.default_rng(seed))
    low, high = result.confidence_interval
    return Interval(float(low), float(high), level, resamples)


@dataclass(frozen=True)
class PairedResult:
    """System A minus system B on the clips both were tested on."""

    difference: float
    uar_a: float
    uar_b: float
    ci: Interval | None
    p_value: float
    exact: bool
    n_speakers: int
    n_clips: int

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


def paired_test(a: SpeakerCounts, b: SpeakerCounts, *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                level: float = DEFAULT_LEVEL) -> PairedResult:
    """Paired speaker-level comparison of two systems scored on the same clips and folds.

    The p-value is a two-sided permutation test that swaps, speaker by speaker, which system's
    predictions count as A's and which as B's; the CI is a paired speaker-level bootstrap.
    :raises ValueError: when the two were not tested on the same clips of the same speakers.
    """
    from scipy import stats

    if a.speakers != b.speakers or a.true.shape != b.true.shape or not np.array_equal(a.true, b.true):
        raise ValueError("a paired test needs both systems' predictions on the same clips, speakers and folds")
    check_resamples(resamples)
    check_seed(seed)
    if resamples == 0:
        raise ValueError("a paired test needs resamples (0 turns the statistics off)")
    n = len(a.speakers)
    ones = np.ones(n)
    uar_a, uar_b = float(weighted_uar(a, ones)), float(weighted_uar(b, ones))
    if n < 2:
        return PairedResult(uar_a - uar_b, uar_a, uar_b, None, 1.0, True, n, a.n_clips)
    # units 0..n-1: A's predictions of each speaker; n..2n-1: B's
    units = np.concatenate([np.moveaxis(a.correct, 1, 0), np.moveaxis(b.correct, 1, 0)])  # (2n, F, C)
    true = a.true.sum(axis=1)  # (F, C): the same clips on both sides

    def side(indices):
        return _fold_mean_uar(np.broadcast_to(true, indices.shape[:-1] + true.shape), units[indices].sum(axis=-3))

    def difference(x, y, axis=-1):
        x = np.moveaxis(np.asarray(x), axis, -1)
        y = np.moveaxis(np.asarray(y), axis, -1)
        return side(x) - side(y)

    exact = 2**n <= max(resamples, 4096)  # exact up to 12 speakers
    folds, classes = true.shape
    # per permutation: the gathered units (n x F x C) and the summed side with its temporaries, twice
    permutation_batch = _batch(2 * (n * folds * classes + 8 * folds * classes + n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = stats.permutation_test(
            (np.arange(n), np.arange(n) + n), difference, permutation_type="samples", vectorized=True,
            n_resamples=np.inf if exact else resamples, alternative="two-sided", rng=np.random.default_rng(seed),
            batch=permutation_batch,
        )

        def boot(indices, axis=-1):
            w = _weights(np.moveaxis(np.asarray(indices), axis, -1), n)
            return weighted_uar(a, w) - weighted_uar(b, w)

        ci = stats.bootstrap((np.arange(n),), boot, vectorized=True, n_resamples=resamples, confidence_level=level,
                             method="percentile", rng=np.random.default_rng(seed),
                             batch=_batch(2 * n + 16 * folds * classes)).confidence_interval
    p = float(min(1.0, test.pvalue))
    if np.isclose(uar_a, uar_b, rtol=0, atol=1e-12):
        p = 1.0  # identical scores: floating-point noise in the permutations must not make this < 1
    return PairedResult(uar_a - uar_b, uar_a, uar_b, Interval(float(ci.low), float(ci.high), level, resamples),
                        p, exact, n, a.n_clips)


def per_speaker_uar(counts: SpeakerCounts) -> dict[str, float]:
    """UAR over each speaker's own clips (classes that speaker has), repeats averaged."""
    scores = uar_from_counts(counts.true.sum(axis=0), counts.correct.sum(axis=0))  # (S,)
    return {speaker: float(score) for speaker, score in zip(counts.speakers, scores) if not np.isnan(score)}


@dataclass(frozen=True)
class RankTest:
    """Systems compared over the corpora where every one of them has a result."""

    systems: tuple[str, ...]
    corpora: tuple[str, ...]
    average_ranks: tuple[float, ...]  # 1 = best
    statistic: float | None
    p_value: float | None
    critical_difference: float | None  # Nemenyi, at ALPHA
    note: str = ""


def friedman(scores: Sequence[Sequence[float]], systems: Sequence[str], corpora: Sequence[str],
             alpha: float = ALPHA) -> RankTest:
    """Average ranks (1 = highest UAR, ties averaged), the Friedman test over corpora, and the Nemenyi
    critical difference of average ranks. Needs at least two corpora; the test needs three systems."""
    from scipy import stats

    matrix = np.asarray(scores, dtype=float)
    k = len(systems)
    n = len(corpora)
    if n == 0 or k == 0:
        return RankTest(tuple(systems), tuple(corpora), (), None, None, None, "no corpus has a result of every system")
    ranks = np.vstack([stats.rankdata(-row) for row in matrix])
    average = tuple(float(v) for v in ranks.mean(axis=0))
    if n < 2 or k < 2:
        return RankTest(tuple(systems), tuple(corpora), average, None, None, None,
                        "a rank test needs at least two systems on at least two corpora")
    q = float(stats.studentized_range.ppf(1 - alpha, k, np.inf)) / np.sqrt(2)
    cd = q * np.sqrt(k * (k + 1) / (6.0 * n))
    if k < 3:
        return RankTest(tuple(systems), tuple(corpora), average, None, None, float(cd),
                        "the Friedman test needs at least three systems; use `serbench compare` for two")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stats.friedmanchisquare(*matrix.T)
    statistic = float(result.statistic) if np.isfinite(result.statistic) else None
    p_value = float(result.pvalue) if np.isfinite(result.pvalue) else 1.0
    return RankTest(tuple(systems), tuple(corpora), average, statistic, p_value, float(cd))
