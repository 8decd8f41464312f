"""The feature cache and the extraction driver: hits, misses, invalidation, failures, concurrency, CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile
from typer.testing import CliRunner

from ser_core import FeatureSpec, hookimpl
from ser_core.errors import FeatureError
from ser_core.cache import cache_key, cached_tables, clear_cache, read_table
from ser_core.features import extract
from ser_core.api.testing import FAKE_FEATURE
from ser_core.plugins import PluginInfo, Registered, load_registry
from ser_core.specs import Clip, Manifest

SR = 16_000


def write_clips(directory: Path, signals: dict[str, np.ndarray | bytes], corpus: str = "tones") -> Manifest:
    """Write each signal as a 16 kHz wav (or raw bytes as a broken file) and list them as a manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    clips = []
    for clip_id, signal in signals.items():
        path = directory / f"{clip_id}.wav"
        if isinstance(signal, bytes):
            path.write_bytes(signal)
        else:
            soundfile.write(path, signal, SR, subtype="FLOAT")
        clips.append(Clip(clip_id, path, speaker="s1", label="neutral"))
    return Manifest(corpus, clips, root=directory)


def sine(seconds: float, frequency: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.4 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def stats_feature(calls: list, params: dict | None = None, version: str = "1.0") -> Registered:
    """A cheap in-process functionals feature that counts its calls."""

    def stats(signal: np.ndarray, sample_rate: int) -> np.ndarray:
        calls.append(len(signal))
        scale = (params or {}).get("scale", 1.0)
        return np.array([signal.mean(), signal.std(), len(signal) / sample_rate], dtype=np.float32) * scale

    spec = FeatureSpec("stats", "functionals", stats, params=params or {"scale": 1.0}, libraries=("numpy",))
    return Registered("feature", spec, PluginInfo("stats", "ser-plugin-stats", version, "tests"))


def test_cache_hit_miss_and_invalidation(tmp_path, serbench_cache):
    manifest = write_clips(tmp_path / "clips", {f"c{i}": sine(0.5 + 0.25 * i, 200.0 * (i + 1)) for i in range(3)})
    calls: list = []
    feature = stats_feature(calls)

    first = extract(manifest, feature, workers=0)
    assert not first.from_cache and len(calls) == 3 and first.clip_ids == ["c0", "c1", "c2"]
    assert first.path is not None and first.path.is_file() and first.path.is_relative_to(serbench_cache)

    progress: list[int] = []
    hit = extract(manifest, feature, workers=0, on_progress=progress.append)
    assert hit.from_cache and len(calls) == 3 and sum(progress) == 3
    assert hit.cache_key == first.cache_key and hit.clip_ids == first.clip_ids
    for cached, fresh in zip(hit.items, first.items):
        np.testing.assert_array_equal(cached, fresh)

    # a parameter change is a different table
    scaled = stats_feature(calls, params={"scale": 2.0})
    again = extract(manifest, scaled, workers=0)
    assert not again.from_cache and len(calls) == 6
    np.testing.assert_allclose(again.items[0], 2 * first.items[0], rtol=1e-6)

    # so is a new plugin version, or other libraries
    assert cache_key(manifest, stats_feature(calls, version="1.1")) != first.cache_key
    other_libraries = dataclasses.replace(feature, spec=dataclasses.replace(feature.spec, libraries=("scipy",)))
    assert cache_key(manifest, other_libraries) != first.cache_key

    # a changed file (same size, new content and mtime) is re-extracted
    changed = manifest.clips[1].path
    soundfile.write(changed, sine(0.75, 999.0) * 0.5, SR, subtype="FLOAT")
    stat = changed.stat()
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    rebuilt = extract(manifest, feature, workers=0)
    assert not rebuilt.from_cache and len(calls) == 9 and rebuilt.cache_key != first.cache_key
    assert abs(rebuilt.items[1][1] - first.items[1][1] / 2) < 1e-3  # std halved with the amplitude
    assert extract(manifest, feature, workers=0).from_cache

    listed = cached_tables()
    assert len(listed) == 3 and {e["corpus"] for e in listed} == {"tones"}
    assert {e["clips"] for e in listed} == {3} and all(e["bytes"] > 0 for e in listed)
    assert clear_cache(feature="stats", corpus="other") == 0
    assert clear_cache(feature="stats") == 3 and cached_tables() == []


def test_tables_are_compact_arrays_with_offsets(tmp_path, serbench_cache):
    manifest = write_clips(tmp_path / "clips", {"a": sine(0.3, 300.0), "b": sine(0.7, 500.0)})
    registry = load_registry()
    table = extract(manifest, registry.feature("logmel40"), workers=0)
    assert [item.shape for item in table.items] == [(28, 40), (68, 40)]
    with np.load(table.path, allow_pickle=False) as data:  # no object arrays: loads without pickle
        assert data["values"].dtype == np.float32 and data["values"].size == (28 + 68) * 40
        assert data["offsets"].tolist() == [0, 28 * 40, (28 + 68) * 40]
        assert json.loads(str(data["meta"]))["feature"] == "logmel40"
    loaded = read_table(table.path, table.cache_key)
    for a, b in zip(loaded.items, table.items):
        np.testing.assert_array_equal(a, b)


def test_bad_clips_are_named_by_the_chosen_policy(tmp_path, serbench_cache):
    def nan_for_one(signal: np.ndarray, sample_rate: int) -> np.ndarray:
        value = np.nan if len(signal) == 4321 else 1.0
        return np.array([value, signal.std()], dtype=np.float32)

    feature = Registered(
        "feature",
        FeatureSpec("nanny", "functionals", nan_for_one, params={"v": 1}),
        PluginInfo("nanny", "ser-plugin-nanny", "1", "tests"),
    )
    manifest = write_clips(
        tmp_path / "clips",
        {
            "good": sine(0.5, 300.0),
            "broken": b"RIFF\x00\x00 this is not audio",
            "nan": sine(4321 / SR, 300.0),
        },
    )
    table = extract(manifest, feature, workers=0)
    assert table.clip_ids == ["good"]
    assert set(table.failures) == {"broken", "nan"}
    assert "AudioError" in table.failures["broken"] and "broken.wav" in table.failures["broken"]
    assert "non-finite" in table.failures["nan"]

    with pytest.raises(FeatureError) as raised:
        extract(manifest, feature, workers=0, on_error="raise")  # from the cache: failures are stored too
    message = str(raised.value)
    assert "2 clips of 'tones'" in message and "nan (" in message and str(manifest.clips[1].path) in message

    # a table where every clip failed is stored (and found) like any other
    only_broken = Manifest("tones", [manifest.clips[1]], root=manifest.root)
    empty = extract(only_broken, feature, workers=0)
    assert empty.clip_ids == [] and list(empty.failures) == ["broken"]
    again = extract(only_broken, feature, workers=0)
    assert again.from_cache and again.items == [] and again.failures == empty.failures

    # a clip shorter than one analysis frame of a real feature fails, through a worker process
    short = write_clips(tmp_path / "short", {"ok": sine(0.5, 440.0), "tiny": sine(0.01, 440.0)})
    table = extract(short, load_registry().feature("raw5s"), workers=1)
    assert table.clip_ids == ["ok"] and table.items[0].shape == (8000,)
    assert "ClipTooShortError" in table.failures["tiny"] and "160 samples" in table.failures["tiny"]


def test_worker_pool_matches_in_process_and_a_corrupt_table_is_rebuilt(tmp_path, serbench_cache):
    signals = {f"c{i}": sine(0.4 + 0.1 * i, 150.0 * (i + 1)) for i in range(6)}
    manifest = write_clips(tmp_path / "clips", signals)
    feature = load_registry().feature("spec5s40")
    progress: list[int] = []
    pooled = extract(manifest, feature, workers=2, on_progress=progress.append)
    assert progress == [1] * 6 and pooled.clip_ids == list(signals)
    local = extract(manifest, feature, workers=0, use_cache=False)
    assert not local.from_cache and local.path is None
    for a, b in zip(pooled.items, local.items):
        np.testing.assert_array_equal(a, b)

    pooled.path.write_bytes(b"truncated")
    rebuilt = extract(manifest, feature, workers=0)
    assert not rebuilt.from_cache and read_table(rebuilt.path, rebuilt.cache_key).clip_ids == list(signals)


CONCURRENT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    import numpy as np
    from ser_core import FeatureSpec, hookimpl
    from ser_core.features import extract
    from ser_core.plugins import load_registry
    from ser_core.specs import Clip, Manifest

    paths, ready, me = json.loads(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

    def slow_stats(signal, sample_rate):
        time.sleep(0.05)
        return np.array([signal.mean(), signal.std(), len(signal)], dtype=np.float32)

    class Plugin:
        @hookimpl
        def register_features(self, register):
            register(FeatureSpec("slowstats", "functionals", slow_stats, params={"v": 1}))

    feature = load_registry([("slow", Plugin())], use_entry_points=False).feature("slowstats")
    manifest = Manifest("tones", [Clip(Path(p).stem, Path(p), "s1", "neutral") for p in paths])
    (ready / me).touch()
    deadline = time.time() + 60
    while len(list(ready.iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.002)
    table = extract(manifest, feature, workers=0)
    print("RESULT" + json.dumps({"from_cache": table.from_cache, "path": str(table.path),
                                 "values": [v.tolist() for v in table.items]}))
    """
)


def test_two_processes_writing_the_same_key_leave_one_valid_table(tmp_path, serbench_cache):
    manifest = write_clips(tmp_path / "clips", {f"c{i:02d}": sine(0.2, 100.0 + 37 * i) for i in range(12)})
    ready = tmp_path / "ready"
    ready.mkdir()
    env = {**os.environ, "SERBENCH_CACHE_DIR": str(serbench_cache)}
    argv = [json.dumps([str(c.path) for c in manifest.clips]), str(ready)]
    procs = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT, *argv, name], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
        for name in ("one", "two")
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out.split("RESULT", 1)[1]))
    assert [r["from_cache"] for r in results] == [False, False]  # both really extracted at once
    assert results[0]["path"] == results[1]["path"] and results[0]["values"] == results[1]["values"]
    directory = Path(results[0]["path"]).parent
    assert [p.name for p in directory.iterdir()] == [Path(results[0]["path"]).name]  # no temp files left
    stored = read_table(Path(results[0]["path"]), "")
    assert [v.tolist() for v in stored.items] == results[0]["values"]


def test_cli_extracts_lists_and_clears(tmp_path, serbench_cache, serbench_fakes):
    from ser_core.cli import app

    runner = CliRunner()
    corpus_dir = tmp_path / "synthetic"
    corpus_dir.mkdir()
    args = ["features", "extract", "--corpus", "synthetic", "--path", str(corpus_dir), "-f", "raw5s", "--workers", "0"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "raw5s: 320 clips extracted at" in first.output and "clips/s" in first.output
    assert str(serbench_cache) in first.output.replace("\n", "")
    assert "from the cache" in runner.invoke(app, args).output

    broken = next(corpus_dir.rglob("*.wav"))
    broken.write_bytes(b"garbage")
    third = runner.invoke(app, args)
    assert third.exit_code == 0 and "raw5s: 319 clips extracted" in third.output
    assert broken.stem in third.output and "AudioError" in third.output
    strict = runner.invoke(app, [*args, "--on-error", "raise"])
    assert strict.exit_code == 2 and broken.stem in strict.output

    listed = runner.invoke(app, ["cache", "list"])
    assert listed.exit_code == 0 and "synthetic" in listed.output and "raw5s" in listed.output
    assert "2 tables" in listed.output
    misspelt = runner.invoke(app, ["cache", "clear", "--feature", "raw5"], env={"COLUMNS": "300"})
    assert misspelt.exit_code == 2, misspelt.output
    assert ("--feature 'raw5': no feature of this name is cached or installed; did you mean 'raw5s'? Cached: raw5s. "
            "Nothing was removed.") in " ".join(misspelt.output.split())
    assert len(cached_tables()) == 2, "a misspelling removes nothing (and used to exit 0 saying 'removed 0')"
    known = runner.invoke(app, ["cache", "clear", "--feature", FAKE_FEATURE])
    assert known.exit_code == 0 and "removed 0 cached tables" in known.output, "installed, just not cached: fine"
    cleared = runner.invoke(app, ["cache", "clear", "--corpus", "synthetic"])
    assert "removed 2 cached tables" in cleared.output and cached_tables() == []


@pytest.mark.parametrize("crash_seen_first", [False, True], ids=["in-order", "crash-seen-first"])
def test_a_worker_crash_names_the_clips_in_flight(tmp_path, serbench_cache, monkeypatch, crash_seen_first):
    """The clips in flight are named, and the clip that finished before the crash is kept, also in
    the loaded-machine case: the parent wakes only after the clip's result and the crash have both
    arrived, and sees the crash first."""
    from concurrent.futures import ALL_COMPLETED

    from ser_core import features as features_module

    module_dir = tmp_path / "modules"
    module_dir.mkdir()
    (module_dir / "crashing_feature.py").write_text(
        "import os\nimport numpy as np\n\n"
        "def extract(signal, sample_rate):\n"
        "    if len(signal) == 7777:\n"
        "        os._exit(3)  # what a native crash in a decoder or feature library looks like\n"
        "    return np.array([signal.std()], dtype=np.float32)\n"
    )
    monkeypatch.syspath_prepend(str(module_dir))  # spawned workers inherit sys.path
    import crashing_feature

    if crash_seen_first:
        real_wait = features_module.wait

        def late_wait(futures, return_when):
            futures = list(futures)
            real_wait(futures, timeout=120, return_when=ALL_COMPLETED)
            return sorted(futures, key=lambda f: f.exception(timeout=0) is None), set()  # the crash first

        monkeypatch.setattr(features_module, "wait", late_wait)
    feature = Registered(
        "feature",
        FeatureSpec("crashy", "functionals", crashing_feature.extract),
        PluginInfo("crashy", "ser-plugin-crashy", "1", "tests"),
    )
    manifest = write_clips(tmp_path / "clips", {"fine": sine(0.5, 300.0), "deadly": sine(7777 / SR, 300.0)})
    with pytest.raises(FeatureError, match=r"worker died .*deadly\.wav"):
        extract(manifest, feature, workers=1)
    # no complete table; the clip finished before the crash is kept for the next extraction
    assert [(e["status"], e["clips"]) for e in cached_tables()] == [("partial", 1)]


def test_an_extractor_workers_cannot_import_is_a_clear_error(tmp_path, serbench_cache):
    feature = Registered(
        "feature",
        FeatureSpec("local", "functionals", lambda signal, sample_rate: np.ones(2, np.float32)),
        PluginInfo("local", "ser-plugin-local", "1", "tests"),
    )
    manifest = write_clips(tmp_path / "clips", {"a": sine(0.3, 300.0)})
    with pytest.raises(FeatureError, match="module-level function"):
        extract(manifest, feature, workers=1)
    assert len(extract(manifest, feature, workers=0)) == 1


def test_the_dask_engine_builds_and_continues_tables_through_the_same_cache_entry(tmp_path, serbench_cache):
    """Chunks assembled as Dask workers assemble them give the table an in-process extraction gives
    (same clips, values, failures, silent clips, header), and a partial table left by an interruption
    is continued by the worker's path with the one note both engines write."""
    from ser_core.executor import assemble_table, ensure_table, extract_chunk
    from ser_core.cache import CacheEntry

    signals = {"c0": sine(0.5, 200.0), "c1": np.zeros(8000, np.float32), "c2": b"not a wav", "c3": sine(0.7, 300.0)}
    manifest = write_clips(tmp_path / "clips", signals)
    calls: list = []
    feature = stats_feature(calls)
    here = extract(manifest, feature, workers=0)
    here_meta = json.loads(str(np.load(here.path)["meta"]))
    here.path.unlink()

    entry = CacheEntry.of(manifest, feature)
    assert entry.path == here.path and entry.key == here.cache_key and not entry.exists()
    paths = [str(c.path) for c in manifest.clips]
    chunks = [extract_chunk([(i, paths[i]) for i in part], feature.spec.extract, "functionals") for part in ([0, 1], [2, 3])]
    info = assemble_table(entry, *chunks)
    built = read_table(Path(info.path), info.key)
    assert built.clip_ids == here.clip_ids == ["c0", "c1", "c3"] and list(built.failures) == ["c2"]
    assert built.silent == here.silent == ["c1"] and info.failures == here.failures
    for a, b in zip(built.items, here.items):
        np.testing.assert_array_equal(a, b)
    meta = json.loads(str(np.load(entry.path)["meta"]))
    assert {k: v for k, v in meta.items() if k != "created"} == {k: v for k, v in here_meta.items() if k != "created"}

    # an interruption after the first chunk: its clips are kept, and the worker continues from them
    entry.path.unlink()
    from ser_core.executor import table_from_chunks

    entry.checkpoint(table_from_chunks(entry, chunks[:1]))
    assert entry.exists() and not entry.path.exists()
    calls.clear()
    resumed = ensure_table(entry)
    assert len(calls) == 1, "only c3 is extracted again (c2 cannot be decoded, so the feature never sees it)"
    assert resumed.notes == ("continued an interrupted extraction: 2 of 4 clips were already done",)
    assert read_table(entry.path, entry.key).clip_ids == here.clip_ids and not entry.partial.exists()
