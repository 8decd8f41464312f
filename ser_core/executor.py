"""Running the grid on ``dask.distributed``: a local cluster, an existing scheduler, or a batch system.

The runner plans a suite first (every missing cell, see :mod:`ser_core.runner`), then hands it here as
one task graph: one extraction per (corpus, feature) that a missing cell needs - split into chunks of
clips and assembled into the content-addressed feature cache by a worker - and one task per cell that
depends on it. Cells of different corpora and systems run at once, as many as there are workers.

Where the workers come from:

- a :class:`distributed.LocalCluster` of ``workers`` processes with one thread each (the default);
- an existing Dask scheduler (``serbench run --scheduler tcp://HOST:PORT`` or ``$SERBENCH_SCHEDULER``);
- a batch system through dask-jobqueue, configured by the ``[executor]`` table of ``benchmarks.toml``
  (:class:`ExecutorConfig`).

Workers read features from the cache directory, so on a cluster it must be on a filesystem they share
with this process; :meth:`DaskExecutor.check_shared_cache` checks that before any work is sent. Only
this process writes the results store. A worker that dies mid-cell has its cell run again on another
worker (the scheduler allows :data:`ALLOWED_FAILURES` deaths per task; a cell given up is submitted
once more, since a death counts against every cell the worker held); since every cell is seeded from
(suite seed, repeat, fold) the result is the same. Cells of models that declare
``ModelSpec.accelerator`` run each in a fresh Python process (:class:`FreshProcessCells`; the runner's
``cell_process`` mode decides, and a cell time limit puts every cell there), so a cell's result does not
depend on what its worker ran before; when the workers declare ``GPU`` resources such a cell also asks
for one GPU (whatever GPU memory its framework holds is freed when the process ends). Framework-specific set-up
(thread pools, GPU memory growth, the openSMILE-before-TensorFlow import order) belongs to the
plugins: ``ser-keras`` does it whenever it imports TensorFlow, in whatever process that is.

Nothing is waited on forever (:mod:`ser_core.waiting`): connecting to the scheduler and every call to
it are bounded by ``scheduler_wait``, and a scheduler with no worker for ``worker_wait`` stops the run.
Before anything starts, the scheduler's address, the TLS files (:func:`tls_security`), a batch system's
submit command and the number of local workers are checked; once the workers are there, each is asked
to import the plugins the cells need (:meth:`DaskExecutor.check_worker_imports`). A local cluster
listens on 127.0.0.1 only: a Dask scheduler runs whatever code it is sent.

Nothing here imports dask at module level: ``serbench list`` and ``--help`` stay light.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ser_core.cell import Layout, compute_cell, plugin_exit_message, prepare
from ser_core.config import available_cores
from ser_core.errors import CacheError, ConfigError, FeatureError
from ser_core.executor_config import ExecutorConfig
from ser_core.records import CellOutcome
from ser_core.waiting import RunStopped, Waits, bounded, silent_scheduler

#: Environment variable naming an existing Dask scheduler (``tcp://HOST:PORT``).
SCHEDULER_ENV = "SERBENCH_SCHEDULER"
#: How many times one task may lose its worker before it is given up (the scheduler's allowed-failures).
ALLOWED_FAILURES = 2

#: The command each batch system's jobs are submitted with (checked before a cluster is started).
SUBMIT_COMMANDS = {"slurm": "sbatch", "pbs": "qsub", "sge": "qsub", "lsf": "bsub"}
#: TLS for an existing scheduler and batch-system clusters: all three files, or none.
TLS_ENV = ("SERBENCH_TLS_CA_FILE", "SERBENCH_TLS_CERT", "SERBENCH_TLS_KEY")
#: At most this many local worker processes per core: beyond it they only compete for cores and memory.
WORKERS_PER_CORE = 4


_GPU_DIRECTIVE = {
    "slurm": "--gres=gpu:{n}",
    "pbs": "-l ngpus={n}",
    "sge": "-l gpu={n}",
    "lsf": '-gpu "num={n}"',
}


def make_cluster(config: ExecutorConfig, security=None):
    """The dask-jobqueue cluster object for ``config`` (no job is submitted until it is scaled).

    ``security`` (a :class:`distributed.Security`, :func:`tls_security`) makes its scheduler and
    workers talk TLS; the workers read the same certificate files, so they must see them at the same paths.
    """
    dask_jobqueue = import_jobqueue()

    classes = {
        "slurm": dask_jobqueue.SLURMCluster,
        "pbs": dask_jobqueue.PBSCluster,
        "sge": dask_jobqueue.SGECluster,
        "lsf": dask_jobqueue.LSFCluster,
    }
    processes = config.worker_processes
    directives = list(config.directives)
    worker_args = ["--nthreads", str(max(1, config.cores // processes))]
    if config.gpus:
        directives.insert(0, _GPU_DIRECTIVE[config.kind].format(n=config.gpus))
        worker_args += ["--resources", "GPU=1"]
    options: dict[str, Any] = dict(
        cores=config.cores,
        processes=processes,
        memory=config.memory,
        walltime=config.walltime,
        job_extra_directives=directives,
        worker_extra_args=worker_args,
        python=config.python or sys.executable,
        job_name="serbench",
    )
    for name in ("queue", "local_directory", "log_directory", "interface"):
        value = getattr(config, name)
        if value is not None:
            options[name] = value
    if security is not None:
        options.update(security=security, protocol="tls://")
    return classes[config.kind](**options)


def import_jobqueue():
    """dask_jobqueue, or :class:`RunStopped` naming the package to install."""
    try:
        import dask_jobqueue
    except ImportError as exc:
        raise RunStopped(
            f"the [executor] table asks for a batch-system cluster, but dask-jobqueue cannot be imported ({exc}). "
            "Install it where `serbench run` runs: pip install dask-jobqueue; or remove executor.kind to run on "
            "this machine."
        ) from None
    return dask_jobqueue


def check_batch_system(config: ExecutorConfig, which=shutil.which) -> None:
    """Before any cluster starts: the batch system's submit command must be on this machine's PATH
    (without it dask-jobqueue fails deep in tornado, after the scheduler has started)."""
    command = SUBMIT_COMMANDS[config.kind]
    if which(command) is None:
        raise RunStopped(
            f"executor.kind = {config.kind!r} submits worker jobs with `{command}`, which is not on this machine's "
            f"PATH. Run `serbench run` on a login node of the {config.kind} cluster (or load its module so that "
            f"`{command}` is found), or remove the [executor] table (its kind key) to run on this machine."
        )
    import_jobqueue()


def check_scheduler_address(address: str, environ=None) -> str:
    """``address`` as Dask reads it (``tcp://HOST:PORT``, ``tls://HOST:PORT``, ``HOST:PORT``), else a
    :class:`ConfigError` (a usage error) saying what is wrong; tls:// and the TLS files go together."""
    text = address.strip()
    match = _SCHEDULER.match(text)
    problem = None
    if match is None:
        problem = "expected tcp://HOST:PORT (or tls://HOST:PORT with TLS, or HOST:PORT)"
    elif match["port"] is not None and not 0 < int(match["port"]) < 65536:
        problem = f"port {match['port']} is not from 1 to 65535"
    if problem:
        raise ConfigError(f"--scheduler / {SCHEDULER_ENV} {address!r}: {problem}, e.g. tcp://login1:8786 (what "
                          "`dask scheduler` prints as its address)")
    secure = tls_security(environ) is not None
    if match["scheme"] == "tls" and not secure:
        raise ConfigError(f"--scheduler {address!r} is a tls:// address: set {', '.join(TLS_ENV)} to the CA, "
                          "certificate and key files this client uses")
    if secure and match["scheme"] != "tls":
        raise ConfigError(f"{', '.join(TLS_ENV)} are set, so the scheduler is reached over TLS: give its address as "
                          f"tls://HOST:PORT, not {address!r}")
    return text


_SCHEDULER = re.compile(r"^(?:(?P<scheme>tcp|tls)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(?P<port>\d{1,6}))?$")


def tls_security(environ=None):
    """A :class:`distributed.Security` from ``SERBENCH_TLS_CA_FILE`` / ``_CERT`` / ``_KEY`` (all three
    or none), or ``None`` without them; :class:`ConfigError` names a missing variable or file."""
    environ = os.environ if environ is None else environ
    given = {name: environ.get(name, "").strip() for name in TLS_ENV}
    if not any(given.values()):
        return None
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise ConfigError(f"TLS needs all of {', '.join(TLS_ENV)}; {', '.join(missing)} is not set (set all three "
                          "to the CA certificate, this client's certificate and its key, or none)")
    for name, value in given.items():
        if not Path(value).is_file():
            raise ConfigError(f"{name}={value}: no such file (it should be a PEM file readable here)")
    from distributed import Security

    ca, cert, key = (given[name] for name in TLS_ENV)
    return Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, tls_scheduler_cert=cert,
                    tls_scheduler_key=key, tls_worker_cert=cert, tls_worker_key=key, require_encryption=True)


