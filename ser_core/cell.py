"""One cell: what runs on a worker (or in a fresh process, or in this process) to train and test one fold.

The bottom of the run pipeline (``plan -> runner/executor -> cell``): it imports no coordinator
module, so a worker that unpickles a :class:`CellTask` loads only this, the protocol, the records and
the plugin's own code. :func:`layout_of` gives the per-clip facts of a corpus (:class:`Layout`, small
enough to send to every worker), :func:`prepare` builds a system's data from its feature table and
that layout, and :func:`compute_cell` trains and tests one fold of it.
"""

from __future__ import annotations

import random
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ser_core.protocol import Folds, as_rows, from_rows, standardise, train_mask
from ser_core.metrics import uar
from ser_core.records import CellOutcome, Predictions, check_predictions
from ser_core.results import CellKey
from ser_core.specs import FeatureBlock, FeatureSpec, Manifest, ModelContext

if TYPE_CHECKING:
    from ser_core.cache import FeatureTable


@dataclass(frozen=True)
class Layout:
    """What a worker needs, besides the feature table, to build a system's data on one corpus:
    per clip of the manifest (in its order) the label index, speaker, group and fold."""

    corpus: str
    clip_ids: tuple[str, ...]
    y: np.ndarray
    speakers: np.ndarray
    groups: np.ndarray
    fold_of: np.ndarray
    kind: str
    normalisation: str
    speaker_fold: np.ndarray | None = None  # text-independent folds: see ser_core.protocol.Folds
    sentence_group: np.ndarray | None = None
    held_out: tuple[tuple[int, int], ...] = ()


def seed_everything(seed: int) -> None:
    """Seed Python and NumPy; each estimator seeds its own framework from ``ModelContext.seed``."""
    random.seed(seed)
    np.random.seed(seed)


@dataclass
class Prepared:
    """One system's data on one corpus, ready for the folds (normalised unless per fold)."""

    items: list[np.ndarray]
    y: np.ndarray
    clip_ids: list[str]
    speakers: np.ndarray
    groups: np.ndarray
    fold_of: np.ndarray
    speaker_fold: np.ndarray | None = None  # text-independent folds (ser_core.protocol.Folds)
    sentence_group: np.ndarray | None = None
    held_out: tuple[tuple[int, int], ...] = ()

    def train_mask(self, fold: int) -> np.ndarray:
        """The clips ``fold`` trains on (:func:`ser_core.protocol.train_mask`)."""
        return train_mask(self.fold_of, fold, self.speaker_fold, self.sentence_group, self.held_out)


@dataclass(frozen=True)
class CellTask:
    """Everything one (repeat, fold) cell needs besides the prepared data."""

    key: CellKey
    create: Any  # ModelSpec.create: a module-level callable, so it pickles for worker processes
    feature: FeatureSpec
    settings: dict
    n_classes: int
    normalisation: str
    seed: int
    plugin: str = ""  # the model and its distribution, named when its output is unusable
    blocks: tuple[FeatureBlock, ...] = ()  # the features of a system with several (ModelContext.blocks)


