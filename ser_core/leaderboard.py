"""The board: corpora x systems, computed only from stored results.

Per (corpus, system, protocol, corpus instance): UAR per fold -> mean over folds per repeat -> mean
and standard deviation over the repeats whose folds are all present. Columns are systems (one per
system protocol, :class:`~ser_core.records.SystemProtocol`); rows are corpora. Results computed under
different protocols or corpus instances are never averaged together: when one system has several on
one corpus, the board shows the newest and says, key by key, what differs (``all_configs`` shows
every one).

Statistics (see :mod:`ser_core.stats`), all from the stored predictions and speaker-aware: a
speaker-bootstrap CI per cell, per-speaker UAR (worst speaker, spread), and per corpus the best
system and every system not significantly worse than it (paired speaker-level permutation test on
the clips both were tested on); across corpora, average ranks, the Friedman test and the Nemenyi
critical difference.

A stored row that cannot be scored (unreadable predictions, class indices out of range) is counted
as failed and named in the board's notes; it never stops the board. The UAR stored with each cell is
never shown: every figure is recomputed from the cell's predictions (:func:`ser_core.metrics.uar`),
and a stored UAR that disagrees with them (a hand edit, a damaged row) is named in the notes.
"""

from __future__ import annotations

import difflib
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ser_core import stats
# the marks and text of the board live in ser_core.board_text; these names stay importable from here
from ser_core.board_text import BEST, EXCLUDED, LEGEND, TIED, UNVERIFIED, format_cell, pct, rank_lines  # noqa: F401
from ser_core.benchmark_specs import ReferenceSpec, read_reference
from ser_core.errors import ConfigError
from ser_core.metrics import uar as recomputed_uar, uar_from_counts
from ser_core.records import CorpusInstance, SystemProtocol, differing_keys, flatten
from ser_core.results import ResultStore, StoredCell

ARROW = ">"  # in the corpus name of a cross-corpus cell (ser_core.crosscorpus.ARROW)


def cell_status(cells: Iterable[StoredCell]) -> str:
    """``"local"`` (computed by this database's runs), ``"verified"`` (every imported cell verified) or
    ``"unverified"`` (any cell imported without verification)."""
    marks = [c.cell_details.bundle for c in cells]
    if any(m and m.get("status") != "verified" for m in marks):
        return "unverified"
    return "verified" if marks and all(marks) else "local"


@dataclass
class Entry:
    """The aggregate of one (corpus, system, protocol, corpus instance)."""

    corpus: str
    system: str
    protocol_key: str
    instance_key: str
    protocol: SystemProtocol | None
    instance: CorpusInstance | None
    cells: list[StoredCell] = field(default_factory=list, repr=False)
    n_folds: int = 0
    uar_mean: float | None = None
    uar_std: float | None = None
    repeats_complete: int = 0
    repeats_seen: int = 0
    failed_cells: int = 0
    invalid: list[str] = field(default_factory=list)  # stored rows that could not be scored, and why
    #: cells whose stored UAR disagrees with their predictions: ``{repeat, fold, stored, recomputed}``
    stored_uar_mismatches: list[dict] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)  # rows: true label, columns: predicted
    wall_time_s: float = 0.0
    parameter_count: int | None = None
    overrides: dict = field(default_factory=dict)
    newest: str = ""
    excluded: list[list[str]] = field(default_factory=list)  # [clip id, reason] left out of this entry
    n_scored: int = 0  # distinct clips with a stored prediction
    counts: stats.SpeakerCounts | None = field(default=None, repr=False)
    ci: stats.Interval | None = None
    per_speaker: dict[str, float] = field(default_factory=dict)
    column: str = ""
    mark: str = ""  # BEST, TIED or ""
    vs_best: stats.PairedResult | None = None
    _rows: list[tuple] = field(default_factory=list, repr=False)

    @property
    def pooled_uar(self) -> float | None:
        """Mean per-class recall over all stored predictions pooled (classes with test clips)."""
        matrix = np.array(self.confusion, dtype=float)
        if not matrix.size or matrix.sum() == 0:
            return None
        return float(uar_from_counts(matrix.sum(axis=1), np.diag(matrix)))

    @property
    def weighted_accuracy(self) -> float | None:
        """Fraction of all stored predictions that are correct (weighted by class frequency)."""
        matrix = np.array(self.confusion, dtype=float)
        return float(np.trace(matrix) / matrix.sum()) if matrix.size and matrix.sum() else None

    @property
    def complete(self) -> bool:
        return self.repeats_complete == self.repeats_seen and self.failed_cells == 0

    @property
    def n_clips(self) -> int | None:
        return self.instance.n_clips if self.instance else None

    @property
    def test_set_differs(self) -> bool:
        """Some of the corpus's clips were left out of this entry (no features for them)."""
        return bool(self.excluded)

    @property
    def verification(self) -> str:
        """``local`` (computed by this database's runs), ``verified`` or ``unverified`` (imported from a
        results bundle, see :mod:`ser_core.bundle`)."""
        return cell_status(self.cells)

    @property
    def worst_speaker(self) -> tuple[str, float] | None:
        if not self.per_speaker:
            return None
        name = min(self.per_speaker, key=lambda s: (self.per_speaker[s], s))
        return name, self.per_speaker[name]

    @property
    def speaker_sd(self) -> float | None:
        values = list(self.per_speaker.values())
        return float(np.std(values)) if len(values) > 1 else None