def check_local_workers(workers: int) -> None:
    """Refuse a local cluster of more than :data:`WORKERS_PER_CORE` processes per core (a usage error)."""
    cores = available_cores()
    if workers > WORKERS_PER_CORE * cores:
        raise ConfigError(
            f"--workers {workers}: this machine gives serbench {cores} core{'s' if cores > 1 else ''}, and more than "
            f"{WORKERS_PER_CORE} worker processes per core ({WORKERS_PER_CORE * cores}) only compete for the cores "
            "and memory (each holds its own copy of the data and model) until the machine runs out of memory. "
            f"Use --workers {cores} (the default) or fewer, or a cluster (--scheduler, [executor])."
        )


# ---------------------------------------------------------------------------------------------
# What runs on the workers: plain functions of picklable arguments.


@dataclass(frozen=True)
class TableInfo:
    """A feature table in the cache: where it is, and which clips it left out and why."""

    path: str
    key: str
    failures: dict[str, str] = field(default_factory=dict)
    silent: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def extract_chunk(clips: list[tuple[int, str]], extract, kind: str) -> list:
    """Extract one feature for some clips of a corpus (an extraction task's part)."""
    from ser_core import features

    return [features.extract_clip((index, path, extract, kind)) for index, path in clips]


def table_from_chunks(entry, chunks):
    """The table of the clips that some extraction chunks finished (``entry``: its
    :class:`ser_core.cache.CacheEntry`; clips in manifest order)."""
    from ser_core import features

    outcomes = features.Outcomes()
    for chunk in chunks:
        for outcome in chunk:
            outcomes.add(*outcome)
    return outcomes.table(entry.clip_ids, entry.key)


