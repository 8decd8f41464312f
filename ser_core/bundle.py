"""Results bundles: one self-describing file of results that anyone can verify and import.

A bundle (layout: docs/results-bundle.md, format ``serbench-results-bundle``, :data:`VERSION`) holds,
per (corpus, system) of a results database's board: the system protocol, the corpus instance (name,
version, manifest fingerprint, fold assignment and speaker by clip id), every cell's predictions by
clip id, the run provenance, a model card, and the board's figures computed from them. It holds no
audio, no features and no labels of clips: the labels are the corpus's, and a verifier takes them from
their own copy. A SHA-256 content hash covers everything else in the file.

- :func:`export_bundle` builds one from a :class:`~ser_core.results.ResultStore`.
- :func:`read_bundle` parses a file, refusing another format, a newer layout version or a damaged file.
- :func:`verify_bundle` checks the hash and internal consistency (fold partition, speaker independence,
  figures that follow from the stored cell UARs), then, where the corpus is available here, recomputes
  every cell's UAR and every figure from the predictions against the local corpus's labels, and checks
  that the clip ids, the manifest fingerprint and the folds are the ones serbench makes for that corpus.
- :func:`import_bundle` stores a bundle's cells (with the local labels) in a results database, marking
  each cell with the bundle's hash and whether it was verified; boards mark unverified results.

What verification proves: the figures follow from the predictions, scored against the corpus's own
labels, under speaker-independent folds identical to serbench's, on the same corpus. It cannot prove
that the submitted model produced the predictions; the model card and provenance say how to rerun it.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ser_core.errors import SerbenchError
from ser_core.records import (
    CellOutcome,
    CorpusInstance,
    Predictions,
    RunProvenance,
    SystemProtocol,
    now,
)
from ser_core.results import CellKey, ResultStore, StoredCell

FORMAT = "serbench-results-bundle"
#: Version of the bundle's layout (docs/results-bundle.md); bumped on any incompatible change.
VERSION = 1
HASH_PREFIX = "sha256:"
#: Figures of each (corpus, system) a bundle states and verification recomputes.
FIGURE_KEYS = ("uar_mean", "uar_sd", "ci", "n_folds", "repeats_complete", "repeats_seen", "failed_cells",
               "clips_scored", "clips_in_corpus", "pooled_uar", "weighted_accuracy", "per_speaker_uar",
               "confusion")
#: Two recomputed figures agree when they differ by no more than this (floating-point noise only).
TOLERANCE = 1e-9
#: Verification outcomes, per (corpus, system) and for a whole bundle.
VERIFIED, UNCHECKED, FAILED = "verified", "labels-unchecked", "failed"
#: ``serbench results verify`` exit status by outcome (2 is an unreadable bundle, as for every error).
EXIT_STATUS = {VERIFIED: 0, FAILED: 1, UNCHECKED: 4}
#: Where a cell's ``details`` record the bundle it was imported from.
BUNDLE_DETAIL = "bundle"


class BundleError(SerbenchError):
    """A bundle file that cannot be read or used: not a bundle, a newer layout, damaged."""


# -- export --------------------------------------------------------------------------------------


def content_hash(bundle: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the bundle's canonical JSON without its ``content_hash`` key."""
    body = {k: v for k, v in bundle.items() if k != "content_hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return HASH_PREFIX + hashlib.sha256(text.encode()).hexdigest()


def _distribution_card(distribution: str) -> dict[str, str | None]:
    """URL and licence of an installed distribution (``None`` where its metadata gives none)."""
    try:
        meta = metadata.metadata(distribution)
    except metadata.PackageNotFoundError:
        return {"url": None, "licence": None}
    url = meta.get("Home-page")
    for entry in meta.get_all("Project-URL") or []:
        label, _, value = entry.partition(",")
        if url is None or label.strip().lower() in ("homepage", "source", "repository"):
            url = value.strip() or url
            if label.strip().lower() == "homepage":
                break
    licence = meta.get("License-Expression") or meta.get("License")
    return {"url": url, "licence": licence or None}


def model_card(registry, protocol: SystemProtocol, entry, *, citation: str | None = None,
               notes: str | None = None) -> dict[str, Any]:
    """What a reader of the board needs to know about a system's model (see docs/results-bundle.md)."""
    card: dict[str, Any] = {"model": protocol.model, "feature": protocol.feature, "feature_kind": None,
                            "description": None, "distribution": None, "version": None, "url": None,
                            "licence": None}
    if registry is not None:
        model = registry.items["model"].get(protocol.model)
        if model is not None:
            card.update(description=model.spec.description or None, distribution=model.plugin.distribution,
                        version=model.plugin.version, **_distribution_card(model.plugin.distribution))
        feature = registry.items["feature"].get(protocol.feature)
        if feature is not None:
            card["feature_kind"] = feature.spec.kind
    stored = next((c.cell_details.model_card for c in entry.cells if c.cell_details.model_card), None)
    if stored:  # results imported from a bundle keep the card they came with
        card.update({k: v for k, v in stored.items() if v is not None and card.get(k) is None})
    card.update(parameter_count=entry.parameter_count, training_wall_time_s=entry.wall_time_s,
                citation=citation or (stored or {}).get("citation"), notes=notes or (stored or {}).get("notes"))
    return card


def figures(entry, resamples: int, seed: int) -> dict[str, Any]:
    """The board's figures of one entry, its CI computed as the board computes it."""
    from ser_core import export, stats

    entry.ci = (stats.bootstrap_ci(entry.counts, resamples=resamples, seed=seed)
                if entry.counts is not None and resamples > 0 else None)
    record = export.record(entry)
    return {k: record[k] for k in FIGURE_KEYS}


def _cell_record(cell: StoredCell) -> dict[str, Any]:
    out: dict[str, Any] = {"repeat": cell.key.repeat, "fold": cell.key.fold,
                           "fold_name": cell.cell_details.fold_name, "status": cell.status, "seed": cell.seed,
                           "wall_time_s": cell.wall_time, "run": cell.run_id}
    if cell.outcome.ok:
        p = cell.predictions
        out.update(uar=cell.uar, clip_ids=list(p.clip_ids) if p else [], y_pred=list(p.y_pred) if p else [],
                   parameter_count=cell.outcome.parameter_count, estimator=cell.outcome.estimator)
    else:
        out["error"] = (cell.error or "").strip().splitlines()[0][:500] if cell.error else "failed"
    return out


def _clip_table(entries) -> dict[str, Any]:
    """Clip id -> (speaker, fold) of a corpus instance, from the cells' test sets."""
    speaker: dict[str, str] = {}
    fold: dict[str, int] = {}
    for entry in entries:
        for cell in entry.cells:
            if cell.predictions is None:
                continue
            for cid, spk in zip(cell.predictions.clip_ids, cell.predictions.speakers):
                speaker.setdefault(cid, spk)
                fold.setdefault(cid, cell.key.fold)
    ids = sorted(speaker)
    return {"clip_ids": ids, "speakers": [speaker[c] for c in ids], "folds": [fold[c] for c in ids]}


def export_bundle(store: ResultStore, corpora: Sequence[str] | None = None, systems: Sequence[str] | None = None,
                  *, registry=None, citation: str | None = None, notes: str | None = None,
                  resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """A bundle of the board's (corpus, system) results in ``store`` (the newest configuration of each).

    :raises BundleError: when nothing stored matches.
    """
    import ser_core
    from ser_core import leaderboard

    board = leaderboard.compute(store, corpora or None, systems or None, statistics=False)
    if not board.entries:
        raise BundleError(f"{store.path}: no stored results match; nothing to export.")
    runs = store.runs()
    by_instance: dict[str, list] = defaultdict(list)
    for entry in board.entries:
        by_instance[entry.instance_key].append(entry)
    instances = []
    for key, entries in sorted(by_instance.items()):
        instance = entries[0].instance
        if instance is None:
            raise BundleError(f"{store.path}: the corpus instance {key} of {entries[0].corpus} is missing; "
                              "the database is damaged.")
        instances.append({"key": key, "instance": instance.stored(), "clips": _clip_table(entries)})
    results = []
    used_runs: set[int] = set()
    for entry in board.entries:
        if entry.protocol is None:
            raise BundleError(f"{store.path}: the protocol {entry.protocol_key} of {entry.system} is missing; "
                              "the database is damaged.")
        cells = [_cell_record(c) for c in entry.cells]
        used_runs.update(c["run"] for c in cells if c["run"] is not None)
        results.append({
            "corpus": entry.corpus, "system": entry.system, "protocol_key": entry.protocol_key,
            "instance_key": entry.instance_key, "protocol": entry.protocol.record(),
            "overrides": entry.overrides, "excluded_clips": entry.excluded,
            "model_card": model_card(registry, entry.protocol, entry, citation=citation, notes=notes),
            "figures": figures(entry, resamples, seed), "cells": cells,
        })
    bundle: dict[str, Any] = {
        "format": FORMAT, "version": VERSION, "content_hash": "",
        "exported_at": now(),
        "exporter": {"core_version": ser_core.__version__, "python": platform.python_version(),
                     "platform": platform.platform(), "command": list(sys.argv)},
        "statistics": {"resamples": resamples, "seed": seed, "ci_method": "speaker-level bootstrap, percentile"},
        "runs": {str(i): runs[i].record() for i in sorted(used_runs) if i in runs},
        "instances": instances,
        "results": results,
    }
    bundle["content_hash"] = content_hash(bundle)
    return bundle


def dumps(bundle: Mapping[str, Any]) -> str:
    """The bundle as the file holds it: compact UTF-8 JSON (a study-sized bundle is tens of MB)."""
    return json.dumps(bundle, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"


# -- reading -------------------------------------------------------------------------------------


def read_bundle(path: str | Path) -> dict[str, Any]:
    """Parse a bundle file.

    :raises BundleError: not readable, not JSON, not a bundle, or written in a newer layout version.
    """
    path = Path(path)
    try:
        from ser_core import inputs

        text = inputs.read_text(path, limit=inputs.BUNDLE_LIMIT)
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: cannot be read ({exc}).") from None
    try:
        bundle = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path}:{exc.lineno}: not JSON ({exc.msg}); the file is damaged or not a results "
                          "bundle. Ask the submitter for the file `serbench results export` wrote.") from None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise BundleError(f"{path}: not a serbench results bundle (its 'format' is not {FORMAT!r}). "
                          "A bundle is written by `serbench results export`.")
    version = bundle.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BundleError(f"{path}: its layout 'version' {version!r} is not a whole number; the file is damaged.")
    if version > VERSION:
        raise BundleError(f"{path}: written in bundle layout version {version}, newer than this serbench reads "
                          f"(up to {VERSION}). Upgrade serbench (pip install -U ser-core) and verify it again.")
    if version < 1:
        raise BundleError(f"{path}: layout version {version} does not exist; the file is damaged.")
    return bundle


# -- verification --------------------------------------------------------------------------------


@dataclass
class SectionReport:
    """The verification of one (corpus, system) of a bundle."""

    corpus: str
    system: str
    problems: list[str] = field(default_factory=list)
    unchecked: str | None = None  # why the labels could not be checked (corpus not available here)
    cells: list[tuple[CellKey, CellOutcome, int, dict]] = field(default_factory=list, repr=False)
    protocol: SystemProtocol | None = field(default=None, repr=False)
    instance: CorpusInstance | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        return FAILED if self.problems else UNCHECKED if self.unchecked else VERIFIED


@dataclass
class Verification:
    """The verification of a whole bundle: problems of the file itself and one report per section."""

    path: str
    content_hash: str
    problems: list[str] = field(default_factory=list)
    sections: list[SectionReport] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.problems or any(s.status == FAILED for s in self.sections):
            return FAILED
        return UNCHECKED if any(s.status == UNCHECKED for s in self.sections) else VERIFIED

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.status]