@dataclass
class Board:
    """What the board shows: columns, rows of entries, notes, and the statistics across corpora."""

    entries: list[Entry]
    hidden: list[Entry]
    columns: list[str]
    rows: list[tuple[str, dict[str, Entry]]]
    notes: list[str]
    ranks: stats.RankTest | None
    resamples: int
    seed: int
    all_configs: bool = False

    def __bool__(self) -> bool:
        return bool(self.entries)


def compute(
    store: ResultStore,
    corpora: list[str] | None = None,
    systems: list[str] | None = None,
    *,
    all_configs: bool = False,
    resamples: int = stats.DEFAULT_RESAMPLES,
    seed: int = 0,
    statistics: bool = True,
) -> Board:
    """The board of the stored results, optionally restricted to some corpora/systems.

    :param all_configs: show every (protocol, corpus instance) of a system on a corpus, not only the newest.
    :param resamples: bootstrap resamples (and permutations) per statistic; 0 turns the statistics off.
    :param seed: seeds every resampling, so the board is reproducible.
    :raises ConfigError: ``resamples`` outside 0 or 100..100000 (:func:`stats.check_resamples`), a negative seed.
    """
    check_statistics(resamples, seed)
    protocols = store.protocols()
    instances = store.instances()
    groups: dict[tuple[str, str, str, str], list[StoredCell]] = defaultdict(list)
    for cell in store.cells():
        if corpora is not None and cell.key.corpus not in corpora:
            continue
        if corpora is None and ARROW in cell.key.corpus:
            continue  # a cross-corpus cell (ser_core.crosscorpus): on its own board, ser_core.crossboard
        if systems is not None and cell.key.system not in systems:
            continue
        groups[(cell.key.corpus, cell.key.system, cell.key.protocol, cell.key.instance)].append(cell)
    unreadable = getattr(store, "unreadable", {})
    entries = [
        _aggregate(corpus, system, pk, ik, protocols.get(pk), instances.get(ik), cells,
                   missing_instance=None if ik in instances else _missing(ik, unreadable))
        for (corpus, system, pk, ik), cells in sorted(groups.items())
    ]
    shown, hidden, notes = _select(entries, all_configs)
    for e in entries:
        if e.protocol is None:
            notes.append(f"{e.system} on {e.corpus}: the record of its protocol (@{e.protocol_key[:6]}) is "
                         f"{_missing(e.protocol_key, unreadable)}, so its settings cannot be shown or compared; the "
                         "database was edited or is damaged")
    columns, rows = _layout(shown, all_configs, notes)
    notes.extend(normalisation_notes(shown))
    notes.extend(fold_policy_notes(shown))
    use_stats = statistics and resamples > 0
    if use_stats:
        for e in shown:
            if e.counts is not None:
                e.ci = stats.bootstrap_ci(e.counts, resamples=resamples, seed=seed)
        for _, by_column in rows:
            _mark_best(list(by_column.values()), resamples, seed)
    for e in shown:
        if e.counts is not None:
            e.per_speaker = stats.per_speaker_uar(e.counts)
        if e.test_set_differs:
            reasons = sorted({why for _, why in e.excluded})
            shown_clips = ", ".join(clip for clip, _ in e.excluded[:5]) + (" ..." if len(e.excluded) > 5 else "")
            notes.append(
                f"{EXCLUDED} {e.column} on {e.corpus}: tested on {e.n_clips - len(e.excluded)} of {e.n_clips} clips; "
                f"{len(e.excluded)} excluded ({shown_clips}): {'; '.join(reasons[:3])}"
            )
        if e.verification == "unverified":
            mark = next(c.cell_details.bundle for c in e.cells
                        if c.cell_details.bundle and c.cell_details.bundle.get("status") != "verified")
            why = "; ".join(p.rstrip(".") for p in mark.get("problems") or []) or "no reason recorded"
            notes.append(f"{UNVERIFIED} {e.column} on {e.corpus}: imported from {mark.get('file')} "
                         f"({str(mark.get('content_hash'))[:19]}) without verification: {why}")
        for problem in e.invalid:
            notes.append(f"{e.column} on {e.corpus}: a stored cell cannot be scored and counts as failed: {problem}")
        mismatch = mismatch_note(e)
        if mismatch:
            notes.append(mismatch)
    ranks = _rank_test(columns, rows) if use_stats else None
    return Board(shown, hidden, columns, rows, notes, ranks, resamples if use_stats else 0, seed, all_configs)


