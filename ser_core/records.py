"""Typed records of the results layer: what a result was computed under, and what it is.

- :class:`SystemProtocol`: everything that must be equal for two results to share a board column
  (model, feature and its parameters, settings, normalisation, seed, fold policy, protocol version).
  Its :attr:`~SystemProtocol.key` names the column.
- :class:`CorpusInstance`: everything that must be equal for results to be averaged within one board
  cell (corpus name and version, manifest fingerprint, labels, fold method, names and assignment).
- :class:`CellOutcome`: one (repeat, fold) cell, successful (UAR, predictions, parameter count,
  estimator description) or failed (error, traceback), with its wall time.
- :class:`RunProvenance`: versions, platform, git revision and processes of one ``serbench run``,
  stored once per run and referenced by each cell it computed.

Records are plain frozen dataclasses with ``record()`` (JSON-ready dict) and ``from_record()``; the
keys are SHA-256 digests of the canonical JSON of the record.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from datetime import datetime, timezone
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np

from ser_core import protocol
from ser_core.protocol import SENTENCE_GROUPS

#: Version of the evaluation protocol (folds, normalisation, UAR). Results computed under different
#: protocol versions never share a column. Independent of the database's schema version.
PROTOCOL_VERSION = 1

#: The fold policy as a mapping (for older callers): :data:`ser_core.protocol.FOLD_POLICY`'s record.
FOLD_POLICY: Mapping[str, int] = MappingProxyType(protocol.FOLD_POLICY.record())


def fold_policy(folds: str = "speaker-independent") -> dict[str, Any]:
    """The fold policy stored with a result: :data:`ser_core.protocol.FOLD_POLICY` (the policy
    :func:`ser_core.protocol.make_folds` uses), plus (text-independent folds,
    :func:`ser_core.protocol.text_independent`) ``text = "independent"`` and the sentence groups.
    Speaker-independent results keep exactly the policy's record, so older databases keep their keys."""
    policy = protocol.FOLD_POLICY.record()
    if folds == "speaker-independent":
        return policy
    if folds == "text-independent":
        return {**policy, "text": "independent", "n_sentence_groups": SENTENCE_GROUPS}
    raise ValueError(f"unknown fold policy {folds!r}")


def digest(payload: Any) -> str:
    """A 16-hex-digit SHA-256 digest of ``payload``'s canonical JSON."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"settings": {"epochs": 5}}`` -> ``{"settings.epochs": 5}`` (lists stay values)."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def differing_keys(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two records (missing counts as different)."""
    fa, fb = flatten(a), flatten(b)
    return sorted(k for k in set(fa) | set(fb) if json.dumps(fa.get(k), sort_keys=True, default=str)
                  != json.dumps(fb.get(k), sort_keys=True, default=str))


