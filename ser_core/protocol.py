"""The evaluation protocol: speaker-independent folds and normalisation (UAR and the class weights are :mod:`ser_core.metrics`).

Small pure functions, each tested against hand-worked examples. Folds: leave-one-speaker-out for at
most ``max_speakers`` speakers, otherwise ``n_groups`` speaker groups from a seeded shuffle balanced
by clip count; corpora that define their own CV groups (sessions, languages) use those. The
text-independent policy (:func:`text_independent`) splits each of those folds further by sentence
groups, so that training and test share neither speaker nor sentence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from ser_core.deprecation import moved

Normalisation = Literal["speaker", "fold", "none"]
NORMALISATIONS: tuple[str, ...] = ("speaker", "fold", "none")
#: Fold policies a suite may choose (``folds = ...``): speakers only, or speakers and sentences.
FOLD_POLICIES: tuple[str, ...] = ("speaker-independent", "text-independent")
#: Sentence groups of the text-independent policy (fewer when a corpus has fewer sentences): each
#: fold holds out one group, so training keeps (groups - 1) / groups of the sentences. Fixed a priori.
SENTENCE_GROUPS = 5


@dataclass(frozen=True)
class Folds:
    """Which fold each clip is tested in, and the name (speaker or group) of each fold.

    Text-independent folds (:func:`text_independent`) also give each clip's speaker fold
    (``speaker_fold``) and sentence group (``sentence_group``), and for each fold the pair of them it
    holds out of training (``held_out``): a fold trains only on clips of other speakers *and* other
    sentence groups than its test clips.
    """

    assignment: np.ndarray  # fold index per clip
    names: tuple[str, ...]  # fold index -> the speakers/group it holds, for the record
    method: str
    speaker_fold: np.ndarray | None = None  # speaker-fold index per clip (text-independent only)
    sentence_group: np.ndarray | None = None  # sentence-group index per clip (text-independent only)
    held_out: tuple[tuple[int, int], ...] = ()  # fold -> (speaker fold, sentence group) kept out of training

    def __len__(self) -> int:
        return len(self.names)

    def train_mask(self, fold: int) -> np.ndarray:
        """Which clips ``fold`` may train on: not its test clips, nor (text-independent) its held-out sentences."""
        return train_mask(self.assignment, fold, self.speaker_fold, self.sentence_group, self.held_out)

    def split(self, fold: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the training and test clips of ``fold``."""
        return np.flatnonzero(self.train_mask(fold)), np.flatnonzero(self.assignment == fold)

    def record(self) -> dict:
        """JSON-ready description, stored with every result."""
        return {"method": self.method, "names": list(self.names), "assignment": self.assignment.tolist()}


def train_mask(fold_of: np.ndarray, fold: int, speaker_fold: np.ndarray | None = None,
               sentence_group: np.ndarray | None = None, held_out: Sequence[tuple[int, int]] = ()) -> np.ndarray:
    """Clips a fold trains on: those of other folds; for text-independent folds (``sentence_group``
    given), those of neither the fold's speakers nor its sentence group (``held_out[fold]``)."""
    if sentence_group is None or speaker_fold is None:
        return np.asarray(fold_of) != fold
    speakers, sentences = held_out[fold]
    return (np.asarray(speaker_fold) != speakers) & (np.asarray(sentence_group) != sentences)


def balanced_speaker_groups(speakers: Sequence[str], n_groups: int, seed: int) -> dict[str, int]:
    """Assign speakers to ``n_groups`` groups: seeded shuffle, then each speaker to the smallest group.

    "Smallest" counts clips, so groups end up balanced by clip count; ties go to the lower index.
    """
    counts = Counter(speakers)
    order = sorted(counts)
    np.random.default_rng(seed).shuffle(order)
    sizes = [0] * n_groups
    group_of: dict[str, int] = {}
    for speaker in order:
        target = min(range(n_groups), key=lambda g: (sizes[g], g))
        group_of[speaker] = target
        sizes[target] += counts[speaker]
    return group_of


