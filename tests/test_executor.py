"""The grid on Dask: local clusters match in-process runs, worker deaths, an external scheduler,
batch-system job scripts, the shared-cache probe and ``--dry-run``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CHEAP_PARTS, TinyCorpus, write_distribution

from ser_core import hookimpl
from ser_core.api.testing import FAKE_FEATURE, FAKE_MODEL, FAKE_SYSTEM
from ser_core.errors import CacheError, ConfigError
from ser_core.plugins import load_registry
from ser_core.results import ResultStore
from ser_core.runner import Reporter, Runner
from ser_core.suites import Suite, System, load_benchmarks
from ser_core.waiting import Waits

#: Every distributed run of these tests is bounded: a minute without any worker, or a scheduler that
#: does not answer for a minute, ends it (ser_core.waiting.RunStopped) instead of hanging the suite.
BOUNDED = Waits(worker_wait=60, scheduler_wait=60)

#: Cheap parts importable in worker processes: a two-value feature, a nearest-centroid model that
#: takes ``delay`` seconds to train (so a run lasts long enough to kill a worker in it), and one
#: that always raises and counts its attempts in a file.
PARTS = {
    "serbench_executor_parts": """
    import os
    import time

    import numpy as np

    from ser_core import FeatureSpec, ModelSpec, hookimpl
    from serbench_test_parts import loudness


    def slow_loudness(signal, rate):
        time.sleep(0.1)
        return loudness(signal, rate)


    class SlowCentroid:
        def __init__(self, context):
            self.settings = context.settings
            self.centroids = None

        def fit(self, X, y, groups):
            time.sleep(self.settings["delay"])
            X = np.stack(X)
            keep = np.random.rand(len(y)) < 0.8  # seeded by the runner: retried cells must agree
            self.centroids = np.stack([X[keep & (y == c)].mean(axis=0) for c in range(int(y.max()) + 1)])

        def predict(self, X):
            return np.argmin(((np.stack(X)[:, None] - self.centroids[None]) ** 2).sum(-1), axis=1)

        def parameter_count(self):
            return int(self.centroids.size)

        def describe(self):
            return {"pid": 0}


    class Raiser:
        def __init__(self, context):
            self.log = context.settings["log"]

        def fit(self, X, y, groups):
            with open(self.log, "a") as handle:
                handle.write(f"{os.getpid()}\\n")
            raise ValueError("this model always fails")


    class Killer(SlowCentroid):
        # ends its own process (as a segfault or the OOM killer would) when one speaker is the test fold

        def fit(self, X, y, groups):
            if self.settings["die_without"] not in set(groups):
                os._exit(1)
            super().fit(X, y, groups)


    class Plugin:
        @hookimpl
        def register_features(self, register):
            register(FeatureSpec("loud", "functionals", extract=loudness))
            register(FeatureSpec("slowloud", "functionals", extract=slow_loudness))

        @hookimpl
        def register_models(self, register):
            register(ModelSpec("slow-centroid", create=SlowCentroid, accepts=frozenset({"functionals"}),
                               defaults={"delay": 0.0}))
            register(ModelSpec("killer", create=Killer, accepts=frozenset({"functionals"}),
                               defaults={"delay": 0.0, "die_without": ""}))
            register(ModelSpec("raiser", create=Raiser, accepts=frozenset({"functionals"}), defaults={"log": ""}))
    """,
}


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """The parts module, importable here and (through sys.path) in spawned Dask workers."""
    root = write_distribution(tmp_path_factory.mktemp("parts"), "serbench-executor-parts", "1.0", {},
                              {**CHEAP_PARTS, **PARTS})
    sys.path.insert(0, str(root))
    import serbench_executor_parts

    yield serbench_executor_parts
    sys.path.remove(str(root))
    sys.modules.pop("serbench_executor_parts", None)
    sys.modules.pop("serbench_test_parts", None)


@pytest.fixture
def registry(parts, synthetic_manifest):
    return load_registry([("tiny", TinyCorpus(synthetic_manifest)), ("parts", parts.Plugin())],
                         use_entry_points=False)


def suite_of(system: System, repeats: int = 2) -> Suite:
    return Suite("t", ("tiny",), (system,), repeats=repeats, seed=3, normalisation="speaker")


def cells(db) -> list[tuple]:
    with ResultStore(db) as store:
        return sorted(((c.key, c.status, c.uar, c.predictions) for c in store.cells()), key=lambda row: repr(row[0]))


def test_two_local_workers_equal_one_in_process_run_cell_for_cell(registry, tmp_path):
    suite = suite_of(System("slow", "slow-centroid", "loud"))
    for workers, db in ((0, "one.db"), (2, "two.db")):
        with ResultStore(tmp_path / db) as store:
            report = Runner(registry, store, workers=workers, waits=BOUNDED).run(suite)
        assert report.ok and report.computed == 8, report
    assert cells(tmp_path / "one.db") == cells(tmp_path / "two.db")
    with ResultStore(tmp_path / "two.db") as store:
        (run,) = store.runs().values()
        assert run.processes == {"workers": 2, "threads_per_worker": 1, "cell_process": "auto",
                                 "cell_time_limit": None}


def test_killing_a_worker_mid_run_still_stores_every_cell_with_the_same_uars(registry, tmp_path):
    suite = suite_of(System("slow", "slow-centroid", "loud", settings={"delay": 0.8}))
    with ResultStore(tmp_path / "reference.db") as store:
        assert Runner(registry, store, workers=0).run(suite).ok
    killed = []

    class KillOne(Reporter):
        """After the first cell arrives, SIGKILL a worker that is working on a cell."""

        def cell_done(self, corpus, ok):
            if killed:
                return
            client = runner.executor.client
            busy = [address for address, keys in client.processing().items() if keys]
            if not busy:
                return
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    with ResultStore(tmp_path / "killed.db") as store:
        runner = Runner(registry, store, waits=BOUNDED, workers=2, reporter=KillOne())
        report = runner.run(suite)
    assert killed, "a worker was killed while it had a cell"
    assert report.ok and report.computed == 8
    assert cells(tmp_path / "killed.db") == cells(tmp_path / "reference.db")


def test_a_cell_whose_model_raises_is_stored_failed_and_not_retried(registry, tmp_path):
    log = tmp_path / "attempts.log"
    suite = suite_of(System("bad", "raiser", "loud", settings={"log": str(log)}), repeats=1)
    with ResultStore(tmp_path / "r.db") as store:
        report = Runner(registry, store, waits=BOUNDED, workers=2).run(suite)
        stored = list(store.cells())
    assert len(report.failed) == 4 and report.computed == 0
    assert all(c.status == "failed" and "this model always fails" in c.error for c in stored)
    assert len(log.read_text().split()) == 4, "each failing cell ran exactly once"


def test_a_cell_that_keeps_killing_its_worker_is_stored_failed_with_its_name(registry, synthetic_manifest, tmp_path):
    victim = synthetic_manifest.speakers()[0]
    suite = suite_of(System("k", "killer", "loud", settings={"die_without": victim}), repeats=1)
    with ResultStore(tmp_path / "r.db") as store:
        report = Runner(registry, store, waits=BOUNDED, workers=2).run(suite)
        stored = list(store.cells())
    assert report.computed == 3 and len(report.failed) == 1, [e for _, e in report.failed]
    (dead,) = [c for c in stored if c.details["fold_name"] == victim]
    assert dead.status == "failed" and dead.error.startswith("WorkerDied: the worker running tiny / k repeat 0 fold ")
    assert "died 3 times on it, twice over" in dead.error
    assert all(c.status == "ok" for c in stored if c.details["fold_name"] != victim)


def test_an_interrupted_extraction_keeps_its_finished_clips_and_the_next_run_continues(registry, tmp_path):
    from ser_core import cache

    suite = suite_of(System("slow", "slow-centroid", "slowloud"), repeats=1)

    class InterruptAfterAChunk(Reporter):
        def plan(self, totals):
            client = runner.executor.client
            deadline = time.time() + 60
            while time.time() < deadline:
                states = {k: f.status for k, f in client.futures.items() if str(k[0]).startswith("extract-")}
                if any(status == "finished" for status in states.values()):
                    raise KeyboardInterrupt
                time.sleep(0.02)

    with ResultStore(tmp_path / "r.db") as store:
        runner = Runner(registry, store, waits=BOUNDED, workers=2, reporter=InterruptAfterAChunk())
        with pytest.raises(KeyboardInterrupt):
            runner.run(suite)
    (partial,) = [t for t in cache.cached_tables() if t["feature"] == "slowloud" and t["status"] == "partial"]
    assert 0 < partial["clips"] < 48, partial
    notes = []

    class Notes(Reporter):
        def note(self, message):
            notes.append(message)

    with ResultStore(tmp_path / "r.db") as store:
        report = Runner(registry, store, waits=BOUNDED, workers=2, reporter=Notes()).run(suite)
    assert report.ok and report.computed == 4
    assert any(f"{partial['clips']} of 48 clips were already done" in n for n in notes), notes
    assert not [t for t in cache.cached_tables() if t["feature"] == "slowloud" and t["status"] == "partial"]


def test_a_worker_that_cannot_reach_the_cache_directory_is_reported_with_what_to_set(tmp_path):
    from ser_core.executor import DaskExecutor

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    executor = DaskExecutor(workers=1)
    executor.start()
    try:
        executor.check_shared_cache(tmp_path / "shared")  # a directory both sides see: fine
        assert not list((tmp_path / "shared").iterdir()), "probe files are removed"
        with pytest.raises(CacheError) as error:
            executor.check_shared_cache(blocker / "features")
    finally:
        executor.close()
    assert "SERBENCH_CACHE_DIR" in str(error.value) and "cannot write there" in str(error.value)


CONFIG = f"""
[systems.{FAKE_SYSTEM}]
model = "{FAKE_MODEL}"
feature = "{FAKE_FEATURE}"

