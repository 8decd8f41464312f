"""No distributed run waits forever: every worker lost, a scheduler that never answers, a batch system
that is not there, a malformed address, workers without the plugin, too many local workers, and the
settings that bound the waits. Each command runs in a subprocess with a hard ``timeout``."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import CHEAP_PARTS, write_distribution

from ser_core.errors import ConfigError
from ser_core.results import ResultStore
from ser_core.waiting import RunStopped, Waits, Watch, bounded, resolve_waits

#: The hard bound of every command a test runs: far above what it needs, far below forever.
BOUND = 240

#: A plugin for the hang tests: a cheap feature and a nearest-centroid model that, while
#: ``$SERBENCH_TEST_POISON`` names a folder, ends its own worker process once three fits have finished
#: there, after poisoning the folder so that no worker can start again (the preload below refuses).
PARTS = {
    "serbench_hang_parts": """
    import os
    import time
    import uuid

    import numpy as np

    from ser_core import FeatureSpec, ModelSpec, hookimpl
    from serbench_test_parts import Centroid, loudness


    class Poisoner(Centroid):
        # marks each fit done in $SERBENCH_TEST_MARKS; takes $SERBENCH_TEST_SLOW seconds; with
        # SERBENCH_TEST_POISON=1, kills its worker for good once three fits are done
        def fit(self, X, y, groups):
            folder = os.environ.get("SERBENCH_TEST_MARKS")
            if folder and os.environ.get("SERBENCH_TEST_POISON") == "1":
                if len([n for n in os.listdir(folder) if n.startswith("done-")]) >= 3:
                    open(os.path.join(folder, "poison"), "w").close()
                    time.sleep(3)  # the client fetches the results this worker holds (lost with it otherwise)
                    os._exit(1)  # as the OOM killer would
            time.sleep(float(os.environ.get("SERBENCH_TEST_SLOW", "0")))
            super().fit(X, y, groups)
            if folder:
                open(os.path.join(folder, f"done-{uuid.uuid4().hex}"), "w").close()


    def wobbly(signal, rate):
        # a bug in a feature plugin: the width depends on the clip
        return np.full(2 + int(abs(float(signal[:400].sum())) * 1e4) % 2, loudness(signal, rate)[0], np.float32)


    @hookimpl
    def register_features(register):
        register(FeatureSpec("hloud", "functionals", extract=loudness))
        register(FeatureSpec("wobbly", "functionals", extract=wobbly))


    @hookimpl
    def register_models(register):
        register(ModelSpec("poisoner", create=Poisoner, accepts=frozenset({"functionals"})))
    """,
    # a Dask worker preload: once the folder is poisoned, a new worker process dies while it starts, so
    # the nanny restarts it over and over and the scheduler never sees a worker again
    "serbench_hang_preload": """
    import os


    def dask_setup(worker):
        folder = os.environ.get("SERBENCH_TEST_MARKS")
        if folder and os.path.exists(os.path.join(folder, "poison")):
            os._exit(1)
    """,
    **CHEAP_PARTS,
}

CONFIG = """
[systems.p]
model = "poisoner"
feature = "hloud"

[suites.hang]
corpora = ["synthetic"]
systems = ["p"]
repeats = 1
seed = 0
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The plugin as an installed distribution, for serbench processes (and their workers) to import."""
    return write_distribution(tmp_path_factory.mktemp("hang-site"), "serbench-hang-parts", "1.0",
                              {"hangparts": "serbench_hang_parts"}, PARTS)


def environment(site: Path | None = None, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SERBENCH_TLS_", "SERBENCH_WORKER_WAIT", "SERBENCH_SCHEDULER", "SERBENCH_DEBUG",
                                "SERBENCH_VERBOSE", "SERBENCH_TEST_", "DASK_"))}
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"
    return {**env, **extra}


def serbench(*args, env, timeout=BOUND):
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "ser_core.cli", *args], capture_output=True, text=True, env=env,
                         timeout=timeout)
    out.seconds = time.monotonic() - started
    return out


def write_config(tmp_path: Path, extra: str = "") -> Path:
    config = tmp_path / "benchmarks.toml"
    config.write_text(CONFIG + extra)
    return config


def stored_cells(db: Path) -> int:
    """How many cells a running ``serbench run`` has stored so far (read-only; 0 before the file exists)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as con:
            return con.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    except sqlite3.Error:
        return 0


