"""The static leaderboard site: ``serbench board build --db DB -o DIR``.

Writes plain HTML pages with one stylesheet and one script (``ser_core/data/site/``, copied into the
site; no CDN, no build step), so the site works from ``file://`` and from any static host:

- ``index.html``: the board (corpora x systems: UAR, SD, CI, marks, verification), a table of every
  result that sorts by any column and filters by corpus, feature kind, model and verification, the
  average ranks with the critical-difference diagram, and published reference numbers beside ours.
- ``corpus/<name>.html``: bars with CIs, each system's paired test against the best, per-speaker UAR
  and the confusion matrices.
- ``system/<name>.html``: the model card, the protocol (settings), the runs' provenance, the results
  per corpus and the cost (parameters, training wall time).
- a JSON file beside every page with the same data, for tools (entries as in docs/board-json.md).

Every number comes from :func:`ser_core.leaderboard.compute` and :func:`ser_core.export.record`, the
same as ``serbench leaderboard``; figures are inline SVG drawn here. Pages embed their data in the HTML
(the script sorts and filters the DOM), because browsers do not let a ``file://`` page fetch files.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from ser_core import board_text, export, leaderboard, stats
from ser_core.errors import OutputError
from ser_core.board_text import pct
from ser_core.leaderboard import Board, Entry, Reference
from ser_core.outputs import describe_os_error, write_text
from ser_core.records import flatten

ASSETS = ("site.css", "site.js")
#: Layout version of the site's JSON files (index.json, corpus/*.json, system/*.json).
SITE_JSON = {"format": "serbench-site", "version": 1}
_BADGE = {"local": ("local", "computed by this database's own runs"),
          "verified": ("verified", "imported from a results bundle that passed `serbench results verify`"),
          "unverified": ("unverified ‡", "imported from a results bundle that failed verification")}

esc = html.escape


@dataclass
class Site:
    """What :func:`build` wrote: page paths relative to the site's directory."""

    root: Path
    pages: list[str] = field(default_factory=list)
    json_files: list[str] = field(default_factory=list)


