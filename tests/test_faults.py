"""Bad input and faults, one family per test: each asserts the message the user sees and that nothing
already computed (stored cells, cached features, a previous export) is lost or changed.

Permission problems are simulated (the tests may run as root, who can write anything): the one
function serbench uses to create a file in a directory is made to fail as the kernel would.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile
from typer.testing import CliRunner

from ser_core import CorpusSpec, FeatureSpec, ModelSpec, Setting, hookimpl, outputs
from ser_core.cli import app
from ser_core.errors import CacheError, ConfigError, OutputError
from ser_core.cache import cache_path, cached_tables, clear_cache, read_table
from ser_core.features import extract
from ser_core.plugins import load_registry
from ser_core.results import ResultStore
from ser_core.runner import Reporter, Runner
from ser_core.specs import Clip, Manifest
from ser_core.suites import Suite, System

SR = 16_000
CALLS: list[int] = []  # one entry per clip the test feature extracted


def energy(signal: np.ndarray, rate: int) -> np.ndarray:
    CALLS.append(len(signal))
    return np.array([np.log(np.mean(signal**2) + 1e-9), np.mean(np.abs(np.diff(np.sign(signal)))), len(signal) / rate],
                    dtype=np.float32)


class Centroid:
    def __init__(self, context):
        self.context = context

    def fit(self, X, y, groups):
        X = np.stack(X)
        self.centroids = np.stack([X[y == c].mean(axis=0) for c in np.unique(y)])
        self.classes = np.unique(y)

    def predict(self, X):
        X = np.stack(X)
        return self.classes[np.argmin(((X[:, None] - self.centroids[None]) ** 2).sum(-1), axis=1)]

    def parameter_count(self):
        return int(self.centroids.size)

    def describe(self):
        return {}


class Plugin:
    def __init__(self, manifest: Manifest, name: str = "tiny"):
        self.manifest, self.name = manifest, name

    @hookimpl
    def register_corpora(self, register):
        register(CorpusSpec(self.name, scan=lambda root: self.manifest, needs_path=False))

    @hookimpl
    def register_features(self, register):
        register(FeatureSpec("energy", "functionals", extract=energy))

    @hookimpl
    def register_models(self, register):
        register(ModelSpec("centroid", create=Centroid, accepts=frozenset({"functionals"}),
                           defaults={"inner_folds": 5, "shrink": 0.0},
                           setting_types={"inner_folds": Setting(int, minimum=2)}))


BENCHMARKS = """
[systems.centroid-energy]
model = "centroid"
feature = "energy"
{settings}

[suites.t]
corpora = ["tiny"]
systems = ["centroid-energy"]
repeats = 1