def statuses(db: Path) -> list[str]:
    with ResultStore(db) as store:
        return [c.status for c in store.cells()]


def test_a_run_whose_workers_all_die_for_good_stops_keeps_its_cells_and_resumes(site, tmp_path):
    """The reported hang: every worker of the local cluster gone and none restarting. The run ends
    within worker_wait (10 s here) with what happened and what to do, exit 1; the cells that
    finished are stored, and the same command (workers healthy again) computes only the rest."""
    poison = tmp_path / "poison"
    poison.mkdir()
    config, db = write_config(tmp_path), tmp_path / "r.db"
    args = ("run", "--config", str(config), "--db", str(db), "--suite", "hang", "--workers", "2")
    env = environment(site, SERBENCH_TEST_MARKS=str(poison), SERBENCH_TEST_POISON="1",
                      DASK_DISTRIBUTED__WORKER__PRELOAD='["serbench_hang_preload"]')
    stopped = serbench(*args, "--worker-wait", "10", env=env)
    both = stopped.stdout + stopped.stderr
    assert stopped.returncode == 1, both
    assert (poison / "poison").exists(), "the workers were killed for good"
    assert "Run stopped:" in stopped.stderr and "has had no worker for" in stopped.stderr, both
    assert "--worker-wait" in stopped.stderr and "run the same command again to resume" in stopped.stderr
    assert f"This run stored {len(statuses(db))} of its 8 cells before it stopped." in stopped.stderr, both
    assert "Traceback" not in both, both
    kept = statuses(db)  # a result still on a worker when it died is lost with it (and computed again)
    assert 1 <= len(kept) < 8 and set(kept) == {"ok"}, kept
    assert f"{len(kept)} cells computed" not in stopped.stdout, "a stopped run prints no summary"
    again = serbench(*args, env=environment(site))
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{8 - len(kept)} cells computed, {len(kept)} already stored, 0 failed" in again.stdout, again.stdout
    assert statuses(db) == ["ok"] * 8


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers (a wrong port, a hung scheduler)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    for connection in held:
        connection.close()
    server.close()


def test_a_scheduler_that_accepts_and_never_answers_ends_the_run_within_scheduler_wait(site, tmp_path, silent_server):
    config = write_config(tmp_path)
    out = serbench("run", "--config", str(config), "--db", str(tmp_path / "r.db"), "--suite", "hang",
                   "--scheduler", silent_server, env=environment(site, SERBENCH_SCHEDULER_WAIT="5"))
    both = out.stdout + out.stderr
    assert out.returncode == 1, both
    assert f"cannot connect to the Dask scheduler at {silent_server} within 5 s" in out.stderr, both
    assert "SERBENCH_SCHEDULER_WAIT" in out.stderr and "Traceback" not in both
    assert out.seconds < 120, out.seconds


