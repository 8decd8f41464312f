"""The feature cache: where a feature table is stored, under which key, and how it is read back.

A table holds one feature for every clip of a manifest. Its cache key covers the corpus files (clip
id, path, size, mtime), the feature's name, kind and parameters, the version of the plugin that
provides it, the versions of the libraries it names and of the audio loader's own libraries; any
change rebuilds the table. A table is stored compactly in one ``.npz`` (all values concatenated into
one float32 array, with offsets and shapes, plus a JSON header; no pickles), written to a temporary
file and renamed (:func:`ser_core.outputs.atomic_write`), so two processes extracting the same key
cannot corrupt it and a reader never sees half a file. A cached table that cannot be read or is
inconsistent (damaged on disk, edited, truncated) is reported in :attr:`FeatureTable.notes`, deleted
and rebuilt. The clips an interrupted extraction finished are a *partial* table
(``*.partial.npz``, same key). :class:`CacheEntry` is the one object through which every engine
reads, continues, checkpoints and stores a table; :func:`cached_tables` and :func:`clear_cache`
serve ``serbench cache``. Extraction itself is :mod:`ser_core.features`.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import zipfile
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from ser_core.audio import SAMPLE_RATE
from ser_core.config import cache_dir
from ser_core.errors import CacheError, OutputError
from ser_core.outputs import atomic_write, check_writable_dir
from ser_core.plugins import Registered
from ser_core.specs import Manifest


CACHE_FORMAT = 2


#: Distributions whose versions change what :func:`ser_core.audio.load_audio` returns.
LOADER_LIBRARIES = ("ser-core", "soundfile", "soxr", "av")


#: Temporary files older than this are left-overs of killed writers and may be removed.
STALE_TEMP_SECONDS = 3600


#: Suffix of tables holding the finished part of an interrupted extraction.
PARTIAL_SUFFIX = ".partial.npz"


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
    silent: list[str] = field(default_factory=list)  # clip ids whose peak is below SILENT_PEAK
    notes: list[str] = field(default_factory=list)  # what happened to the cache: rebuilt, resumed

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


class CacheEntry:
    """The cached table of one feature on one corpus: its key and file, and the partial table an
    interrupted extraction left. Every way of building a table (in this process, or in chunks on
    Dask workers) reads, continues, checkpoints and stores it through this one object."""

    def __init__(self, manifest: Manifest, feature: Registered, key: str, path: Path):
        self.manifest, self.feature, self.key, self.path = manifest, feature, key, Path(path)
        self.header = _header(manifest, feature, key)

    @classmethod
    def of(cls, manifest: Manifest, feature: Registered) -> "CacheEntry":
        key = cache_key(manifest, feature)
        return cls(manifest, feature, key, cache_path(manifest, feature, key))

    @property
    def partial(self) -> Path:
        return partial_path(self.path)

    @property
    def clip_ids(self) -> list[str]:
        return [c.clip_id for c in self.manifest.clips]

    def exists(self) -> bool:
        """Whether the cache holds this table, whole or in part."""
        return self.path.is_file() or self.partial.is_file()

    def load(self, notes: list[str]) -> FeatureTable | None:
        """The complete table, or ``None`` (an unusable file is deleted, and said so in ``notes``)."""
        return _load_cached(self.path, self.key, self.manifest, notes)

    def resume(self, notes: list[str]) -> FeatureTable | None:
        """The clips an interrupted extraction finished (said so in ``notes``), or ``None``."""
        done = _load_cached(self.partial, self.key, self.manifest, notes, partial=True)
        if done is not None:
            notes.append(
                f"continued an interrupted extraction: {len(done.clip_ids) + len(done.failures)} of "
                f"{len(self.manifest.clips)} clips were already done"
            )
        return done

    def checkpoint(self, table: FeatureTable) -> None:
        """Keep the clips finished so far as the partial table the next extraction continues from."""
        write_table(self.partial, table, {**self.header, "partial": True})

    def store(self, table: FeatureTable) -> FeatureTable:
        """Store the finished table whole (atomically) and drop the partial one."""
        write_table(self.path, table, self.header)
        self.partial.unlink(missing_ok=True)
        table.path = self.path
        return table


def partial_path(path: Path) -> Path:
    """Where the finished part of an interrupted extraction of the table at ``path`` is kept."""
    return path.with_name(path.name.removesuffix(".npz") + PARTIAL_SUFFIX)


def check_cache_dir(directory: Path | None = None) -> None:
    """Raise :class:`CacheError` unless tables can be written under ``directory`` (default: the
    feature cache root): called before extraction starts, not after the work is done."""
    try:
        check_writable_dir(
            directory or cache_dir() / "features", "the feature cache directory",
            "set SERBENCH_CACHE_DIR to a writable directory (or fix its permissions)",
        )
    except OutputError as exc:
        raise CacheError(str(exc)) from None


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
    """Store a table atomically (:func:`ser_core.outputs.atomic_write`).

    The file is an ordinary ``.npz`` (``np.load`` reads it without pickles): ``values`` holds every
    item's float32 values back to back, ``offsets``/``shapes`` cut them apart again. ``values`` is
    streamed item by item, so writing needs no second copy of the table in memory. ``header``
    (JSON-serialisable) is stored as ``meta``; :func:`cached_tables` lists it.

    :raises CacheError: the table cannot be written (read-only directory, disk full), naming it.
    """
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
        "silent_ids": np.array(table.silent, dtype=str),
    }
    try:
        with atomic_write(path) as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
            with archive.open("values.npy", "w", force_zip64=True) as member:
                npy_format.write_array_header_2_0(
                    member, {"descr": "<f4", "fortran_order": False, "shape": (int(offsets[-1]),)}
                )
                for item in table.items:
                    member.write(np.ascontiguousarray(item, dtype="<f4").data)
            for name, array in small.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    npy_format.write_array(member, array, allow_pickle=False)
    except OutputError as exc:
        raise CacheError(f"feature cache: {exc} (set SERBENCH_CACHE_DIR to use another directory)") from None


def read_table(path: Path, key: str) -> FeatureTable:
    """Load a table written by :func:`write_table`, checking that its parts agree.

    :raises ValueError: the parts are inconsistent (offsets, shapes, ids, key); damaged files raise
        whatever the zip or ``.npy`` reader raises (``BadZipFile``, ``OSError``, ``ValueError``, ...).
    """
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        values, offsets, shapes = data["values"], data["offsets"], data["shapes"]
        clip_ids = data["clip_ids"].tolist()
        failed_ids, failed_reasons = data["failed_ids"].tolist(), data["failed_reasons"].tolist()
        silent = data["silent_ids"].tolist() if "silent_ids" in data.files else []
    if key and meta.get("key") not in (None, key):
        raise ValueError(f"the table's key {meta.get('key')!r} is not its file name's {key!r}")
    if values.ndim != 1 or offsets.ndim != 1 or shapes.ndim != 2:
        raise ValueError("values, offsets or shapes have the wrong number of dimensions")
    if not (len(offsets) == len(shapes) + 1 == len(clip_ids) + 1) or len(failed_ids) != len(failed_reasons):
        raise ValueError(
            f"{len(clip_ids)} clip ids, {len(shapes)} shapes and {len(offsets)} offsets do not belong together"
        )
    if offsets[0] != 0 or offsets[-1] != values.size or np.any(np.diff(offsets) < 0) or np.any(shapes < 0):
        raise ValueError("offsets do not cut the stored values into items")
    if not np.array_equal(np.prod(shapes, axis=1), np.diff(offsets)):
        raise ValueError("item shapes do not match the offsets")
    if len(set(clip_ids) | set(failed_ids)) != len(clip_ids) + len(failed_ids):
        raise ValueError("a clip id appears twice")
    items = [values[offsets[i] : offsets[i + 1]].reshape(tuple(shapes[i])) for i in range(len(shapes))]
    failures = dict(zip(failed_ids, failed_reasons))
    return FeatureTable(clip_ids, items, key, failures, from_cache=True, path=path, silent=silent)


def _discard(path: Path, reason: str) -> str:
    """Delete an unusable cache file; the sentence saying so (for :attr:`FeatureTable.notes`)."""
    try:
        path.unlink()
        action = "deleted it and rebuilt the table"
    except OSError as exc:
        action = f"could not delete it ({exc.strerror}); rebuilt the table"
    return f"the cached table {path} was unusable ({reason}); {action}"


def _load_cached(
    path: Path, key: str, manifest: Manifest, notes: list[str], partial: bool = False
) -> FeatureTable | None:
    """The cached (or partial) table at ``path``, or ``None`` when there is none or it is unusable.

    An unreadable or inconsistent file is reported in ``notes`` and deleted. A complete table must
    cover exactly the manifest's clips; a partial one only clips of the manifest.
    """
    try:
        if not path.is_file():
            return None
    except OSError:
        return None
    try:
        table = read_table(path, key)
    except Exception as exc:  # any damage (bad CRC, truncation, garbage, inconsistent parts): rebuild
        notes.append(_discard(path, f"{type(exc).__name__}: {exc}"))
        return None
    expected = {clip.clip_id for clip in manifest.clips}
    covered = set(table.clip_ids) | set(table.failures)
    if (not covered <= expected) if partial else covered != expected:
        notes.append(_discard(path, f"it covers {len(covered)} clips, not the corpus's {len(expected)}"))
        return None
    if not set(table.silent) <= expected:
        notes.append(_discard(path, "its silent-clip list names clips outside the corpus"))
        return None
    return table


def _read_meta(path: Path) -> dict | None:
    """The JSON header of a cached table, or ``None`` when it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
        return meta if isinstance(meta, dict) else None
    except Exception:  # a damaged file of any kind is listed as unreadable, never crashes the listing
        return None


