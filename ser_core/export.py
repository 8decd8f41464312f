"""Leaderboard exports: Markdown, CSV, JSON and a self-contained HTML page.

Every export is computed from stored results only (via :mod:`ser_core.leaderboard`). The HTML page
embeds its figures as PNG data URIs (matplotlib, drawn off-screen): a bar chart of UAR per system for
each corpus, and each system's pooled confusion matrix (rows: true label, normalised per row).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from typing import Callable

from ser_core.leaderboard import Entry, column_names, differences, format_cell, grid

FORMATS = ("md", "csv", "json", "html")


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def _settings(entry: Entry) -> str:
    return ", ".join(f"{k}={v}" for k, v in entry.overrides.items()) or "model defaults"


def to_markdown(entries: list[Entry], title: str = "serbench leaderboard") -> str:
    """A Markdown leaderboard (corpora x systems) followed by a per-entry details table."""
    columns, rows = grid(entries)
    lines = [f"# {title}", "", "UAR % per corpus and system: mean ± standard deviation over repeats of the "
             "fold-mean UAR.", "", "| corpus | " + " | ".join(columns) + " |",
             "|---|" + "---|" * len(columns)]
    for corpus, by_column in rows:
        cells = [format_cell(by_column[c]) if c in by_column else "" for c in columns]
        lines.append(f"| {corpus} | " + " | ".join(cells) + " |")
    separate = differences(entries)
    if separate:
        lines += ["", "Results under different configurations are not averaged together:", ""]
        lines += [f"- {line}" for line in separate]
    names = column_names(entries)
    lines += ["", "## Details", "", "| corpus | system | config | folds | repeats | pooled UAR % | WA % "
              "| parameters | wall time | settings |", "|---|---|---|---|---|---|---|---|---|---|"]
    for e in entries:
        lines.append(
            f"| {e.corpus} | {names[(e.system, e.config_hash)]} | {e.config_hash[:8]} | {e.n_folds} "
            f"| {e.repeats_complete}/{e.repeats_seen} | {_percent(e.pooled_uar)} "
            f"| {_percent(e.weighted_accuracy)} | {e.parameter_count if e.parameter_count is not None else ''} "
            f"| {_duration(e.wall_time_s)} | {_settings(e)} |"
        )
    return "\n".join(lines) + "\n"


def _record(entry: Entry) -> dict:
    return {
        "corpus": entry.corpus,
        "system": entry.system,
        "config_hash": entry.config_hash,
        "uar_mean": entry.uar_mean,
        "uar_std": entry.uar_std,
        "n_folds": entry.n_folds,
        "repeats_complete": entry.repeats_complete,
        "repeats_seen": entry.repeats_seen,
        "failed_cells": entry.failed_cells,
        "pooled_uar": entry.pooled_uar,
        "weighted_accuracy": entry.weighted_accuracy,
        "parameter_count": entry.parameter_count,
        "wall_time_s": entry.wall_time_s,
        "overrides": entry.overrides,
    }


def to_csv(entries: list[Entry]) -> str:
    """One CSV row per (corpus, system, config); overrides as JSON."""
    buffer = io.StringIO()
    records = [_record(e) for e in entries]
    writer = csv.DictWriter(buffer, fieldnames=list(_record(entries[0]) if entries else []), lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({**record, "overrides": json.dumps(record["overrides"], sort_keys=True)})
    return buffer.getvalue()


def to_json(entries: list[Entry]) -> str:
    """Every entry with its settings, labels and pooled confusion matrix."""
    payload = [
        {**_record(e), "settings": e.settings, "labels": e.labels, "confusion": e.confusion} for e in entries
    ]
    return json.dumps(payload, indent=2, default=str) + "\n"


def _png(draw: Callable) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = draw(plt)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _bar_chart(corpus: str, by_column: dict[str, Entry]) -> str:
    def draw(plt):
        names = [n for n, e in by_column.items() if e.uar_mean is not None]
        figure, axis = plt.subplots(figsize=(1.2 + 0.9 * max(len(names), 1), 3))
        axis.bar(names, [100 * by_column[n].uar_mean for n in names],
                 yerr=[100 * by_column[n].uar_std for n in names], capsize=4, color="#4C72B0")
        chance = 100 / max(len(next(iter(by_column.values())).labels), 1)
        axis.axhline(chance, color="grey", linestyle="--", linewidth=1, label=f"chance {chance:.0f}%")
        axis.set_ylim(0, 100)
        axis.set_ylabel("UAR %")
        axis.set_title(corpus)
        axis.legend(loc="upper right", fontsize=8)
        axis.tick_params(axis="x", labelrotation=30)
        return figure

    return _png(draw)


def _confusion_chart(title: str, entry: Entry) -> str:
    import numpy as np

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


def to_html(entries: list[Entry], title: str = "serbench leaderboard") -> str:
    """A self-contained page: the leaderboard, a bar chart per corpus, a confusion matrix per system."""
    columns, rows = grid(entries)
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "th:first-child,td:first-child{text-align:left}figure{display:inline-block;margin:0.5em}</style>",
        f"</head><body><h1>{esc(title)}</h1>",
        "<p>UAR % per corpus and system: mean ± standard deviation over repeats of the fold-mean UAR.</p>",
        "<table><tr><th>corpus</th>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr>",
    ]
    for corpus, by_column in rows:
        cells = "".join(f"<td>{esc(format_cell(by_column[c])) if c in by_column else ''}</td>" for c in columns)
        parts.append(f"<tr><td>{esc(corpus)}</td>{cells}</tr>")
    parts.append("</table>")
    for corpus, by_column in rows:
        parts.append(f"<h2>{esc(corpus)}</h2>")
        if any(e.uar_mean is not None for e in by_column.values()):
            parts.append(f"<figure><img alt='UAR per system on {esc(corpus)}' src='{_bar_chart(corpus, by_column)}'></figure><br>")
        for column, entry in by_column.items():
            caption = (f"{column}: pooled UAR {_percent(entry.pooled_uar)}%, WA {_percent(entry.weighted_accuracy)}%, "
                       f"{_settings(entry)}, wall time {_duration(entry.wall_time_s)}")
            if entry.confusion and sum(map(sum, entry.confusion)):
                image = _confusion_chart(f"{corpus} / {column}", entry)
                parts.append(f"<figure><img alt='confusion matrix of {esc(column)}' src='{image}'>"
                             f"<figcaption>{esc(caption)}</figcaption></figure>")
            else:
                parts.append(f"<p>{esc(column)}: no successful cells yet.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def render(entries: list[Entry], fmt: str, title: str = "serbench leaderboard") -> str:
    """The leaderboard in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "md":
        return to_markdown(entries, title)
    if fmt == "csv":
        return to_csv(entries)
    if fmt == "json":
        return to_json(entries)
    if fmt == "html":
        return to_html(entries, title)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