def compute_cell(task: CellTask, data: Prepared) -> CellOutcome:
    """Train and test one fold (never raises, except KeyboardInterrupt).

    The model's predictions are checked before they are scored: one per test clip, class indices in
    ``0..C-1``; anything else fails the cell with a message naming the model's plugin, so no
    unusable row is ever stored as a success.
    """
    started = time.perf_counter()
    fold = task.key.fold
    try:
        trainable = data.train_mask(fold)
        train = np.flatnonzero(trainable)
        test = np.flatnonzero(data.fold_of == fold)
        if len(test) == 0:
            raise ValueError(f"fold {fold} has no clips with features")
        items = data.items
        if task.normalisation == "fold":
            items = standardise(items, data.speakers, trainable, "fold")
        kind = task.feature.kind
        seed_everything(task.seed)
        estimator = task.create(ModelContext(task.n_classes, task.feature, task.settings, task.seed, task.blocks))
        estimator.fit([from_rows(items[i], kind) for i in train], data.y[train], data.groups[train])
        raw = estimator.predict([from_rows(items[i], kind) for i in test])
        try:
            predicted = check_predictions(raw, len(test), task.n_classes)
        except ValueError as exc:
            raise InvalidPredictions(
                f"system {task.key.system!r}: {task.plugin or 'the model'}: {exc}. Nothing was stored as a "
                "result for this cell; report it to the plugin's authors"
            ) from None
        predictions = Predictions(
            clip_ids=tuple(data.clip_ids[i] for i in test),
            speakers=tuple(str(data.speakers[i]) for i in test),
            y_true=tuple(int(v) for v in data.y[test]),
            y_pred=tuple(int(v) for v in predicted),
        )
        return CellOutcome.success(
            uar=uar(data.y[test], predicted), predictions=predictions,
            parameter_count=estimator.parameter_count(), estimator=estimator.describe(),
            wall_time=time.perf_counter() - started,
        )
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:  # sys.exit in a plugin ends its cell, never the run
        return CellOutcome.failure(plugin_exit_message(task.plugin, exc.code), traceback.format_exc(limit=8),
                                   time.perf_counter() - started)
    except Exception as exc:
        return CellOutcome.failure(
            f"{type(exc).__name__}: {exc}",
            None if isinstance(exc, InvalidPredictions) else traceback.format_exc(limit=8),
            time.perf_counter() - started,
        )


def plugin_exit_message(plugin: str, code: Any) -> str:
    """The stored error of a cell whose model called ``sys.exit(code)``: the exit status it asked for
    (``None`` is 0; a message is 1, as Python exits) and the plugin to report it to."""
    status = 0 if code is None else code if isinstance(code, int) else 1
    said = f" ({code})" if not isinstance(code, (int, type(None))) else ""
    return (f"PluginExit: {plugin or 'the model'}: the model's plugin ended its process (exit status {status}){said}; "
            "the cell is stored as failed. Report it to the plugin's authors: a model must raise an exception, "
            "never call sys.exit or os._exit")


class InvalidPredictions(ValueError):
    """A model returned predictions that cannot be scored."""


def prepare(table: FeatureTable, layout: Layout) -> Prepared:
    """A system's data on one corpus from its feature table: items in table order, with labels,
    speakers, groups and folds (``layout``: :class:`Layout`), normalised per
    speaker when the suite says so (per fold normalisation happens in each cell)."""
    index = {cid: i for i, cid in enumerate(layout.clip_ids)}
    # a table of the corpus's full manifest serves a suite restricted to some classes (its layout's clips)
    kept = [i for i, cid in enumerate(table.clip_ids) if cid in index]
    rows = np.array([index[table.clip_ids[i]] for i in kept], dtype=np.int64)
    items = [as_rows(table.items[i], layout.kind) for i in kept]
    speakers = layout.speakers[rows]
    if layout.normalisation == "speaker":  # fitted on each speaker's own clips: the same for every fold
        items = standardise(items, speakers, np.ones(len(items), bool), "speaker")
    return Prepared(
        items=items,
        y=layout.y[rows],
        clip_ids=[table.clip_ids[i] for i in kept],
        speakers=speakers,
        groups=layout.groups[rows],
        fold_of=layout.fold_of[rows],
        speaker_fold=None if layout.speaker_fold is None else layout.speaker_fold[rows],
        sentence_group=None if layout.sentence_group is None else layout.sentence_group[rows],
        held_out=tuple(layout.held_out),
    )


def layout_of(manifest: Manifest, folds: Folds, kind: str, normalisation: str) -> Layout:
    """The per-clip facts a worker needs to build a system's data (:class:`Layout`)."""
    labels = manifest.labels()
    clips = manifest.clips
    return Layout(
        corpus=manifest.corpus,
        clip_ids=tuple(c.clip_id for c in clips),
        y=np.array([labels.index(c.label) for c in clips], dtype=np.int64),
        speakers=np.array([c.speaker for c in clips]),
        groups=np.array([c.group or c.speaker for c in clips]),
        fold_of=np.asarray(folds.assignment),
        kind=kind,
        normalisation=normalisation,
        speaker_fold=folds.speaker_fold,
        sentence_group=folds.sentence_group,
        held_out=folds.held_out,
    )
