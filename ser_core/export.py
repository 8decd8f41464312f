"""Board exports: Markdown, CSV, JSON (versioned schema, see docs/board-json.md) and self-contained HTML.

Every export is computed from stored results only (via :mod:`ser_core.leaderboard`) and carries the
same numbers as the terminal board: mean UAR, SD over repeats, the speaker-bootstrap CI, the marks
(best, not significantly worse), the test-set size, per-speaker UAR, and the rank test across
corpora. The HTML page embeds its figures as PNG data URIs (matplotlib, drawn off-screen): a bar
chart with CIs per corpus, per-speaker UAR per corpus, each entry's pooled confusion matrix, and the
critical-difference diagram.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from typing import Any, Callable

import numpy as np

from ser_core import stats
from ser_core.board_text import LEGEND, format_cell, pct, rank_lines
from ser_core.leaderboard import (Board, Entry, Reference, accuracy_rows, reference_rows, unmatched_note,
                                  unmatched_reference)

FORMATS = ("md", "csv", "json", "html")
#: Version of the JSON export's layout (docs/board-json.md). Bumped on any incompatible change.
JSON_SCHEMA = {"format": "serbench-board", "version": 2}


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _settings(entry: Entry) -> str:
    return ", ".join(f"{k}={v}" for k, v in entry.overrides.items()) or "model defaults"


def _intro(board: Board) -> str:
    text = ("UAR % per corpus and system: mean over repeats of the fold-mean UAR (± SD over repeats when there "
            "are several)")
    if board.resamples:
        text += f", with the 95% speaker-bootstrap CI ({board.resamples} resamples, seed {board.seed})"
    return text + "."


def to_markdown(board: Board, title: str = "serbench leaderboard", reference: Reference | None = None) -> str:
    """A Markdown board (corpora x systems), notes, ranks, the reference comparison and details."""
    lines = [f"# {title}", "", _intro(board), "", "| corpus | " + " | ".join(board.columns) + " |",
             "|---|" + "---|" * len(board.columns)]
    for corpus, by_column in board.rows:
        cells = [format_cell(by_column[c]) if c in by_column else "" for c in board.columns]
        lines.append(f"| {corpus} | " + " | ".join(cells) + " |")
    lines += ["", LEGEND]
    if board.notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in board.notes]
    ranks = rank_lines(board)
    if ranks:
        lines += ["", "## Across corpora", ""] + [f"- {line}" for line in ranks]
    if reference is not None and reference.measure != "uar":
        lines += ["", f"## Published {reference.measure}", "",
                  f"Reference: `{reference.label}`: {reference.measure}, not a UAR; shown beside the board, not compared.",
                  "", f"| corpus | who | {reference.measure} % | source |", "|---|---|---|---|"]
        lines += [f"| {r['corpus']} | {r['system']} | {pct(r['published'])} | {r['source']} |"
                  for r in accuracy_rows(board, reference)]
    elif reference is not None:
        lines += ["", "## Published numbers", "", f"Reference: `{reference.label}`.", "",
                  "| corpus | system | ours % | 95% CI | published % | difference | published within CI |",
                  "|---|---|---|---|---|---|---|"]
        for row in reference_rows(board, reference):
            ci = f"[{pct(row['ci'].low)}, {pct(row['ci'].high)}]" if row["ci"] else ""
            within = {True: "yes", False: "no", None: ""}[row["within_ci"]]
            diff = "" if row["difference"] is None else f"{100 * row['difference']:+.1f}"
            lines.append(f"| {row['corpus']} | {row['system']} | {pct(row['ours'])} | {ci} | {pct(row['published'])} "
                         f"| {diff} | {within} |")
        unmatched = unmatched_note(board, reference)
        if unmatched:
            lines += ["", unmatched]
    lines += ["", "## Details", "",
              "| corpus | system | protocol | folds | repeats | clips scored | pooled UAR % | WA % | worst speaker "
              "| speaker SD | parameters | wall time | settings |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in board.entries:
        worst = e.worst_speaker
        lines.append(
            f"| {e.corpus} | {e.column} | {e.protocol_key[:8]} | {e.n_folds} | {e.repeats_complete}/{e.repeats_seen} "
            f"| {e.n_scored}/{e.n_clips if e.n_clips is not None else '?'} | {pct(e.pooled_uar)} "
            f"| {pct(e.weighted_accuracy)} | {f'{worst[0]} ({pct(worst[1])})' if worst else ''} "
            f"| {pct(e.speaker_sd)} | {e.parameter_count if e.parameter_count is not None else ''} "
            f"| {_duration(e.wall_time_s)} | {_settings(e)} |"
        )
    return "\n".join(lines) + "\n"


def _interval(interval: stats.Interval | None) -> dict | None:
    return None if interval is None else {"low": interval.low, "high": interval.high, "level": interval.level}


def record(entry: Entry) -> dict[str, Any]:
    """One entry as the JSON export writes it (see docs/board-json.md)."""
    worst = entry.worst_speaker
    vs = entry.vs_best
    return {
        "corpus": entry.corpus,
        "system": entry.system,
        "column": entry.column,
        "protocol_key": entry.protocol_key,
        "instance_key": entry.instance_key,
        "uar_mean": entry.uar_mean,
        "uar_sd": entry.uar_std,
        "ci": _interval(entry.ci),
        "mark": {"▲": "best", "△": "not_significantly_worse"}.get(entry.mark),
        "vs_best": None if vs is None else {"difference": vs.difference, "p_value": vs.p_value,
                                             "ci": _interval(vs.ci), "n_speakers": vs.n_speakers},
        "n_folds": entry.n_folds,
        "repeats_complete": entry.repeats_complete,
        "repeats_seen": entry.repeats_seen,
        "failed_cells": entry.failed_cells,
        "clips_scored": entry.n_scored,
        "clips_in_corpus": entry.n_clips,
        "excluded_clips": entry.excluded,
        "pooled_uar": entry.pooled_uar,
        "weighted_accuracy": entry.weighted_accuracy,
        "worst_speaker": None if worst is None else {"speaker": worst[0], "uar": worst[1]},
        "speaker_uar_sd": entry.speaker_sd,
        "per_speaker_uar": entry.per_speaker,
        "parameter_count": entry.parameter_count,
        "wall_time_s": entry.wall_time_s,
        "overrides": entry.overrides,
        "protocol": entry.protocol.record() if entry.protocol else None,
        "labels": entry.labels,
        "confusion": entry.confusion,
        "verification": entry.verification,
        "stored_uar_mismatches": [dict(m) for m in entry.stored_uar_mismatches],
    }


#: Columns of the CSV export, in order (nested values are JSON).
CSV_FIELDS = ("corpus", "system", "column", "protocol_key", "uar_mean", "uar_sd", "ci_low", "ci_high", "mark",
              "n_folds", "repeats_complete", "repeats_seen", "failed_cells", "clips_scored", "clips_in_corpus",
              "pooled_uar", "weighted_accuracy", "worst_speaker", "worst_speaker_uar", "speaker_uar_sd",
              "parameter_count", "wall_time_s", "overrides", "verification", "stored_uar_mismatches")


#: The columns a CSV export gains when a reference of UARs is selected.
CSV_REFERENCE_FIELDS = ("published_uar", "published_difference")


def _published(board: Board, reference: Reference | None) -> dict[tuple[str, str], dict[str, Any]]:
    """(corpus, column) -> the reference row for it (UAR references only)."""
    return {(row["corpus"], row["system"]): row for row in reference_rows(board, reference)} if reference else {}


def to_csv(board: Board, reference: Reference | None = None) -> str:
    """One CSV row per board entry; with a reference of UARs, the published UAR and ours minus it."""
    buffer = io.StringIO()
    published = _published(board, reference)
    fields = CSV_FIELDS + (CSV_REFERENCE_FIELDS if reference is not None and reference.measure == "uar" else ())
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for e in board.entries:
        r = record(e)
        row = published.get((e.corpus, e.column))
        writer.writerow({
            **({"published_uar": row["published"], "published_difference": row["difference"]} if row else {}),
            **{k: r[k] for k in CSV_FIELDS if k in r},
            "ci_low": r["ci"]["low"] if r["ci"] else None, "ci_high": r["ci"]["high"] if r["ci"] else None,
            "worst_speaker": r["worst_speaker"]["speaker"] if r["worst_speaker"] else None,
            "worst_speaker_uar": r["worst_speaker"]["uar"] if r["worst_speaker"] else None,
            "overrides": json.dumps(r["overrides"], sort_keys=True),
            "stored_uar_mismatches": len(r["stored_uar_mismatches"]),
        })
    return buffer.getvalue()


def to_json(board: Board, reference: Reference | None = None) -> str:
    """The board as a versioned JSON document (docs/board-json.md)."""
    ranks = board.ranks
    payload = {
        **JSON_SCHEMA,
        "statistics": {"resamples": board.resamples, "seed": board.seed, "alpha": stats.ALPHA,
                       "ci_method": "speaker-level bootstrap, percentile",
                       "paired_test": "speaker-level paired permutation test, two-sided"},
        "columns": board.columns,
        "rows": [corpus for corpus, _ in board.rows],
        "entries": [record(e) for e in board.entries],
        "notes": board.notes,
        "ranks": None if ranks is None else {
            "systems": list(ranks.systems), "corpora": list(ranks.corpora),
            "average_ranks": list(ranks.average_ranks), "friedman_statistic": ranks.statistic,
            "friedman_p": ranks.p_value, "critical_difference": ranks.critical_difference, "note": ranks.note,
        },
        "reference": None if reference is None else [
            {**row, "ci": _interval(row["ci"])} for row in reference_rows(board, reference)
        ],
        "reference_unmatched": None if reference is None else unmatched_reference(board, reference),
        "reference_info": None if reference is None else {
            "name": reference.label, "citation": reference.citation, "measure": reference.measure},
        "reference_accuracy": None if reference is None or reference.measure == "uar" else accuracy_rows(board, reference),
    }
    return json.dumps(payload, indent=2, default=str, ensure_ascii=False) + "\n"


def _png(draw: Callable) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = draw(plt)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _bar_chart(corpus: str, by_column: dict[str, Entry], published: dict[str, float] | None = None,
               label: str = "published") -> str:
    """UAR per system with its CI; ``published`` (column -> UAR) is drawn on each bar it has a value for."""
    def draw(plt):
        names = [n for n, e in by_column.items() if e.uar_mean is not None]
        figure, axis = plt.subplots(figsize=(1.2 + 0.9 * max(len(names), 1), 3))
        means = np.array([100 * by_column[n].uar_mean for n in names])
        low = np.array([100 * (by_column[n].ci.low if by_column[n].ci else by_column[n].uar_mean) for n in names])
        high = np.array([100 * (by_column[n].ci.high if by_column[n].ci else by_column[n].uar_mean) for n in names])
        axis.bar(names, means, yerr=[means - low, high - means], capsize=4, color="#4C72B0")
        chance = 100 / max(len(next(iter(by_column.values())).labels), 1)
        axis.axhline(chance, color="grey", linestyle="--", linewidth=1, label=f"chance {chance:.0f}%")
        marked = [(i, 100 * published[n]) for i, n in enumerate(names) if published and n in published]
        if marked:
            axis.scatter([i for i, _ in marked], [v for _, v in marked], marker="D", color="#DD8452", zorder=3,
                         label=label)
        axis.set_ylim(0, 100)
        axis.set_ylabel("UAR % (95% CI)")
        axis.set_title(corpus)
        axis.legend(loc="upper right", fontsize=8)
        axis.tick_params(axis="x", labelrotation=30)
        return figure

    return _png(draw)


def _speaker_chart(corpus: str, by_column: dict[str, Entry]) -> str:
    def draw(plt):
        names = [n for n, e in by_column.items() if e.per_speaker]
        figure, axis = plt.subplots(figsize=(1.2 + 0.9 * max(len(names), 1), 3))
        for i, name in enumerate(names):
            values = by_column[name].per_speaker
            jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else [0.0]
            axis.scatter(i + np.asarray(jitter), [100 * v for v in values.values()], s=14, color="#DD8452")
            worst = by_column[name].worst_speaker
            axis.annotate(worst[0], (i, 100 * worst[1]), fontsize=7, xytext=(4, -8), textcoords="offset points")
        axis.set_xticks(range(len(names)), names, rotation=30, ha="right")
        axis.set_ylim(0, 100)
        axis.set_ylabel("UAR % per speaker")
        axis.set_title(f"{corpus}: per-speaker UAR (worst named)", fontsize=9)
        return figure

    return _png(draw)


def _confusion_chart(title: str, entry: Entry) -> str:
    def draw(plt):
        counts = np.array(entry.confusion, dtype=float)
        rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        size = 1.6 + 0.55 * len(entry.labels)
        figure, axis = plt.subplots(figsize=(size, size))
        axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
        ticks = range(len(entry.labels))
        axis.set_xticks(ticks, entry.labels, rotation=45, ha="right", fontsize=8)
        axis.set_yticks(ticks, entry.labels, fontsize=8)
        for i in ticks:
            for j in ticks:
                axis.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=7,
                          color="white" if rates[i, j] > 0.5 else "black")
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        axis.set_title(title, fontsize=9)
        return figure

    return _png(draw)


def cd_cliques(names: list[str], ranks: list[float], cd: float) -> list[tuple[int, int]]:
    """Maximal runs ``(i, j)`` of systems (sorted by rank) whose rank spread is below ``cd``."""
    order = sorted(range(len(names)), key=lambda i: ranks[i])
    sorted_ranks = [ranks[i] for i in order]
    runs = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and sorted_ranks[j + 1] - sorted_ranks[i] < cd:
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in runs):
            runs.append((i, j))
    return runs


def _cd_diagram(ranks: stats.RankTest) -> str:
    """The critical-difference diagram: systems on the average-rank axis, the CD bar, and a thick line
    joining systems whose average ranks differ by less than the critical difference."""
    names = list(ranks.systems)
    values = list(ranks.average_ranks)
    k = len(names)
    cd = ranks.critical_difference

    def draw(plt):
        order = sorted(range(k), key=lambda i: values[i])
        cliques = cd_cliques(names, values, cd) if cd is not None else []
        half = (k + 1) // 2
        top = -0.35 - 0.2 * len(cliques)  # names start below the clique bars
        rows = max(half, k - half)
        figure, axis = plt.subplots(figsize=(7, 1.6 + 0.35 * rows + 0.15 * len(cliques)))
        axis.set_xlim(k + 0.3, 0.7)  # rank 1 (best) on the right, as is customary
        axis.set_ylim(top - 0.45 * rows - 0.2, 1.8)
        axis.hlines(0, 1, k, color="black")
        for r in range(1, k + 1):
            axis.vlines(r, 0, 0.15, color="black")
            axis.text(r, 0.3, str(r), ha="center", fontsize=8)
        for pos, i in enumerate(order):
            best_side = pos < half  # the better half is labelled on the right
            y = top - 0.45 * (pos if best_side else pos - half)
            x_end = 0.75 if best_side else k + 0.25
            axis.plot([values[i], values[i], x_end], [0, y, y], color="black", linewidth=0.8)
            # the x axis is inverted: "left" alignment extends towards the right of the picture
            axis.text(x_end, y, f" {names[i]} ({values[i]:.2f})", ha="left" if best_side else "right",
                      va="center", fontsize=8)
        if cd is not None:
            axis.plot([1, 1 + cd], [1.1, 1.1], color="red", linewidth=2)
            axis.text(1 + cd / 2, 1.3, f"CD = {cd:.2f}", ha="center", fontsize=8, color="red")
            sorted_ranks = [values[i] for i in order]
            for n, (a, b) in enumerate(cliques):
                y = -0.2 - 0.2 * n
                axis.plot([sorted_ranks[a] - 0.03, sorted_ranks[b] + 0.03], [y, y], color="#4C72B0", linewidth=4)
        axis.axis("off")
        title = f"Average ranks over {len(ranks.corpora)} corpora"
        if ranks.p_value is not None:
            title += f" (Friedman p = {ranks.p_value:.3g})"
        axis.set_title(title, fontsize=9)
        return figure

    return _png(draw)


def to_html(board: Board, title: str = "serbench leaderboard", reference: Reference | None = None) -> str:
    """A self-contained page: the board, notes, ranks with the CD diagram, the reference comparison,
    and per corpus a bar chart with CIs, per-speaker UAR and each entry's confusion matrix."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "th:first-child,td:first-child{text-align:left}figure{display:inline-block;margin:0.5em}</style>",
        f"</head><body><h1>{esc(title)}</h1>",
        f"<p>{esc(_intro(board))}</p>",
        "<table><tr><th>corpus</th>" + "".join(f"<th>{esc(c)}</th>" for c in board.columns) + "</tr>",
    ]
    for corpus, by_column in board.rows:
        cells = "".join(f"<td>{esc(format_cell(by_column[c])) if c in by_column else ''}</td>" for c in board.columns)
        parts.append(f"<tr><td>{esc(corpus)}</td>{cells}</tr>")
    parts.append(f"</table><p>{esc(LEGEND)}</p>")
    if board.notes:
        parts.append("<ul>" + "".join(f"<li>{esc(n)}</li>" for n in board.notes) + "</ul>")
    lines = rank_lines(board)
    if lines:
        parts.append("<h2>Across corpora</h2><ul>" + "".join(f"<li>{esc(line)}</li>" for line in lines) + "</ul>")
        if board.ranks is not None and board.ranks.critical_difference is not None:
            parts.append(f"<figure><img alt='critical-difference diagram' src='{_cd_diagram(board.ranks)}'>"
                         "<figcaption>Critical-difference diagram (Nemenyi): systems joined by a bar are not "
                         "significantly different.</figcaption></figure>")
    if reference is not None and reference.measure != "uar":
        parts.append(f"<h2>Published {esc(reference.measure)}</h2><p>Reference: {esc(reference.label)}: "
                     f"{esc(reference.measure)}, not a UAR; shown beside the board, not compared.</p><table><tr>"
                     f"<th>corpus</th><th>who</th><th>{esc(reference.measure)} %</th><th>source</th></tr>")
        parts += [f"<tr><td>{esc(r['corpus'])}</td><td>{esc(r['system'])}</td><td>{pct(r['published'])}</td>"
                  f"<td>{esc(r['source'])}</td></tr>" for r in accuracy_rows(board, reference)]
        parts.append("</table>")
    elif reference is not None:
        parts.append(f"<h2>Published numbers</h2><p>Reference: {esc(reference.label)}</p><table><tr><th>corpus</th>"
                     "<th>system</th><th>ours %</th><th>95% CI</th><th>published %</th><th>difference</th></tr>")
        for row in reference_rows(board, reference):
            ci = f"[{pct(row['ci'].low)}, {pct(row['ci'].high)}]" if row["ci"] else ""
            diff = "" if row["difference"] is None else f"{100 * row['difference']:+.1f}"
            parts.append(f"<tr><td>{esc(row['corpus'])}</td><td>{esc(row['system'])}</td><td>{pct(row['ours'])}</td>"
                         f"<td>{ci}</td><td>{pct(row['published'])}</td><td>{diff}</td></tr>")
        parts.append("</table>")
        unmatched = unmatched_note(board, reference)
        if unmatched:
            parts.append(f"<p>{esc(unmatched)}</p>")
    published = _published(board, reference)
    for corpus, by_column in board.rows:
        parts.append(f"<h2>{esc(corpus)}</h2>")
        if any(e.uar_mean is not None for e in by_column.values()):
            marks = {column: row["published"] for (c, column), row in published.items() if c == corpus}
            parts.append(f"<figure><img alt='UAR per system on {esc(corpus)}' src='"
                         f"{_bar_chart(corpus, by_column, marks, f'published ({reference.label})' if reference else '')}'>"
                         + (f"<figcaption>Diamonds: the published UAR ({esc(reference.label)}).</figcaption>" if marks else "")
                         + "</figure>")
        if any(e.per_speaker for e in by_column.values()):
            parts.append(f"<figure><img alt='per-speaker UAR on {esc(corpus)}' src='{_speaker_chart(corpus, by_column)}'>"
                         "</figure>")
        parts.append("<br>")
        for column, entry in by_column.items():
            caption = (f"{column}: pooled UAR {pct(entry.pooled_uar)}%, WA {pct(entry.weighted_accuracy)}%, "
                       f"{_settings(entry)}, wall time {_duration(entry.wall_time_s)}")
            if entry.confusion and sum(map(sum, entry.confusion)):
                image = _confusion_chart(f"{corpus} / {column}", entry)
                parts.append(f"<figure><img alt='confusion matrix of {esc(column)}' src='{image}'>"
                             f"<figcaption>{esc(caption)}</figcaption></figure>")
            else:
                parts.append(f"<p>{esc(column)}: no successful cells yet.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def render(board: Board, fmt: str, title: str = "serbench leaderboard", reference: Reference | None = None) -> str:
    """The board in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "md":
        return to_markdown(board, title, reference)
    if fmt == "csv":
        return to_csv(board, reference)
    if fmt == "json":
        return to_json(board, reference)
    if fmt == "html":
        return to_html(board, title, reference)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
