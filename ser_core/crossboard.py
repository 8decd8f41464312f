"""The cross-corpus board: per system, a train x test matrix, leave-one-corpus-out rows, paired tests.

Computed only from stored results (:mod:`ser_core.crosscorpus` writes them). Each cross-corpus cell
(``A>B``: trained on all of A, tested on all of B) shows UAR as the mean over repeats with the 95%
CI of a bootstrap over the *test corpus's* speakers (:func:`ser_core.stats.bootstrap_ci`). The
diagonal (train and test on A) is filled from within-corpus results of the same system on A when the
database has them, preferring those on the same classes, and is labelled ``within`` with their
classes and normalisation: it is a speaker-independent cross-validation, not a train/test split.
Leave-one-corpus-out cells form one row per held-out corpus. Between systems, a paired
speaker-level permutation test on the same test clips (:func:`ser_core.leaderboard.compare_entries`)
for every cell both have. Renders to the terminal, Markdown, CSV, JSON (schema in
docs/cross-corpus.md) and a self-contained HTML page with a heat map per system.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass, field
from typing import Any

from ser_core import leaderboard, stats
from ser_core.crosscorpus import is_cross, split_name
from ser_core.board_text import format_cell, pct
from ser_core.leaderboard import Entry

SCHEMA = "serbench-crossboard/1"
FORMATS = ("table", "txt", "md", "csv", "json", "html")


@dataclass
class Cell:
    """One shown cell: a cross-corpus, leave-one-corpus-out or (diagonal) within-corpus entry."""

    kind: str  # "cross", "leave-one-corpus-out" or "within"
    train: tuple[str, ...]
    test: str
    entry: Entry

    @property
    def classes(self) -> list[str]:
        return list(self.entry.labels)

    @property
    def record(self) -> dict:
        """The pair as stored with the cell (clips used and left out per corpus), when cross-corpus."""
        return dict((self.entry.cells[0].cell_details.cross or {}) if self.entry.cells else {})


@dataclass
class Paired:
    cell: str
    a: str
    b: str
    result: stats.PairedResult


@dataclass
class CrossBoard:
    """Per system (by name) its cells; the corpora in order; paired tests; notes."""

    systems: list[str]
    corpora: list[str]
    cells: dict[str, list[Cell]]
    paired: list[Paired] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    resamples: int = 0
    seed: int = 0

    def __bool__(self) -> bool:
        return any(self.cells.values())

    def matrix(self, system: str) -> dict[tuple[str, str], Cell]:
        """``(train corpus, test corpus) -> cell`` of the single-corpus pairs and the diagonal."""
        return {(c.train[0], c.test): c for c in self.cells.get(system, []) if c.kind in ("cross", "within")}

    def loco(self, system: str) -> list[Cell]:
        return [c for c in self.cells.get(system, []) if c.kind == "leave-one-corpus-out"]


def compute(store, systems: list[str] | None = None, *, resamples: int = stats.DEFAULT_RESAMPLES,
            seed: int = 0) -> CrossBoard:
    """The cross-corpus board of ``store`` (optionally only some systems).

    :raises ConfigError: resamples or seed the statistics cannot use (:func:`leaderboard.check_statistics`).
    """
    leaderboard.check_statistics(resamples, seed)
    stored_corpora, _ = store.names()
    names = [c for c in stored_corpora if is_cross(c)]
    board = CrossBoard([], [], {}, resamples=resamples, seed=seed)
    if not names:
        return board
    cross = leaderboard.compute(store, names, systems, all_configs=True, resamples=resamples, seed=seed)
    newest: dict[tuple[str, str, str], Entry] = {}
    hidden: dict[tuple[str, str, str], int] = {}
    for e in cross.entries:
        kind = e.instance.fold_method if e.instance else "cross"
        slot = (e.corpus, e.system, kind)
        hidden[slot] = hidden.get(slot, -1) + 1
        if slot not in newest or e.newest > newest[slot].newest:
            newest[slot] = e
    for (name, system, kind), count in sorted(hidden.items()):
        if count:
            board.notes.append(f"{system} on {name} ({kind}): showing the newest of {count + 1} stored "
                               "configurations (normalisation, settings, classes or cap differ); a database per "
                               "configuration keeps them apart")
    order: list[str] = []
    for (name, system, kind), e in sorted(newest.items()):
        train, test = split_name(name)
        board.cells.setdefault(system, []).append(Cell(kind, train, test, e))
        for c in (*train, test):
            if c not in order:
                order.append(c)
    board.corpora = order = sorted(order)
    board.systems = sorted(board.cells)
    _fill_diagonal(store, board, resamples, seed)
    for system, cells in board.cells.items():
        cells.sort(key=lambda c: (c.kind == "leave-one-corpus-out", order.index(c.test) if c.kind ==
                                  "leave-one-corpus-out" else order.index(c.train[0]), order.index(c.test)))
    if resamples > 0:
        _paired(board, resamples, seed)
    for system in board.systems:
        for c in board.cells[system]:
            e = c.entry
            if e.protocol is not None and c.kind != "within":
                cap = e.protocol.fold_policy.get("cap_per_corpus")
                if cap:
                    board.notes.append(f"{system} {e.corpus}: at most {cap} clips per training corpus (seeded, "
                                       "class-stratified)")
            if not e.complete:
                board.notes.append(f"{system} on {e.corpus}: {e.repeats_complete} of {e.repeats_seen} repeats "
                                   f"complete, {e.failed_cells} failed cells")
            mismatch = leaderboard.mismatch_note(e)
            if mismatch:
                board.notes.append(mismatch)
    return board


def _fill_diagonal(store, board: CrossBoard, resamples: int, seed: int) -> None:
    """Within-corpus entries of each system on each corpus, for the diagonal (same classes preferred)."""
    within = leaderboard.compute(store, board.corpora, board.systems, all_configs=True, resamples=resamples, seed=seed)
    for system in board.systems:
        wanted = {tuple(c.entry.labels) for c in board.cells[system]}
        for corpus in board.corpora:
            found = [e for e in within.entries if e.system == system and e.corpus == corpus and e.uar_mean is not None]
            if not found:
                continue
            same = [e for e in found if tuple(e.labels) in wanted]
            pick = max(same or found, key=lambda e: e.newest)
            board.cells[system].append(Cell("within", (corpus,), corpus, pick))
            if not same:
                board.notes.append(f"{system}: the diagonal on {corpus} is a within-corpus result on other classes "
                                   f"({', '.join(pick.labels)}) than the cross-corpus cells")


def _paired(board: CrossBoard, resamples: int, seed: int) -> None:
    """Every pair of systems on every cross-corpus cell both have (the same test clips)."""
    by_cell: dict[tuple[str, str], dict[str, Entry]] = {}
    for system, cells in board.cells.items():
        for c in cells:
            if c.kind != "within":
                by_cell.setdefault((c.entry.corpus, c.kind), {})[system] = c.entry
    for (name, kind), entries in sorted(by_cell.items()):
        systems = sorted(entries)
        for i, a in enumerate(systems):
            for b in systems[i + 1:]:
                result = _compare(entries[a], entries[b], resamples, seed)
                if result is not None:
                    board.paired.append(Paired(name, a, b, result))


def _compare(a: Entry, b: Entry, resamples: int, seed: int):
    """:func:`leaderboard.compare_entries` for two systems' cells on the same pair: their instances
    are the same whenever they were tested on the same test corpus, classes and training corpora."""
    return leaderboard.compare_entries(a, b, resamples=resamples, seed=seed)


# -- values -------------------------------------------------------------------------------------------

def cell_text(cell: Cell | None) -> str:
    """``"48.2 [41.0, 55.3]"`` (``within`` appended on the diagonal); empty when there is no cell."""
    if cell is None:
        return ""
    e = cell.entry
    text = format_cell(e, marks=False)
    return text + (f" within ({normalisation(cell)})" if cell.kind == "within" else "")


def normalisation(cell: Cell) -> str:
    return cell.entry.protocol.normalisation if cell.entry.protocol else ""


def row(system: str, cell: Cell) -> dict[str, Any]:
    """One cell as the JSON/CSV exports write it (schema in docs/cross-corpus.md)."""
    e = cell.entry
    speakers = len(e.counts.speakers) if e.counts is not None else None
    record = cell.record
    return {
        "system": system,
        "kind": cell.kind,
        "train": list(cell.train),
        "test": cell.test,
        "uar": e.uar_mean,
        "uar_sd": e.uar_std if e.repeats_complete > 1 else None,
        "ci": None if e.ci is None else {"low": e.ci.low, "high": e.ci.high, "level": e.ci.level,
                                          "resamples": e.ci.resamples},
        "repeats": e.repeats_complete,
        "classes": list(e.labels),
        "normalisation": normalisation(cell),
        "test_clips": e.n_scored,
        "test_speakers": speakers,
        "cap_per_corpus": record.get("cap_per_corpus"),
        "left_out": {s["corpus"]: s["left_out"] for s in [*record.get("train", []), record["test"]]} if record else None,
        "training_clips": {s["corpus"]: s["clips"] for s in record.get("train", [])} if record else None,
        "complete": e.complete,
        "stored_uar_mismatches": [dict(m) for m in e.stored_uar_mismatches],
        "protocol_key": e.protocol_key,
        "instance_key": e.instance_key,
    }


def _paired_record(p: Paired) -> dict:
    r = p.result
    return {"cell": p.cell, "a": p.a, "b": p.b, "difference": r.difference, "uar_a": r.uar_a, "uar_b": r.uar_b,
            "p_value": r.p_value, "exact": r.exact, "significant": r.significant,
            "ci": None if r.ci is None else {"low": r.ci.low, "high": r.ci.high},
            "speakers": r.n_speakers, "clips": r.n_clips}


# -- renderers --------------------------------------------------------------------------------------

LEGEND = ("UAR % (mean over repeats) [95% CI of a bootstrap over the test corpus's speakers]. Rows: training "
          "corpus; columns: test corpus. 'within (NORM)': the diagonal, a within-corpus speaker-independent "
          "cross-validation of the same system with normalisation NORM (not a train/test split).")


def _matrix_rows(board: CrossBoard, system: str) -> tuple[list[str], list[list[str]], list[list[str]]]:
    """(test corpora, matrix rows as text, leave-one-corpus-out rows as text)."""
    matrix = board.matrix(system)
    trains = [c for c in board.corpora if any(k[0] == c for k in matrix)]
    tests = [c for c in board.corpora if any(k[1] == c for k in matrix)]
    rows = [[train] + [cell_text(matrix.get((train, test))) for test in tests] for train in trains]
    loco = [[f"all but {c.test}", c.test, cell_text(c)] for c in board.loco(system)]
    return tests, rows, loco


def _paired_line(p: Paired) -> str:
    r = p.result
    verdict = "significant" if r.significant else "not significant"
    ci = f" [{pct(r.ci.low)}, {pct(r.ci.high)}]" if r.ci else ""
    return (f"{p.cell}: {p.a} - {p.b} = {100 * r.difference:+.1f} points{ci}, p = {r.p_value:.3f} ({verdict}; "
            f"{r.n_speakers} speakers, {r.n_clips} clips)")


def _system_title(board: CrossBoard, system: str) -> str:
    cells = [c for c in board.cells[system] if c.kind != "within"]
    modes = sorted({normalisation(c) for c in cells})
    classes = sorted({", ".join(c.classes) for c in cells})
    return f"{system} (normalisation {', '.join(modes)}; classes: {' | '.join(classes)})"


def to_terminal(board: CrossBoard, console) -> None:
    from rich.table import Table

    for system in board.systems:
        tests, rows, loco = _matrix_rows(board, system)
        if rows:
            table = Table(title=f"{_system_title(board, system)}: train x test", title_justify="left")
            table.add_column("train \\ test")
            for test in tests:
                table.add_column(test)
            for r in rows:
                table.add_row(*r)
            console.print(table)
        if loco:
            table = Table(title=f"{system}: leave one corpus out", title_justify="left")
            for name in ("trained on", "tested on", "UAR %"):
                table.add_column(name)
            for r in loco:
                table.add_row(*r)
            console.print(table)
    console.print(LEGEND, highlight=False)
    for p in board.paired:
        console.print("  paired: " + _paired_line(p), highlight=False)
    for note in board.notes:
        console.print("  note: " + note, highlight=False)


def to_text(board: CrossBoard, width: int = 120) -> str:
    """What :func:`to_terminal` prints, as plain text (for files): ``width`` columns, a matrix too wide
    for them one line per cell (:class:`ser_core.console.SafeConsole`), so no number is cut."""
    from ser_core.console import SafeConsole

    console = SafeConsole(record=True, width=width, file=io.StringIO(), color_system=None)
    to_terminal(board, console)
    return console.export_text()


def to_markdown(board: CrossBoard, title: str = "serbench cross-corpus board") -> str:
    out = [f"# {title}", "", LEGEND, ""]
    for system in board.systems:
        tests, rows, loco = _matrix_rows(board, system)
        out += [f"## {_system_title(board, system)}", ""]
        if rows:
            out += ["| train \\ test | " + " | ".join(tests) + " |", "|---" * (len(tests) + 1) + "|"]
            out += ["| " + " | ".join(r) + " |" for r in rows]
            out.append("")
        if loco:
            out += ["Leave one corpus out:", "", "| trained on | tested on | UAR % |", "|---|---|---|"]
            out += ["| " + " | ".join(r) + " |" for r in loco]
            out.append("")
    if board.paired:
        out += ["## Paired tests (same test clips)", ""] + [f"- {_paired_line(p)}" for p in board.paired] + [""]
    if board.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in board.notes] + [""]
    return "\n".join(out)


CSV_COLUMNS = ("system", "kind", "train", "test", "uar", "ci_low", "ci_high", "repeats", "classes", "normalisation",
               "test_clips", "test_speakers", "cap_per_corpus", "complete")


def to_csv(board: CrossBoard) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for system in board.systems:
        for cell in board.cells[system]:
            r = row(system, cell)
            writer.writerow([system, r["kind"], "+".join(r["train"]), r["test"],
                             "" if r["uar"] is None else f"{100 * r['uar']:.2f}",
                             "" if r["ci"] is None else f"{100 * r['ci']['low']:.2f}",
                             "" if r["ci"] is None else f"{100 * r['ci']['high']:.2f}",
                             r["repeats"], " ".join(r["classes"]), r["normalisation"], r["test_clips"],
                             r["test_speakers"], r["cap_per_corpus"] or "", r["complete"]])
    return buffer.getvalue()


def to_json(board: CrossBoard) -> str:
    payload = {
        "schema": SCHEMA,
        "corpora": board.corpora,
        "statistics": {"resamples": board.resamples, "seed": board.seed, "ci_level": stats.DEFAULT_LEVEL},
        "systems": [{"system": s, "cells": [row(s, c) for c in board.cells[s]]} for s in board.systems],
        "paired": [_paired_record(p) for p in board.paired],
        "notes": board.notes,
    }
    return json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n"


def _colour(uar: float | None, chance: float) -> str:
    """A heat-map colour: white at chance, deepening blue towards 100% (red below chance)."""
    if uar is None:
        return "#eeeeee"
    if uar >= chance:
        t = min(1.0, (uar - chance) / max(1e-9, 1 - chance))
        r, g, b = int(255 - 200 * t), int(255 - 150 * t), 255
    else:
        t = min(1.0, (chance - uar) / max(1e-9, chance))
        r, g, b = 255, int(255 - 150 * t), int(255 - 150 * t)
    return f"#{r:02x}{g:02x}{b:02x}"


def to_html(board: CrossBoard, title: str = "serbench cross-corpus board") -> str:
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>"
             "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:0.5em 0 1.5em}"
             "td,th{border:1px solid #999;padding:0.5em 0.8em;text-align:center}th{background:#f4f4f4}"
             "td.within{outline:3px dashed #555;outline-offset:-4px}td small{display:block;color:#333}"
             "p.legend{max-width:60em}</style></head><body>", f"<h1>{esc(title)}</h1>",
             f"<p class='legend'>{esc(LEGEND)} Colour: white at chance (1/classes), blue above, red below.</p>"]
    for system in board.systems:
        matrix = board.matrix(system)
        trains = [c for c in board.corpora if any(k[0] == c for k in matrix)]
        tests = [c for c in board.corpora if any(k[1] == c for k in matrix)]
        parts.append(f"<h2>{esc(_system_title(board, system))}</h2>")
        if trains:
            parts.append("<table><tr><th>train \\ test</th>" + "".join(f"<th>{esc(t)}</th>" for t in tests) + "</tr>")
            for train in trains:
                parts.append(f"<tr><th>{esc(train)}</th>")
                for test in tests:
                    parts.append(_html_cell(matrix.get((train, test))))
                parts.append("</tr>")
            parts.append("</table>")
        loco = board.loco(system)
        if loco:
            parts.append("<table><tr><th>leave one corpus out: trained on</th><th>tested on</th><th>UAR %</th></tr>")
            for c in loco:
                parts.append(f"<tr><td>{esc(' + '.join(c.train))}</td><th>{esc(c.test)}</th>{_html_cell(c)}</tr>")
            parts.append("</table>")
    if board.paired:
        parts.append("<h2>Paired tests (same test clips)</h2><ul>"
                     + "".join(f"<li>{esc(_paired_line(p))}</li>" for p in board.paired) + "</ul>")
    if board.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in board.notes) + "</ul>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _html_cell(cell: Cell | None) -> str:
    if cell is None:
        return "<td style='background:#eeeeee'>&ndash;</td>"
    e = cell.entry
    chance = 1 / max(1, len(e.labels))
    ci = f"[{pct(e.ci.low)}, {pct(e.ci.high)}]" if e.ci else ""
    label = (f"within-corpus CV ({normalisation(cell)})" if cell.kind == "within"
             else f"{len(e.labels)} classes, train {' + '.join(cell.train)}")
    css = " class='within'" if cell.kind == "within" else ""
    return (f"<td{css} style='background:{_colour(e.uar_mean, chance)}'><b>{pct(e.uar_mean) or 'incomplete'}</b>"
            f"<small>{ci}</small><small>{label}</small></td>")


def render(board: CrossBoard, fmt: str, title: str = "serbench cross-corpus board") -> str:
    if fmt == "txt":
        return to_text(board)
    if fmt == "md":
        return to_markdown(board, title)
    if fmt == "csv":
        return to_csv(board)
    if fmt == "json":
        return to_json(board)
    if fmt == "html":
        return to_html(board, title)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