def _close(a: Any, b: Any) -> bool:
    """Equal, floats within :data:`TOLERANCE` (recursively through lists and dicts)."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=0, abs_tol=TOLERANCE)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _listing(items: Sequence[Any], limit: int = 5) -> str:
    return ", ".join(map(str, items[:limit])) + (f" and {len(items) - limit} more" if len(items) > limit else "")


@dataclass
class _Instance:
    """A bundle's corpus instance with its clip table as lookups."""

    key: str
    instance: CorpusInstance
    speaker: dict[str, str]
    fold: dict[str, int]


def _read_instances(bundle: Mapping[str, Any], problems: list[str]) -> dict[str, _Instance]:
    out = {}
    for i, item in enumerate(bundle.get("instances") or []):
        try:
            instance = CorpusInstance.from_record(item["instance"])
            clips = item["clips"]
            ids, speakers, folds = list(clips["clip_ids"]), list(clips["speakers"]), [int(f) for f in clips["folds"]]
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"instances[{i}] is malformed ({type(exc).__name__}: {exc}); the file is damaged.")
            continue
        if instance.key != item.get("key"):
            problems.append(f"instances[{i}] ({instance.corpus}): its key {item.get('key')!r} is not the digest of "
                            f"its record ({instance.key}); the record was edited after export.")
        if not (len(ids) == len(speakers) == len(folds)) or len(set(ids)) != len(ids):
            problems.append(f"instances[{i}] ({instance.corpus}): the clip table has duplicate clip ids or lists "
                            "of different lengths; the file is damaged.")
            continue
        out[item.get("key")] = _Instance(item.get("key"), instance, dict(zip(ids, speakers)), dict(zip(ids, folds)))
    return out


