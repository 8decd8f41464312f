"""Feature extraction with a content-addressed cache.

The cache key covers the corpus files (path, size, mtime), the feature's name, kind and parameters,
the version of the plugin that provides it and of the libraries it names. A table is stored compactly
(all values concatenated into one float32 array, with offsets and shapes; no pickles), written to a
temporary file and renamed, so two processes extracting the same key cannot corrupt it. Extraction
runs in spawned worker processes, which never import TensorFlow (openSMILE aborts when TensorFlow
was imported first in the same process) and stream one clip at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ser_core.audio import SAMPLE_RATE, load_audio
from ser_core.config import cache_dir
from ser_core.plugins import Registered
from ser_core.specs import Manifest

CACHE_FORMAT = 1
EXPECTED_NDIM = {"functionals": 1, "sequence": 2, "waveform": 1}


@dataclass
class FeatureTable:
    """Features of every clip of a manifest that could be extracted, and the clips that could not."""

    clip_ids: list[str]
    items: list[np.ndarray]
    cache_key: str
    failures: dict[str, str] = field(default_factory=dict)  # clip id -> reason
    from_cache: bool = False

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


def cache_key(manifest: Manifest, feature: Registered) -> str:
    """Content address of one (manifest, feature) table; any change in its inputs changes it."""
    spec = feature.spec
    files = []
    for clip in manifest.clips:
        try:
            stat = os.stat(clip.path)
            files.append([clip.clip_id, str(clip.path), stat.st_size, stat.st_mtime_ns])
        except OSError:
            files.append([clip.clip_id, str(clip.path), -1, -1])
    payload = {
        "format": CACHE_FORMAT,
        "feature": spec.name,
        "kind": spec.kind,
        "params": dict(spec.params),
        "plugin": [feature.plugin.distribution, feature.plugin.version],
        "libraries": _library_versions(tuple(spec.libraries)),
        "sample_rate": SAMPLE_RATE,
        "files": files,
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def cache_path(manifest: Manifest, feature: Registered, key: str) -> Path:
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
    if not np.isfinite(values).all():
        return index, None, f"non-finite values (NaN or inf) in {np.count_nonzero(~np.isfinite(values))} places"
    return index, values, None


def _results(tasks: list, workers: int) -> Iterator[tuple[int, np.ndarray | None, str | None]]:
    if workers <= 0:
        yield from map(_extract_clip, tasks)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        yield from pool.map(_extract_clip, tasks, chunksize=4)


def extract(
    manifest: Manifest,
    feature: Registered,
    *,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    use_cache: bool = True,
) -> FeatureTable:
    """Features for every clip of ``manifest``, from the cache when its key matches.

    :param workers: extraction processes (default: all cores); 0 extracts in this process, which is
        unsafe for openSMILE once TensorFlow is imported.
    :param on_progress: called with the number of clips just finished.
    """
    key = cache_key(manifest, feature)
    path = cache_path(manifest, feature, key)
    if use_cache and path.exists():
        table = read_table(path, key)
        if on_progress:
            on_progress(len(manifest.clips))
        return table
    if workers is None:
        workers = os.cpu_count() or 1
    kind = feature.spec.kind
    tasks = [(i, str(c.path), feature.spec.extract, kind) for i, c in enumerate(manifest.clips)]
    items: dict[int, np.ndarray] = {}
    failures: dict[str, str] = {}
    for index, values, error in _results(tasks, workers):
        if error is None:
            items[index] = values
        else:
            failures[manifest.clips[index].clip_id] = error
        if on_progress:
            on_progress(1)
    _check_consistent_width(items, kind, feature.name)
    order = sorted(items)
    table = FeatureTable(
        [manifest.clips[i].clip_id for i in order], [items[i] for i in order], key, failures
    )
    if use_cache:
        write_table(path, table)
    return table


def _check_consistent_width(items: dict[int, np.ndarray], kind: str, name: str) -> None:
    if kind == "waveform" or not items:
        return
    widths = {values.shape[-1] for values in items.values()}
    if len(widths) > 1:
        raise ValueError(f"feature {name!r} returned items of different widths {sorted(widths)}")


def write_table(path: Path, table: FeatureTable) -> None:
    """Store a table atomically: write a temporary file next to ``path``, then rename it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sizes = [item.size for item in table.items]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    ndim = max((item.ndim for item in table.items), default=1)
    shapes = np.array([item.shape for item in table.items], dtype=np.int64).reshape(-1, ndim)
    values = (
        np.concatenate([item.reshape(-1) for item in table.items])
        if table.items
        else np.zeros(0, np.float32)
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(
                handle,
                values=values.astype(np.float32),
                offsets=offsets,
                shapes=shapes,
                clip_ids=np.array(table.clip_ids, dtype=str),
                failed_ids=np.array(list(table.failures), dtype=str),
                failed_reasons=np.array(list(table.failures.values()), dtype=str),
            )
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
        return FeatureTable(data["clip_ids"].tolist(), items, key, failures, from_cache=True)


def cached_tables() -> list[dict]:
    """Every cached feature table: feature, file, size in bytes."""
    root = cache_dir() / "features"
    if not root.exists():
        return []
    return [
        {"feature": p.parent.name, "file": str(p), "bytes": p.stat().st_size}
        for p in sorted(root.glob("*/*.npz"))
    ]


def clear_cache(feature: str | None = None) -> int:
    """Delete cached tables (of one feature, or all); returns how many files were removed."""
    removed = 0
    for entry in cached_tables():
        if feature is None or entry["feature"] == feature:
            Path(entry["file"]).unlink(missing_ok=True)
            removed += 1
    return removed
