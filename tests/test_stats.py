"""Speaker-level statistics on hand-worked and analytically known cases."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core import stats

CLASSES = 4


def cells(predict, speakers=10, clips=8, repeats=1):
    """Leave-one-speaker-out rows ``(repeat, fold, clip_ids, speakers, y_true, y_pred)``;
    ``predict(speaker_index, true_label, clip_index)`` gives each prediction."""
    rows = []
    for r in range(repeats):
        for s in range(speakers):
            y_true = [i % CLASSES for i in range(clips)]
            y_pred = [predict(s, t, i) for i, t in enumerate(y_true)]
            rows.append((r, s, [f"s{s}-{i}" for i in range(clips)], [f"s{s}"] * clips, y_true, y_pred))
    return rows


def counts(predict, **kwargs):
    return stats.speaker_counts(cells(predict, **kwargs), CLASSES)


perfect = counts(lambda s, t, i: t)
wrong_on_s0 = counts(lambda s, t, i: t if s else (t + 1) % CLASSES)  # every clip of speaker s0 wrong
noisy = counts(lambda s, t, i: t if (s + i) % 3 else (t + 1) % CLASSES)


def test_the_statistic_is_the_boards_fold_mean_uar():
    assert stats.uar_of(perfect) == 1.0
    assert stats.uar_of(wrong_on_s0) == pytest.approx(0.9), "nine folds at 1.0, one at 0.0"
    # noisy: in fold s, clip i is right unless (s + i) % 3 == 0; UAR per fold from the class recalls
    expected = []
    for s in range(10):
        recalls = [np.mean([(s + i) % 3 != 0 for i in range(8) if i % CLASSES == c]) for c in range(CLASSES)]
        expected.append(np.mean(recalls))
    assert stats.uar_of(noisy) == pytest.approx(np.mean(expected))


def test_repeats_average_like_the_board():
    # repeat 0 perfect, repeat 1 everything wrong: every fold's mean over repeats is 0.5
    rows = cells(lambda s, t, i: t, repeats=1) + [
        (1, f, ids, spk, yt, [(t + 1) % CLASSES for t in yt]) for _, f, ids, spk, yt, _ in cells(lambda s, t, i: t)
    ]
    both = stats.speaker_counts(rows, CLASSES)
    assert both.repeats == 2 and stats.uar_of(both) == pytest.approx(0.5)
    assert both.n_clips == 80, "clips are counted once, not once per repeat"


def test_a_perfect_system_has_a_degenerate_interval_at_one():
    ci = stats.bootstrap_ci(perfect, resamples=300, seed=1)
    assert (ci.low, ci.high) == (1.0, 1.0)


def test_the_bootstrap_resamples_speakers_not_clips():
    # one speaker at 0.0 among ten: a resample holds that speaker 0, 1, 2 ... times, so UAR takes only the
    # values 1 - k/10; the 95% interval must lie on that grid and include the point estimate
    ci = stats.bootstrap_ci(wrong_on_s0, resamples=2000, seed=0)
    grid = {round(1 - k / 10, 10) for k in range(11)}
    assert round(ci.low, 10) in grid and round(ci.high, 10) in grid
    assert ci.low < 0.9 <= ci.high == 1.0
    assert stats.bootstrap_ci(wrong_on_s0, resamples=2000, seed=0) == ci, "seeded: the same interval twice"


def test_two_identical_systems_have_p_one_and_zero_difference():
    result = stats.paired_test(noisy, noisy, resamples=500, seed=0)
    assert result.p_value == 1.0 and result.difference == 0.0
    assert (result.ci.low, result.ci.high) == (0.0, 0.0) and result.exact


def test_a_difference_on_one_speaker_only_is_not_significant():
    result = stats.paired_test(perfect, wrong_on_s0, resamples=1000, seed=0)
    assert result.difference == pytest.approx(0.1)
    # swapping speaker s0 flips the sign; swapping any other speaker changes nothing: |stat| is always 0.1
    assert result.p_value == 1.0 and not result.significant
    assert result.ci.low == pytest.approx(0.0) and result.ci.high > 0.1


def test_a_consistent_difference_on_every_speaker_is_significant():
    result = stats.paired_test(perfect, noisy, resamples=1000, seed=0)
    assert result.exact and result.n_speakers == 10
    # every speaker favours the perfect system: only the identity and the full swap reach |observed|
    assert result.p_value == pytest.approx(2 / 2**10)
    assert result.significant and result.ci.low > 0


def test_a_paired_test_refuses_different_clips():
    fewer = stats.speaker_counts(cells(lambda s, t, i: t, clips=4), CLASSES)
    with pytest.raises(ValueError, match="same clips"):
        stats.paired_test(perfect, fewer)


def test_per_speaker_uar_names_the_worst_speaker():
    per = stats.per_speaker_uar(wrong_on_s0)
    assert per["s0"] == 0.0 and all(per[f"s{s}"] == 1.0 for s in range(1, 10))


def test_friedman_ranks_and_critical_difference():
    # three systems on four corpora, always in the same order: ranks 1, 2, 3
    scores = [[0.9, 0.8, 0.7], [0.8, 0.7, 0.6], [0.7, 0.6, 0.5], [0.95, 0.9, 0.1]]
    result = stats.friedman(scores, ["x", "y", "z"], ["a", "b", "c", "d"])
    assert result.average_ranks == (1.0, 2.0, 3.0)
    # chi² = 12 N / (k (k+1)) * sum(R_j²) - 3 N (k+1) = 12*4/12 * 14 - 48 = 8 for perfect agreement
    assert result.statistic == pytest.approx(8.0) and result.p_value == pytest.approx(np.exp(-4.0))
    # Nemenyi: q_0.05(k=3, inf) / sqrt(2) = 2.343; CD = 2.343 * sqrt(3*4 / (6*4))
    assert result.critical_difference == pytest.approx(2.343 * np.sqrt(0.5), abs=2e-3)


def test_friedman_with_two_systems_gives_ranks_and_says_why_no_test():
    result = stats.friedman([[0.5, 0.6], [0.7, 0.6]], ["x", "y"], ["a", "b"])
    assert result.average_ranks == (1.5, 1.5) and result.p_value is None and "three systems" in result.note


def test_rows_under_different_folds_are_recut_into_the_folds_they_share():
    from ser_core.leaderboard import common_folds

    # A: leave one speaker out (x: clips 1-4, y: clips 5-8); B: each speaker split in two sentence folds
    a = [(0, 0, ["1", "2", "3", "4"], ["x"] * 4, [0, 1, 0, 1], [0, 1, 0, 0]),
         (0, 1, ["5", "6", "7", "8"], ["y"] * 4, [0, 1, 0, 1], [1, 1, 0, 1])]
    b = [(0, 0, ["1", "3"], ["x"] * 2, [0, 0], [0, 1]), (0, 1, ["2", "4"], ["x"] * 2, [1, 1], [1, 1]),
         (0, 2, ["5", "7"], ["y"] * 2, [0, 0], [0, 0]), (0, 3, ["6", "8"], ["y"] * 2, [1, 1], [0, 1])]
    ra, rb = common_folds(a, b, {str(i) for i in range(1, 9)})
    assert [(r[1], sorted(r[2])) for r in ra] == [(f, sorted(c)) for f, c in [(0, "1234"), (1, "5678")]]
    assert [(r[1], sorted(r[2])) for r in rb] == [(0, list("1234")), (1, list("5678"))]
    ca, cb = stats.speaker_counts(ra, 2), stats.speaker_counts(rb, 2)
    result = stats.paired_test(ca, cb, resamples=100)
    # A: x recalls (1, 1/2) -> 0.75, y (1/2, 1) -> 0.75; B: x (1/2, 1) -> 0.75, y (1, 1/2) -> 0.75
    assert result.uar_a == pytest.approx(0.75) and result.uar_b == pytest.approx(0.75) and result.n_speakers == 2
    with pytest.raises(ValueError, match="same clips, speakers and folds"):
        stats.paired_test(stats.speaker_counts(a, 2), stats.speaker_counts(b, 2))  # not without the re-cut