def _internal(section: Mapping[str, Any], inst: _Instance, report: SectionReport) -> dict[int, dict[int, dict]]:
    """Checks that need no corpus; returns the section's cells by repeat and fold."""
    instance = inst.instance
    n_classes = len(instance.labels)
    n_folds = len(instance.fold_names)
    cells: dict[int, dict[int, dict]] = defaultdict(dict)
    for cell in section.get("cells") or []:
        try:
            r, f = int(cell["repeat"]), int(cell["fold"])
        except (KeyError, TypeError, ValueError):
            report.problems.append("a cell has no repeat or fold number; the file is damaged.")
            continue
        if f < 0 or f >= n_folds:
            report.problems.append(f"repeat {r} fold {f}: the corpus instance has folds 0..{n_folds - 1} only.")
            continue
        if f in cells[r]:
            report.problems.append(f"repeat {r} fold {f} appears twice.")
        cells[r][f] = cell
    excluded = {clip for clip, _ in section.get("excluded_clips") or []}
    for r, by_fold in sorted(cells.items()):
        tested: dict[str, int] = {}
        for f, cell in sorted(by_fold.items()):
            if cell.get("status") != "ok":
                continue
            ids, pred = cell.get("clip_ids") or [], cell.get("y_pred") or []
            where = f"repeat {r} fold {f}"
            if len(ids) != len(pred):
                report.problems.append(f"{where}: {len(pred)} predictions for {len(ids)} clip ids.")
                continue
            bad = sorted({p for p in pred if not isinstance(p, int) or isinstance(p, bool) or not 0 <= p < n_classes},
                         key=str)
            if bad:
                report.problems.append(f"{where}: predicted class indices outside 0..{n_classes - 1}: {_listing(bad)}.")
            unknown = [c for c in ids if c not in inst.fold]
            if unknown:
                report.problems.append(f"{where}: clip ids missing from the bundle's clip table: {_listing(unknown)}.")
            moved = [c for c in ids if c in inst.fold and inst.fold[c] != f]
            if moved:
                report.problems.append(f"{where}: tests clips the fold assignment puts in other folds: {_listing(moved)}; "
                                   "the predictions or the results' fold assignment were edited.")
            twice = [c for c in ids if c in tested]
            if twice:
                report.problems.append(f"repeat {r}: clips tested in more than one fold: {_listing(twice)}.")
            tested.update((c, f) for c in ids)
            uar = cell.get("uar")
            if not isinstance(uar, (int, float)) or isinstance(uar, bool) or not 0 <= uar <= 1:
                report.problems.append(f"{where}: its stored UAR {uar!r} is not a number between 0 and 1.")
        complete = all(c.get("status") == "ok" for c in by_fold.values()) and len(by_fold) == n_folds
        if complete:
            untested = sorted(set(inst.fold) - set(tested) - excluded)
            if untested:
                report.problems.append(f"repeat {r}: clips of the corpus instance never tested: {_listing(untested)}.")
    # speaker independence: a speaker's clips all lie in one fold (no test speaker in a training fold)
    folds_of: dict[str, set[int]] = defaultdict(set)
    for clip, fold in inst.fold.items():
        folds_of[inst.speaker[clip]].add(fold)
    for speaker, folds in sorted(folds_of.items()):
        if len(folds) > 1:
            names = [instance.fold_names[f] if 0 <= f < n_folds else str(f) for f in sorted(folds)]
            report.problems.append(
                f"speaker {speaker!r} has clips in folds {_listing(names)}: when one of them is tested, the "
                "others train on the same speaker. The folds are not speaker-independent: recompute the results with "
                "`serbench run`, which makes speaker-independent folds.")
    if len(inst.fold) + len(excluded - set(inst.fold)) != instance.n_clips:
        report.problems.append(f"the clip table lists {len(inst.fold)} clips (+{len(excluded - set(inst.fold))} "
                               f"excluded) but the corpus instance has {instance.n_clips}.")
    # the stated mean and SD follow from the stored cell UARs
    means = [float(np.mean([c["uar"] for c in by_fold.values()])) for _, by_fold in sorted(cells.items())
             if len(by_fold) == n_folds and all(c.get("status") == "ok" and isinstance(c.get("uar"), (int, float))
                                                for c in by_fold.values())]
    stated = section.get("figures") or {}
    mean = float(np.mean(means)) if means else None
    sd = float(np.std(means)) if means else None
    for name, value in (("uar_mean", mean), ("uar_sd", sd), ("repeats_complete", len(means)), ("n_folds", n_folds)):
        if not _close(stated.get(name), value):
            report.problems.append(f"the stated {name} {_show(stated.get(name))} does not follow from the stored "
                                   f"cells ({_show(value)}): the figures were edited after export.")
    return cells


