"""The leaderboard: computed only from stored results.

Per (corpus, system, config): UAR per fold -> mean over folds per repeat -> mean and standard
deviation over the repeats whose folds are all present. Results with different config hashes
(protocol, settings or corpus version) are separate entries, never averaged together. From the stored
predictions each entry also carries the pooled confusion matrix (all folds and repeats), pooled UAR
and weighted accuracy, total wall time and parameter count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ser_core.results import ResultStore


@dataclass
class Entry:
    """The aggregate of one (corpus, system, config)."""

    corpus: str
    system: str
    config_hash: str
    n_folds: int
    uar_mean: float | None
    uar_std: float | None
    repeats_complete: int
    repeats_seen: int
    failed_cells: int
    overrides: dict = field(default_factory=dict)  # settings that differ from the model defaults
    settings: dict = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)  # rows: true label, columns: predicted
    wall_time_s: float = 0.0
    parameter_count: int | None = None
    protocol: dict = field(default_factory=dict)  # what makes results comparable, from provenance

    @property
    def pooled_uar(self) -> float | None:
        """Mean per-class recall over all stored predictions pooled (classes with test clips)."""
        matrix = np.array(self.confusion, dtype=float)
        if not matrix.size or matrix.sum() == 0:
            return None
        present = matrix.sum(axis=1) > 0
        return float(np.mean(np.diag(matrix)[present] / matrix.sum(axis=1)[present]))

    @property
    def weighted_accuracy(self) -> float | None:
        """Fraction of all stored predictions that are correct (weighted by class frequency)."""
        matrix = np.array(self.confusion, dtype=float)
        return float(np.trace(matrix) / matrix.sum()) if matrix.size and matrix.sum() else None

    @property
    def complete(self) -> bool:
        return self.repeats_complete == self.repeats_seen and self.failed_cells == 0


def compute(
    store: ResultStore, corpora: list[str] | None = None, systems: list[str] | None = None
) -> list[Entry]:
    """Aggregate stored cells into leaderboard entries, optionally restricted to some corpora/systems."""
    groups: dict[tuple[str, str, str], list] = defaultdict(list)
    for cell in store.cells():
        if corpora is not None and cell.key.corpus not in corpora:
            continue
        if systems is not None and cell.key.system not in systems:
            continue
        groups[(cell.key.corpus, cell.key.system, cell.key.config_hash)].append(cell)
    entries = []
    for (corpus, system, config_hash), cells in sorted(groups.items()):
        n_folds = max(c.provenance.get("n_folds", 0) for c in cells)
        by_repeat: dict[int, dict[int, float]] = defaultdict(dict)
        failed = 0
        labels = cells[0].labels
        confusion = np.zeros((len(labels), len(labels)), dtype=int)
        for cell in cells:
            if cell.status == "ok":
                by_repeat[cell.key.repeat][cell.key.fold] = cell.uar
                np.add.at(confusion, (cell.predictions["y_true"], cell.predictions["y_pred"]), 1)
            else:
                failed += 1
        ok_cells = [c for c in cells if c.status == "ok"]
        repeat_means = [
            float(np.mean(list(folds.values())))
            for folds in by_repeat.values()
            if len(folds) == n_folds
        ]
        entries.append(
            Entry(
                corpus=corpus,
                system=system,
                config_hash=config_hash,
                n_folds=n_folds,
                uar_mean=float(np.mean(repeat_means)) if repeat_means else None,
                uar_std=float(np.std(repeat_means)) if repeat_means else None,
                repeats_complete=len(repeat_means),
                repeats_seen=len({c.key.repeat for c in cells}),
                failed_cells=failed,
                overrides=cells[0].provenance.get("overrides", {}),
                settings=cells[0].provenance.get("settings", {}),
                labels=labels,
                confusion=confusion.tolist(),
                wall_time_s=float(sum(c.wall_time or 0.0 for c in cells)),
                parameter_count=ok_cells[0].provenance.get("parameter_count") if ok_cells else None,
                protocol=_protocol(cells[0].provenance),
            )
        )
    return entries


def column_names(entries: list[Entry]) -> dict[tuple[str, str], str]:
    """Column label per (system, config): the system name, plus the config hash when a system has
    results under more than one config (so incomparable results sit in separate columns)."""
    configs: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        configs[e.system].add(e.config_hash)
    return {
        (e.system, e.config_hash): e.system if len(configs[e.system]) == 1 else f"{e.system}@{e.config_hash[:6]}"
        for e in entries
    }


def _protocol(provenance: dict) -> dict:
    return {
        "settings": provenance.get("settings"),
        "normalisation": provenance.get("normalisation"),
        "seed": provenance.get("seeds", {}).get("suite"),
        "corpus version (manifest hash)": provenance.get("manifest_hash"),
        "feature": [provenance.get("system", {}).get("feature"), provenance.get("feature_params")],
        "folds": provenance.get("folds", {}).get("method"),
    }


def differences(entries: list[Entry]) -> list[str]:
    """Why results sit in separate columns: for each (corpus, system) with several configs, the
    protocol keys whose values differ between them."""
    by_pair: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for e in entries:
        by_pair[(e.corpus, e.system)].append(e)
    lines = []
    for (corpus, system), group in sorted(by_pair.items()):
        if len(group) < 2:
            continue
        keys = [k for k in group[0].protocol if len({repr(e.protocol.get(k)) for e in group}) > 1]
        if not keys:
            keys = ["schema or labels"]
        for key in keys:
            values = "; ".join(f"@{e.config_hash[:6]}: {e.protocol.get(key)}" for e in group)
            lines.append(f"{system} on {corpus}: {key} differs ({values})")
    return lines


def grid(entries: list[Entry]) -> tuple[list[str], list[tuple[str, dict[str, Entry]]]]:
    """The corpora x systems layout: column names, then ``(corpus, {column: entry})`` per row."""
    names = column_names(entries)
    columns = list(dict.fromkeys(names[(e.system, e.config_hash)] for e in entries))
    rows = []
    for corpus in dict.fromkeys(e.corpus for e in entries):
        rows.append((corpus, {names[(e.system, e.config_hash)]: e for e in entries if e.corpus == corpus}))
    return columns, rows


def format_cell(entry: Entry) -> str:
    """``"72.4 ± 1.3"`` in percent, with the number of complete repeats when not all are."""
    if entry.uar_mean is None:
        return f"incomplete ({entry.failed_cells} failed)" if entry.failed_cells else "incomplete"
    text = f"{100 * entry.uar_mean:.1f} ± {100 * entry.uar_std:.1f}"
    if not entry.complete:
        text += f" ({entry.repeats_complete}/{entry.repeats_seen} repeats"
        text += f", {entry.failed_cells} failed)" if entry.failed_cells else ")"
    return text