def _plain(value: Any) -> Any:
    """JSON round-trip, so records built in memory equal records read back from the store."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


@dataclass(frozen=True)
class SystemProtocol:
    """What must be equal for two results to share a column of the board."""

    model: str
    feature: str
    feature_params: Mapping[str, Any]
    settings: Mapping[str, Any]
    normalisation: str
    seed: int
    fold_policy: Mapping[str, Any] = field(default_factory=fold_policy)
    version: int = PROTOCOL_VERSION

    def record(self) -> dict[str, Any]:
        return _plain({
            "version": self.version,
            "model": self.model,
            "feature": self.feature,
            "feature_params": dict(self.feature_params),
            "settings": dict(self.settings),
            "normalisation": self.normalisation,
            "seed": self.seed,
            "fold_policy": dict(self.fold_policy),
        })

    @property
    def key(self) -> str:
        return digest(self.record())

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "SystemProtocol":
        return cls(
            model=record["model"], feature=record["feature"],
            feature_params=record["feature_params"], settings=record["settings"],
            normalisation=record["normalisation"], seed=record["seed"],
            fold_policy=record["fold_policy"] if "fold_policy" in record else fold_policy(), version=record.get("version", PROTOCOL_VERSION),
        )


@dataclass(frozen=True)
class CorpusInstance:
    """What must be equal for results on a corpus to be averaged within one board cell."""

    corpus: str
    version: str | None
    manifest: str  # fingerprint of the scanned clips (paths, sizes, labels, speakers)
    n_clips: int
    labels: tuple[str, ...]
    fold_method: str
    fold_names: tuple[str, ...]
    fold_assignment: tuple[int, ...]

    def record(self) -> dict[str, Any]:
        return _plain({
            "corpus": self.corpus,
            "version": self.version,
            "manifest": self.manifest,
            "n_clips": self.n_clips,
            "labels": list(self.labels),
            "folds": {"method": self.fold_method, "names": list(self.fold_names),
                      "assignment": digest(list(self.fold_assignment))},
        })

    def stored(self) -> dict[str, Any]:
        """The record plus the full fold assignment (stored once per instance, not hashed twice)."""
        record = self.record()
        record["folds"]["assignment_list"] = list(self.fold_assignment)
        return record

    @property
    def key(self) -> str:
        return digest(self.record())

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "CorpusInstance":
        folds = record["folds"]
        return cls(
            corpus=record["corpus"], version=record.get("version"), manifest=record["manifest"],
            n_clips=record.get("n_clips", len(folds.get("assignment_list", ()))),
            labels=tuple(record["labels"]), fold_method=folds["method"], fold_names=tuple(folds["names"]),
            fold_assignment=tuple(folds.get("assignment_list", ())),
        )


@dataclass(frozen=True)
class Predictions:
    """One fold's test clips: ids, speakers, true and predicted class indices."""

    clip_ids: tuple[str, ...]
    speakers: tuple[str, ...]
    y_true: tuple[int, ...]
    y_pred: tuple[int, ...]

    def record(self) -> dict[str, list]:
        return {"clip_ids": list(self.clip_ids), "speakers": list(self.speakers),
                "y_true": list(self.y_true), "y_pred": list(self.y_pred)}

    @classmethod
    def from_record(cls, record: Mapping[str, Sequence]) -> "Predictions":
        return cls(tuple(record["clip_ids"]), tuple(record["speakers"]),
                   tuple(int(v) for v in record["y_true"]), tuple(int(v) for v in record["y_pred"]))

    def problems(self, n_classes: int) -> list[str]:
        """Why these predictions cannot be scored (empty when they can)."""
        n = len(self.clip_ids)
        if not (len(self.speakers) == len(self.y_true) == len(self.y_pred) == n):
            return [f"{len(self.y_pred)} predictions for {n} test clips"]
        bad = sorted({v for v in self.y_pred if not 0 <= v < n_classes})
        out = []
        if bad:
            shown = ", ".join(map(str, bad[:5])) + (" ..." if len(bad) > 5 else "")
            out.append(f"predicted class indices outside 0..{n_classes - 1}: {shown}")
        if any(not 0 <= v < n_classes for v in self.y_true):
            out.append(f"true class indices outside 0..{n_classes - 1}")
        return out


def check_predictions(raw: Any, n_test: int, n_classes: int) -> np.ndarray:
    """A model's raw ``predict`` output as class indices, or ``ValueError`` saying what is wrong."""
    try:
        array = np.asarray(raw)
    except Exception as exc:  # noqa: BLE001 - any object a plugin may return
        raise ValueError(f"predict returned something that is not an array ({type(exc).__name__}: {exc})") from None
    if array.ndim != 1 or array.shape[0] != n_test:
        raise ValueError(f"predict returned shape {array.shape} for {n_test} test clips; expected ({n_test},) class indices")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise ValueError("predict returned non-integer values; expected class indices 0..C-1")
    elif array.dtype.kind not in "iub":
        raise ValueError(f"predict returned {array.dtype} values; expected integer class indices")
    indices = array.astype(np.int64)
    bad = sorted(set(indices[(indices < 0) | (indices >= n_classes)].tolist()))
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (" ..." if len(bad) > 5 else "")
        raise ValueError(f"predict returned class indices outside 0..{n_classes - 1} ({shown}); "
                         f"the corpus has {n_classes} classes")
    return indices


@dataclass(frozen=True)
class CellOutcome:
    """The outcome of one (repeat, fold) cell."""

    ok: bool
    wall_time: float
    uar: float | None = None
    predictions: Predictions | None = None
    parameter_count: int | None = None
    estimator: Mapping[str, Any] | None = None
    error: str | None = None
    traceback: str | None = None

    @classmethod
    def success(cls, uar: float, predictions: Predictions, parameter_count: int | None,
                estimator: Mapping[str, Any] | None, wall_time: float) -> "CellOutcome":
        return cls(True, wall_time, uar=uar, predictions=predictions, parameter_count=parameter_count,
                   estimator=estimator)

    @classmethod
    def failure(cls, error: str, traceback: str | None, wall_time: float) -> "CellOutcome":
        return cls(False, wall_time, error=error, traceback=traceback)

    @property
    def status(self) -> str:
        return "ok" if self.ok else "failed"