[suites.small]
corpora = ["synthetic"]
systems = ["{FAKE_SYSTEM}"]
repeats = 1
seed = 0

[suites.twice]
corpora = ["synthetic"]
systems = ["{FAKE_SYSTEM}"]
repeats = 2
seed = 0
"""


def serbench(*args, env=None, timeout=300):
    env = dict(env or os.environ, COLUMNS="200")
    env.setdefault("SERBENCH_WORKER_WAIT", "60")
    return subprocess.run([sys.executable, "-m", "ser_core.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_a_suite_runs_on_an_external_scheduler_with_two_workers(tmp_path, serbench_fakes):
    dask = Path(sys.executable).parent / "dask"
    scheduler_file = tmp_path / "scheduler.json"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                   "--no-dashboard", "--scheduler-file", str(scheduler_file)], **quiet)]
    try:
        deadline = time.time() + 60
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        for _ in range(2):
            processes.append(subprocess.Popen([str(dask), "worker", address, "--nthreads", "1", "--no-dashboard",
                                               "--host", "127.0.0.1"], **quiet))
        config = tmp_path / "benchmarks.toml"
        config.write_text(CONFIG)
        env = dict(os.environ, SERBENCH_SCHEDULER=address, SERBENCH_WORKER_WAIT="60", SERBENCH_SCHEDULER_WAIT="60")
        out = serbench("run", "--config", str(config), "--db", str(tmp_path / "r.db"), "--suite", "small", env=env)
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "8 cells computed, 0 already stored, 0 failed" in out.stdout, out.stdout
    with ResultStore(tmp_path / "r.db") as store:
        (run,) = store.runs().values()
        assert run.processes["workers"] == 2
        assert {c.status for c in store.cells()} == {"ok"}


def test_dry_run_prints_the_plan_with_estimates_and_computes_nothing(tmp_path, serbench_fakes):
    config = tmp_path / "benchmarks.toml"
    config.write_text(CONFIG)
    db = tmp_path / "r.db"
    common = ("--config", str(config), "--db", str(db))
    before = serbench("run", *common, "--suite", "small", "--dry-run")
    assert before.returncode == 0, before.stderr
    assert "Plan (nothing was computed)" in before.stdout and "no stored cell to time" in before.stdout
    assert "8 of 8 cells to compute" in before.stdout
    assert serbench("run", *common, "--suite", "small", "--workers", "1").returncode == 0
    after = serbench("run", *common, "--suite", "twice", "--dry-run", "--workers", "2")
    assert after.returncode == 0, after.stderr
    row = next(line for line in after.stdout.splitlines() if FAKE_SYSTEM in line)
    assert [cell.strip() for cell in row.split("│")[3:6]] == ["16", "8", "8"], row
    assert "(8 x " in row and "8 of 16 cells to compute on 2 local worker processes" in after.stdout
    with ResultStore(db) as store:
        assert len(list(store.cells())) == 8, "the dry run computed nothing"


SLURM = """
[executor]
kind = "slurm"
queue = "gpu"
cores = 8
memory = "32GB"
walltime = "04:00:00"
gpus = 2
directives = ["--constraint=a100"]
adaptive = { minimum = 0, maximum = 6 }
"""


def test_a_slurm_executor_table_builds_the_job_script(tmp_path):
    from ser_core.executor import make_cluster

    path = tmp_path / "benchmarks.toml"
    path.write_text(SLURM)
    config = load_benchmarks(path).executor
    assert config.adaptive == (0, 6) and config.worker_processes == 2
    cluster = make_cluster(config)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p gpu" in script
    assert "#SBATCH --gres=gpu:2" in script and "#SBATCH --constraint=a100" in script
    assert "#SBATCH -t 04:00:00" in script
    assert "#SBATCH --mem=30G" in script  # dask-jobqueue writes memory in its own units
    assert "--resources GPU=1" in script and "--nthreads 4" in script and "--nworkers 2" in script


@pytest.mark.parametrize(
    "table, key",
    [
        ('kind = "condor"', "executor.kind"),
        ('kind = "slurm"\nwalltime = "4 hours"', "executor.walltime"),
        ('kind = "slurm"\nmemory = 32', "executor.memory"),
        ('kind = "slurm"\ngpus = -1', "executor.gpus"),
        ('kind = "slurm"\nadaptive = { minimum = 3, maximum = 1 }', "executor.adaptive"),
        ('kind = "slurm"\nadaptive = { most = 3 }', "executor.adaptive.most"),
        ('kind = "slurm"\nnodes = 2', "executor.nodes"),
        ('kind = "slurm"\nqueue = "a"\npartition = "b"', "executor.partition"),
        ('kind = "slurm"\ncores = 2\nprocesses = 4', "executor.processes"),
    ],
)
def test_executor_table_errors_name_the_key(tmp_path, table, key):
    path = tmp_path / "benchmarks.toml"
    path.write_text("[executor]\n" + table + "\n")
    with pytest.raises(ConfigError) as error:
        load_benchmarks(path)
    assert f"{path}: {key}:" in str(error.value)


def test_a_cell_in_a_fresh_process_equals_the_cell_computed_here(parts, synthetic_manifest, monkeypatch):
    from ser_core import features
    from ser_core.executor import compute_in_fresh_process
    from ser_core.protocol import make_folds
    from ser_core.results import CellKey
    from ser_core.cell import CellTask, compute_cell, layout_of, prepare
    from ser_core.specs import FeatureSpec

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(Path(parts.__file__).parent),
                                                                    os.environ.get("PYTHONPATH")])))
    registry = load_registry([("parts", parts.Plugin())], use_entry_points=False)
    table = features.extract(synthetic_manifest, registry.feature("loud"), workers=0, use_cache=False)
    folds = make_folds([c.speaker for c in synthetic_manifest.clips], seed=0)
    data = prepare(table, layout_of(synthetic_manifest, folds, "functionals", "speaker"))
    task = CellTask(CellKey("tiny", "slow", "p", "i", 0, 1), parts.SlowCentroid, FeatureSpec("loud", "functionals",
                    extract=parts.loudness), {"delay": 0.0}, 4, "speaker", seed=11)
    here, there = compute_cell(task, data), compute_in_fresh_process(task, data)
    assert there.ok and there.uar == here.uar and there.predictions == here.predictions


def test_models_that_use_an_accelerator_say_so_in_their_spec():
    """GPU placement follows the plugin contract (ModelSpec.accelerator), not library names in the core."""
    registry = load_registry()
    assert all(registry.model(name).spec.accelerator for name in ("aldeneh", "latif", "zhang", "zhao", "ssl-head"))
    assert not registry.model("svm").spec.accelerator