def check_statistics(resamples: int, seed: int) -> None:
    """Refuse resamples or a seed the statistics cannot use, before any work (a :class:`ConfigError`)."""
    try:
        stats.check_resamples(resamples)
        stats.check_seed(seed)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _missing(key: str, unreadable: dict[str, str]) -> str:
    """Why the record ``key`` is not in the store's records: unreadable (with the reason) or missing."""
    return f"unreadable ({unreadable[key]})" if key in unreadable else "missing"


def _not_a_benchmark(instance) -> str | None:
    """Why the classes of a stored corpus instance make any score meaningless (``None``: they do not).

    ``serbench run`` refuses such a corpus before any work (:func:`ser_core.corpus.benchmark_problems`);
    an imported bundle, an older serbench or a hand edit can still store one, and its 100 % is no result.
    """
    from ser_core.corpus import MAX_CLASSES, MIN_CLASSES

    labels = list(instance.labels)
    if len(labels) < MIN_CLASSES:
        only = f"only one class ({labels[0]!r})" if labels else "no class"
        return (f"its corpus instance has {only}: any model scores 100 % UAR on it, so it is not a benchmark "
                "(`serbench run` refuses such a corpus)")
    if len(labels) > MAX_CLASSES:
        return (f"its corpus instance has {len(labels)} classes, more than the {MAX_CLASSES} a benchmark may have "
                "(`serbench run` refuses such a corpus)")
    return None