def _local_corpus(name: str, registry, corpus_paths: Mapping[str, Path]):
    """The local corpus plugin and its scanned manifest, or the reason it is not available."""
    from ser_core import corpus as corpus_mod

    if registry is None:
        return None, None, "no corpus plugins were loaded"
    registered = registry.items["corpus"].get(name)
    if registered is None:
        return None, None, (f"the corpus plugin for {name!r} is not installed here (install it, see "
                            "`serbench corpus list`, and verify again)")
    try:
        root = corpus_mod.locate(name, registered.spec.needs_path, corpus_paths)
        manifest = corpus_mod.scan(registered, root)
    except SerbenchError as exc:
        return registered, None, f"{exc} Then verify again with --corpus-path {name}=DIR."
    return registered, manifest, None


def _against_corpus(section, inst: _Instance, cells, registered, manifest, report: SectionReport,
                    protocol: SystemProtocol) -> dict[str, int] | None:
    """Checks against the local corpus; returns the local label index of every clip, or ``None``."""
    from ser_core.protocol import make_folds

    instance = inst.instance
    name = instance.corpus
    local_version = registered.spec.version or None
    if (instance.version or None) != local_version:
        report.problems.append(f"the results were computed on {name} version {instance.version!r}; the corpus "
                               f"here is version {local_version!r}. Verify against the same version.")
    fingerprint = manifest.fingerprint()
    if fingerprint != instance.manifest:
        report.problems.append(
            f"manifest fingerprint {instance.manifest} differs from the local {name}'s {fingerprint}: the results "
            "were computed on a different version or copy of the corpus (clips, speakers or labels differ). "
            "Verify against the copy the submitter used, or ask them to rerun on the released corpus.")
    clips = {c.clip_id: c for c in manifest.clips}
    unknown = sorted(set(inst.fold) - set(clips))
    if unknown:
        report.problems.append(f"clip ids the local {name} does not have: {_listing(unknown)}. The predictions "
                               "are not for this corpus's clips.")
    labels = manifest.labels()
    if list(instance.labels) != labels:
        report.problems.append(f"the bundle's label order {list(instance.labels)} differs from the local corpus's "
                               f"{labels}; the predictions' class indices cannot be read against it.")
        return None
    speakers_differ = [c for c in inst.speaker if c in clips and clips[c].speaker != inst.speaker[c]]
    if speakers_differ:
        report.problems.append(f"clips whose speaker differs from the local corpus's: {_listing(speakers_differ)}.")
    try:
        folds = make_folds([c.speaker for c in manifest.clips],
                           [c.group for c in manifest.clips] if registered.spec.fold_by == "group" else None,
                           seed=protocol.seed, **dict(protocol.fold_policy))
    except (TypeError, ValueError) as exc:
        report.problems.append(f"serbench cannot make folds for the local {name}: {exc}")
        return None
    local_fold = {c.clip_id: int(f) for c, f in zip(manifest.clips, folds.assignment)}
    if folds.method != instance.fold_method or tuple(folds.names) != tuple(instance.fold_names):
        report.problems.append(f"the folds ({instance.fold_method}: {_listing(list(instance.fold_names))}) are not "
                               f"the ones serbench makes for {name} ({folds.method}: {_listing(list(folds.names))}).")
    else:
        moved = sorted(c for c, f in inst.fold.items() if c in local_fold and local_fold[c] != f)
        if moved:
            report.problems.append(f"clips in a different fold than serbench puts them for {name}: {_listing(moved)}; "
                                   "recompute the results on serbench's folds (`serbench run`).")
        if tuple(local_fold[c.clip_id] for c in manifest.clips) != tuple(instance.fold_assignment) and not unknown:
            report.problems.append(f"the fold assignment differs from the one serbench makes for {name}.")
    index = {label: i for i, label in enumerate(labels)}
    return {cid: index[clip.label] for cid, clip in clips.items()}


