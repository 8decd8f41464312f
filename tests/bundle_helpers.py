"""Results stored as ``serbench run`` stores them, without training: for bundle, site and benchmark code.

Stand-in corpora: :class:`StandInCorpora` (synthetic audio generated into a directory) and
:class:`ListedCorpora` (clips listed without audio, for sizes like the study's corpora).

:func:`store_system` scans a corpus through its plugin, makes the folds the runner makes, and writes
one cell per (repeat, fold) through the store's API, with seeded predictions that are right with a
given probability (wrong ones drawn uniformly from the other classes).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from ser_core import Clip, CorpusSpec, Manifest, hookimpl
from ser_core import corpus as corpus_mod
from ser_core.plugins import load_registry
from ser_core.protocol import cell_seed, make_folds
from ser_core.metrics import uar
from ser_core.records import FOLD_POLICY, CellOutcome, CorpusInstance, Predictions, RunProvenance, SystemProtocol
from ser_core.results import CellKey, ResultStore
from ser_core.synthetic import generate


def instance_of(registered, manifest, seed: int = 0):
    """The corpus instance and folds the runner makes for ``manifest``."""
    folds = make_folds([c.speaker for c in manifest.clips],
                       [c.group for c in manifest.clips] if registered.spec.fold_by == "group" else None, seed=seed)
    instance = CorpusInstance(
        corpus=registered.name, version=registered.spec.version, manifest=manifest.fingerprint(),
        n_clips=len(manifest.clips), labels=tuple(manifest.labels()), fold_method=folds.method,
        fold_names=tuple(folds.names), fold_assignment=tuple(int(v) for v in folds.assignment),
    )
    return instance, folds


def store_system(store: ResultStore, registry, corpus: str, system: str, *, accuracy: float, repeats: int = 1,
                 seed: int = 0, root: Path | None = None, model: str = "model-", feature: str = "feature-",
                 parameter_count: int = 1234, run_id: int | None = None, manifest=None) -> CorpusInstance:
    """Store every (repeat, fold) cell of ``system`` on ``corpus``; returns the corpus instance.

    ``model``/``feature`` ending in ``-`` get the system's name appended (one protocol per system).
    """
    registered = registry.corpus(corpus)
    if manifest is None:
        manifest = corpus_mod.scan(registered, root)
    instance, folds = instance_of(registered, manifest, seed)
    protocol = SystemProtocol(model=model + system if model.endswith("-") else model,
                              feature=feature + system if feature.endswith("-") else feature,
                              feature_params={}, settings={"epochs": 3}, normalisation="speaker", seed=seed,
                              fold_policy=dict(FOLD_POLICY))
    labels = list(instance.labels)
    truth = np.array([labels.index(c.label) for c in manifest.clips])
    rng = np.random.default_rng([zlib.crc32(f'{corpus}/{system}'.encode()), seed])  # same in every process
    if run_id is None:
        run_id = store.add_run(RunProvenance.here(core_version="test", plugins={"ser-core": "test"},
                                                  git_revision=None, processes={"workers": 0}, suite="bundle-test"))
    for repeat in range(repeats):
        for fold in range(len(folds)):
            _, test = folds.split(fold)
            y_true = truth[test]
            right = rng.random(len(test)) < accuracy
            wrong = (y_true + rng.integers(1, len(labels), len(test))) % len(labels)
            y_pred = np.where(right, y_true, wrong)
            predictions = Predictions(tuple(manifest.clips[i].clip_id for i in test),
                                      tuple(manifest.clips[i].speaker for i in test),
                                      tuple(int(v) for v in y_true), tuple(int(v) for v in y_pred))
            outcome = CellOutcome.success(uar(y_true, y_pred), predictions, parameter_count, {"kind": "generated"},
                                          wall_time=1.5)
            key = CellKey(corpus, system, protocol.key, instance.key, repeat, fold)
            store.write(key, outcome, protocol=protocol, instance=instance, seed=cell_seed(seed, repeat, fold),
                        details={"fold_name": folds.names[fold], "overrides": {"epochs": 3},
                                 "excluded_clips": [], "seeds": {"suite": seed, "repeat": repeat}},
                        run_id=run_id)
    return instance


class StandInCorpora:
    """A corpus plugin registering synthetic stand-in corpora by name (each needs its directory given,
    e.g. ``--corpus-path NAME=DIR``; the clips are generated there on first scan)."""

    def __init__(self, configs):
        self.configs = dict(configs)

    @hookimpl
    def register_corpora(self, register):
        for name, config in self.configs.items():
            register(CorpusSpec(name=name, scan=_scanner(config), description=f"stand-in {name}", needs_path=True,
                                version="1", labels=tuple(config.classes)))


def _scanner(config):
    def scan(root):
        return generate(config, root)
    return scan


def stand_in_registry(configs):
    """A registry with only the stand-in corpora of ``configs`` ``{name: SyntheticConfig}``."""
    return load_registry([("stand-ins", StandInCorpora(configs))], use_entry_points=False)


@dataclass(frozen=True)
class ListedCorpus:
    """A stand-in corpus listed without audio (results are generated, never computed from clips):
    ``clips_per_label`` spread evenly over ``speakers``; with ``speakers_per_group``, CV groups
    (sessions) of that many speakers each and folds by group."""

    speakers: int
    clips_per_label: Mapping[str, int]
    speakers_per_group: int | None = None

    def manifest(self, name: str) -> Manifest:
        clips = []
        for label, count in self.clips_per_label.items():
            for n in range(count):
                s = n % self.speakers
                group = f"session{s // self.speakers_per_group + 1}" if self.speakers_per_group else None
                clip_id = f"s{s:03d}-{label}-{n:05d}"
                clips.append(Clip(clip_id, Path(f"/stand-in/{name}/{clip_id}.wav"), f"s{s:03d}", label, group=group))
        return Manifest(name, clips)


class ListedCorpora:
    """A corpus plugin registering :class:`ListedCorpus` stand-ins (they need no directory)."""

    def __init__(self, corpora: Mapping[str, ListedCorpus]):
        self.corpora = dict(corpora)

    @hookimpl
    def register_corpora(self, register):
        for name, listed in self.corpora.items():
            register(CorpusSpec(name=name, scan=_lister(name, listed), description=f"listed stand-in {name}",
                                needs_path=False, fold_by="group" if listed.speakers_per_group else "speaker",
                                version="1", labels=tuple(listed.clips_per_label)))


def _lister(name, listed):
    def scan(root):
        return listed.manifest(name)
    return scan