def _aggregate(corpus, system, protocol_key, instance_key, protocol, instance, cells, *,
               missing_instance: str | None = None) -> Entry:
    """One entry from its stored cells. ``missing_instance``: why the corpus instance's record is absent
    (every cell then counts as failed: without it the classes and folds are unknown)."""
    entry = Entry(corpus, system, protocol_key, instance_key, protocol, instance, cells)
    labels = list(instance.labels) if instance else []
    n_classes = len(labels)
    entry.labels = labels
    entry.n_folds = len(instance.fold_names) if instance and instance.fold_names else max(
        (c.key.fold + 1 for c in cells), default=0)
    by_repeat: dict[int, dict[int, float]] = defaultdict(dict)
    confusion = np.zeros((n_classes, n_classes), dtype=int)
    scored: set[str] = set()
    good: list[StoredCell] = []
    for cell in cells:
        if cell.status != "ok":
            entry.failed_cells += 1
            continue
        problem = _unscorable(cell, n_classes)
        if instance is None:
            problem = (f"the record of the corpus instance it was computed on (@{instance_key[:6]}) is "
                       f"{missing_instance or 'missing'}; the database was edited or is damaged")
        elif instance.fold_names and not problem and not 0 <= cell.key.fold < len(instance.fold_names):
            problem = f"fold {cell.key.fold} is not one of the corpus instance's {len(instance.fold_names)} folds"
        elif not problem:
            problem = _not_a_benchmark(instance)
        if problem:
            entry.failed_cells += 1
            entry.invalid.append(f"repeat {cell.key.repeat} fold {cell.key.fold}: {problem}")
            continue
        good.append(cell)
        p = cell.predictions
        score = recomputed_uar(p.y_true, p.y_pred)
        if not _agrees(cell.uar, score):
            entry.stored_uar_mismatches.append(
                {"repeat": cell.key.repeat, "fold": cell.key.fold, "stored": cell.uar, "recomputed": score})
        by_repeat[cell.key.repeat][cell.key.fold] = score
        np.add.at(confusion, (list(p.y_true), list(p.y_pred)), 1)
        scored.update(p.clip_ids)
    complete = sorted(r for r, folds in by_repeat.items() if len(folds) == entry.n_folds)
    means = [float(np.mean(list(by_repeat[r].values()))) for r in complete]
    entry.uar_mean = float(np.mean(means)) if means else None
    entry.uar_std = float(np.std(means)) if means else None
    entry.repeats_complete = len(complete)
    entry.repeats_seen = len({c.key.repeat for c in cells})
    entry.confusion = confusion.tolist()
    entry.wall_time_s = float(sum(c.wall_time for c in cells if _finite(c.wall_time)))
    entry.parameter_count = next((c.outcome.parameter_count for c in good), None)
    entry.overrides = dict(cells[0].cell_details.overrides) if cells else {}
    entry.newest = max((c.created_at for c in cells), default="")
    entry.n_scored = len(scored)
    excluded: dict[str, str] = {}
    for cell in cells:
        for clip, why in cell.cell_details.excluded_clips:
            excluded[clip] = why
    entry.excluded = sorted([k, v] for k, v in excluded.items())
    entry._rows = [
        (c.key.repeat, c.key.fold, c.predictions.clip_ids, c.predictions.speakers, c.predictions.y_true,
         c.predictions.y_pred)
        for c in good if c.key.repeat in complete
    ]
    if entry._rows and n_classes:
        entry.counts = stats.speaker_counts(entry._rows, n_classes)
    return entry


#: A stored UAR further than this from the one recomputed from the cell's predictions is reported:
#: the two are computed by the same function, so only float rounding (JSON, another platform) may differ.
UAR_TOLERANCE = 1e-9


def _agrees(stored: Any, recomputed: float) -> bool:
    return _finite(stored) and abs(stored - recomputed) <= UAR_TOLERANCE


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _unscorable(cell: StoredCell, n_classes: int) -> str | None:
    if cell.damage:
        return cell.damage
    if cell.predictions is None:
        return "its predictions are missing or unreadable"
    if not cell.predictions.clip_ids:
        return "it has no predictions (no test clips)"
    problems = cell.predictions.problems(n_classes)
    return "; ".join(problems) if problems else None