def _reconstruct(section, inst: _Instance, cells, truth: Mapping[str, int], report: SectionReport,
                 protocol: SystemProtocol, *, drop_unknown: bool) -> None:
    """Turn the section's cells into storable cells with the local labels; check each stored UAR."""
    from ser_core.metrics import uar

    for r, by_fold in sorted(cells.items()):
        for f, cell in sorted(by_fold.items()):
            key = CellKey(inst.instance.corpus, str(section.get("system")), protocol.key, inst.key, r, f)
            details = {"fold_name": cell.get("fold_name"), "overrides": section.get("overrides") or {},
                       "excluded_clips": [list(x) for x in section.get("excluded_clips") or []],
                       "model_card": section.get("model_card"), "bundle_run": cell.get("run")}
            wall = float(cell.get("wall_time_s") or 0.0)
            if cell.get("status") != "ok":
                report.cells.append((key, CellOutcome.failure(str(cell.get("error") or "failed"), None, wall),
                                     int(cell.get("seed") or 0), details))
                continue
            pairs = list(zip(cell.get("clip_ids") or [], cell.get("y_pred") or []))
            left_out = [c for c, _ in pairs if c not in truth]
            if left_out and not drop_unknown:
                continue  # reported as clip ids the corpus does not have
            details["excluded_clips"] += [[c, "not in the local copy of the corpus"] for c in left_out]
            pairs = [(c, p) for c, p in pairs if c in truth]
            if not pairs:
                continue
            ids = tuple(c for c, _ in pairs)
            y_true = tuple(truth[c] for c in ids)
            y_pred = tuple(int(p) for _, p in pairs)
            score = uar(y_true, y_pred)
            if not drop_unknown and not _close(score, cell.get("uar")):
                report.problems.append(
                    f"repeat {r} fold {f}: the stored UAR {_show(cell.get('uar'))} is not what its predictions "
                    f"score against the corpus's labels ({score:.6f}): the predictions or the UAR were changed, or "
                    "they were scored against other labels.")
            predictions = Predictions(ids, tuple(inst.speaker.get(c, "?") for c in ids), y_true, y_pred)
            outcome = CellOutcome.success(score, predictions, cell.get("parameter_count"), cell.get("estimator"), wall)
            report.cells.append((key, outcome, int(cell.get("seed") or 0), details))


