"""Feature extraction with a content-addressed cache.

A table holds one feature for every clip of a manifest. Its cache key covers the corpus files (clip
id, path, size, mtime), the feature's name, kind and parameters, the version of the plugin that
provides it, the versions of the libraries it names and of the audio loader's own libraries; any
change rebuilds the table. A table is stored compactly in one ``.npz`` (all values concatenated into
one float32 array, with offsets and shapes, plus a JSON header; no pickles), written to a temporary
file and renamed, so two processes extracting the same key cannot corrupt it and a reader never sees
half a file.

Extraction streams one clip at a time through spawned worker processes (one per core by default):
the parent never holds audio, only finished features. Workers never import TensorFlow (openSMILE
aborts when TensorFlow was imported first in the same process). A clip that cannot be decoded, is
shorter than the feature's analysis frame, or yields non-finite values becomes a *failure* with its
reason; the ``on_error`` policy either keeps failures in :attr:`FeatureTable.failures` (the runner
leaves those clips out and records them) or raises :class:`~ser_core.errors.FeatureError` naming
them.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import zipfile
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterator, Literal

import numpy as np
from numpy.lib import format as npy_format

from ser_core.audio import SAMPLE_RATE, load_audio
from ser_core.config import cache_dir
from ser_core.errors import FeatureError
from ser_core.plugins import Registered
from ser_core.specs import Manifest

CACHE_FORMAT = 2
EXPECTED_NDIM = {"functionals": 1, "sequence": 2, "waveform": 1}
#: Distributions whose versions change what :func:`ser_core.audio.load_audio` returns.
LOADER_LIBRARIES = ("ser-core", "soundfile", "soxr", "av")
#: Temporary files older than this are left-overs of killed writers and may be removed.
STALE_TEMP_SECONDS = 3600

OnError = Literal["skip", "raise"]


class ClipTooShortError(FeatureError):
    """A clip holds fewer samples than one analysis frame of the feature."""


def require_samples(signal: np.ndarray, minimum: int, feature: str, sample_rate: int = SAMPLE_RATE) -> None:
    """Raise :class:`ClipTooShortError` when ``signal`` is shorter than ``minimum`` samples.

    Feature plugins call this first, so a clip shorter than one analysis frame fails with a clear
    reason instead of producing an empty or padded-garbage array.
    """
    if len(signal) < minimum:
        raise ClipTooShortError(
            f"{len(signal)} samples ({1000 * len(signal) / sample_rate:.1f} ms) is shorter than one "
            f"analysis frame of {feature!r} ({minimum} samples, {1000 * minimum / sample_rate:.1f} ms)"
        )


@dataclass
class FeatureTable:
    """Features of every clip of a manifest that could be extracted, and the clips that could not.

    ``items[i]`` belongs to ``clip_ids[i]``, in manifest order; ``failures`` maps each clip that has no
    features to the reason; ``path`` is where the table is cached (``None`` when caching was off).
    """

    clip_ids: list[str]
    items: list[np.ndarray]
    cache_key: str
    failures: dict[str, str] = field(default_factory=dict)  # clip id -> reason
    from_cache: bool = False
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.clip_ids)


def _library_versions(names: tuple[str, ...]) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not-installed"
    return versions


def _key_payload(manifest: Manifest, feature: Registered) -> dict:
    spec = feature.spec
    files = []
    for clip in manifest.clips:
        try:
            stat = os.stat(clip.path)
            files.append([clip.clip_id, str(clip.path), stat.st_size, stat.st_mtime_ns])
        except OSError:
            files.append([clip.clip_id, str(clip.path), -1, -1])
    return {
        "format": CACHE_FORMAT,
        "feature": spec.name,
        "kind": spec.kind,
        "params": dict(spec.params),
        "plugin": [feature.plugin.distribution, feature.plugin.version],
        "libraries": _library_versions(tuple(spec.libraries)),
        "loader": _library_versions(LOADER_LIBRARIES),
        "sample_rate": SAMPLE_RATE,
        "files": files,
    }


def cache_key(manifest: Manifest, feature: Registered) -> str:
    """Content address of one (manifest, feature) table; any change in its inputs changes it."""
    blob = json.dumps(_key_payload(manifest, feature), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def cache_path(manifest: Manifest, feature: Registered, key: str) -> Path:
    """Where the table of ``manifest`` x ``feature`` with cache key ``key`` is stored."""
    return cache_dir() / "features" / feature.spec.name / f"{manifest.corpus}-{key}.npz"


def _extract_clip(task: tuple[int, str, Callable, str]) -> tuple[int, np.ndarray | None, str | None]:
    """Worker: decode one clip and extract one feature; errors come back as text, never raise."""
    index, path, extract, kind = task
    try:
        signal = load_audio(path)
        values = np.asarray(extract(signal, SAMPLE_RATE), dtype=np.float32)
    except Exception as exc:
        return index, None, f"{type(exc).__name__}: {exc}"
    if values.ndim != EXPECTED_NDIM[kind] or values.size == 0:
        return index, None, f"feature returned shape {values.shape}, expected a non-empty {kind} array"
    bad = np.count_nonzero(~np.isfinite(values))
    if bad:
        return index, None, f"non-finite values (NaN or inf) in {bad} of {values.size} places"
    return index, values, None


def _results(tasks: list, workers: int, paths: list[str]) -> Iterator[tuple[int, np.ndarray | None, str | None]]:
    """Results in completion order; at most ``2 * workers`` clips are queued at any time."""
    if workers <= 0:
        yield from map(_extract_clip, tasks)
        return
    pending = iter(tasks)
    running: dict[Future, int] = {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:

        def submit_next() -> None:
            task = next(pending, None)
            if task is not None:
                running[pool.submit(_extract_clip, task)] = task[0]

        for _ in range(2 * workers):
            submit_next()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
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
                        f"cannot run the extractor {tasks[index][2]!r} in a worker process ({type(exc).__name__}: "
                        f"{exc}). Spawned workers import it by name: make it a module-level function (or a "
                        "functools.partial of one), or extract with workers=0."
                    ) from exc
                submit_next()


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
    key = cache_key(manifest, feature)
    path = cache_path(manifest, feature, key)
    table = _read_if_valid(path, key, manifest) if use_cache else None
    if table is not None:
        if on_progress:
            on_progress(len(manifest.clips))
    else:
        table = _extract_all(manifest, feature, key, default_workers() if workers is None else workers, on_progress)
        if use_cache:
            write_table(path, table, _header(manifest, feature, key))
            table.path = path
    if on_error == "raise" and table.failures:
        raise FeatureError(describe_failures(manifest, feature.name, table.failures))
    return table


def default_workers() -> int:
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not available on macOS or Windows
        return os.cpu_count() or 1


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


def _extract_all(
    manifest: Manifest, feature: Registered, key: str, workers: int, on_progress: Callable[[int], None] | None
) -> FeatureTable:
    kind = feature.spec.kind
    paths = [str(c.path) for c in manifest.clips]
    tasks = [(i, paths[i], feature.spec.extract, kind) for i in range(len(paths))]
    items: dict[int, np.ndarray] = {}
    failed: dict[int, str] = {}
    for index, values, error in _results(tasks, min(workers, len(tasks)), paths):
        if error is None:
            items[index] = values
        else:
            failed[index] = error
        if on_progress:
            on_progress(1)
    _check_consistent_width(items, kind, feature.name, paths)
    order = sorted(items)
    return FeatureTable(
        [manifest.clips[i].clip_id for i in order],
        [items[i] for i in order],
        key,
        {manifest.clips[i].clip_id: failed[i] for i in sorted(failed)},
    )


def _check_consistent_width(items: dict[int, np.ndarray], kind: str, name: str, paths: list[str]) -> None:
    if kind == "waveform" or not items:
        return
    example: dict[int, int] = {}
    for index, values in items.items():
        example.setdefault(values.shape[-1], index)
    if len(example) > 1:
        shown = "; ".join(f"{width} in {paths[i]}" for width, i in sorted(example.items()))
        raise FeatureError(f"feature {name!r} returned items of different widths ({shown}); fix the plugin.")


def _header(manifest: Manifest, feature: Registered, key: str) -> dict:
    return {
        "key": key,
        "corpus": manifest.corpus,
        "root": str(manifest.root) if manifest.root else None,
        "feature": feature.spec.name,
        "kind": feature.spec.kind,
        "params": dict(feature.spec.params),
        "plugin": [feature.plugin.distribution, feature.plugin.version],
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def write_table(path: Path, table: FeatureTable, header: dict | None = None) -> None:
    """Store a table atomically: write a temporary file next to ``path``, then rename it.

    The file is an ordinary ``.npz`` (``np.load`` reads it without pickles): ``values`` holds every
    item's float32 values back to back, ``offsets``/``shapes`` cut them apart again. ``values`` is
    streamed item by item, so writing needs no second copy of the table in memory. ``header``
    (JSON-serialisable) is stored as ``meta``; :func:`cached_tables` lists it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sizes = [item.size for item in table.items]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    ndim = max((item.ndim for item in table.items), default=1)
    shapes = np.array([item.shape for item in table.items], dtype=np.int64).reshape(-1, ndim)
    meta = {**(header or {}), "key": table.cache_key, "clips": len(table), "failed": len(table.failures)}
    small = {
        "meta": np.array(json.dumps(meta, sort_keys=True, default=str)),
        "offsets": offsets,
        "shapes": shapes,
        "clip_ids": np.array(table.clip_ids, dtype=str),
        "failed_ids": np.array(list(table.failures), dtype=str),
        "failed_reasons": np.array(list(table.failures.values()), dtype=str),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
            with archive.open("values.npy", "w", force_zip64=True) as member:
                npy_format.write_array_header_2_0(
                    member, {"descr": "<f4", "fortran_order": False, "shape": (int(offsets[-1]),)}
                )
                for item in table.items:
                    member.write(np.ascontiguousarray(item, dtype="<f4").data)
            for name, array in small.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    npy_format.write_array(member, array, allow_pickle=False)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; a cache should read like other files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_table(path: Path, key: str) -> FeatureTable:
    """Load a table written by :func:`write_table`."""
    with np.load(path, allow_pickle=False) as data:
        values, offsets, shapes = data["values"], data["offsets"], data["shapes"]
        items = [
            values[offsets[i] : offsets[i + 1]].reshape(tuple(shapes[i])) for i in range(len(shapes))
        ]
        failures = dict(zip(data["failed_ids"].tolist(), data["failed_reasons"].tolist()))
        return FeatureTable(data["clip_ids"].tolist(), items, key, failures, from_cache=True, path=path)


def _read_if_valid(path: Path, key: str, manifest: Manifest) -> FeatureTable | None:
    """The cached table, or ``None`` when it is missing, unreadable or does not cover the manifest."""
    if not path.exists():
        return None
    try:
        table = read_table(path, key)
    except (OSError, ValueError, KeyError):  # truncated by a full disk, or edited by hand: rebuild
        return None
    expected = [clip.clip_id for clip in manifest.clips]
    covered = sorted(table.clip_ids + list(table.failures))
    if covered != sorted(expected) or len(table.items) != len(table.clip_ids):
        return None
    return table


def _read_meta(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError):
        return {}


def cached_tables() -> list[dict]:
    """Every cached feature table: corpus, feature, clips, failed clips, created, bytes, file.

    Unreadable files are listed with ``corpus`` ``"?"`` so they can be seen and cleared.
    """
    root = cache_dir() / "features"
    if not root.exists():
        return []
    entries = []
    for path in sorted(root.glob("*/*.npz")):
        meta = _read_meta(path)
        entries.append(
            {
                "corpus": meta.get("corpus", "?"),
                "feature": meta.get("feature", path.parent.name),
                "clips": meta.get("clips"),
                "failed": meta.get("failed"),
                "created": meta.get("created", ""),
                "key": meta.get("key", ""),
                "bytes": path.stat().st_size,
                "file": str(path),
            }
        )
    return entries


def clear_cache(feature: str | None = None, corpus: str | None = None) -> int:
    """Delete cached tables (all, or those of one feature and/or corpus); returns how many were removed.

    Temporary files left by killed writers (older than an hour) are removed too; younger ones may
    belong to a running extraction and are kept.
    """
    removed = 0
    for entry in cached_tables():
        if feature not in (None, entry["feature"]) or corpus not in (None, entry["corpus"]):
            continue
        Path(entry["file"]).unlink(missing_ok=True)
        removed += 1
    root = cache_dir() / "features"
    if root.exists():
        for tmp in root.glob("*/*.tmp"):
            if time.time() - tmp.stat().st_mtime > STALE_TEMP_SECONDS:
                tmp.unlink(missing_ok=True)
    return removed
