"""Feature extraction, the pipeline stage from a manifest and a feature to a table.

:func:`extract` gives the table of one feature for every clip of a manifest: from the cache when it
holds it (:mod:`ser_core.cache`: content-addressed, stored atomically, a damaged file rebuilt), else
extracted and stored. An extraction that is interrupted (Ctrl-C) or fails half-way keeps the clips
it finished as the cache entry's *partial* table; the next extraction continues from it
(:func:`complete`, the one path for both engines: in this process and on Dask workers). The cache
directory is checked to be writable before any clip is extracted.

Extraction streams one clip at a time through spawned worker processes (one per core by default):
the parent never holds audio, only finished features. Workers never import TensorFlow (openSMILE
aborts when TensorFlow was imported first in the same process). A clip that cannot be decoded, is
shorter than the feature's analysis frame, or yields non-finite values becomes a *failure* with its
reason; the ``on_error`` policy either keeps failures in :attr:`FeatureTable.failures` (the runner
leaves those clips out and records them) or raises :class:`~ser_core.errors.FeatureError` naming
them. Workers ignore Ctrl-C (the parent handles it), and clips whose peak level is below
:data:`~ser_core.audio.SILENT_PEAK` are listed in :attr:`FeatureTable.silent` so callers can warn about them.
"""

from __future__ import annotations

import signal
import time
from contextlib import closing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Callable, Iterator, Literal, Sequence

import numpy as np

from ser_core.audio import SAMPLE_RATE, SILENT_PEAK, load_audio
from ser_core.cache import CacheEntry, FeatureTable, check_cache_dir
from ser_core.config import available_cores
from ser_core.dependencies import check_libraries
from ser_core.deprecation import moved
from ser_core.errors import FeatureError
from ser_core.plugins import Registered
from ser_core.specs import Manifest

EXPECTED_NDIM = {"functionals": 1, "sequence": 2, "waveform": 1}

OnError = Literal["skip", "raise"]


Outcome = tuple[int, "np.ndarray | None", "str | None", bool]  # index, values, error, silent


def extract_clip(task: tuple[int, str, Callable, str]) -> Outcome:
    """Worker: decode one clip and extract one feature; errors come back as text, never raise."""
    index, path, extract, kind = task
    try:
        audio = load_audio(path)
        silent = bool(audio.size == 0 or float(np.max(np.abs(audio))) < SILENT_PEAK)
        values = np.asarray(extract(audio, SAMPLE_RATE), dtype=np.float32)
    except Exception as exc:
        return index, None, f"{type(exc).__name__}: {exc}", False
    if values.ndim != EXPECTED_NDIM[kind] or values.size == 0:
        return index, None, f"feature returned shape {values.shape}, expected a non-empty {kind} array", silent
    bad = np.count_nonzero(~np.isfinite(values))
    if bad:
        return index, None, f"non-finite values (NaN or inf) in {bad} of {values.size} places", silent
    return index, values, None, silent