def _recomputed_figures(report: SectionReport, resamples: int, seed: int) -> dict[str, Any] | None:
    from ser_core import leaderboard

    with ResultStore(":memory:") as scratch:
        for key, outcome, cell_seed, details in report.cells:
            scratch.write(key, outcome, protocol=report.protocol, instance=report.instance, seed=cell_seed,
                          details=details)
        board = leaderboard.compute(scratch, statistics=False)
        if not board.entries:
            return None
        return figures(board.entries[0], resamples, seed)


def verify_bundle(bundle: Mapping[str, Any], *, path: str = "bundle", registry=None,
                  corpus_paths: Mapping[str, Path] | None = None, for_import: bool = False) -> Verification:
    """Verify a parsed bundle (see the module docstring for what is checked).

    :param registry: the installed plugins (their corpora are scanned for the labels); ``None``
        checks internal consistency only.
    :param corpus_paths: ``{corpus: directory}`` given on the command line.
    :param for_import: also keep the cells to store, scored against the local labels; clips the local
        corpus lacks are then left out (as excluded clips) instead of failing the scoring.
    """
    corpus_paths = dict(corpus_paths or {})
    stated_hash = str(bundle.get("content_hash") or "")
    result = Verification(path=path, content_hash=stated_hash)
    actual = content_hash(bundle)
    if stated_hash != actual:
        result.problems.append(f"the content hash {stated_hash or '(none)'} does not match the content "
                               f"({actual}): the file was changed after export, or damaged. Ask the submitter for "
                               "the file `serbench results export` wrote.")
    statistics = bundle.get("statistics") or {}
    resamples, stats_seed = int(statistics.get("resamples", 0)), int(statistics.get("seed", 0))
    instances = _read_instances(bundle, result.problems)
    local: dict[str, tuple] = {}
    seen: set[tuple[str, str]] = set()
    for i, section in enumerate(bundle.get("results") or []):
        if not isinstance(section, Mapping):
            result.problems.append(f"results[{i}] is not an object; the file is damaged.")
            continue
        corpus, system = str(section.get("corpus")), str(section.get("system"))
        report = SectionReport(corpus, system)
        result.sections.append(report)
        if (corpus, system) in seen:
            report.problems.append(f"{system} on {corpus} appears twice in the bundle.")
        seen.add((corpus, system))
        try:
            _verify_section(section, report, instances, local, registry, corpus_paths, resamples, stats_seed,
                            for_import)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            report.problems.append(f"results[{i}] is malformed ({type(exc).__name__}: {exc}); the file is damaged. "
                                   "Ask the submitter for the file `serbench results export` wrote.")
            report.cells = []
    return result


