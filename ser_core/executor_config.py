"""The ``[executor]`` table of a benchmarks file: which batch system and what each job asks for.

Parsed and checked here, with no Dask import, when a suite is read (:mod:`ser_core.suites`); the
cluster it describes is made by :func:`ser_core.executor.make_cluster`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ser_core.errors import ConfigError
from ser_core.waiting import seconds


#: Batch systems dask-jobqueue drives, by the ``kind`` of the ``[executor]`` table.
EXECUTOR_KINDS = ("slurm", "pbs", "sge", "lsf")


#: Keys of ``[executor]`` that bound a run's waits (:mod:`ser_core.waiting`); any cluster, local too.
_WAIT_KEYS = {"worker_wait", "scheduler_wait"}


_EXECUTOR_KEYS = {
    "kind", "queue", "partition", "cores", "processes", "memory", "walltime", "gpus", "directives", "jobs", "adaptive",
    "python", "local_directory", "log_directory", "interface", *_WAIT_KEYS,
}


_ADAPTIVE_KEYS = {"minimum", "maximum"}


#: The largest value of each count of the ``[executor]`` table (per job: cores, worker processes,
#: GPUs; jobs, fixed or the adaptive maximum): beyond them a value is a typing error, not a cluster.
EXECUTOR_LIMITS: dict[str, int] = {"cores": 1024, "processes": 1024, "gpus": 64, "jobs": 10_000}


_WALLTIME = re.compile(r"^(\d+-)?\d{1,3}:\d{2}(:\d{2})?$")


_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


@dataclass(frozen=True)
class ExecutorConfig:
    """The ``[executor]`` table: a batch-system cluster for dask-jobqueue, and the run's bounds.

    ``kind`` is ``None`` for a table that only sets ``worker_wait`` / ``scheduler_wait`` (seconds,
    :mod:`ser_core.waiting`), which bound the waits of any distributed run, a local cluster's too.
    Each batch job runs ``processes`` Dask workers on ``cores`` cores (one thread per core split
    between them); with ``gpus`` the job asks for that many GPUs and each worker declares one ``GPU``
    resource (so ``processes`` defaults to ``gpus``). ``adaptive`` (minimum, maximum jobs) lets the
    cluster grow and shrink with the queue of cells; otherwise ``jobs`` jobs are started.
    """

    kind: str | None
    queue: str | None = None
    cores: int = 1
    processes: int | None = None
    memory: str = "4GB"
    walltime: str = "01:00:00"
    gpus: int = 0
    directives: tuple[str, ...] = ()
    jobs: int = 1
    adaptive: tuple[int, int] | None = None
    python: str | None = None
    local_directory: str | None = None
    log_directory: str | None = None
    interface: str | None = None
    worker_wait: float | None = None
    scheduler_wait: float | None = None

    @property
    def batch(self) -> bool:
        """Whether the table describes a batch-system cluster (else only the waits)."""
        return self.kind is not None

    @property
    def worker_processes(self) -> int:
        return self.processes or (self.gpus if self.gpus else self.cores)


def parse_executor(path: Path, table: Any) -> ExecutorConfig:
    """Validate an ``[executor]`` table; :class:`ConfigError` names the file and the key."""

    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(f"{path}: executor.{key}: {message}" if key else f"{path}: executor: {message}")

    if not isinstance(table, dict):
        raise fail("", f"expected a table, got {type(table).__name__}")
    for name in table:
        if name not in _EXECUTOR_KEYS:
            raise fail(name, f"unknown key; allowed keys: {', '.join(sorted(_EXECUTOR_KEYS))}")
    waits = {key: seconds(table[key], f"{path}: executor.{key}") for key in _WAIT_KEYS if key in table}
    kind = table.get("kind")
    if kind is None and not set(table) - _WAIT_KEYS:  # only the bounds of the waits: no batch system
        return ExecutorConfig(kind=None, **waits)
    if kind not in EXECUTOR_KINDS:
        raise fail("kind", f"required (unless the table sets only {' and '.join(sorted(_WAIT_KEYS))}); "
                           f"expected one of {', '.join(EXECUTOR_KINDS)}, got {kind!r}")

    def integer(key: str, default: int | None, minimum: int) -> int | None:
        value = table.get(key, default)
        if value is None:
            return None
        maximum = EXECUTOR_LIMITS[key]
        if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= maximum:
            raise fail(key, f"expected an integer from {minimum} to {maximum}, got {value!r}")
        return value

    def text(key: str) -> str | None:
        value = table.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise fail(key, f"expected a non-empty string, got {value!r}")
        return value

    memory = table.get("memory", "4GB")
    if not isinstance(memory, str) or not _MEMORY.match(memory.strip()):
        raise fail("memory", f"expected a size per job such as \"16GB\" or \"500MB\", got {memory!r}")
    walltime = table.get("walltime", "01:00:00")
    if not isinstance(walltime, str) or not _WALLTIME.match(walltime):
        raise fail("walltime", f"expected HH:MM:SS (or D-HH:MM:SS), got {walltime!r}")
    directives = table.get("directives", [])
    if not isinstance(directives, list) or not all(isinstance(d, str) and d.strip() for d in directives):
        raise fail("directives", "expected a list of strings, each one directive of the batch system "
                                 "(e.g. [\"--constraint=a100\"] for Slurm)")
    adaptive = None
    if "adaptive" in table:
        entry = table["adaptive"]
        if not isinstance(entry, dict):
            raise fail("adaptive", "expected a table { minimum = JOBS, maximum = JOBS }")
        for name in entry:
            if name not in _ADAPTIVE_KEYS:
                raise fail(f"adaptive.{name}", "unknown key; allowed keys: maximum, minimum")
        low, high = entry.get("minimum", 0), entry.get("maximum")
        for name, value in (("minimum", low), ("maximum", high)):
            if (not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "minimum" else 1)
                    or value > EXECUTOR_LIMITS["jobs"]):
                raise fail(f"adaptive.{name}", f"expected a{' non-negative' if name == 'minimum' else ' positive'} "
                                               f"number of jobs up to {EXECUTOR_LIMITS['jobs']}, got {value!r}")
        if low > high:
            raise fail("adaptive", f"minimum ({low}) is above maximum ({high})")
        adaptive = (low, high)
        if "jobs" in table:
            raise fail("jobs", "give either jobs (a fixed number) or adaptive (minimum and maximum), not both")
    if "queue" in table and "partition" in table:
        raise fail("partition", "give either queue or partition (the same thing), not both")
    cores = integer("cores", 1, 1)
    processes = integer("processes", None, 1)
    gpus = integer("gpus", 0, 0)
    if processes is not None and processes > cores:
        raise fail("processes", f"{processes} worker processes cannot share {cores} cores (one thread each at least)")
    return ExecutorConfig(
        kind=kind, queue=text("queue") or text("partition"), cores=cores, processes=processes, memory=memory.strip(), walltime=walltime,
        gpus=gpus, directives=tuple(directives), jobs=integer("jobs", 1, 1), adaptive=adaptive,
        python=text("python"), local_directory=text("local_directory"), log_directory=text("log_directory"),
        interface=text("interface"), **waits,
    )