@dataclass(frozen=True)
class CellDetails:
    """What is stored with a cell besides its outcome (the ``details`` column), as a typed record.

    Read it with :meth:`from_json` (any stored row: a missing key takes the field's default, the value
    readers have always assumed; unknown keys are kept in :attr:`extra`) and write it with :meth:`to_json`, which gives back exactly the
    mapping read (same keys, order and values), so a row read and written again is byte-identical.
    Values stay in their JSON form (lists, dicts) for that reason.
    """

    cell_process: str | None = None  # "fresh" or "in-process"
    cell_time_limit: float | None = None  # seconds, when a limit was set
    overrides: Mapping[str, Any] = field(default_factory=dict)  # the system's setting overrides
    description: str | None = None  # the system's description
    corpus_root: str | None = None
    feature_cache_key: str | None = None
    excluded_clips: Sequence[Sequence[str]] = field(default_factory=list)  # [clip id, reason] left out
    classes: Sequence[str] | None = None  # the classes kept (suites that select classes)
    left_out: Any = None  # clips of other classes, when classes were selected
    skipped_files: Sequence[Sequence[str]] = field(default_factory=list)  # [path, reason] the scan skipped
    plugins: Mapping[str, str] = field(default_factory=dict)  # {distribution: version}
    fold_name: str | None = None
    seeds: Mapping[str, int] = field(default_factory=dict)  # {"suite", "repeat", "cell"}
    cross: Mapping[str, Any] | None = None  # cross-corpus cells: the pair (ser_core.crosscorpus)
    corpora: Mapping[str, Any] | None = None  # cross-corpus cells: facts per corpus
    feature_cache_keys: Mapping[str, str] | None = None  # cross-corpus cells: cache key per corpus
    model_card: Any = None  # imported cells: the bundle's model card
    bundle_run: Any = None  # imported cells: the run in the bundle
    bundle: Mapping[str, Any] | None = None  # imported cells: origin and verification (ser_core.bundle)
    speakers: str | None = None  # migrated schema-1 rows: "clip" or "fold" (what stands in for speakers)
    migrated_from_schema: int | None = None
    #: keys this record does not know, with their values (kept, and written back)
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: the keys present, in their stored order (``None``: every known key, then :attr:`extra`)
    keys: tuple[str, ...] | None = None

    @classmethod
    def from_json(cls, mapping: Mapping[str, Any] | None) -> "CellDetails":
        """The details of a stored row (``None`` or ``{}``: a row with none)."""
        mapping = dict(mapping or {})
        known = {k: v for k, v in mapping.items() if k in _DETAIL_KEYS}
        extra = {k: v for k, v in mapping.items() if k not in _DETAIL_KEYS}
        return cls(**known, extra=extra, keys=tuple(mapping))

    def to_json(self) -> dict[str, Any]:
        """The mapping to store: the keys read (or, for a record built in code, every known key and
        then the extra ones), in that order."""
        order = self.keys if self.keys is not None else (*_DETAIL_KEYS, *self.extra)
        return {k: self.extra[k] if k in self.extra else getattr(self, k) for k in order}

    def has(self, key: str) -> bool:
        """Whether the stored row gave ``key`` (not only its default)."""
        return key in self.keys if self.keys is not None else key in _DETAIL_KEYS or key in self.extra


#: The details keys :class:`CellDetails` types (its fields but ``extra`` and ``keys``), in field order.
_DETAIL_KEYS: tuple[str, ...] = tuple(f.name for f in fields(CellDetails) if f.name not in ("extra", "keys"))


@dataclass(frozen=True)
class RunProvenance:
    """Where and with what one ``serbench run`` computed its cells."""

    started_at: str
    core_version: str
    plugins: Mapping[str, str]  # distribution -> version
    python: str
    platform: str
    git_revision: str | None
    processes: Mapping[str, int]
    suite: str
    command: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        return _plain({
            "started_at": self.started_at, "core_version": self.core_version, "plugins": dict(self.plugins),
            "python": self.python, "platform": self.platform, "git_revision": self.git_revision,
            "processes": dict(self.processes), "suite": self.suite, "command": list(self.command),
        })

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "RunProvenance":
        return cls(
            started_at=record.get("started_at", ""), core_version=record.get("core_version", ""),
            plugins=record.get("plugins", {}), python=record.get("python", ""),
            platform=record.get("platform", ""), git_revision=record.get("git_revision"),
            processes=record.get("processes", {}), suite=record.get("suite", ""),
            command=tuple(record.get("command", ())),
        )

    @classmethod
    def here(cls, *, core_version: str, plugins: Mapping[str, str], git_revision: str | None,
             processes: Mapping[str, int], suite: str) -> "RunProvenance":
        return cls(
            started_at=now(), core_version=core_version, plugins=dict(plugins),
            python=platform.python_version(), platform=platform.platform(), git_revision=git_revision,
            processes=dict(processes), suite=suite, command=tuple(sys.argv),
        )


def now() -> str:
    """UTC time stamp with microseconds (sorts in time order as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")
