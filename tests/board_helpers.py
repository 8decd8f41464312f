"""Hand-built results stores for board, statistics and export tests."""

from __future__ import annotations

from ser_core.records import CellOutcome, CorpusInstance, Predictions, SystemProtocol
from ser_core.metrics import uar
from ser_core.results import CellKey, ResultStore


def protocol(model: str = "m", feature: str = "f", **settings) -> SystemProtocol:
    return SystemProtocol(model=model, feature=feature, feature_params={}, settings=settings,
                          normalisation="speaker", seed=0)


def instance(corpus: str, labels, folds: list[str], n_clips: int, manifest: str = "m1") -> CorpusInstance:
    return CorpusInstance(corpus=corpus, version=None, manifest=manifest, n_clips=n_clips, labels=tuple(labels),
                          fold_method="leave-one-speaker-out", fold_names=tuple(folds),
                          fold_assignment=tuple(range(len(folds))))


def put(store: ResultStore, corpus_instance: CorpusInstance, system: str, system_protocol: SystemProtocol,
        repeat: int, fold: int, y_true, y_pred, *, speakers=None, clip_ids=None, overrides=None,
        excluded=None, wall_time: float = 30.0) -> None:
    """Store one successful cell; speakers default to the fold's name (leave-one-speaker-out)."""
    n = len(y_true)
    speakers = speakers or [corpus_instance.fold_names[fold]] * n
    clip_ids = clip_ids or [f"{speakers[i]}-{fold}-{i}" for i in range(n)]
    predictions = Predictions(tuple(clip_ids), tuple(speakers), tuple(y_true), tuple(y_pred))
    outcome = CellOutcome.success(uar(y_true, y_pred), predictions, 10, {"kind": "test"}, wall_time)
    key = CellKey(corpus_instance.corpus, system, system_protocol.key, corpus_instance.key, repeat, fold)
    store.write(key, outcome, protocol=system_protocol, instance=corpus_instance, seed=repeat * 100 + fold,
                details={"overrides": overrides or {}, "excluded_clips": excluded or []})