[suites.nodata]
corpora = ["needs-data"]
systems = ["centroid-energy"]
repeats = 1
"""


class NeedsData:
    @hookimpl
    def register_corpora(self, register):
        register(CorpusSpec("needs-data", scan=lambda root: None, needs_path=True))


@pytest.fixture
def registry(synthetic_manifest):
    return load_registry([("tiny", Plugin(synthetic_manifest)), ("nd", NeedsData())], use_entry_points=False)


@pytest.fixture
def cli(registry, monkeypatch, tmp_path, serbench_cache):
    """Invoke ``serbench`` in-process with the test plugins; asserts no traceback is ever shown."""
    monkeypatch.setattr("ser_core.plugins.load_registry", lambda *a, **k: registry)
    monkeypatch.delenv("SERBENCH_DEBUG", raising=False)
    config = tmp_path / "benchmarks.toml"
    config.write_text(BENCHMARKS.format(settings=""))
    runner = CliRunner()

    def invoke(*args: str, expect: int | None = None):
        result = runner.invoke(app, list(args))
        output = result.output
        assert "Traceback" not in output, output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        if expect is not None:
            assert result.exit_code == expect, output
        return result.exit_code, " ".join(output.split())  # rich wraps lines: compare words

    invoke.config = config
    return invoke


def stored_cells(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return sorted(con.execute("SELECT corpus, system, repeat, fold, status FROM cells").fetchall())


def fail_creating_files_in(monkeypatch, directory: Path, code: int = errno.EACCES) -> None:
    """Make creating any file in ``directory`` fail like a read-only directory (or full disk) would."""
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve() == directory.resolve():
            raise OSError(code, os.strerror(code), str(Path(dir) / "x"))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


# --- results database -------------------------------------------------------------------------------


def test_bad_results_database_paths_are_refused_naming_the_path(cli, tmp_path, monkeypatch):
    config = str(cli.config)
    directory = tmp_path / "a-directory"
    directory.mkdir()
    code, out = cli("run", "-c", config, "-s", "t", "--db", str(directory), "--workers", "0", expect=2)
    assert f"results database {directory} is a directory" in out and "--db" in out

    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(300))
    before = garbage.read_bytes()
    code, out = cli("run", "-c", config, "-s", "t", "--db", str(garbage), expect=2)
    assert f"{garbage} is not an SQLite database" in out and garbage.read_bytes() == before
    code, out = cli("leaderboard", "--db", str(garbage), expect=2)
    assert "is not an SQLite database" in out

    other = tmp_path / "other-app.sqlite"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        con.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, cells TEXT)")
        con.execute("INSERT INTO users VALUES (1, 'ada')")
    code, out = cli("run", "-c", config, "-s", "t", "--db", str(other), expect=2)
    assert f"{other} is another application's SQLite database (tables: orders, users)" in out
    code, out = cli("leaderboard", "--db", str(other), expect=2)
    assert "another application's" in out
    with sqlite3.connect(other) as con:  # adopted neither by run nor by leaderboard
        assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")] == ["orders", "users"]

    readonly_dir = tmp_path / "readonly"
    readonly_dir.mkdir()
    fail_creating_files_in(monkeypatch, readonly_dir)
    code, out = cli("run", "-c", config, "-s", "t", "--db", str(readonly_dir / "r.db"), expect=2)
    assert f"the results database's directory {readonly_dir} cannot be written (permission denied" in out
    assert not (readonly_dir / "r.db").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere; the simulated variants above cover it")
def test_real_read_only_paths(cli, tmp_path, results_db):
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o555)
    locked = tmp_path / "locked.wav"
    soundfile.write(locked, np.zeros(1600, np.float32), SR)
    locked.chmod(0)
    try:
        code, out = cli("run", "-c", str(cli.config), "-s", "t", "--db", str(readonly / "r.db"), expect=2)
        assert f"{readonly} cannot be written (permission denied" in out
        code, out = cli("leaderboard", "--db", str(results_db), "-o", str(readonly / "b.md"), expect=2)
        assert f"cannot write {readonly / 'b.md'}: permission denied" in out
        from ser_core.audio import AudioError, load_audio

        with pytest.raises(AudioError, match="permission denied"):
            load_audio(locked)
    finally:
        readonly.chmod(0o755)
        locked.chmod(0o644)


def test_a_read_only_results_file_is_refused_and_its_cells_kept(cli, tmp_path, monkeypatch):
    db = tmp_path / "r.db"
    cli("run", "-c", str(cli.config), "-s", "t", "--db", str(db), "--workers", "0", expect=0)
    cells = stored_cells(db)
    assert len(cells) == 4
    import builtins

    real_open = builtins.open

    def read_only(file, mode="r", *args, **kwargs):
        if Path(str(file)) == db and any(c in mode for c in "wa+"):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("ser_core.results_check.open", read_only, raising=False)
    code, out = cli("run", "-c", str(cli.config), "-s", "t", "--db", str(db), expect=2)
    assert f"results database {db} is read-only (Permission denied)" in out and "Make it writable" in out
    assert stored_cells(db) == cells


def _limit_pages(monkeypatch, extra: int | None) -> None:
    """Make SQLite report "database or disk is full" once the database grows by ``extra`` pages
    (``None``: at creation)."""
    real = sqlite3.connect

    def connect(*args, **kwargs):
        db = real(*args, **kwargs)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count={1 if extra is None else pages + extra}")
        return db

    monkeypatch.setattr(sqlite3, "connect", connect)


def test_disk_full_at_creation_and_mid_run_keeps_finished_cells(cli, tmp_path, monkeypatch):
    config = str(cli.config)
    fresh = tmp_path / "fresh.db"
    with monkeypatch.context() as patch:
        _limit_pages(patch, None)
        code, out = cli("run", "-c", config, "-s", "t", "--db", str(fresh), "--workers", "0", expect=2)
    assert f"results database {fresh}: the disk is full (database or disk is full)" in out

    db = tmp_path / "r.db"
    ResultStore(db).close()
    real_write = ResultStore.write
    written = []

    def write_until_full(self, *args, **kwargs):  # the disk fills up after two cells
        if len(written) == 2:
            raise sqlite3.OperationalError("database or disk is full")
        real_write(self, *args, **kwargs)
        written.append(args[0])

    with monkeypatch.context() as patch:
        patch.setattr(ResultStore, "write", write_until_full)
        code, out = cli("run", "-c", config, "-s", "t", "--db", str(db), "--workers", "0", expect=2)
    assert "the disk is full" in out and "Cells finished before this are stored; run the same command again" in out
    kept = stored_cells(db)
    assert 1 <= len(kept) < 4 and all(status == "ok" for *_, status in kept)
    code, out = cli("run", "-c", config, "-s", "t", "--db", str(db), "--workers", "0", expect=0)
    assert f"{4 - len(kept)} cells computed, {len(kept)} already stored" in out
    assert set(kept) <= set(stored_cells(db)) and len(stored_cells(db)) == 4


# --- output files -----------------------------------------------------------------------------------


@pytest.fixture
def results_db(cli, tmp_path):
    db = tmp_path / "results.db"
    cli("run", "-c", str(cli.config), "-s", "t", "--db", str(db), "--workers", "0", expect=0)
    return db


def test_leaderboard_output_format_comes_from_the_suffix_or_is_refused(cli, results_db, tmp_path):
    board = tmp_path / "board.html"
    code, out = cli("leaderboard", "--db", str(results_db), "-o", str(board), expect=0)
    assert board.read_text().startswith("<!doctype html>") and f"wrote {board}" in out
    for suffix, start in ((".md", "# serbench leaderboard"), (".csv", "corpus,system"), (".json", "{")):
        cli("leaderboard", "--db", str(results_db), "-o", str(tmp_path / f"b{suffix}"), expect=0)
        assert (tmp_path / f"b{suffix}").read_text().startswith(start)
    code, out = cli("leaderboard", "--db", str(results_db), "-o", str(tmp_path / "board.txt"), expect=2)
    assert "cannot tell the format from the suffix '.txt'" in out and not (tmp_path / "board.txt").exists()
    code, out = cli("leaderboard", "--db", str(results_db), "-f", "table", "-o", str(tmp_path / "b.md"), expect=2)
    assert "--format table is for the terminal" in out


def test_bad_output_paths_are_refused_and_the_previous_export_survives(cli, results_db, tmp_path, monkeypatch):
    code, out = cli("leaderboard", "--db", str(results_db), "-f", "md", "-o", str(tmp_path), expect=2)
    assert f"cannot write {tmp_path}: it is a directory" in out

    code, out = cli("leaderboard", "--db", str(results_db), "-f", "csv", "-o", "/dev/full", expect=2)
    assert "cannot write /dev/full: no space left on the device" in out

    board = tmp_path / "exports" / "board.md"
    cli("leaderboard", "--db", str(results_db), "-o", str(board), expect=0)
    good = board.read_text()
    with monkeypatch.context() as patch:  # the disk fills up while the new export is written
        patch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
        code, out = cli("leaderboard", "--db", str(results_db), "-o", str(board), "--force", expect=2)
    assert f"cannot write {board}: no space left on the device" in out and "previous version of the file is unchanged" in out
    assert board.read_text() == good and os.listdir(board.parent) == ["board.md"], "no temporary file left"

    fail_creating_files_in(monkeypatch, board.parent)
    code, out = cli("leaderboard", "--db", str(results_db), "-o", str(board), "--force", expect=2)
    assert f"cannot write {board}: permission denied" in out and board.read_text() == good


def test_atomic_write_replaces_whole_files_only(tmp_path):
    target = tmp_path / "out.txt"
    outputs.write_text(target, "first")
    with pytest.raises(KeyboardInterrupt):
        with outputs.atomic_write(target, text=True) as handle:
            handle.write("half of the second")
            raise KeyboardInterrupt
    assert target.read_text() == "first" and os.listdir(tmp_path) == ["out.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="a parent of it is a file"):
        outputs.write_text(tmp_path / "file" / "out.txt", "y")


def test_the_console_script_shows_no_traceback(tmp_path):
    import subprocess
    import sys

    env = {**os.environ, "SERBENCH_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("SERBENCH_DEBUG", None)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(os.urandom(100))
    cases = [
        (["run", "--config", str(tmp_path)], "is a directory, not a benchmarks file"),
        (["leaderboard", "--db", str(garbage)], "is not an SQLite database"),
        (["run", "--workers", "-2"], "--workers"),
    ]
    for args, expected in cases:
        out = subprocess.run([sys.executable, "-m", "ser_core.cli", *args], capture_output=True, text=True,
                             env=env, cwd=tmp_path, timeout=120)
        said = " ".join((out.stdout + out.stderr).split())
        assert out.returncode == 2 and expected in said and "Traceback" not in said, said


# --- config paths ------------------------------------------------------------------------------------


def test_bad_config_paths_name_the_path(cli, tmp_path, monkeypatch):
    directory = tmp_path / "configs"
    directory.mkdir()
    code, out = cli("run", "--config", str(directory), expect=2)
    assert f"{directory}: is a directory, not a benchmarks file" in out
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00" + os.urandom(64))
    code, out = cli("run", "--config", str(binary), expect=2)
    assert f"{binary}: not a text file" in out
    monkeypatch.setenv("SERBENCH_CONFIG", str(directory))
    code, out = cli("run", expect=2)
    assert f"{directory}: is a directory" in out
    code, out = cli("corpus", "info", "tiny", expect=2)
    assert f"{directory}: is a directory" in out


# --- feature cache ------------------------------------------------------------------------------------


def test_an_unusable_cache_directory_stops_before_any_extraction(cli, tmp_path, serbench_cache, monkeypatch):
    config, db = str(cli.config), tmp_path / "r.db"
    serbench_cache.parent.mkdir(parents=True, exist_ok=True)
    serbench_cache.write_text("not a directory")
    CALLS.clear()
    code, out = cli("run", "-c", config, "-s", "t", "--db", str(db), "--workers", "0", expect=2)
    assert f"the feature cache {serbench_cache} is a file, not a directory" in out
    assert "SERBENCH_CACHE_DIR" in out and CALLS == [], "nothing was extracted"
    assert not db.exists(), "refused before the database is touched"
    # a generated corpus (kept in the cache) was skipped instead, and the run ended with exit status 1
    code, out = cli("run", "-s", "demo", "--db", str(db), "--workers", "0", expect=2)
    assert f"the feature cache {serbench_cache} is a file" in out and "skipped corpus synthetic" not in out
    code, out = cli("cache", "list", expect=0)
    assert "0 tables" in out and "is a file, not a directory" in out
    cli("cache", "clear", expect=0)
    serbench_cache.unlink()

    # read-only and empty: refused before extraction; read-only with everything cached: still works
    features_dir = serbench_cache / "features" / "energy"
    features_dir.mkdir(parents=True)
    with monkeypatch.context() as patch:
        fail_creating_files_in(patch, features_dir, errno.EROFS)
        code, out = cli("run", "-c", config, "-s", "t", "--db", str(db), "--workers", "0", expect=2)
        assert f"the feature cache directory {features_dir} cannot be written (permission denied or read-only)" in out
        assert CALLS == [] and (not db.exists() or stored_cells(db) == [])
    cli("run", "-c", config, "-s", "t", "--db", str(tmp_path / "warm.db"), "--workers", "0", expect=0)
    extracted = len(CALLS)
    with monkeypatch.context() as patch:
        fail_creating_files_in(patch, features_dir, errno.EROFS)
        cli("run", "-c", config, "-s", "t", "--db", str(db), "--workers", "0", expect=0)
    assert len(CALLS) == extracted, "served from the read-only cache"


def test_generating_a_corpus_into_an_unwritable_or_full_cache_leaves_nothing_behind(tmp_path, monkeypatch):
    from ser_core.synthetic import SyntheticConfig, generate

    config = SyntheticConfig(speakers=2, clips_per_class=1, min_seconds=0.3, max_seconds=0.4)
    root = tmp_path / "synthetic"
    with monkeypatch.context() as patch:
        patch.setattr(tempfile, "mkdtemp", lambda *a, **k: (_ for _ in ()).throw(PermissionError(errno.EACCES, "Permission denied")))
        with pytest.raises(CacheError, match=rf"cannot generate the synthetic corpus: cannot write {root}: permission denied"):
            generate(config, root)
    import soundfile as sf

    written = []
    real_write = sf.write

    def fill_up(path, *args, **kwargs):
        if written:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        written.append(path)
        real_write(path, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(sf, "write", fill_up)
        with pytest.raises(CacheError, match="no space left on the device"):
            generate(config, root)
    assert os.listdir(root) == [], "the half-written corpus was removed"
    assert len(generate(config, root).clips) == 8


def _rewrite_member(path: Path, member: str, array: np.ndarray) -> None:
    """Replace one array of a cached table (an inconsistent but well-formed file)."""
    import zipfile

    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    arrays[member] = array
    with zipfile.ZipFile(path, "w") as archive:
        for name, value in arrays.items():
            with archive.open(f"{name}.npy", "w") as handle:
                np.lib.format.write_array(handle, value)


@pytest.mark.parametrize("damage", ["random bytes in the middle", "truncated", "not a zip", "inconsistent offsets",
                                    "shapes disagree", "empty file"])
def test_a_damaged_cache_entry_is_reported_discarded_and_rebuilt(synthetic_manifest, serbench_cache, damage):
    feature = load_registry([("tiny", Plugin(synthetic_manifest))], use_entry_points=False).feature("energy")
    CALLS.clear()
    first = extract(synthetic_manifest, feature, workers=0)
    path = first.path
    raw = path.read_bytes()
    if damage == "random bytes in the middle":
        middle = len(raw) // 3
        path.write_bytes(raw[:middle] + os.urandom(200) + raw[middle + 200 :])
    elif damage == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "not a zip":
        path.write_bytes(os.urandom(len(raw)))
    elif damage == "inconsistent offsets":
        _rewrite_member(path, "offsets", np.arange(len(first.items) + 1, dtype=np.int64) * 2)
    elif damage == "shapes disagree":
        _rewrite_member(path, "shapes", np.full((len(first.items), 1), 4, dtype=np.int64))
    else:
        path.write_bytes(b"")
    listed = {e["file"]: e for e in cached_tables()}  # listing works whatever the damage
    assert str(path) in listed
    CALLS.clear()
    rebuilt = extract(synthetic_manifest, feature, workers=0)
    assert not rebuilt.from_cache and len(CALLS) == len(synthetic_manifest.clips)
    (note,) = rebuilt.notes
    assert f"the cached table {path} was unusable" in note and "deleted it and rebuilt the table" in note
    for a, b in zip(first.items, rebuilt.items):
        np.testing.assert_array_equal(a, b)
    assert read_table(path, first.cache_key).clip_ids == first.clip_ids
    CALLS.clear()
    assert extract(synthetic_manifest, feature, workers=0).from_cache and CALLS == []


def test_cache_list_and_clear_work_on_any_damage(cli, synthetic_manifest, serbench_cache):
    feature = load_registry([("tiny", Plugin(synthetic_manifest))], use_entry_points=False).feature("energy")
    table = extract(synthetic_manifest, feature, workers=0)
    table.path.write_bytes(b"PK\x03\x04" + os.urandom(100))
    (table.path.parent / "stray.npz").mkdir()  # a directory with a table's name
    code, out = cli("cache", "list", expect=0)
    assert "unreadable" in out and "rebuilt when next used" in out
    code, out = cli("cache", "clear", "--corpus", "tiny", expect=0)
    assert "removed 1 cached tables" in out and not table.path.exists()


INTERRUPTED_EXTRACTION = """
import sys
from pathlib import Path
import ser_core.plugins
from ser_core import CorpusSpec, FeatureSpec, hookimpl
from ser_core.specs import Clip, Manifest
import slow_feature