def slug(name: str, taken: set[str]) -> str:
    """A file name for ``name`` (letters, digits, ``.-_``), unique among ``taken``."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "page"
    out, n = base, 2
    while out.lower() in taken:
        out, n = f"{base}-{n}", n + 1
    taken.add(out.lower())
    return out


def _page(title: str, depth: int, body: str, nav: str) -> str:
    up = "../" * depth
    return (f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{esc(title)}</title>"
            f"<link rel='stylesheet' href='{up}site.css'><script defer src='{up}site.js'></script></head>\n"
            f"<body><header><nav>{nav}</nav><h1>{esc(title)}</h1></header><main>\n{body}\n</main>"
            "<footer>Built by <code>serbench board build</code> from stored predictions; every number is recomputed "
            "from them. ▲ best on the corpus; △ not significantly worse than the best; † scored on fewer clips than "
            "the corpus has; ‡ imported without verification.</footer></body></html>\n")


def _num(value: float | None, digits: int = 1) -> str:
    """A percentage cell: the text shown, and the exact value to sort by."""
    if value is None:
        return "<td data-sort=''></td>"
    return f"<td class='num' data-sort='{value:.10g}'>{pct(value, digits)}</td>"


def _ci(interval: stats.Interval | None) -> str:
    return f"[{pct(interval.low)}, {pct(interval.high)}]" if interval is not None else ""


def _badge(status: str) -> str:
    text, why = _BADGE[status]
    return f"<span class='badge {status}' title='{esc(why)}'>{esc(text)}</span>"


def _table(headers: Iterable[str], rows: Iterable[str], *, cls: str = "sortable", table_id: str = "",
           caption: str = "") -> str:
    ident = f" id='{table_id}'" if table_id else ""
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    head = "".join(f"<th scope='col'>{esc(h)}</th>" for h in headers)
    return (f"<table class='{cls}'{ident}>{cap}<thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows)
            + "\n</tbody></table>")


# -- figures (inline SVG) ----------------------------------------------------------------------------

def bars_svg(entries: list[Entry], chance: float | None) -> str:
    """Horizontal bars of mean UAR with their 95% CI whiskers, one per system, 0-100%."""
    shown = [e for e in entries if e.uar_mean is not None]
    left, width, row = 170, 420, 24
    height = row * len(shown) + 40
    parts = [f"<svg class='bars' viewBox='0 0 {left + width + 70} {height}' width='{left + width + 70}' "
             f"height='{height}' role='img' aria-label='UAR per system with 95% CIs'>"]
    x = lambda v: left + width * v  # noqa: E731
    for tick in range(0, 101, 20):
        parts.append(f"<line x1='{x(tick / 100):.1f}' x2='{x(tick / 100):.1f}' y1='4' y2='{height - 24}' class='grid'/>"
                     f"<text x='{x(tick / 100):.1f}' y='{height - 8}' class='tick'>{tick}</text>")
    for i, e in enumerate(shown):
        y = 8 + i * row
        parts.append(f"<text x='{left - 6}' y='{y + 13}' class='label'>{esc(e.column)}</text>"
                     f"<rect x='{left}' y='{y + 2}' width='{width * e.uar_mean:.1f}' height='{row - 8}' "
                     f"class='bar {e.verification}'><title>{esc(e.column)}: {pct(e.uar_mean)}% {_ci(e.ci)}</title></rect>")
        if e.ci is not None:
            lo, hi, mid = x(e.ci.low), x(e.ci.high), y + row / 2 - 2
            parts.append(f"<path d='M{lo:.1f} {mid - 5}v10M{lo:.1f} {mid}H{hi:.1f}M{hi:.1f} {mid - 5}v10' class='ci'/>")
        parts.append(f"<text x='{x(1) + 6}' y='{y + 13}' class='value'>{pct(e.uar_mean)}{(' ' + e.mark) if e.mark else ''}"
                     "</text>")
    if chance is not None:
        parts.append(f"<line x1='{x(chance):.1f}' x2='{x(chance):.1f}' y1='4' y2='{height - 24}' class='chance'>"
                     f"<title>chance {100 * chance:.0f}%</title></line>")
    parts.append("</svg>")
    return "".join(parts)


def cd_svg(ranks: stats.RankTest) -> str:
    """The critical-difference diagram: average ranks on an axis (1 = best, right), the CD bar, and bars
    joining systems whose average ranks differ by less than the critical difference."""
    names, values, k = list(ranks.systems), list(ranks.average_ranks), len(ranks.systems)
    cd = ranks.critical_difference
    left, width = 190, 460
    order = sorted(range(k), key=lambda i: values[i])
    cliques = export.cd_cliques(names, values, cd) if cd is not None else []
    x = lambda r: left + width * (k - r) / max(k - 1, 1)  # noqa: E731  rank 1 on the right
    top = 60 + 10 * len(cliques)
    height = top + 20 * k + 10
    parts = [f"<svg class='cd' viewBox='0 0 {left + width + 40} {height}' width='{left + width + 40}' height='{height}' "
             "role='img' aria-label='critical-difference diagram'>",
             f"<line x1='{x(k):.1f}' x2='{x(1):.1f}' y1='40' y2='40' class='axis'/>"]
    for r in range(1, k + 1):
        parts.append(f"<line x1='{x(r):.1f}' x2='{x(r):.1f}' y1='36' y2='44' class='axis'/>"
                     f"<text x='{x(r):.1f}' y='30' class='tick'>{r}</text>")
    if cd is not None:
        parts.append(f"<line x1='{x(1):.1f}' x2='{x(1) - width * cd / max(k - 1, 1):.1f}' y1='12' y2='12' class='cdbar'/>"
                     f"<text x='{x(1) - width * cd / max(k - 1, 1) - 6:.1f}' y='16' class='cdtext'>CD = {cd:.2f}</text>")
    sorted_ranks = [values[i] for i in order]
    for n, (a, b) in enumerate(cliques):
        y = 52 + 10 * n
        parts.append(f"<line x1='{x(sorted_ranks[a]) + 3:.1f}' x2='{x(sorted_ranks[b]) - 3:.1f}' y1='{y}' y2='{y}' "
                     "class='clique'/>")
    for pos, i in enumerate(order):
        y = top + 20 * pos
        parts.append(f"<path d='M{x(values[i]):.1f} 40V{y}H{left - 10}' class='lead'/>"
                     f"<text x='{left - 14}' y='{y + 4}' class='label'>{esc(names[i])} ({values[i]:.2f})</text>")
    parts.append("</svg>")
    return "".join(parts)


def confusion_html(entry: Entry) -> str:
    """The pooled confusion matrix as a table, cells shaded by the row's rate."""
    labels = entry.labels
    rows = []
    for i, label in enumerate(labels):
        total = max(sum(entry.confusion[i]), 1) if entry.confusion else 1
        cells = "".join(
            f"<td style='--rate:{entry.confusion[i][j] / total:.3f}' title='{entry.confusion[i][j] / total:.1%} of "
            f"{esc(label)}'>{entry.confusion[i][j]}</td>" for j in range(len(labels)))
        rows.append(f"<tr><th scope='row'>{esc(label)}</th>{cells}</tr>")
    head = "".join(f"<th scope='col'>{esc(label)}</th>" for label in labels)
    return (f"<table class='confusion'><caption>{esc(entry.column)}: rows true, columns predicted; pooled UAR "
            f"{pct(entry.pooled_uar)}%, WA {pct(entry.weighted_accuracy)}%</caption><thead><tr><th>true \\ predicted</th>"
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


# -- pages ---------------------------------------------------------------------------------------------

def _sd(entry: Entry) -> str:
    """The SD over repeats, blank with fewer than two complete repeats (there is no spread to show)."""
    return _num(entry.uar_std) if entry.repeats_complete > 1 else "<td data-sort=''></td>"


def _cell(entry: Entry, link: str, published: float | None = None) -> str:
    if entry.uar_mean is None:
        return f"<td data-sort=''><a href='{link}'>{esc(board_text.format_cell(entry))}</a></td>"
    sd = f" ± {pct(entry.uar_std)}" if entry.repeats_complete > 1 else ""
    marks = "".join(m for m in (entry.mark, board_text.EXCLUDED if entry.test_set_differs else "",
                                board_text.UNVERIFIED if entry.verification == "unverified" else "") if m)
    return (f"<td class='num {entry.verification}' data-sort='{entry.uar_mean:.10g}'><a href='{link}'>"
            f"<b>{pct(entry.uar_mean)}</b>{sd} <span class='ci'>{_ci(entry.ci)}</span> {esc(marks)}</a>"
            + (f"<br><span class='pub' title='published number'>published {pct(published)}</span>"
               if published is not None else "") + "</td>")


class _Builder:
    def __init__(self, board: Board, cards: dict[int, dict], runs: dict, reference: Reference | None, title: str):
        self.board, self.cards, self.runs, self.reference, self.title = board, cards, runs, reference, title
        taken: set[str] = set()
        self.corpus_file = {corpus: slug(corpus, taken) for corpus, _ in board.rows}
        taken = set()
        self.system_file = {s: slug(s, taken) for s in dict.fromkeys(e.system for e in board.entries)}

    def nav(self, depth: int) -> str:
        up = "../" * depth
        corpora = " ".join(f"<a href='{up}corpus/{self.corpus_file[c]}.html'>{esc(c)}</a>" for c, _ in self.board.rows)
        systems = " ".join(f"<a href='{up}system/{self.system_file[s]}.html'>{esc(s)}</a>" for s in self.system_file)
        return (f"<a href='{up}index.html' class='home'>Leaderboard</a> <span>Corpora: {corpora}</span> "
                f"<span>Systems: {systems}</span>")

    def card(self, entry: Entry) -> dict:
        return self.cards[id(entry)]

    def record(self, entry: Entry) -> dict[str, Any]:
        return {**export.record(entry), "model_card": self.card(entry),
                "page": {"corpus": f"corpus/{self.corpus_file[entry.corpus]}.html",
                         "system": f"system/{self.system_file[entry.system]}.html"}}

    # index
    def index(self) -> tuple[str, dict]:
        b = self.board
        intro = export._intro(b)
        matrix_rows = []
        for corpus, by_column in b.rows:
            link = f"corpus/{self.corpus_file[corpus]}.html"
            published = self.reference.values if self.reference is not None else {}
            cells = "".join(_cell(by_column[c], link, published.get((corpus, by_column[c].system)))
                            if c in by_column else "<td data-sort=''></td>" for c in b.columns)
            matrix_rows.append(f"<tr data-corpus='{esc(corpus)}'><th scope='row'><a href='{link}'>{esc(corpus)}</a></th>"
                               f"{cells}</tr>")
        headers = ["corpus"] + list(b.columns)
        body = [f"<p>{esc(intro)}</p>", "<h2>Board</h2>",
                _table(headers, matrix_rows, table_id="board", caption="UAR % (mean ± SD over repeats) "
                       "[95% speaker-bootstrap CI] and marks; click a column to sort, a cell for the corpus page")]
        body.append("<h2>Every result</h2>" + self.filters())
        entry_rows = []
        for e in b.entries:
            card = self.card(e)
            entry_rows.append(
                f"<tr data-corpus='{esc(e.corpus)}' data-kind='{esc(card.get('feature_kind') or '?')}' "
                f"data-model='{esc(e.protocol.model if e.protocol else '?')}' data-verification='{e.verification}'>"
                f"<td><a href='corpus/{self.corpus_file[e.corpus]}.html'>{esc(e.corpus)}</a></td>"
                f"<td><a href='system/{self.system_file[e.system]}.html'>{esc(e.column)}</a></td>"
                f"<td>{esc(e.protocol.model if e.protocol else '?')}</td><td>{esc(e.protocol.feature if e.protocol else '?')}</td>"
                f"<td>{esc(card.get('feature_kind') or '?')}</td>{_num(e.uar_mean)}{_sd(e)}"
                f"{_num(e.ci.low if e.ci else None)}{_num(e.ci.high if e.ci else None)}"
                f"<td data-sort='{ {'▲': 0, '△': 1}.get(e.mark, 2)}'>{esc(e.mark)}</td>"
                f"<td class='num' data-sort='{e.parameter_count or 0}'>{e.parameter_count if e.parameter_count is not None else ''}</td>"
                f"<td class='num' data-sort='{e.wall_time_s:.3f}'>{export._duration(e.wall_time_s)}</td>"
                f"<td data-sort='{e.verification}'>{_badge(e.verification)}</td></tr>")
        body.append(_table(["corpus", "system", "model", "feature", "feature kind", "UAR %", "SD", "CI low",
                            "CI high", "mark", "parameters", "wall time", "verification"], entry_rows,
                           cls="sortable filterable", table_id="results"))
        body.append(f"<p class='legend'>{esc(board_text.LEGEND)}</p>")
        if b.notes:
            body.append("<h2>Notes</h2><ul class='notes'>" + "".join(f"<li>{esc(n)}</li>" for n in b.notes) + "</ul>")
        lines = board_text.rank_lines(b)
        if lines:
            body.append("<h2>Across corpora</h2><ul>" + "".join(f"<li>{esc(x)}</li>" for x in lines) + "</ul>")
            if b.ranks is not None and b.ranks.average_ranks:
                body.append(f"<figure>{cd_svg(b.ranks)}<figcaption>Critical-difference diagram (Nemenyi, α = "
                            f"{stats.ALPHA}): systems joined by a bar are not significantly different.</figcaption></figure>")
        if self.reference is not None:
            rows = []
            for row in leaderboard.reference_rows(b, self.reference):
                within = {True: "yes", False: "no", None: ""}[row["within_ci"]]
                rows.append(f"<tr><td>{esc(row['corpus'])}</td><td>{esc(row['system'])}</td>{_num(row['ours'])}"
                            f"<td>{_ci(row['ci'])}</td>{_num(row['published'])}"
                            f"{_num(row['difference'])}<td>{within}</td><td>{esc(row['source'])}</td></tr>")
            body.append(f"<h2>Published numbers</h2><p>Reference: <code>{esc(self.reference.label)}</code>.</p>"
                        + (_table(["corpus", "system", "ours %", "95% CI", "published %", "difference", "published within CI",
                                   "source"], rows, table_id="reference") if rows else
                           "<p>No published number matches a (corpus, system) of this board.</p>"))
        data = json.loads(export.to_json(b, self.reference))
        data["entries"] = [self.record(e) for e in b.entries]
        data = {**SITE_JSON, "page": "index", "title": self.title, "board": data}
        return _page(self.title, 0, "\n".join(body), self.nav(0)), data

    def filters(self) -> str:
        entries = self.board.entries
        options = {
            "corpus": sorted({e.corpus for e in entries}),
            "kind": sorted({self.card(e).get("feature_kind") or "?" for e in entries}),
            "model": sorted({e.protocol.model if e.protocol else "?" for e in entries}),
            "verification": sorted({e.verification for e in entries}),
        }
        labels = {"corpus": "Corpus", "kind": "Feature kind", "model": "Model", "verification": "Verification"}
        parts = []
        for key, values in options.items():
            opts = "".join(f"<option value='{esc(v)}'>{esc(v)}</option>" for v in values)
            parts.append(f"<label>{labels[key]} <select data-filter='{key}' data-target='results'>"
                         f"<option value=''>all</option>{opts}</select></label>")
        return f"<div class='filters'>{' '.join(parts)} <span class='shown' data-for='results'></span></div>"

    # corpus page
    def corpus(self, corpus: str, by_column: dict[str, Entry]) -> tuple[str, dict]:
        entries = list(by_column.values())
        chance = 1 / len(entries[0].labels) if entries and entries[0].labels else None
        body = [f"<p>{len(entries)} systems on {esc(corpus)}"]
        inst = entries[0].instance if entries else None
        if inst is not None:
            body[0] += (f": {inst.n_clips} clips, {len(inst.labels)} classes ({esc(', '.join(inst.labels))}), "
                        f"folds {esc(inst.fold_method)} ({len(inst.fold_names)}), corpus version "
                        f"{esc(str(inst.version))}, manifest <code>{esc(inst.manifest)}</code>")
        body[0] += ".</p>"
        body.append(f"<h2>UAR with 95% CIs</h2><figure>{bars_svg(entries, chance)}<figcaption>Bars: mean UAR; whiskers: "
                    "95% speaker-bootstrap CI; dashed line: chance.</figcaption></figure>")
        rows = []
        for e in entries:
            vs = e.vs_best
            rows.append(
                f"<tr data-verification='{e.verification}'><td><a href='../system/{self.system_file[e.system]}.html'>"
                f"{esc(e.column)}</a></td>{_num(e.uar_mean)}{_sd(e)}<td>{_ci(e.ci)}</td>"
                f"<td>{esc(e.mark)}</td>"
                + (f"{_num(vs.difference)}<td class='num' data-sort='{vs.p_value:.6g}'>{vs.p_value:.3g}</td>"
                   f"<td>{_ci(vs.ci)}</td><td class='num'>{vs.n_speakers}</td>" if vs is not None else
                   ("<td data-sort='0'>best</td><td></td><td></td><td></td>" if e.mark == board_text.BEST else
                    "<td data-sort=''></td><td></td><td></td><td></td>"))
                + f"{_num(e.pooled_uar)}{_num(e.weighted_accuracy)}<td class='num'>{e.n_scored}/{e.n_clips or '?'}</td>"
                f"<td>{_badge(e.verification)}</td></tr>")
        body.append("<h2>Systems</h2>" + _table(
            ["system", "UAR %", "SD", "95% CI", "mark", "best - this", "p (paired)", "CI of difference", "speakers",
             "pooled UAR %", "WA %", "clips scored", "verification"], rows, table_id="systems"))
        speakers = sorted({s for e in entries for s in e.per_speaker})
        if speakers:
            srows = []
            for s in speakers:
                srows.append(f"<tr><th scope='row'>{esc(s)}</th>" + "".join(_num(e.per_speaker.get(s)) for e in entries)
                             + "</tr>")
            body.append("<h2>Per-speaker UAR %</h2>" + _table(["speaker"] + [e.column for e in entries], srows,
                                                              table_id="speakers"))
        body.append("<h2>Confusion matrices</h2><div class='matrices'>"
                    + "".join(confusion_html(e) for e in entries if e.confusion and sum(map(sum, e.confusion)))
                    + "</div>")
        data = {**SITE_JSON, "page": "corpus", "corpus": corpus,
                "instance": inst.record() if inst is not None else None,
                "entries": [self.record(e) for e in entries]}
        return _page(f"{corpus}: {self.title}", 1, "\n".join(body), self.nav(1)), data

    # system page
    def system(self, system: str, entries: list[Entry]) -> tuple[str, dict]:
        card = self.card(entries[0])
        body = ["<h2>Model card</h2><dl class='card'>"]
        for key in ("model", "description", "feature", "feature_kind", "distribution", "version", "url", "licence",
                    "parameter_count", "citation", "notes"):
            value = card.get(key)
            if value in (None, ""):
                value = "not stated"
            shown = (f"<a href='{esc(str(value))}'>{esc(str(value))}</a>" if key == "url" and str(value).startswith("http")
                     else esc(str(value)))
            body.append(f"<dt>{esc(key.replace('_', ' '))}</dt><dd>{shown}</dd>")
        body.append("</dl>")
        protocols = {e.protocol_key: e.protocol for e in entries if e.protocol is not None}
        for key, protocol in protocols.items():
            rows = [f"<tr><td>{esc(k)}</td><td>{esc(json.dumps(v, default=str))}</td></tr>"
                    for k, v in flatten(protocol.record()).items()]
            body.append(f"<h2>Protocol <code>{esc(key)}</code></h2>" + _table(["setting", "value"], rows))
        rows = []
        for e in entries:
            rows.append(f"<tr data-corpus='{esc(e.corpus)}'><td><a href='../corpus/{self.corpus_file[e.corpus]}.html'>"
                        f"{esc(e.corpus)}</a></td>{_num(e.uar_mean)}{_sd(e)}<td>{_ci(e.ci)}</td><td>{esc(e.mark)}</td>"
                        + (_num(e.vs_best.difference) if e.vs_best is not None else "<td data-sort=''></td>")
                        + f"<td class='num'>{e.repeats_complete}/{e.repeats_seen}</td>"
                        f"<td class='num' data-sort='{e.parameter_count or 0}'>{e.parameter_count if e.parameter_count is not None else ''}</td>"
                        f"<td class='num' data-sort='{e.wall_time_s:.3f}'>{export._duration(e.wall_time_s)}</td>"
                        f"<td>{_badge(e.verification)}</td></tr>")
        body.append("<h2>Results and cost per corpus</h2>" + _table(
            ["corpus", "UAR %", "SD", "95% CI", "mark", "best - this", "repeats", "parameters", "training wall time",
             "verification"], rows, table_id="corpora"))
        run_ids = sorted({c.run_id for e in entries for c in e.cells if c.run_id is not None})
        prov = []
        for i in run_ids:
            run = self.runs.get(i)
            if run is None:
                continue
            plugins = ", ".join(f"{d} {v}" for d, v in sorted(run.plugins.items()))
            prov.append(f"<tr><td>{esc(run.started_at)}</td><td>{esc(run.core_version)}</td><td>{esc(plugins)}</td>"
                        f"<td>{esc(run.python)}</td><td>{esc(run.platform)}</td><td>{esc(run.git_revision or '')}</td>"
                        f"<td>{esc(run.suite)}</td></tr>")
        body.append("<h2>Provenance</h2>" + (_table(["run started", "serbench", "plugins", "python", "platform",
                                                     "git revision", "suite"], prov, table_id="provenance")
                                             if prov else "<p>No run provenance stored.</p>"))
        bundles = {json.dumps(c.cell_details.bundle, sort_keys=True): c.cell_details.bundle for e in entries
                   for c in e.cells if c.cell_details.bundle}
        if bundles:
            items = "".join(f"<li>{esc(str(m.get('file')))} <code>{esc(str(m.get('content_hash')))}</code>: {esc(m.get('status', ''))}"
                            f"{(': ' + esc('; '.join(m.get('problems') or []))) if m.get('problems') else ''}</li>"
                            for m in {(m.get('content_hash'), m.get('status')): m for m in bundles.values()}.values())
            body.append(f"<h2>Imported from</h2><ul>{items}</ul>")
        data = {**SITE_JSON, "page": "system", "system": system, "model_card": card,
                "protocols": {k: p.record() for k, p in protocols.items()},
                "provenance": [self.runs[i].record() for i in run_ids if i in self.runs],
                "entries": [self.record(e) for e in entries]}
        return _page(f"{system}: {self.title}", 1, "\n".join(body), self.nav(1)), data


#: The list of files a site build wrote into its directory; only these may be replaced by a later build.
WRITTEN_LIST = ".serbench-files"


def build(store, directory: str | Path, *, registry=None, reference: Reference | None = None,
          title: str = "serbench leaderboard", resamples: int = stats.DEFAULT_RESAMPLES, seed: int = 0,
          force: bool = False) -> Site:
    """Compute the board of ``store`` and write the site into ``directory`` (created when missing).

    Files a previous build wrote (listed in ``directory/.serbench-files``) are replaced; any other
    existing file the site would overwrite stops the build before anything is written, naming it,
    unless ``force`` (the user's own ``index.html`` is never replaced unasked).

    :raises OutputError: the directory cannot be written, a file in it is not serbench's, or nothing is stored.
    """
    from ser_core.bundle import model_card

    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise OutputError(f"{root} is a file; pass a directory for the site (it is created when missing).")
    board = leaderboard.compute(store, resamples=resamples, seed=seed)
    if not board:
        raise OutputError(f"{store.path}: no stored results; run `serbench run` or import bundles first.")
    cards = {id(e): model_card(registry, e.protocol, e) if e.protocol else {} for e in board.entries}
    builder = _Builder(board, cards, store.runs(), reference, title)
    pages = [("index", *builder.index())]
    for corpus, by_column in board.rows:
        pages.append((f"corpus/{builder.corpus_file[corpus]}", *builder.corpus(corpus, by_column)))
    by_system: dict[str, list[Entry]] = {}
    for e in board.entries:
        by_system.setdefault(e.system, []).append(e)
    for system, entries in by_system.items():
        pages.append((f"system/{builder.system_file[system]}", *builder.system(system, entries)))
    files = [*ASSETS, *(f"{name}.{suffix}" for name, _, _ in pages for suffix in ("html", "json"))]
    written = _read_written(root)
    if not force:
        _refuse_foreign(root, files, written)
    site = Site(root)
    try:
        for sub in ("corpus", "system"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        _record_written(root, written | set(files))  # first: a build stopped half-way still owns its files
        source = resources.files("ser_core") / "data" / "site"
        for asset in ASSETS:
            with resources.as_file(source / asset) as path:
                shutil.copyfile(path, root / asset)
    except OSError as exc:
        raise OutputError(describe_os_error(root, exc)) from None
    for name, page, data in pages:
        write_text(root / f"{name}.html", page)
        write_text(root / f"{name}.json", json.dumps(data, indent=1, default=str, ensure_ascii=False) + "\n")
        site.pages.append(f"{name}.html")
        site.json_files.append(f"{name}.json")
    return site


def _read_written(root: Path) -> set[str]:
    """The files (relative paths) earlier builds wrote into ``root``; an unreadable list owns nothing."""
    try:
        text = (root / WRITTEN_LIST).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    return {line for line in text.splitlines() if line and not line.startswith("#")}


def _record_written(root: Path, files: set[str]) -> None:
    header = "# files serbench board build wrote here; only these are replaced by a later build without --force\n"
    write_text(root / WRITTEN_LIST, header + "".join(f"{f}\n" for f in sorted(files)))


def _refuse_foreign(root: Path, files: list[str], written: set[str]) -> None:
    """Stop before writing when the site would replace a file (or a folder) no earlier build wrote."""
    for name in files:
        target = root / name
        if (target.exists() or target.is_symlink()) and name not in written:
            raise OutputError(
                f"{target}: this file was not written by serbench board build (it is not listed in "
                f"{root / WRITTEN_LIST}), and the site would replace it; nothing was written. Move it, choose "
                "another --output directory, or pass --force to replace it."
            )
