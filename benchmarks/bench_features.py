"""Feature-extraction throughput on the real EMO-DB: clips/s and real-time factor, cold and warm cache.

For every feature (all registered ones, or those named with ``--feature``) the script extracts the
whole corpus twice into a fresh cache directory: *cold* (nothing cached: spawning the workers, each
worker's library start-up, decoding, extraction and writing the table) and *warm* (the table is
found by its key and loaded). It prints clips/s, the real-time factor (wall time / audio duration;
below 1 is faster than real time) and the table's size on disk.

    .venv/bin/python benchmarks/bench_features.py [--path DIR] [--feature NAME ...] [--workers N]
"""

from __future__ import annotations

import argparse
import sys
import os
import shutil
import tempfile
import time
from pathlib import Path



def emodb_manifest(path: Path):
    """The EMO-DB manifest through its corpus plugin."""
    from ser_core import corpus
    from ser_core.plugins import load_registry

    return corpus.scan(load_registry().corpus("emodb"), path)


def audio_seconds(manifest) -> float:
    """Total duration of the manifest's clips, from the file headers."""
    import soundfile

    return sum(soundfile.info(str(clip.path)).duration for clip in manifest.clips)


def main() -> None:
    """Run the benchmark and print one row per feature."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=os.environ.get("SERBENCH_EMODB") or None,
                        help="EMO-DB's wav/ directory (default: $SERBENCH_EMODB)")
    parser.add_argument("--feature", action="append", help="feature name (repeatable; default: all)")
    parser.add_argument("--workers", type=int, default=None, help="extraction processes (default: all cores)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="cache to use (default: a fresh temporary one)")
    args = parser.parse_args()

    cache_root = args.cache_dir or Path(tempfile.mkdtemp(prefix="serbench-bench-"))
    os.environ["SERBENCH_CACHE_DIR"] = str(cache_root)

    from ser_core import cache, features
    from ser_core.plugins import load_registry

    registry = load_registry()
    names = args.feature or sorted(registry.items["feature"])
    if args.path is None or not Path(args.path).is_dir():
        where = f"not found at {args.path}" if args.path else "not given"
        sys.exit(f"EMO-DB {where}: pass --path (its wav/ directory) or set SERBENCH_EMODB")
    args.path = Path(args.path)
    manifest = emodb_manifest(args.path)
    seconds = audio_seconds(manifest)
    n = len(manifest.clips)
    workers = features.default_workers() if args.workers is None else args.workers
    print(f"EMO-DB: {n} clips, {seconds / 60:.1f} min of audio, in {args.path}")
    print(f"workers: {workers}; cache: {cache_root}\n")
    header = f"{'feature':<10} {'cold s':>7} {'clips/s':>8} {'RTF':>8} {'warm s':>7} {'clips/s':>8} {'RTF':>9} {'MB':>7} failed"
    print(header)
    print("-" * len(header))
    total_bytes = 0
    try:
        for name in names:
            feature = registry.feature(name)
            cache.clear_cache(feature=name, corpus=manifest.corpus)
            start = time.perf_counter()
            cold = features.extract(manifest, feature, workers=workers)
            cold_s = time.perf_counter() - start
            start = time.perf_counter()
            warm = features.extract(manifest, feature, workers=workers)
            warm_s = time.perf_counter() - start
            if cold.from_cache or not warm.from_cache:
                raise RuntimeError(f"{name}: expected a cold extraction then a cache hit")
            size = cold.path.stat().st_size
            total_bytes += size
            print(
                f"{name:<10} {cold_s:7.1f} {n / cold_s:8.1f} {cold_s / seconds:8.4f} "
                f"{warm_s:7.2f} {n / warm_s:8.0f} {warm_s / seconds:9.6f} {size / 1e6:7.1f} {len(cold.failures)}",
                flush=True,
            )
    finally:
        if args.cache_dir is None:
            shutil.rmtree(cache_root, ignore_errors=True)
    print(f"\ncache size on disk: {total_bytes / 1e6:.1f} MB for {len(names)} tables")


if __name__ == "__main__":
    main()