def assemble_table(entry, *chunks: list) -> TableInfo:
    """Store the chunks' features as the entry's table in the cache (atomically) and describe it."""
    from ser_core import features

    table = table_from_chunks(entry, chunks)
    index = {cid: i for i, cid in enumerate(entry.clip_ids)}
    features.check_consistent_width({index[c]: v for c, v in zip(table.clip_ids, table.items)},
                                    entry.feature.spec.kind, entry.feature.name,
                                    [str(c.path) for c in entry.manifest.clips])
    entry.store(table)
    return TableInfo(str(entry.path), entry.key, table.failures, tuple(table.silent))


def keep_finished_chunks(client, entry, chunks) -> None:
    """After an interruption: keep the clips that finished chunks extracted as the entry's partial
    table, which the next run continues from (as an interrupted extraction in one process does)."""
    finished = [c for c in chunks if c.status == "finished"]
    if finished:
        entry.checkpoint(table_from_chunks(entry, client.gather(finished)))


def ensure_table(entry) -> TableInfo:
    """A table that the cache holds (or holds in part): read it, or finish it here
    (:func:`ser_core.features.complete`, the same code as an extraction in one process)."""
    from ser_core import features

    notes: list[str] = []
    table = entry.load(notes)
    if table is None:
        table = features.complete(entry, 0, None, notes)
    return TableInfo(str(entry.path), entry.key, table.failures, tuple(table.silent), tuple(notes))


_PREPARED: dict[tuple, Any] = {}