def mismatch_note(entry: Entry) -> str | None:
    """The note naming the cells of ``entry`` whose stored UAR disagrees with their predictions."""
    found = entry.stored_uar_mismatches
    if not found:
        return None

    def shown(value):
        return f"{100 * value:.1f}%" if _finite(value) else "missing"

    cells = "; ".join(f"repeat {m['repeat']} fold {m['fold']}: stored {shown(m['stored'])}, predictions give "
                      f"{shown(m['recomputed'])}" for m in found[:5])
    more = f"; and {len(found) - 5} more" if len(found) > 5 else ""
    return (f"{entry.column or entry.system} on {entry.corpus}: the UAR stored with {len(found)} cell(s) disagrees "
            f"with the cell's predictions ({cells}{more}): the database was edited or is damaged. Every figure here "
            "is recomputed from the predictions.")


def _describe(entry: Entry) -> dict[str, Any]:
    out = {f"protocol.{k}": v for k, v in flatten(entry.protocol.record() if entry.protocol else {}).items()}
    out.update({f"corpus.{k}": v for k, v in flatten(entry.instance.record() if entry.instance else {}).items()})
    return out


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _select(entries: list[Entry], all_configs: bool) -> tuple[list[Entry], list[Entry], list[str]]:
    """The newest entry per (corpus, system), unless ``all_configs``; notes on what differs."""
    by_pair: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for e in entries:
        by_pair[(e.corpus, e.system)].append(e)
    shown, hidden, notes = [], [], []
    for (corpus, system), group in sorted(by_pair.items()):
        group.sort(key=lambda e: e.newest, reverse=True)
        if len(group) == 1:
            shown.append(group[0])
            continue
        newest = group[0]
        for older in group[1:]:
            a, b = _describe(older), _describe(newest)
            keys = differing_keys(a, b)
            what = ", ".join(f"{k.split('.', 1)[1]} ({_short(a.get(k))} -> {_short(b.get(k))})" for k in keys[:6])
            if len(keys) > 6:
                what += f", and {len(keys) - 6} more"
            if all_configs:
                notes.append(f"{system} on {corpus}: configurations @{older.protocol_key[:6]}/{older.instance_key[:6]} "
                             f"and @{newest.protocol_key[:6]}/{newest.instance_key[:6]} differ in {what}")
            else:
                notes.append(f"{system} on {corpus}: showing the newest of {len(group)} stored configurations "
                             f"({newest.newest}); an older one differs in {what}. --all-configs shows every one.")
        if all_configs:
            shown.extend(group)
        else:
            shown.append(newest)
            hidden.extend(group[1:])
    return shown, hidden, notes


#: The names the field gives the normalisations (docs/protocol.md): per speaker over all of a speaker's
#: clips needs the test speaker's (unlabelled) clips, so it is "offline"; fitted on the training
#: speakers only, it can run on a speaker never seen before, "online".
NORMALISATION_LABELS = {
    "speaker": "offline (per-speaker standardisation, using each test speaker's own clips)",
    "fold": "online (standardisation fitted on the training speakers only)",
    "none": "none (features as extracted)",
    "corpus": "per corpus (each corpus standardised on its own clips; cross-corpus only)",
}


def normalisation_notes(shown: list[Entry]) -> list[str]:
    """One note naming the columns under each normalisation, when the board mixes them."""
    columns_of: dict[str, list[str]] = defaultdict(list)
    for e in shown:
        if e.protocol is not None and e.column not in columns_of[e.protocol.normalisation]:
            columns_of[e.protocol.normalisation].append(e.column)
    if len(columns_of) < 2:
        return []
    return ["normalisation: " + "; ".join(
        f"{NORMALISATION_LABELS.get(mode, mode)}: {', '.join(columns)}" for mode, columns in sorted(columns_of.items())
    )]