@dataclass(frozen=True)
class FoldPolicy:
    """How :func:`make_folds` forms speaker-independent folds: leave-one-speaker-out up to
    ``max_speakers`` speakers, otherwise ``n_groups`` balanced speaker groups.

    The one statement of the policy: :func:`make_folds` takes its defaults from :data:`FOLD_POLICY`
    and :func:`ser_core.records.fold_policy` stores :meth:`record` with every result.
    """

    max_speakers: int = 12
    n_groups: int = 6

    def record(self) -> dict[str, int]:
        """JSON-ready form, as stored with results (key order as stored by every earlier version)."""
        return {"max_speakers": self.max_speakers, "n_groups": self.n_groups}


#: The fold policy the runner uses and the store records.
FOLD_POLICY = FoldPolicy()


def make_folds(
    speakers: Sequence[str],
    groups: Sequence[str | None] | None = None,
    *,
    seed: int = 0,
    max_speakers: int | None = None,
    n_groups: int | None = None,
) -> Folds:
    """Speaker-independent folds for one corpus.

    :param speakers: speaker of each clip.
    :param groups: corpus-defined CV group of each clip (sessions, languages); when given, each
        group is one fold and ``speakers`` is ignored.
    :param seed: seeds the shuffle that forms speaker groups for corpora with many speakers.
    :param max_speakers: leave-one-speaker-out up to this many speakers (default: :data:`FOLD_POLICY`).
    :param n_groups: speaker groups beyond that (default: :data:`FOLD_POLICY`).
    """
    max_speakers = FOLD_POLICY.max_speakers if max_speakers is None else max_speakers
    n_groups = FOLD_POLICY.n_groups if n_groups is None else n_groups
    if groups is not None:
        if any(g is None or g == "" for g in groups):
            raise ValueError("every clip needs a CV group when folds are formed from groups")
        names = sorted(set(groups))
        index = {name: i for i, name in enumerate(names)}
        return Folds(np.array([index[g] for g in groups], dtype=np.int64), tuple(names), "group")
    unique = sorted(set(speakers))
    if len(unique) < 2:
        raise ValueError(f"speaker-independent folds need at least 2 speakers, found {len(unique)}")
    if len(unique) <= max_speakers:
        index = {name: i for i, name in enumerate(unique)}
        assignment = np.array([index[s] for s in speakers], dtype=np.int64)
        return Folds(assignment, tuple(unique), "leave-one-speaker-out")
    group_of = balanced_speaker_groups(speakers, n_groups, seed)
    names = tuple(
        "+".join(sorted(s for s, g in group_of.items() if g == k)) for k in range(n_groups)
    )
    assignment = np.array([group_of[s] for s in speakers], dtype=np.int64)
    return Folds(assignment, names, f"{n_groups}-speaker-groups(seed={seed})")


def text_independent(
    base: Folds, sentences: Sequence[str | None], *, seed: int = 0, n_groups: int = SENTENCE_GROUPS
) -> Folds:
    """Folds sharing neither speaker nor sentence between training and test.

    The corpus's sentences are put into ``n_groups`` groups (fewer when it has fewer sentences) by
    the seeded shuffle of :func:`balanced_speaker_groups`, balanced by clip count. Each speaker fold
    of ``base`` becomes one fold per sentence group: it tests the fold's clips of that group and
    trains on the other folds' clips of the other groups. Every clip is still tested exactly once.

    :param base: speaker-independent folds (:func:`make_folds`).
    :param sentences: the sentence (text) of each clip (``Clip.sentence``).
    :raises ValueError: a clip has no sentence, the corpus has fewer than 2 sentences, or a fold
        would have no training clip.
    """
    missing = sum(1 for s in sentences if s is None or s == "")
    if missing:
        raise ValueError(
            f"text-independent folds need the sentence of every clip (Clip.sentence), and {missing} of "
            f"{len(sentences)} clips have none; this corpus's plugin does not record sentences, so use the "
            "suite's default folds (speaker-independent) for it"
        )
    distinct = sorted(set(sentences))
    if len(distinct) < 2:
        raise ValueError(f"text-independent folds need at least 2 different sentences, found {len(distinct)}")
    groups = min(n_groups, len(distinct))
    group_of = balanced_speaker_groups(list(sentences), groups, seed)
    sentence_group = np.array([group_of[s] for s in sentences], dtype=np.int64)
    members = ["+".join(sorted(s for s, g in group_of.items() if g == k)) for k in range(groups)]
    pairs = sorted({(int(f), int(g)) for f, g in zip(base.assignment, sentence_group)})
    index = {pair: i for i, pair in enumerate(pairs)}
    assignment = np.array([index[(int(f), int(g))] for f, g in zip(base.assignment, sentence_group)], dtype=np.int64)
    folds = Folds(
        assignment,
        tuple(f"{base.names[f]} | sentences {members[g]}" for f, g in pairs),
        f"{base.method} x {groups}-sentence-groups(seed={seed}), text-independent",
        np.asarray(base.assignment, dtype=np.int64),
        sentence_group,
        tuple(pairs),
    )
    for fold, name in enumerate(folds.names):
        if not folds.train_mask(fold).any():
            raise ValueError(f"text-independent fold {name!r} has no training clip (no other speaker says other sentences)")
    return folds