def prepared_data(info: TableInfo, layout: Layout):
    """The system's data on one corpus, read from the cache (kept for the next cell of this worker)."""
    from ser_core import cache

    memo = (info.path, info.key, layout.corpus, layout.normalisation, layout.kind, hash(layout.clip_ids))
    if memo not in _PREPARED:
        _PREPARED.clear()  # one system's data at a time: workers move between corpora
        table = cache.read_table(Path(info.path), info.key)
        _PREPARED[memo] = prepare(table, layout)
    return _PREPARED[memo]


def run_cell(task, info: TableInfo, layout: Layout, fresh_process: bool, time_limit: float | None = None):
    """A cell task: ``(key, outcome)``; never raises for a model's error (it is in the outcome).

    With ``fresh_process`` the cell runs in a new Python process (:class:`FreshProcessCells`; the
    worker's data is written for it once and reused by the next cells of the same data), stopped
    after ``time_limit`` seconds when one is given.
    """
    data = prepared_data(info, layout)
    if not fresh_process:
        return task.key, compute_cell(task, data)
    cells = getattr(_FRESH, "cells", None)
    if cells is None or cells.data is not data or cells.time_limit != time_limit:
        if cells is not None:
            cells.close()
        cells = _FRESH.cells = FreshProcessCells(data, time_limit=time_limit)
    try:
        return task.key, cells.compute(task)
    except CellNotPortable as exc:
        return task.key, CellOutcome.failure(
            f"CellNotPortable: {task.plugin or 'the model'}: {exc}. Make the model importable (an installed "
            "plugin), or run with --cell-process in-process", None, 0.0)


def compute_alone(task, data, fresh_process: bool, time_limit: float | None = None):
    """One cell on data of its own (a cross-corpus cell): in a fresh Python process when
    ``fresh_process``, else here. Never raises for a model's error (it is in the outcome)."""
    if not fresh_process:
        return compute_cell(task, data)
    with FreshProcessCells(data, time_limit=time_limit) as cells:
        try:
            return cells.compute(task)
        except CellNotPortable as exc:
            return CellOutcome.failure(
                f"CellNotPortable: {task.plugin or 'the model'}: {exc}. Make the model importable (an installed "
                "plugin), or run with --cell-process in-process", None, 0.0)


#: Each worker thread's :class:`FreshProcessCells` for its current data (threads never share one).
_FRESH = threading.local()


class CellProcessDied(RuntimeError):
    """The fresh process of a cell could not run it (kept for callers that catch it)."""


class CellNotPortable(CellProcessDied):
    """A cell's model cannot be sent to a fresh Python process: it does not pickle (a closure), or
    the new process cannot import it (a class defined in a notebook or in ``__main__``)."""


#: The status a cell process answers with when it cannot unpickle its call (see run_in_fresh_process).
_UNLOADABLE = "unloadable"
#: ... and when its result cannot be pickled back.
_UNSENDABLE = "unsendable"