clips = Path(sys.argv[1])
manifest = Manifest("slow", [Clip(p.stem, p, p.stem[:2], "neutral") for p in sorted(clips.glob("*.wav"))], root=clips)

class Plugin:
    @hookimpl
    def register_corpora(self, register):
        register(CorpusSpec("slow", scan=lambda root: manifest, needs_path=False))

    @hookimpl
    def register_features(self, register):
        register(FeatureSpec("slowfeat", "functionals", slow_feature.extract))

if __name__ == "__main__":  # spawned workers import this file too
    registry = ser_core.plugins.load_registry([("p", Plugin())], use_entry_points=False)
    ser_core.plugins.load_registry = lambda *a, **k: registry
    from ser_core.cli import app
    app(["features", "extract", "--corpus", "slow", "-f", "slowfeat", "--workers", "2"], prog_name="serbench")
"""

SLOW_FEATURE = """
import os, time
import numpy as np

def extract(signal, sample_rate):
    time.sleep(0.3)  # slow enough that Ctrl-C lands mid-extraction even on a loaded machine
    open(os.path.join(os.environ["SLOW_MARKERS"], f"{os.getpid()}-{time.monotonic_ns()}"), "w").close()
    return np.array([signal.std(), len(signal)], dtype=np.float32)


def sigint_ignored(signal_, sample_rate):
    import signal
    return np.array([signal.getsignal(signal.SIGINT) is signal.SIG_IGN], dtype=np.float32)