def _ignore_interrupts() -> None:
    """Worker set-up: Ctrl-C reaches the whole process group; only the parent acts on it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _results(tasks: list, workers: int, paths: list[str]) -> Iterator[Outcome]:
    """Results in completion order; at most ``2 * workers`` clips are queued at any time.

    On Ctrl-C (or any error) queued clips are cancelled and the workers finish only the clip they
    are on, so the caller can store what was done.
    """
    if workers <= 0:
        yield from map(extract_clip, tasks)
        return
    pending = iter(tasks)
    running: dict[Future, int] = {}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_ignore_interrupts)
    try:

        def submit_next() -> None:
            task = next(pending, None)
            if task is not None:
                running[pool.submit(extract_clip, task)] = task[0]

        for _ in range(2 * workers):
            submit_next()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            # finished clips first: on a loaded machine a clip's result and its worker's crash can
            # arrive together, and the clip that finished must be kept before the crash is raised
            for future in sorted(done, key=lambda f: f.exception() is not None):
                index = running.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool as exc:
                    lost = sorted([index, *running.values()])
                    raise FeatureError(
                        "a feature-extraction worker died (crashed in native code, was killed, or could "
                        f"not import the extractor) while working on: {', '.join(paths[i] for i in lost)}. "
                        "One of these files may crash the decoder or the feature library; check or remove "
                        "it, or run with --workers 0 to see the crash in this process."
                    ) from exc
                except Exception as exc:  # the task could not be sent to a worker (pickling)
                    raise FeatureError(
                        f"cannot run the extractor {tasks[0][2]!r} in a worker process ({type(exc).__name__}: "
                        f"{exc}). Spawned workers import it by name: make it a module-level function (or a "
                        "functools.partial of one), or extract with workers=0."
                    ) from exc
                submit_next()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def extract(
    manifest: Manifest,
    feature: Registered,
    *,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    use_cache: bool = True,
    on_error: OnError = "skip",
) -> FeatureTable:
    """Features for every clip of ``manifest``, from the cache when its key matches.

    :param workers: extraction processes (default: the cores this process may use); 0 extracts in
        this process, which is unsafe for openSMILE once TensorFlow is imported.
    :param on_progress: called with the number of clips just finished.
    :param use_cache: read and write the cache; ``False`` always extracts and stores nothing.
    :param on_error: ``"skip"`` keeps failed clips in :attr:`FeatureTable.failures` (callers leave
        them out and record them); ``"raise"`` raises :class:`FeatureError` naming every failed clip.
    :raises FeatureError: failed clips under ``on_error="raise"``, a worker crash, or items of
        inconsistent width.
    """
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', not {on_error!r}")
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be 0 (this process) or more, not {workers}")
    check_libraries(feature)  # a missing library is one message, not a failure per clip
    entry = CacheEntry.of(manifest, feature)
    notes: list[str] = []
    table = entry.load(notes) if use_cache else None
    if table is not None:
        if on_progress:
            on_progress(len(manifest.clips))
    elif use_cache:
        check_cache_dir(entry.path.parent)  # before any clip is extracted
        table = complete(entry, available_cores() if workers is None else workers, on_progress, notes)
    else:
        table = _extract_all(manifest, feature, entry.key, available_cores() if workers is None else workers,
                             on_progress)
    table.notes = notes
    if on_error == "raise" and table.failures:
        raise FeatureError(describe_failures(manifest, feature.name, table.failures))
    return table


def complete(entry: CacheEntry, workers: int, on_progress: Callable[[int], None] | None,
             notes: list[str]) -> FeatureTable:
    """Build the entry's table: continue its partial table (or start), checkpointing as it goes, then
    store it whole. ``workers`` 0 extracts in this process (as a Dask worker does)."""
    table = _extract_all(entry.manifest, entry.feature, entry.key, workers, on_progress,
                         done=entry.resume(notes), checkpoint=entry.checkpoint)
    return entry.store(table)


def describe_failures(
    manifest: Manifest, feature: str, failures: dict[str, str], limit: int = 10, policy: OnError = "raise"
) -> str:
    """A message naming the clips (by id and file) that have no ``feature`` values, with reasons.

    ``policy`` is the ``on_error`` policy in force; the closing advice depends on it.
    """
    paths = {clip.clip_id: clip.path for clip in manifest.clips}
    lines = [f"{len(failures)} clips of {manifest.corpus!r} have no {feature!r} features:"]
    for clip_id, reason in list(failures.items())[:limit]:
        lines.append(f"  {clip_id} ({paths.get(clip_id, '?')}): {reason}")
    if len(failures) > limit:
        lines.append(f"  ... and {len(failures) - limit} more")
    if policy == "raise":
        lines.append("Fix or remove these files, or use the 'skip' policy to leave them out (they are recorded).")
    else:
        lines.append("They are left out of the table and recorded as failures; fix or remove the files to include them.")
    return "\n".join(lines)


class Outcomes:
    """Extraction outcomes by clip index (values, or the reason there are none, and the silent
    clips), from any mix of workers; :meth:`table` orders them as the manifest does."""

    def __init__(self) -> None:
        self.items: dict[int, np.ndarray] = {}
        self.failed: dict[int, str] = {}
        self.silent: set[int] = set()

    def add(self, index: int, values: np.ndarray | None, error: str | None, is_silent: bool) -> None:
        if error is None:
            self.items[index] = values
        else:
            self.failed[index] = error
        if is_silent:
            self.silent.add(index)

    def __len__(self) -> int:
        return len(self.items) + len(self.failed)

    def __contains__(self, index: int) -> bool:
        return index in self.items or index in self.failed

    def table(self, clip_ids: Sequence[str], key: str) -> "FeatureTable":
        order = sorted(self.items)
        return FeatureTable(
            [clip_ids[i] for i in order], [self.items[i] for i in order], key,
            {clip_ids[i]: self.failed[i] for i in sorted(self.failed)},
            silent=[clip_ids[i] for i in sorted(self.silent)],
        )


#: Seconds between checkpoints of a long extraction (the finished clips are stored as a partial table).
CHECKPOINT_SECONDS = 300.0


def _extract_all(
    manifest: Manifest,
    feature: Registered,
    key: str,
    workers: int,
    on_progress: Callable[[int], None] | None,
    *,
    done: FeatureTable | None = None,
    checkpoint: Callable[[FeatureTable], None] | None = None,
) -> FeatureTable:
    """Extract every clip not in ``done``; on an interruption or error, and every
    :data:`CHECKPOINT_SECONDS`, ``checkpoint`` receives the table of the clips finished so far."""
    kind = feature.spec.kind
    paths = [str(c.path) for c in manifest.clips]
    clip_ids = [c.clip_id for c in manifest.clips]
    index_of = {cid: i for i, cid in enumerate(clip_ids)}
    outcomes = Outcomes()
    if done is not None:
        silent = set(done.silent)
        for cid, values in zip(done.clip_ids, done.items):
            outcomes.add(index_of[cid], values, None, cid in silent)
        for cid, reason in done.failures.items():
            outcomes.add(index_of[cid], None, reason, cid in silent)
        if on_progress and len(outcomes):
            on_progress(len(outcomes))
    resumed = len(outcomes)
    tasks = [(i, paths[i], feature.spec.extract, kind) for i in range(len(paths)) if i not in outcomes]

    def snapshot() -> FeatureTable:
        return outcomes.table(clip_ids, key)

    last_checkpoint = time.monotonic()
    try:
        with closing(_results(tasks, min(workers, len(tasks)), paths)) as results:
            for index, values, error, is_silent in results:
                outcomes.add(index, values, error, is_silent)
                if on_progress:
                    on_progress(1)
                if checkpoint and time.monotonic() - last_checkpoint > CHECKPOINT_SECONDS:
                    checkpoint(snapshot())
                    last_checkpoint = time.monotonic()
    except BaseException:
        if checkpoint is not None and len(outcomes) > resumed:
            try:
                checkpoint(snapshot())  # keep what was finished: the next extraction continues from it
            except Exception:
                pass  # the original error matters more than a failed checkpoint
        raise
    check_consistent_width(outcomes.items, kind, feature.name, paths)
    return snapshot()


def check_consistent_width(items: dict[int, np.ndarray], kind: str, name: str, paths: list[str]) -> None:
    if kind == "waveform" or not items:
        return
    example: dict[int, int] = {}
    for index, values in items.items():
        example.setdefault(values.shape[-1], index)
    if len(example) > 1:
        shown = "; ".join(f"{width} in {paths[i]}" for width, i in sorted(example.items()))
        raise FeatureError(f"feature {name!r} returned items of different widths ({shown}); fix the plugin.")


#: the feature-plugin helpers this module held until ser-core 0.1 (now :mod:`ser_core.audio`, public
#: through :mod:`ser_core`): their old paths work, with a DeprecationWarning, for one release
__getattr__ = moved(__name__, {"ClipTooShortError": "ser_core.audio", "require_samples": "ser_core.audio"})