def standardise(
    items: Sequence[np.ndarray],
    keys: Sequence[str],
    fit_mask: np.ndarray,
    mode: Normalisation,
    *,
    eps: float = 1e-8,
) -> list[np.ndarray]:
    """Standardise each feature column to zero mean, unit variance.

    :param items: per-clip arrays, each ``(frames, columns)``; 1-D items must be reshaped by the
        caller (functionals as one row, waveforms as one column) - see :func:`as_rows`.
    :param keys: speaker of each clip (used by ``mode="speaker"``).
    :param fit_mask: clips whose statistics may be used in ``mode="fold"`` (the training part).
    :param mode: ``speaker`` - per speaker, fitted on all that speaker's clips (the reference);
        ``fold`` - one set of statistics fitted on the training part; ``none`` - unchanged.
    """
    if mode == "none":
        return list(items)
    if mode == "fold":
        stats = _moments([items[i] for i in np.flatnonzero(fit_mask)], eps)
        return [((x - stats[0]) / stats[1]).astype(np.float32) for x in items]
    if mode != "speaker":
        raise ValueError(f"unknown normalisation {mode!r}; choose one of {NORMALISATIONS}")
    by_key: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        by_key.setdefault(key, []).append(i)
    out: list[np.ndarray] = [None] * len(items)  # type: ignore[list-item]
    for indices in by_key.values():
        mean, std = _moments([items[i] for i in indices], eps)
        for i in indices:
            out[i] = ((items[i] - mean) / std).astype(np.float32)
    return out


def _moments(items: Sequence[np.ndarray], eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations over all rows of all items (float64 accumulation)."""
    total = sum(x.shape[0] for x in items)
    mean = sum(x.sum(axis=0, dtype=np.float64) for x in items) / total
    var = sum(((x - mean) ** 2).sum(axis=0, dtype=np.float64) for x in items) / total
    std = np.sqrt(var)
    return mean, np.where(std < eps, 1.0, std)


def as_rows(item: np.ndarray, kind: str) -> np.ndarray:
    """Shape an item so that standardisation works per column: ``(frames, columns)``."""
    if kind == "functionals":
        return item.reshape(1, -1)
    if kind == "waveform":
        return item.reshape(-1, 1)
    return item


def from_rows(item: np.ndarray, kind: str) -> np.ndarray:
    """Undo :func:`as_rows`."""
    return item.reshape(-1) if kind in ("functionals", "waveform") else item


def cell_seed(seed: int, repeat: int, fold: int) -> int:
    """The seed for one (repeat, fold) cell: independent of run order, so a resumed run matches."""
    return int(np.random.SeedSequence([seed, repeat, fold]).generate_state(1)[0] % (2**31 - 1))


#: the metric and class weights this module held until ser-core 0.1 (now :mod:`ser_core.metrics`,
#: public through :mod:`ser_core`): their old paths work, with a DeprecationWarning, for one release
__getattr__ = moved(__name__, {"uar": "ser_core.metrics", "class_weights": "ser_core.metrics"})