"""


def test_ctrl_c_during_extraction_keeps_finished_clips_without_worker_tracebacks(tmp_path, serbench_cache, monkeypatch):
    import signal
    import subprocess
    import sys
    import time

    clips, modules, markers = tmp_path / "clips", tmp_path / "modules", tmp_path / "markers"
    for directory in (clips, modules, markers):
        directory.mkdir()
    total = 40
    for i in range(total):
        soundfile.write(clips / f"s{i % 4}_{i:02d}.wav", 0.1 * np.sin(np.arange(1600) * (0.01 + i / 1000)), SR)
    (modules / "slow_feature.py").write_text(SLOW_FEATURE)
    (tmp_path / "run.py").write_text(INTERRUPTED_EXTRACTION)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "SLOW_MARKERS": str(markers), "SERBENCH_CACHE_DIR": str(serbench_cache),
           "PYTHONPATH": os.pathsep.join([str(modules), str(root), os.environ.get("PYTHONPATH", "")])}
    env.pop("SERBENCH_DEBUG", None)
    command = [sys.executable, str(tmp_path / "run.py"), str(clips)]
    # a shell starting the test suite in the background leaves SIGINT ignored, and an ignored signal
    # is inherited: give the child Ctrl-C's default disposition, as an interactive terminal would
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while len(os.listdir(markers)) < 8 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err, err
    assert "Interrupted. Work finished so far is kept" in " ".join(err.split())
    (partial,) = cached_tables()
    kept = partial["clips"]
    assert partial["status"] == "partial" and 6 <= kept < total, partial

    for marker in markers.iterdir():
        marker.unlink()
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    said = " ".join((again.stdout + again.stderr).split())
    assert f"continued an interrupted extraction: {kept} of {total} clips were already done" in said
    assert len(os.listdir(markers)) == total - kept, "only the clips not kept were extracted again"
    assert [(e["status"], e["clips"]) for e in cached_tables()] == [("ok", total)]

    # extraction workers leave Ctrl-C to the parent (an idle worker would otherwise print a traceback)
    monkeypatch.syspath_prepend(str(modules))
    import slow_feature

    probe = FeatureSpec("sigint", "functionals", slow_feature.sigint_ignored)
    manifest = Manifest("one", [Clip("c", next(clips.iterdir()), "s", "neutral")])
    from ser_core.plugins import PluginInfo, Registered

    table = extract(manifest, Registered("feature", probe, PluginInfo("p", "d", "1", "m")), workers=1, use_cache=False)
    assert table.items[0].tolist() == [1.0]


# --- audio ------------------------------------------------------------------------------------------


def test_a_wav_with_a_short_data_chunk_is_an_error_naming_the_file(tmp_path, serbench_cache, synthetic_manifest):
    from ser_core.audio import AudioError, audio_info, load_audio

    whole = tmp_path / "whole.wav"
    soundfile.write(whole, np.sin(np.arange(SR * 2) / 10).astype(np.float32) * 0.3, SR, subtype="PCM_16")
    short = tmp_path / "short.wav"
    short.write_bytes(whole.read_bytes()[: 44 + 2000])
    for read in (load_audio, audio_info):
        with pytest.raises(AudioError, match=rf"{short}: truncated: the WAV header says its audio data is "
                                             r"64000 bytes \(2\.00 s\), but the file holds only 2000 bytes \(0\.06 s\)"):
            read(short)
    assert load_audio(whole).shape == (2 * SR,)
    # in a corpus: the clip is a named failure, the other clips are extracted and cached
    manifest = Manifest("cut", [Clip("whole", whole, "s1", "neutral"), Clip("short", short, "s2", "neutral")], root=tmp_path)
    feature = load_registry([("tiny", Plugin(synthetic_manifest))], use_entry_points=False).feature("energy")
    table = extract(manifest, feature, workers=0)
    assert table.clip_ids == ["whole"] and "truncated" in table.failures["short"]


def test_a_permission_error_on_audio_says_so(tmp_path, monkeypatch):
    from ser_core import audio

    path = tmp_path / "locked.wav"
    soundfile.write(path, np.zeros(1600, np.float32), SR)
    real_open = open

    def locked(file, *args, **kwargs):
        if Path(str(file)) == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(audio, "open", locked, raising=False)
    for read in (audio.load_audio, audio.audio_info):
        with pytest.raises(audio.AudioError) as caught:
            read(path)
        message = str(caught.value)
        assert f"{path}: permission denied" in message and "complete audio" not in message


# --- model settings and options -----------------------------------------------------------------------


@pytest.mark.parametrize("settings, expected", [
    ('settings = { inner_folds = "two" }', "setting 'inner_folds' of model 'centroid' is str 'two'; expected an integer >= 2"),
    ("settings = { inner_folds = -3 }", "setting 'inner_folds' of model 'centroid' is -3, out of range; expected an integer >= 2"),
    ("settings = { shrink = true }", "setting 'shrink' of model 'centroid' is a boolean; expected a number"),
    ("settings = { shrnk = 1.0 }", "unknown setting(s) ['shrnk'] for model 'centroid'"),
])
def test_settings_of_the_wrong_type_are_refused_before_any_work(cli, tmp_path, settings, expected):
    cli.config.write_text(BENCHMARKS.format(settings=settings))
    db = tmp_path / "r.db"
    CALLS.clear()
    code, out = cli("run", "-c", str(cli.config), "-s", "t", "--db", str(db), "--workers", "0", expect=2)
    assert "suite 't' cannot run; nothing was computed" in out and "system 'centroid-energy'" in out
    assert expected in out and CALLS == [] and stored_cells(db) == []


def test_declared_setting_types_of_the_shipped_models():
    from ser_keras import TRAINING_DEFAULTS, TRAINING_SETTINGS

    spec = ModelSpec("keras", create=None, accepts=frozenset(), defaults=TRAINING_DEFAULTS, setting_types=TRAINING_SETTINGS)
    assert spec.setting_problems(TRAINING_DEFAULTS) == []
    assert spec.setting_problems({"epochs": 0, "batch_size": 8.5, "deterministic": "yes", "pad_multiple": 10**9}) == [
        ("epochs", "0, out of range", "an integer from 1 to 10000"),
        ("batch_size", "float 8.5", "an integer from 1 to 65536"),
        ("deterministic", "str 'yes'", "a boolean (true/false)"),
        ("pad_multiple", "1000000000, out of range", "an integer from 1 to 65536"),
    ]
    svm = load_registry().model("svm").spec
    assert svm.setting_problems(dict(svm.defaults)) == []
    assert svm.setting_problems({"C": [1.0, "big"]}) == [("C", "element 1 is str 'big'", "a list of numbers >= 1e-12")]


def test_negative_workers_are_refused(cli):
    for args in (["run", "--workers", "-2"], ["features", "extract", "--corpus", "tiny", "-f", "energy", "--workers", "-2"]):
        code, out = cli(*args, expect=2)
        assert "Invalid value for '--workers': -2 is not in the range x>=0" in out or (
            "'--workers'" in out and "greater than or equal to 0" in out)


# --- nothing ran, typos -----------------------------------------------------------------------------


def test_a_run_that_computes_nothing_fails_and_a_typo_gets_a_suggestion(cli, results_db, tmp_path):
    code, out = cli("run", "-c", str(cli.config), "-s", "nodata", "--db", str(tmp_path / "n.db"), expect=1)
    assert "0 cells computed" in out and "Nothing ran: no cell of suite nodata could be computed" in out
    code, out = cli("leaderboard", "--db", str(results_db), "--corpus", "tinny", expect=2)
    assert "--corpus 'tinny': no results stored under this name. Did you mean 'tiny'? Stored: tiny." in out
    code, out = cli("leaderboard", "--db", str(results_db), "--system", "centroid", expect=2)
    assert "Did you mean 'centroid-energy'?" in out
    assert len(stored_cells(results_db)) == 4


# --- suspect data -----------------------------------------------------------------------------------


def test_single_clip_classes_and_silent_clips_are_warned_about(tmp_path, serbench_cache, monkeypatch):
    clips = []
    for speaker in ("s1", "s2", "s3"):
        for label in ("anger", "neutral"):
            for i in range(2):
                path = tmp_path / f"{speaker}_{label}_{i}.wav"
                tone = 0.3 * np.sin(np.arange(8000) * (0.05 + 0.01 * i)).astype(np.float32)
                soundfile.write(path, np.zeros(8000, np.float32) if (speaker, label, i) == ("s2", "neutral", 1) else tone, SR)
                clips.append(Clip(path.stem, path, speaker, label))
    lonely = tmp_path / "s1_fear_0.wav"
    soundfile.write(lonely, 0.2 * np.sin(np.arange(8000) * 0.2).astype(np.float32), SR)
    clips.append(Clip("s1_fear_0", lonely, "s1", "fear"))
    for i in range(2):
        path = tmp_path / f"s3_sadness_{i}.wav"
        soundfile.write(path, 0.1 * np.sin(np.arange(8000) * 0.03).astype(np.float32), SR)
        clips.append(Clip(path.stem, path, "s3", "sadness"))
    manifest = Manifest("odd", clips, root=tmp_path)
    registry = load_registry([("odd", Plugin(manifest, "odd"))], use_entry_points=False)
    monkeypatch.setattr("ser_core.plugins.load_registry", lambda *a, **k: registry)
    result = CliRunner().invoke(app, ["corpus", "info", "odd"])
    out = " ".join(result.output.split())
    assert result.exit_code == 0 and "Traceback" not in out
    assert f"warning: class 'fear' has a single clip ({lonely}): the fold that tests it never trains on this class" in out
    assert "warning: class 'sadness': all 2 clips come from one speaker (s3)" in out
    assert f"warning: 1 clip is silent (peak below 0.0001, i.e. -80 dBFS) and would be used as they are: {tmp_path / 's2_neutral_1.wav'}" in out

    class Notes(Reporter):
        def __init__(self):
            self.notes = []

        def note(self, message):
            self.notes.append(message)

    notes = Notes()
    suite = Suite("s", ("odd",), (System("c", "centroid", "energy"),), 1, 0, "none")
    with ResultStore(tmp_path / "r.db") as store:
        report = Runner(registry, store, workers=0, reporter=notes).run(suite)
    text = " ".join(notes.notes)
    assert "class 'fear' has a single clip" in text and "class 'sadness': all 2 clips come from one speaker" in text
    assert "1 clips of odd are silent" in text and "s2_neutral_1" in text
    assert report.computed == 3, "suspect data is warned about, not dropped"


# --- tracebacks ----------------------------------------------------------------------------------------


def test_tracebacks_only_with_verbose_or_the_debug_variable(cli, tmp_path, monkeypatch):
    directory = tmp_path / "d"
    directory.mkdir()
    runner = CliRunner()
    quiet = runner.invoke(app, ["run", "--config", str(directory)])
    assert quiet.exit_code == 2 and "Traceback" not in quiet.output
    loud = runner.invoke(app, ["--verbose", "run", "--config", str(directory)])
    assert loud.exit_code == 2 and "Traceback" in loud.output and "is a directory" in loud.output
    monkeypatch.setenv("SERBENCH_DEBUG", "1")
    assert "Traceback" in runner.invoke(app, ["run", "--config", str(directory)]).output
    monkeypatch.delenv("SERBENCH_DEBUG")

    def boom(*args, **kwargs):
        raise ZeroDivisionError("a plugin bug")

    monkeypatch.setattr("ser_core.suites.load_benchmarks", boom)
    result = runner.invoke(app, ["run", "--config", str(cli.config)])
    out = " ".join(result.output.split())
    assert result.exit_code == 3 and "Traceback" not in out
    assert "internal error: ZeroDivisionError: a plugin bug. This is a bug in serbench or a plugin; run again with `serbench --verbose" in out