def fold_policy_notes(shown: list[Entry]) -> list[str]:
    """One note naming the columns under each fold policy (docs/protocol.md), when any column is
    text-independent: those folds share neither speaker nor sentence between training and test."""
    columns_of: dict[str, list[str]] = defaultdict(list)
    for e in shown:
        if e.protocol is None:
            continue
        policy = "text-independent" if e.protocol.fold_policy.get("text") == "independent" else "speaker-independent"
        if e.column not in columns_of[policy]:
            columns_of[policy].append(e.column)
    if "text-independent" not in columns_of:
        return []
    labels = {"speaker-independent": "speaker-independent (no speaker shared by training and test)",
              "text-independent": "text-independent (neither speaker nor sentence shared)"}
    return ["folds: " + "; ".join(f"{labels[policy]}: {', '.join(columns)}" for policy, columns in sorted(columns_of.items()))]


def _layout(shown: list[Entry], all_configs: bool, notes: list[str]):
    protocols_of: dict[str, dict[str, Entry]] = defaultdict(dict)
    for e in shown:
        protocols_of[e.system].setdefault(e.protocol_key, e)
    for e in shown:
        e.column = e.system if len(protocols_of[e.system]) == 1 else f"{e.system}@{e.protocol_key[:6]}"
    if not all_configs:
        for system, by_key in sorted(protocols_of.items()):
            if len(by_key) > 1:
                first, *others = list(by_key.values())
                for other in others:
                    keys = [k for k in differing_keys(_describe(first), _describe(other)) if k.startswith("protocol.")]
                    notes.append(
                        f"{system} has results under {len(by_key)} protocols on different corpora, shown as separate "
                        f"columns; {first.column} and {other.column} differ in "
                        + ", ".join(k.split(".", 1)[1] for k in keys[:6])
                    )
    instances_of: dict[str, set[str]] = defaultdict(set)
    for e in shown:
        instances_of[e.corpus].add(e.instance_key)
    columns = list(dict.fromkeys(e.column for e in shown))
    rows: dict[str, dict[str, Entry]] = {}
    for e in shown:
        row = e.corpus if (len(instances_of[e.corpus]) == 1 or not all_configs) else f"{e.corpus}@{e.instance_key[:6]}"
        rows.setdefault(row, {})[e.column] = e
    if not all_configs:
        for corpus, keys in sorted(instances_of.items()):
            if len(keys) > 1:
                notes.append(f"systems on {corpus} were run on {len(keys)} different versions of the corpus (scan or "
                             "folds differ); they are not compared with each other")
    return columns, list(rows.items())


def _mark_best(entries: list[Entry], resamples: int, seed: int) -> None:
    scored = [e for e in entries if e.uar_mean is not None]
    if not scored:
        return
    best = max(scored, key=lambda e: e.uar_mean)
    best.mark = BEST
    for e in scored:
        if e is best or e.instance_key != best.instance_key or not best._rows or not e._rows:
            continue
        result = compare_entries(best, e, resamples=resamples, seed=seed)
        if result is None:
            continue
        e.vs_best = result
        if not result.significant:
            e.mark = TIED


def same_clips(a: Entry, b: Entry) -> bool:
    """Whether ``a`` and ``b`` were run on the same scan of a corpus (clips, labels, speakers), whatever
    their folds (speaker- vs text-independent, or another fold seed)."""
    if a.instance_key == b.instance_key:
        return True
    if a.instance is None or b.instance is None:
        return False
    fields = ("corpus", "version", "manifest", "n_clips", "labels")
    return all(getattr(a.instance, f) == getattr(b.instance, f) for f in fields)