def cached_tables() -> list[dict]:
    """Every cached feature table: corpus, feature, clips, failed clips, created, bytes, file, status.

    ``status`` is ``ok``, ``partial`` (an interrupted extraction, continued by the next one) or
    ``unreadable`` (shown with corpus ``"?"`` so it can be seen and cleared; the next extraction
    of its key rebuilds it). Never raises for a damaged cache.
    """
    root = cache_dir() / "features"
    try:
        paths = sorted(root.glob("*/*.npz")) if root.is_dir() else []
    except OSError:
        return []
    entries = []
    for path in paths:
        if not path.is_file():
            continue  # not a table (a directory that happens to end in .npz)
        meta = _read_meta(path)
        try:
            size = path.stat().st_size
        except OSError:
            continue  # removed while listing
        status = "unreadable" if meta is None else "partial" if path.name.endswith(PARTIAL_SUFFIX) else "ok"
        meta = meta or {}
        entries.append(
            {
                "corpus": str(meta.get("corpus", "?")),
                "feature": str(meta.get("feature", path.parent.name)),
                "clips": meta.get("clips"),
                "failed": meta.get("failed"),
                "created": str(meta.get("created", "")),
                "key": str(meta.get("key", "")),
                "bytes": size,
                "file": str(path),
                "status": status,
            }
        )
    return entries