@pytest.mark.parametrize("address", ["tcp://", "foo:bar:baz", ":99999", "tcp://host:99999", "http://host:8786"])
def test_a_malformed_scheduler_address_is_a_usage_error(tmp_path, address):
    config = write_config(tmp_path)
    db = tmp_path / "r.db"
    out = serbench("run", "--config", str(config), "--db", str(db), "--suite", "hang", "--scheduler", address,
                   env=environment(), timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"--scheduler / SERBENCH_SCHEDULER {address!r}" in out.stderr and "tcp://login1:8786" in out.stderr
    assert not db.exists(), "refused before the database is touched"


@pytest.mark.parametrize("how", ["option", "environment", "executor"])
def test_workers_with_a_cluster_of_its_own_are_refused_not_ignored(tmp_path, how):
    """`--workers 0 --scheduler ADDR` ran on the scheduler and ignored --workers without a word."""
    config = write_config(tmp_path, '\n[executor]\nkind = "slurm"\ncores = 2\n' if how == "executor" else "")
    db = tmp_path / "r.db"
    extra = ["--scheduler", "tcp://10.0.0.5:8786"] if how == "option" else []
    env = environment(**({"SERBENCH_SCHEDULER": "tcp://10.0.0.5:8786"} if how == "environment" else {}))
    out = serbench("run", "--config", str(config), "--db", str(db), "--suite", "hang", "--workers", "0", *extra,
                   env=env, timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    message = " ".join(out.stderr.split())
    assert "--workers 0 sets this machine's local worker processes, but the cells would run on" in message, message
    assert ("slurm cluster" if how == "executor" else "tcp://10.0.0.5:8786") in message and "Drop --workers" in message
    assert not db.exists(), "refused before the database is touched"


def test_well_formed_scheduler_addresses_are_accepted():
    from ser_core.executor import check_scheduler_address

    for address in ("tcp://10.0.0.5:8786", "login1:8786", "tcp://node-3.cluster.example", "tcp://[::1]:8786"):
        assert check_scheduler_address(address, environ={}) == address


def test_too_many_local_workers_are_refused_with_why(tmp_path):
    from ser_core.config import available_cores
    from ser_core.executor import WORKERS_PER_CORE

    cores = available_cores()
    out = serbench("run", "--config", str(write_config(tmp_path)), "--db", str(tmp_path / "r.db"), "--suite", "hang",
                   "--workers", str(WORKERS_PER_CORE * cores + 1), env=environment(), timeout=60)
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"more than {WORKERS_PER_CORE} worker processes per core" in out.stderr
    assert f"--workers {cores} (the default) or fewer" in out.stderr


def test_a_batch_system_whose_submit_command_is_missing_is_named_before_anything_starts(site, tmp_path):
    if shutil.which("sbatch"):
        pytest.skip("this machine has sbatch")
    config = write_config(tmp_path, '\n[executor]\nkind = "slurm"\ncores = 2\n')
    out = serbench("run", "--config", str(config), "--db", str(tmp_path / "r.db"), "--suite", "hang",
                   env=environment(site), timeout=120)
    both = out.stdout + out.stderr
    assert out.returncode == 1, both
    assert "executor.kind = 'slurm' submits worker jobs with `sbatch`, which is not on this machine's PATH" in out.stderr
    assert "Traceback" not in both and "tornado" not in both, both


def test_batch_commands_and_dask_jobqueue_are_checked(monkeypatch):
    from ser_core.executor import check_batch_system
    from ser_core.executor_config import ExecutorConfig

    for kind, command in (("pbs", "qsub"), ("lsf", "bsub"), ("sge", "qsub")):
        with pytest.raises(RunStopped, match=f"`{command}`"):
            check_batch_system(ExecutorConfig(kind=kind), which=lambda name: None)
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)  # as if not installed
    with pytest.raises(RunStopped, match="pip install dask-jobqueue"):
        check_batch_system(ExecutorConfig(kind="slurm"), which=lambda name: f"/usr/bin/{name}")


def test_workers_without_the_models_plugin_are_reported_not_waited_on(site, tmp_path):
    """An external cluster whose workers lack the plugin: named, with what to install, exit 1."""
    dask = Path(sys.executable).parent / "dask"
    scheduler_file = tmp_path / "scheduler.json"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment())  # no plugin there
    processes = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                   "--scheduler-file", str(scheduler_file)], **quiet)]
    try:
        deadline = time.time() + 60
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        processes.append(subprocess.Popen([str(dask), "worker", address, "--nthreads", "1", "--no-dashboard",
                                           "--host", "127.0.0.1"], **quiet))
        out = serbench("run", "--config", str(write_config(tmp_path)), "--db", str(tmp_path / "r.db"), "--suite",
                       "hang", "--scheduler", address, "--worker-wait", "60", env=environment(site))
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    both = out.stdout + out.stderr
    assert out.returncode == 1, both
    assert "cannot import what the cells need" in out.stderr, both
    assert "serbench_hang_parts (model 'poisoner' of serbench-hang-parts 1.0)" in out.stderr, both
    assert "ModuleNotFoundError" in out.stderr and "pip install" in out.stderr and "Traceback" not in both


