"""The board as text: the marks and their legend, percentages, a cell's figure, the rank sentences.

:mod:`ser_core.leaderboard` computes the board (entries, aggregates, best marks, statistics); this
module only turns what it computed into the strings the terminal board, the exports
(:mod:`ser_core.export`), the cross-corpus board and the site (:mod:`ser_core.site`) show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ser_core import stats

if TYPE_CHECKING:
    from ser_core.leaderboard import Board, Entry

BEST = "▲"
TIED = "△"
EXCLUDED = "†"
UNVERIFIED = "‡"
#: What the marks and brackets of a board cell mean.
LEGEND = (
    f"{BEST} best on the corpus; {TIED} not significantly worse than the best (paired speaker-level "
    f"permutation test, p ≥ {stats.ALPHA}); {EXCLUDED} scored on fewer clips than the corpus has (see notes); "
    f"{UNVERIFIED} imported from a results bundle that failed verification (see notes). "
    "[a, b]: 95% speaker-bootstrap CI."
)


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage with ``digits`` decimals; empty for no value."""
    return "" if value is None else f"{100 * value:.{digits}f}"


def format_cell(entry: Entry, *, marks: bool = True) -> str:
    """``"72.4 ± 1.3 [68.0, 76.1] ▲"``: mean UAR %, SD over repeats (only with more than one), the
    speaker-bootstrap CI, marks; the number of complete repeats when not all are."""
    if entry.uar_mean is None:
        return f"incomplete ({entry.failed_cells} failed)" if entry.failed_cells else "incomplete"
    text = pct(entry.uar_mean)
    if entry.repeats_complete > 1:
        text += f" ± {pct(entry.uar_std)}"
    if entry.ci is not None:
        text += f" [{pct(entry.ci.low)}, {pct(entry.ci.high)}]"
    if marks:
        text += (f" {entry.mark}" if entry.mark else "") + (f" {EXCLUDED}" if entry.test_set_differs else "")
        text += f" {UNVERIFIED}" if entry.verification == "unverified" else ""
    if not entry.complete:
        text += f" ({entry.repeats_complete}/{entry.repeats_seen} repeats"
        text += f", {entry.failed_cells} failed)" if entry.failed_cells else ")"
    return text


def rank_lines(board: Board) -> list[str]:
    """Average ranks, the Friedman test and the critical difference, as sentences."""
    ranks = board.ranks
    if ranks is None or not ranks.average_ranks or len(ranks.corpora) < 2:
        return []  # ranks on a single corpus say nothing the board does not
    order = sorted(zip(ranks.systems, ranks.average_ranks), key=lambda t: t[1])
    lines = [f"Average rank over {len(ranks.corpora)} corpora (1 = best): "
             + ", ".join(f"{s} {r:.2f}" for s, r in order)]
    if ranks.p_value is not None:
        lines.append(f"Friedman test: chi² = {ranks.statistic:.2f}, p = {ranks.p_value:.3g}"
                     + ("; the systems differ." if ranks.p_value < stats.ALPHA else "; no evidence the systems differ."))
    if ranks.critical_difference is not None:
        lines.append(f"Nemenyi critical difference (α = {stats.ALPHA}): {ranks.critical_difference:.2f} ranks")
    if ranks.note:
        lines.append(ranks.note)
    return lines