def clear_cache(feature: str | None = None, corpus: str | None = None) -> int:
    """Delete cached tables (all, or those of one feature and/or corpus); returns how many were removed.

    Unreadable tables match any filter's feature by their directory and are removed with ``corpus``
    filters too (their corpus cannot be read). Temporary files left by killed writers (older than an
    hour) are removed too; younger ones may belong to a running extraction and are kept.

    :raises CacheError: a table cannot be deleted (read-only cache directory), naming it.
    """
    removed = 0
    for entry in cached_tables():
        unreadable = entry["status"] == "unreadable"
        if feature not in (None, entry["feature"]) or (corpus not in (None, entry["corpus"]) and not unreadable):
            continue
        try:
            Path(entry["file"]).unlink(missing_ok=True)
        except OSError as exc:
            raise CacheError(
                f"cannot delete {entry['file']} ({exc.strerror}); {removed} tables were removed before it. "
                "Fix the cache directory's permissions or set SERBENCH_CACHE_DIR."
            ) from None
        removed += 1
    root = cache_dir() / "features"
    try:
        for tmp in root.glob("*/*.tmp") if root.is_dir() else []:
            if time.time() - tmp.stat().st_mtime > STALE_TEMP_SECONDS:
                tmp.unlink(missing_ok=True)
    except OSError:
        pass  # left-over temporary files are harmless
    return removed