def start_scheduler(tmp_path: Path, env: dict, *options: str) -> tuple[list, str]:
    """A ``dask scheduler`` on this machine and its address (the caller terminates the processes)."""
    scheduler_file = tmp_path / "scheduler.json"
    process = subprocess.Popen([str(Path(sys.executable).parent / "dask"), "scheduler", "--host", "127.0.0.1",
                                "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file), *options],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 60
    while not scheduler_file.exists() and time.time() < deadline:
        time.sleep(0.2)
    return [process], json.loads(scheduler_file.read_text())["address"]


def test_losing_the_scheduler_mid_run_stops_the_run_and_keeps_the_finished_cells(site, tmp_path):
    """The scheduler killed while cells run: the run stops within the bound, exit 1, and the cells it
    lost are not stored as failed (the finished ones are stored, as ok)."""
    marks = tmp_path / "marks"
    marks.mkdir()
    env = environment(site, SERBENCH_TEST_MARKS=str(marks), SERBENCH_TEST_SLOW="1")
    processes, address = start_scheduler(tmp_path, env)
    db = tmp_path / "r.db"
    try:
        processes.append(subprocess.Popen([str(Path(sys.executable).parent / "dask"), "worker", address,
                                           "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        run = subprocess.Popen([sys.executable, "-m", "ser_core.cli", "run", "--config", str(write_config(tmp_path)),
                                "--db", str(db), "--suite", "hang", "--scheduler", address],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**env, "SERBENCH_SCHEDULER_WAIT": "10"})
        deadline = time.time() + BOUND
        # a fit marked done may not have reached the database yet (a loaded machine): wait for a stored cell
        while stored_cells(db) < 1 and time.time() < deadline and run.poll() is None:
            time.sleep(0.1)
        processes[0].kill()  # the scheduler, gone without a word
        stdout, stderr = run.communicate(timeout=BOUND)
    finally:
        for process in reversed(processes):
            process.kill()
        for process in processes:
            process.wait(timeout=30)
    assert run.returncode == 1, stdout + stderr
    assert "Run stopped:" in stderr and address in stderr and "connection to the Dask scheduler" in stderr, stderr
    assert "Traceback" not in stdout + stderr and "distributed.client" not in stderr, "Dask's logs only with --verbose"
    kept = statuses(db)
    assert 1 <= len(kept) < 8 and set(kept) == {"ok"}, kept


# -- the waiting itself, in this process ---------------------------------------------------


def test_a_scheduler_with_no_worker_stops_the_wait_after_worker_wait():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        future = client.submit(sum, [1, 2])
        started = time.monotonic()
        with pytest.raises(RunStopped, match=r"has had no worker for \d+ s \(the bound is 1 s\)"):
            list(Watch(client, [future], Waits(worker_wait=1, scheduler_wait=10), poll=0.2))
        assert time.monotonic() - started < 10


def test_a_call_that_never_returns_is_given_up_after_its_bound():
    started = time.monotonic()
    with pytest.raises(RunStopped, match="silent"):
        bounded(threading.Event().wait, 0.5, lambda: RunStopped("silent"))
    assert time.monotonic() - started < 5
    assert bounded(lambda: 7, 1, lambda: RunStopped("never")) == 7
    with pytest.raises(KeyError):
        bounded(lambda: {}["x"], 1, lambda: RunStopped("never"))


# -- the settings ----------------------------------------------------------------------------


def test_the_waits_come_from_the_option_else_the_environment_else_the_executor_table(tmp_path):
    from ser_core.executor_config import parse_executor

    table = parse_executor(tmp_path / "b.toml", {"worker_wait": 30, "scheduler_wait": 20.5})
    assert not table.batch and table.worker_wait == 30.0
    assert resolve_waits(environ={}) == Waits(300.0, 60.0)
    assert resolve_waits(config=table, environ={}) == Waits(30.0, 20.5)
    env = {"SERBENCH_WORKER_WAIT": "45", "SERBENCH_SCHEDULER_WAIT": "9"}
    assert resolve_waits(config=table, environ=env) == Waits(45.0, 9.0)
    assert resolve_waits(worker_wait=12, config=table, environ=env) == Waits(12.0, 9.0)
    slurm = parse_executor(tmp_path / "b.toml", {"kind": "slurm", "worker_wait": 900})
    assert slurm.batch and resolve_waits(config=slurm, environ={}).worker_wait == 900.0


@pytest.mark.parametrize("given, where", [
    ({"worker_wait": 0}, "executor.worker_wait"),
    ({"worker_wait": "soon"}, "executor.worker_wait"),
    ({"scheduler_wait": -5}, "executor.scheduler_wait"),
    ({"scheduler_wait": True}, "executor.scheduler_wait"),
    ({"worker_wait": 10, "cores": 2}, "executor.kind"),
])
def test_wrong_waits_in_the_executor_table_name_the_file_and_key(tmp_path, given, where):
    from ser_core.executor_config import parse_executor

    path = tmp_path / "benchmarks.toml"
    with pytest.raises(ConfigError) as error:
        parse_executor(path, given)
    assert str(error.value).startswith(f"{path}: {where}:"), error.value


def test_wrong_waits_from_the_environment_or_the_option_are_usage_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"\$SERBENCH_WORKER_WAIT: expected a number of seconds, got 'ten'"):
        resolve_waits(environ={"SERBENCH_WORKER_WAIT": "ten"})
    with pytest.raises(ConfigError, match="--worker-wait: expected a number of seconds above 0"):
        resolve_waits(worker_wait=-1, environ={})
    config = write_config(tmp_path, "\n[executor]\nworker_wait = 0\n")
    out = serbench("run", "--config", str(config), "--db", str(tmp_path / "r.db"), "--suite", "hang",
                   env=environment(), timeout=60)
    assert out.returncode == 2 and f"{config}: executor.worker_wait: expected a number of seconds" in out.stderr
    out = serbench("run", "--config", str(write_config(tmp_path)), "--db", str(tmp_path / "r.db"), "--suite", "hang",
                   env=environment(SERBENCH_SCHEDULER_WAIT="-3"), timeout=60)
    assert out.returncode == 2 and "$SERBENCH_SCHEDULER_WAIT: expected a number of seconds" in out.stderr


def test_tls_settings_are_all_three_files_or_none(tmp_path):
    from distributed import Security

    from ser_core.executor import TLS_ENV, check_scheduler_address, tls_security

    assert tls_security({}) is None
    files = {}
    for name in TLS_ENV:
        files[name] = str(tmp_path / f"{name.lower()}.pem")
        Path(files[name]).write_text("PEM")
    with pytest.raises(ConfigError, match="SERBENCH_TLS_KEY is not set"):
        tls_security({k: v for k, v in files.items() if k != "SERBENCH_TLS_KEY"})
    with pytest.raises(ConfigError, match="SERBENCH_TLS_CERT=.*no such file"):
        tls_security({**files, "SERBENCH_TLS_CERT": str(tmp_path / "absent.pem")})
    security = tls_security(files)
    assert isinstance(security, Security) and security.require_encryption
    assert security.tls_ca_file == files["SERBENCH_TLS_CA_FILE"] and security.tls_client_key == files["SERBENCH_TLS_KEY"]
    with pytest.raises(ConfigError, match="give its address as tls://HOST:PORT"):
        check_scheduler_address("tcp://login1:8786", environ=files)
    assert check_scheduler_address("tls://login1:8786", environ=files) == "tls://login1:8786"
    with pytest.raises(ConfigError, match="is a tls:// address: set SERBENCH_TLS_CA_FILE"):
        check_scheduler_address("tls://login1:8786", environ={})


def test_a_feature_whose_width_varies_on_two_workers_is_named_with_its_plugin_not_a_dask_traceback(site, tmp_path):
    config = tmp_path / "benchmarks.toml"
    config.write_text(CONFIG.replace('feature = "hloud"', 'feature = "wobbly"'))
    out = serbench("run", "--config", str(config), "--db", str(tmp_path / "r.db"), "--suite", "hang", "--workers", "2",
                   env=environment(site, SERBENCH_WORKER_WAIT="60"))
    both = out.stdout + out.stderr
    assert out.returncode == 1, both
    assert "feature 'wobbly' returned items of different widths" in out.stderr, both
    assert "(feature 'wobbly' of serbench-hang-parts 1.0)" in out.stderr, both
    assert "Traceback" not in both and "distributed." not in both, both


def test_a_local_cluster_listens_on_this_machine_only_and_a_batch_cluster_says_where_it_listens():
    from distributed import Client

    from ser_core.executor import DaskExecutor, make_cluster
    from ser_core.executor_config import ExecutorConfig

    local = DaskExecutor(workers=1, waits=Waits(worker_wait=60, scheduler_wait=60))
    local.start()
    try:
        assert local.cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert local.dashboard is None or local.dashboard.startswith("http://127.0.0.1:")
        assert local.where() is None, "a local cluster's dashboard is printed as before"
    finally:
        local.close()
    batch = DaskExecutor(workers=1, config=ExecutorConfig(kind="slurm"), waits=Waits(60, 60))
    batch.cluster = make_cluster(batch.config)  # no job is submitted: only its scheduler starts, here
    try:
        batch.client = Client(batch.cluster)
        where = batch.where()
    finally:
        batch.close()
    assert where.startswith("the slurm cluster's scheduler listens at tcp://"), where


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")
def test_a_suite_runs_on_a_tls_scheduler_with_the_three_tls_files(site, tmp_path):
    """A real TLS round trip: a self-signed certificate, a scheduler and a worker that require it."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True, timeout=60)
    tls = ["--tls-ca-file", str(cert), "--tls-cert", str(cert), "--tls-key", str(key)]
    dask = Path(sys.executable).parent / "dask"
    scheduler_file = tmp_path / "scheduler.json"
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environment(site))
    processes = [subprocess.Popen([str(dask), "scheduler", "--protocol", "tls", "--host", "127.0.0.1", "--port", "0",
                                   "--no-dashboard", "--scheduler-file", str(scheduler_file), *tls], **quiet)]
    try:
        deadline = time.time() + 60
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tls://")
        processes.append(subprocess.Popen([str(dask), "worker", address, "--nthreads", "1", "--no-dashboard",
                                           "--host", "127.0.0.1", *tls], **quiet))
        args = ("run", "--config", str(write_config(tmp_path)), "--db", str(tmp_path / "r.db"), "--suite", "hang",
                "--scheduler", address, "--worker-wait", "60")
        files = dict(SERBENCH_TLS_CA_FILE=str(cert), SERBENCH_TLS_CERT=str(cert), SERBENCH_TLS_KEY=str(key))
        refused = serbench(*args, env=environment(site), timeout=60)
        out = serbench(*args, env=environment(site, **files))
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    assert refused.returncode == 2 and "is a tls:// address: set SERBENCH_TLS_CA_FILE" in refused.stderr
    assert out.returncode == 0, out.stdout + out.stderr
    assert "8 cells computed, 0 already stored, 0 failed" in out.stdout, out.stdout