def _verify_section(section, report: SectionReport, instances, local, registry, corpus_paths, resamples: int,
                    stats_seed: int, for_import: bool) -> None:
    """Verify one (corpus, system) of a bundle into ``report`` (see :func:`verify_bundle`)."""
    corpus, system = report.corpus, report.system
    protocol = SystemProtocol.from_record(section["protocol"])
    if protocol.key != section.get("protocol_key"):
        report.problems.append(f"its protocol_key {section.get('protocol_key')!r} is not the digest of its "
                               f"protocol ({protocol.key}); the protocol was edited after export.")
    inst = instances.get(section.get("instance_key"))
    if inst is None or inst.instance.corpus != corpus:
        report.problems.append(f"its corpus instance {section.get('instance_key')!r} is not in the bundle.")
        return
    report.protocol, report.instance = protocol, inst.instance
    cells = _internal(section, inst, report)
    if corpus not in local:
        local[corpus] = _local_corpus(corpus, registry, {**corpus_paths})
    registered, manifest, why = local[corpus]
    if manifest is None:
        report.unchecked = (f"the labels of {corpus} could not be checked and no UAR was recomputed: {why}")
        return
    truth = _against_corpus(section, inst, cells, registered, manifest, report, protocol)
    if truth is None:
        return
    _reconstruct(section, inst, cells, truth, report, protocol, drop_unknown=False)
    if not report.problems:
        stated = section.get("figures") or {}
        recomputed = _recomputed_figures(report, resamples, stats_seed)
        for name in FIGURE_KEYS:
            if recomputed is not None and not _close(stated.get(name), recomputed[name]):
                report.problems.append(f"the stated {name} {_show(stated.get(name))} differs from the one "
                                       f"recomputed from the predictions ({_show(recomputed[name])}): the "
                                       "predictions or the figures were edited after export.")
    if for_import and report.problems:  # unverified import: score what the local corpus can score
        report.cells = []
        _reconstruct(section, inst, cells, truth, SectionReport(corpus, system, cells=report.cells), protocol,
                     drop_unknown=True)