def common_folds(rows_a: list, rows_b: list, clips: set[str]) -> tuple[list, list]:
    """Both systems' ``(repeat, fold, clip_ids, speakers, y_true, y_pred)`` rows re-cut into the folds they
    share: the finest partition of ``clips`` that both fold structures refine (connected components of
    "tested in the same fold of A or of B"). Leave-one-speaker-out and its text-independent refinement
    share the speaker folds, so both sides' UAR becomes the mean over speakers, each over all its clips."""
    parent: dict[str, str] = {cid: cid for cid in clips}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for rows in (rows_a, rows_b):
        for _, _, clip_ids, *_ in rows:
            kept = [cid for cid in clip_ids if cid in parent]
            for cid in kept[1:]:
                parent[find(cid)] = find(kept[0])
    index = {root: i for i, root in enumerate(sorted({find(cid) for cid in clips}))}
    fold_of = {cid: index[find(cid)] for cid in clips}

    def recut(rows: list) -> list:
        grouped: dict[tuple[int, int], list[list]] = {}
        for repeat, _, clip_ids, spk, y_true, y_pred in rows:
            for cid, s, t, p in zip(clip_ids, spk, y_true, y_pred):
                if cid in fold_of:
                    parts = grouped.setdefault((repeat, fold_of[cid]), [[], [], [], []])
                    for part, value in zip(parts, (cid, s, t, p)):
                        part.append(value)
        return [(repeat, fold, *parts) for (repeat, fold), parts in sorted(grouped.items())]

    return recut(rows_a), recut(rows_b)


def compare_entries(a: Entry, b: Entry, *, resamples: int = stats.DEFAULT_RESAMPLES,
                    seed: int = 0, across_folds: bool = False) -> stats.PairedResult | None:
    """Paired test of ``a`` minus ``b`` on the clips both were tested on (same corpus instance; with
    ``across_folds``, the same scanned clips under different folds: each clip's prediction comes from a
    model that never saw its speaker, so the speaker-level test still pairs like with like)."""
    comparable = same_clips(a, b) if across_folds else a.instance_key == b.instance_key
    if not comparable or not a._rows or not b._rows or not a.labels:
        return None
    clips_a = {cid for r in a._rows for cid in r[2]}
    clips_b = {cid for r in b._rows for cid in r[2]}
    common = clips_a & clips_b
    if not common:
        return None
    rows_a, rows_b = a._rows, b._rows
    if a.instance_key != b.instance_key:
        rows_a, rows_b = common_folds(rows_a, rows_b, common)
    speakers = sorted({s for r in rows_a for cid, s in zip(r[2], r[3]) if cid in common})
    ca = stats.speaker_counts(rows_a, len(a.labels), clips=common, speakers=speakers)
    cb = stats.speaker_counts(rows_b, len(b.labels), clips=common, speakers=speakers)
    try:
        return stats.paired_test(ca, cb, resamples=resamples, seed=seed)
    except ValueError:
        return None


def _rank_test(columns: list[str], rows) -> stats.RankTest | None:
    if len(columns) < 2:
        return None
    complete = [(corpus, by_column) for corpus, by_column in rows
                if all(c in by_column and by_column[c].uar_mean is not None for c in columns)]
    scores = [[by_column[c].uar_mean for c in columns] for _, by_column in complete]
    return stats.friedman(scores, columns, [corpus for corpus, _ in complete])


# -- published reference numbers ---------------------------------------------------------------------

@dataclass(frozen=True)
class Reference:
    """Published figures (fractions) by (corpus, system): a registered reference or a CSV file's.

    ``measure`` is ``uar`` (compared with the board's UARs) or ``accuracy`` (a human row: shown
    beside the board, labelled, never compared)."""

    label: str  # what the outputs call it: the registered name, or the file's name
    values: dict[tuple[str, str], float]
    sources: dict[tuple[str, str], str]
    lines: dict[tuple[str, str], int] = field(default_factory=dict)  # where each row is in its file
    citation: str = ""
    measure: str = "uar"
    path: Path | None = None

    @classmethod
    def of(cls, spec: ReferenceSpec, label: str | None = None) -> "Reference":
        """The board's view of a :class:`~ser_core.benchmark_specs.ReferenceSpec`."""
        keys = [(r.corpus, r.system) for r in spec.rows]
        return cls(label or spec.name, {k: r.value / 100 for k, r in zip(keys, spec.rows)},
                   {k: r.source or spec.citation for k, r in zip(keys, spec.rows)},
                   {k: r.line for k, r in zip(keys, spec.rows) if r.line}, spec.citation, spec.measure, spec.path)