class FreshProcessCells:
    """Runs cells on one data set, each in a new Python process, so that no cell's result depends
    on what ran before it in the same process (TensorFlow's oneDNN kernels do: the same seed gave
    67.8 and 68.8 UAR after different earlier cells) and no GPU memory stays held between cells.

    The process is a fresh interpreter (``python -m ser_core.executor``, i.e. exec, never a fork of
    a process that may have imported TensorFlow). The data is pickled to a scratch directory once,
    for every cell; each cell sends only its small task. What the cell process writes to standard
    error is passed through (its last lines are kept for the message if it dies). A plugin that ends
    the process (``sys.exit``, ``os._exit``), a signal, or a cell running past ``time_limit``
    seconds (the process group is killed) becomes a failed outcome naming the plugin; the caller
    goes on with the next cell.
    """

    def __init__(self, data, *, time_limit: float | None = None):
        self.data = data
        self.time_limit = time_limit
        self._scratch: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> "FreshProcessCells":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def _data_file(self) -> Path:
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="serbench-cells-")
            path = Path(self._scratch.name) / "data.pkl"
            path.write_bytes(pickle.dumps(self.data, protocol=pickle.HIGHEST_PROTOCOL))
        return Path(self._scratch.name) / "data.pkl"

    def compute(self, task):
        """The cell's :class:`~ser_core.records.CellOutcome`, computed in a new process.

        :raises CellNotPortable: when the task cannot be sent to, or loaded in, a new process.
        """
        try:
            call = pickle.dumps((compute_cell, (task,)), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            raise CellNotPortable(f"its model does not pickle ({type(exc).__name__}: {exc})") from None
        started = time.perf_counter()
        status, value = run_in_fresh_process(call, self._data_file(), self.time_limit)
        elapsed = time.perf_counter() - started
        if status == "ok":
            return value
        if status == _UNLOADABLE:
            raise CellNotPortable(f"a new Python process cannot load its model ({value})")
        if status == _UNSENDABLE:
            return CellOutcome.failure(
                f"CellProcessDied: {task.plugin or 'the model'}: the cell's result cannot be sent back from its "
                f"process ({value}); a model's describe() must return plain data (numbers, strings, lists, dicts)",
                None, elapsed)
        return CellOutcome.failure(_ending_message(status, value, task.plugin, self.time_limit), None, elapsed)


def _ending_message(status: str, value, plugin: str, time_limit: float | None) -> str:
    """The stored error of a cell whose process ended without a result."""
    who = plugin or "the model's plugin"
    if status == "time limit":
        return (f"CellTimeLimit: {who}: the cell exceeded the cell time limit of {time_limit:g} s (fit and "
                "predict); its process was stopped. Raise --cell-time-limit, or shorten the system's training")
    code, tail = value
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return (f"CellProcessDied: {who}: the cell's process was killed by {name} (out of memory, or a crash in "
                "native code)" + (f"; its last output:\n{tail}" if tail else ""))
    return plugin_exit_message(plugin, code) + (f"; its last output:\n{tail}" if tail else "")


#: How long to wait for a finished cell process's last output to be read.
_DRAIN_SECONDS = 5.0


def run_in_fresh_process(call: bytes, data_file: Path | None = None, time_limit: float | None = None):
    """Run a pickled ``(function, args)`` in a new Python process; ``function(*args, data)`` when
    ``data_file`` (a pickle) is given. Returns ``(status, value)``: ``("ok", result)``,
    ``("unloadable", why)`` when the new process cannot unpickle the call, ``("unsendable", why)`` when
    it cannot pickle the result, ``("time limit", None)``
    after ``time_limit`` seconds (the process group is killed), or ``("ended", (exit status, last
    lines of standard error))`` when the process ended without a result (a negative status: the
    signal that killed it). The new process gets this process's ``sys.path`` (plugins importable
    here, e.g. from a test directory, are importable there) and stops if this process dies."""
    with tempfile.TemporaryDirectory(prefix="serbench-cell-") as scratch:
        where = Path(scratch)
        (where / "call.pkl").write_bytes(call)
        (where / "path.json").write_text(json.dumps([p for p in sys.path if isinstance(p, str)]))
        result = where / "result.pkl"
        command = [sys.executable, "-m", "ser_core.executor", scratch, str(data_file or ""), str(os.getpid())]
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, start_new_session=True)
        tail: deque[str] = deque(maxlen=8)
        reader = threading.Thread(target=_pass_through, args=(process.stderr, tail), daemon=True)
        reader.start()
        try:
            code = process.wait(timeout=time_limit)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            reader.join(_DRAIN_SECONDS)
            return "time limit", None
        except BaseException:  # Ctrl-C (or the worker stopping): the cell's process goes with it
            _kill_group(process)
            raise
        reader.join(_DRAIN_SECONDS)
        _kill_group(process)  # anything the cell started and left running
        if result.is_file():  # written whole (renamed into place) before the process ended
            status, value = pickle.loads(result.read_bytes())
            return status, value
        return "ended", (code, "\n".join(tail))


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=_DRAIN_SECONDS)
    except subprocess.TimeoutExpired:
        pass


def _pass_through(stream, tail: deque) -> None:
    """Copy a cell process's standard error to this process's, keeping its last lines."""
    for raw in iter(stream.readline, b""):
        try:
            os.write(2, raw)
        except OSError:
            pass
        tail.append(raw.decode(errors="replace").rstrip("\n"))
    stream.close()