# -- import --------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What importing one bundle did, per (corpus, system)."""

    path: str
    content_hash: str
    imported: list[tuple[str, str, str, int]] = field(default_factory=list)  # corpus, system, status, cells
    already: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # corpus, system, why


def _joined(problems: Sequence[str], limit: int = 3) -> str:
    """The first problems as one list (``a; b; c; and 2 more``)."""
    shown = "; ".join(p.rstrip(".") for p in problems[:limit])
    return shown + (f"; and {len(problems) - limit} more" if len(problems) > limit else "")


def _same(existing: StoredCell, outcome: CellOutcome) -> bool:
    a, b = existing.predictions, outcome.predictions
    if existing.outcome.ok != outcome.ok:
        return False
    return a is None and b is None or (a is not None and b is not None and a.clip_ids == b.clip_ids
                                       and a.y_pred == b.y_pred)


def import_bundle(store: ResultStore, bundle: Mapping[str, Any], verification: Verification, *,
                  allow_unverified: bool = False, path: str = "bundle") -> ImportReport:
    """Store the cells of a verified bundle (``verify_bundle(..., for_import=True)``) in ``store``.

    Idempotent: cells already imported from this bundle are left as they are. A section that failed
    verification, or whose labels could not be checked, is refused unless ``allow_unverified``; it is
    then stored marked ``unverified`` (with the first problems), and every board marks it. A section
    whose corpus is not available here is always refused: the board scores predictions against the
    corpus's labels, which a bundle never carries. Cells stored under the same key with different
    predictions (another run, another bundle) are never overwritten.
    """
    out = ImportReport(path, verification.content_hash)
    file_problems = list(verification.problems)
    runs = bundle.get("runs") or {}
    run_ids: dict[str, int] = {}
    existing_runs = {json.dumps(p.record(), sort_keys=True): i for i, p in store.runs().items()}
    for report in verification.sections:
        status = report.status if not file_problems else FAILED
        if not report.cells:
            why = report.unchecked or _joined(file_problems + report.problems) or "no cells"
            if report.unchecked:
                why += ". A bundle carries no labels; the results cannot be scored without the corpus"
            out.refused.append((report.corpus, report.system, why))
            continue
        if status != VERIFIED and not allow_unverified:
            why = report.unchecked or _joined(file_problems + report.problems)
            out.refused.append((report.corpus, report.system, f"not verified: {why} (--unverified imports it "
                                                                "marked as unverified on every board)"))
            continue
        stored = {c.key: c for c in store.cells(report.corpus, report.system)}
        conflicts = [k for k, o, _, _ in report.cells if k in stored and not _same(stored[k], o)]
        if conflicts:
            k = conflicts[0]
            out.refused.append((report.corpus, report.system,
                                f"{len(conflicts)} cells are already stored with different predictions (e.g. repeat "
                                f"{k.repeat} fold {k.fold}, system {k.system}); they are kept. Import into another "
                                "database, or delete the stored ones first"))
            continue
        todo = [c for c in report.cells if c[0] not in stored]
        if not todo:
            out.already.append((report.corpus, report.system))
            continue
        mark = {"content_hash": verification.content_hash, "status": "verified" if status == VERIFIED else "unverified",
                "problems": (file_problems + report.problems)[:5] or ([report.unchecked] if report.unchecked else []),
                "file": Path(path).name, "imported_at": now()}
        for key, outcome, seed, details in todo:
            run_ref = details.get("bundle_run")
            run_id = None
            if run_ref is not None and str(run_ref) in runs:
                if str(run_ref) not in run_ids:
                    provenance = RunProvenance.from_record(runs[str(run_ref)])
                    text = json.dumps(provenance.record(), sort_keys=True)
                    run_ids[str(run_ref)] = existing_runs.get(text) or store.add_run(provenance)
                    existing_runs[text] = run_ids[str(run_ref)]
                run_id = run_ids[str(run_ref)]
            store.write(key, outcome, protocol=report.protocol, instance=report.instance, seed=seed,
                        details={**details, BUNDLE_DETAIL: mark}, run_id=run_id)
        out.imported.append((report.corpus, report.system, mark["status"], len(todo)))
    return out