def load_reference(what: str | Path, registry: Any = None) -> Reference:
    """``--reference``: a published reference registered by name (``serbench list`` shows them), or
    a CSV with columns ``corpus,system,uar`` (percent) and optionally ``source``.

    :raises ConfigError: naming the file and line of a problem, or the registered names.
    """
    path = Path(what)
    if path.exists():
        return Reference.of(read_reference(path), path.name)
    from ser_core.plugins import load_registry

    known = (load_registry() if registry is None else registry).items["reference"]
    if str(what) in known:
        return Reference.of(known[str(what)].spec)
    if os.sep in str(what) or path.suffix:  # meant as a file: its error names it
        return Reference.of(read_reference(path), path.name)
    hint = difflib.get_close_matches(str(what), list(known), n=1)
    raise ConfigError(f"--reference {what}: no such file, and no reference of that name is registered"
                      + (f" (did you mean {hint[0]!r}?)" if hint else "") + "; registered references: "
                      + (", ".join(sorted(known)) or "none (install a benchmark distribution, e.g. "
                         "ser-benchmark-keesing2020)") + ". Or give a CSV file's path.")


def unmatched_reference(board: Board, reference: Reference) -> list[str]:
    """Rows of ``reference`` on a corpus of the board whose system is not on it (a misspelt name, most
    likely), each as ``"corpus/system (line N)"``. Rows of other corpora are not listed: a published
    table usually covers more corpora than one database."""
    if reference.measure != "uar":
        return []  # an accuracy row (human raters) names no system of the board
    corpora = {e.corpus for e in board.entries}
    systems = {e.system for e in board.entries}
    return [f"{corpus}/{system} (line {reference.lines.get((corpus, system), '?')})"
            for corpus, system in sorted(reference.values, key=lambda k: reference.lines.get(k, 0))
            if corpus in corpora and system not in systems]


def unmatched_note(board: Board, reference: Reference) -> str | None:
    """The sentence naming :func:`unmatched_reference` rows, with the board's systems, or ``None``."""
    rows = unmatched_reference(board, reference)
    if not rows:
        return None
    systems = ", ".join(sorted({e.system for e in board.entries}))
    return (f"{reference.label}: {len(rows)} published number(s) on this board's corpora name a system the "
            f"board does not have: {', '.join(rows[:6])}{' ...' if len(rows) > 6 else ''} (systems here: {systems})")


def reference_rows(board: Board, reference: Reference) -> list[dict[str, Any]]:
    """Ours beside the published number for every (corpus, system) the reference and the board share
    (none for a reference that is not of UARs: :func:`accuracy_rows`)."""
    if reference.measure != "uar":
        return []
    out = []
    for e in board.entries:
        published = reference.values.get((e.corpus, e.system))
        if published is None:
            continue
        within = e.ci is not None and e.ci.low <= published <= e.ci.high
        out.append({
            "corpus": e.corpus, "system": e.column, "ours": e.uar_mean, "ci": e.ci, "published": published,
            "difference": None if e.uar_mean is None else e.uar_mean - published,
            "within_ci": within if e.ci is not None else None, "source": reference.sources.get((e.corpus, e.system), ""),
        })
    return out


def accuracy_rows(board: Board, reference: Reference) -> list[dict[str, Any]]:
    """The figures of a reference that is not of UARs (a human rater's accuracy) for the corpora of the
    board, in its corpus order: shown beside it, never compared with its UARs."""
    order = list(dict.fromkeys(e.corpus for e in board.entries))
    return [{"corpus": corpus, "system": system, "published": value, "source": reference.sources.get((corpus, system), "")}
            for corpus in order for (c, system), value in reference.values.items() if c == corpus]