def compute_in_fresh_process(task, data, *, time_limit: float | None = None):
    """:func:`ser_core.cell.compute_cell` of one cell in a new Python process (see
    :class:`FreshProcessCells`); a cell that cannot be sent there raises :class:`CellNotPortable`."""
    with FreshProcessCells(data, time_limit=time_limit) as cells:
        return cells.compute(task)


def _watch_parent(parent: int) -> None:
    """In a cell process: end it when the process that started it is gone (no orphaned training)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _fresh_process_main(scratch: str, data_file: str, parent: str) -> None:
    """``python -m ser_core.executor SCRATCH DATA PARENT``: load the call, run it, write the result.

    A result is written whole (the call's own errors are in it); ending without ``result.pkl`` is
    the plugin ending the process (or a signal).
    """
    threading.Thread(target=_watch_parent, args=(int(parent),), daemon=True).start()
    where = Path(scratch)
    for entry in reversed(json.loads((where / "path.json").read_text())):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    try:
        function, args = pickle.loads((where / "call.pkl").read_bytes())
        if data_file:
            args = (*args, pickle.loads(Path(data_file).read_bytes()))
    except Exception as exc:
        answer = (_UNLOADABLE, f"{type(exc).__name__}: {exc}")
    else:
        answer = ("ok", function(*args))
    try:
        payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # e.g. a model's describe() holding an unpicklable object
        payload = pickle.dumps((_UNSENDABLE, f"{type(exc).__name__}: {exc}"))
    partial = where / "result.pkl.part"
    partial.write_bytes(payload)
    partial.replace(where / "result.pkl")


def write_probe(directory: str, token: str) -> str:
    """Worker: write a probe file into the cache directory; return its path (or the error)."""
    try:
        path = Path(directory) / f".serbench-probe-{token}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(token)
        return str(path)
    except OSError as exc:
        return f"error: {exc}"


# ---------------------------------------------------------------------------------------------
# The client side.


class DaskExecutor:
    """A Dask client and, unless it connects to an existing scheduler, the cluster it started.

    Every call it makes to the scheduler is bounded by ``waits.scheduler_wait`` and every wait for a
    worker by ``waits.worker_wait`` (:mod:`ser_core.waiting`): a run can stop, never hang.
    """

    def __init__(self, *, workers: int, scheduler: str | None = None, config: ExecutorConfig | None = None,
                 waits: Waits | None = None, verbose: bool | None = None):
        self.workers = workers
        self.scheduler = scheduler
        self.config = config if config is not None and config.batch else None
        self.waits = waits or Waits()
        self.verbose = verbose_from_env() if verbose is None else verbose
        self.client = None
        self.cluster = None

    @property
    def threads_per_worker(self) -> int:
        if self.config is not None:
            return max(1, self.config.cores // self.config.worker_processes)
        return 1

    @property
    def address(self) -> str:
        """The scheduler's address, for messages."""
        if self.scheduler:
            return self.scheduler
        return getattr(self.cluster, "scheduler_address", None) or "the local cluster"

    def start(self) -> None:
        """Connect (within ``scheduler_wait``) or start the cluster; :class:`RunStopped` when it cannot."""
        if self.scheduler:
            check_scheduler_address(self.scheduler)
        elif self.config is not None:
            check_batch_system(self.config)
        else:
            check_local_workers(self.workers)
        quiet_dask_logs(self.verbose)
        try:
            self._start()
        except (OSError, TimeoutError) as exc:
            self.close()
            where = self.scheduler or "a new cluster"
            raise RunStopped(
                f"cannot connect to the Dask scheduler at {where} within {self.waits.scheduler_wait:g} s "
                f"({type(exc).__name__}: {exc}). Check that a scheduler is running there and answers (`dask "
                f"scheduler`, then `dask worker ADDRESS` on each machine), raise the bound with "
                f"SERBENCH_SCHEDULER_WAIT, or leave out --scheduler / unset {SCHEDULER_ENV} to use a local cluster."
            ) from None

    def _start(self) -> None:
        import dask
        from distributed import Client, LocalCluster

        timeout = f"{self.waits.scheduler_wait}s"

        def connect(*where, **options):
            # Client(timeout=) alone waits forever on a port that accepts and never answers
            silent = lambda: TimeoutError(f"no answer within {self.waits.scheduler_wait:g} s")  # noqa: E731
            with dask.config.set({"distributed.comm.timeouts.connect": timeout}):
                return bounded(lambda: Client(*where, timeout=timeout, **options), self.waits.scheduler_wait + 1, silent)

        if self.scheduler:
            self.client = connect(self.scheduler, security=tls_security())
            return
        # a worker holds only the cell it runs (no queued ones that would share the blame when it dies)
        settings = {"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                    "distributed.scheduler.worker-saturation": 1.0}
        with dask.config.set(settings):
            if self.config is not None:
                self.cluster = make_cluster(self.config, tls_security())
                if self.config.adaptive:
                    self.cluster.adapt(minimum_jobs=self.config.adaptive[0], maximum_jobs=self.config.adaptive[1])
                else:
                    self.cluster.scale(jobs=self.config.jobs)
            else:
                threads = max(1, available_cores() // max(1, self.workers))
                # only this machine can reach the scheduler and the dashboard (a scheduler runs any code sent to it)
                self.cluster = LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address="127.0.0.1:0", silence_logs=logging.WARNING if self.verbose else logging.CRITICAL,
                    env={"SERBENCH_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)},
                )
            self.client = connect(self.cluster)

    def call(self, what: str, call):
        """A client call bounded by ``scheduler_wait``."""
        return bounded(call, self.waits.scheduler_wait, lambda: silent_scheduler(self.address, self.waits, what))

    @property
    def dashboard(self) -> str | None:
        try:
            services = self.call("asked for its dashboard", self.client.scheduler_info).get("services", {})
        except Exception:
            return None
        return self.client.dashboard_link if "dashboard" in services else None

    def where(self) -> str | None:
        """Where a batch-system cluster's scheduler (and dashboard) listen, for the user to know."""
        if self.config is None or self.cluster is None:
            return None
        dashboard = self.dashboard
        return (f"the {self.config.kind} cluster's scheduler listens at {self.cluster.scheduler_address}"
                + (f", its dashboard at {dashboard}" if dashboard else ""))

    def worker_count(self) -> int:
        return len(self.call("asked how many workers it has", self.client.nthreads))

    def has_gpus(self) -> bool:
        info = self.call("asked for its workers", self.client.scheduler_info)
        workers = info.get("workers", {}).values()
        return any(w.get("resources", {}).get("GPU") for w in workers) or bool(self.config and self.config.gpus)

    def check_shared_cache(self, directory: Path) -> None:
        """Each worker writes a probe file into ``directory``; raise :class:`CacheError` unless this
        process reads every one (the workers and this process must share the cache directory)."""
        from ser_core.waiting import Watch

        token = uuid.uuid4().hex
        if self.worker_count():
            written = self.call("probing the cache directory", lambda: self.client.run(write_probe, str(directory), token))
        else:  # an adaptive cluster with no job yet: the first worker that starts answers (within worker_wait)
            future = self.client.submit(write_probe, str(directory), token, pure=False)
            written = {"the first worker": Watch(self.client, [future], self.waits, address=self.address).result(future)}
        problems = []
        for worker, path in written.items():
            if path.startswith("error: "):
                problems.append(f"worker {worker} cannot write there ({path[7:]})")
                continue
            probe = Path(path)
            try:
                if probe.read_text() != token:
                    problems.append(f"worker {worker} wrote {probe}, but this process reads something else there")
                probe.unlink()
            except OSError:
                problems.append(f"worker {worker} wrote {probe}, but this process does not see it")
        if problems:
            raise CacheError(
                f"the Dask workers do not share the feature cache directory {directory} with this process: "
                + "; ".join(problems[:3])
                + ". Set SERBENCH_CACHE_DIR (here, before `serbench run`) to a directory on a filesystem that "
                "this machine and every worker mount at the same path (a shared home or project directory)."
            )

    def check_worker_imports(self, modules: dict[str, str]) -> None:
        """Every worker imports each module the cells need (``{module: which plugin needs it}``);
        :class:`RunStopped` names what a worker lacks, instead of cells failing to unpickle there."""
        if not modules or not self.worker_count():
            return  # no worker yet (an adaptive cluster): the cells themselves will say
        answers = self.call("asking the workers to import the plugins",
                             lambda: self.client.run(import_probe, sorted(modules)))
        missing: dict[str, list[str]] = {}
        for worker, problems in answers.items():
            for module, error in problems:
                missing.setdefault(f"{module} ({modules[module]}): {error}", []).append(worker)
        if missing:
            lines = [f"{what} on {len(where)} of {len(answers)} workers ({', '.join(sorted(where)[:3])})"
                     for what, where in missing.items()]
            raise RunStopped(
                f"the Dask workers at {self.address} cannot import what the cells need:\n  " + "\n  ".join(lines)
                + "\nInstall serbench and these plugins (pip install ser-plugin-NAME, the same versions) in the "
                "Python environment the workers run, restart the workers, and run the same command again."
            )

    def cancel(self, futures) -> None:
        """Cancel the run's futures (bounded: the scheduler may be what stopped the run)."""
        try:
            self.call("cancelling the run's tasks", lambda: self.client.cancel(list(futures)))
        except Exception:
            pass  # the interruption matters more

    def close(self) -> None:
        limit = self.waits.scheduler_wait
        for thing in (self.client, self.cluster):
            if thing is not None:
                try:
                    bounded(lambda: thing.close(timeout=limit), limit + 5, lambda: TimeoutError("close"))
                except Exception:
                    pass
        self.client = self.cluster = None


def import_probe(modules: list[str]) -> list[tuple[str, str]]:
    """Worker: the modules it cannot import, with the error."""
    import importlib

    problems = []
    for module in modules:
        try:
            importlib.import_module(module)
        except BaseException as exc:  # an import error, or a plugin that exits on import
            problems.append((module, f"{type(exc).__name__}: {exc}"))
    return problems


def verbose_from_env() -> bool:
    """``serbench --verbose`` (``SERBENCH_VERBOSE``, set by the CLI) or ``SERBENCH_DEBUG``."""
    debug = os.environ.get("SERBENCH_DEBUG", "").strip().lower() not in ("", "0", "false", "no")
    return debug or os.environ.get("SERBENCH_VERBOSE", "") == "1"


def quiet_dask_logs(verbose: bool) -> None:
    """Dask's own log lines (and the tracebacks they carry) in this process only with ``--verbose``:
    everything they report reaches the user as serbench's own message."""
    import distributed  # noqa: F401  (importing it configures its loggers: set them after)

    level = logging.WARNING if verbose else logging.CRITICAL
    roots = ("distributed", "dask_jobqueue", "tornado")
    # dask's logging config gives some of them (distributed.client, ...) a level of their own
    names = [name for name in logging.root.manager.loggerDict if name.split(".")[0] in roots]
    for name in {*roots, *names}:
        logging.getLogger(name).setLevel(level)


def describe_failure(exc: BaseException, cell: str) -> str:
    """The error stored with a cell whose task could not finish (not a model's own error)."""
    from distributed import KilledWorker

    if isinstance(exc, KilledWorker):
        return (
            f"WorkerDied: the worker running {cell} died {ALLOWED_FAILURES + 1} times on it, twice over (killed, "
            "out of memory, preempted, or a crash in native code); the cell was given up. Re-run to try again, or "
            "run it alone (--corpus/--system, --workers 1) to see the crash."
        )
    if isinstance(exc, CellProcessDied):
        return f"CellProcessDied: {cell}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def is_extraction_error(exc: BaseException) -> bool:
    return isinstance(exc, (FeatureError, CacheError))


if __name__ == "__main__":  # a cell in a fresh process: python -m ser_core.executor SCRATCH DATA PARENT
    _fresh_process_main(sys.argv[1], sys.argv[2], sys.argv[3])
