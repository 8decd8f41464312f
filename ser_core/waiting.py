"""Every wait of a distributed run is bounded: no workers, or a scheduler that stops answering, ends the run.

A distributed run waits on things it does not control: worker processes (killed by the OOM killer or
Dask's memory limit, preempted batch jobs, a nanny that cannot restart its worker) and the scheduler
(a machine that went away, a port that accepts connections and never answers). Waiting on them without
a bound is how a run hangs forever, printing nothing. Here every wait has one:

- ``worker_wait`` (default :data:`DEFAULT_WORKER_WAIT` seconds): how long the run waits while the
  scheduler has no worker at all (``serbench run --worker-wait``, ``$SERBENCH_WORKER_WAIT``,
  ``[executor] worker_wait``). A batch queue that takes longer to start the first job needs more.
- ``scheduler_wait`` (default :data:`DEFAULT_SCHEDULER_WAIT` seconds): how long one call to the
  scheduler (connecting included) may take (``$SERBENCH_SCHEDULER_WAIT``, ``[executor] scheduler_wait``).

When either runs out the run stops with :class:`RunStopped` (exit status 1): every cell that finished
is already stored, and running the same command again computes only the rest.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

from ser_core.errors import ConfigError, SerbenchError

WORKER_WAIT_ENV = "SERBENCH_WORKER_WAIT"
SCHEDULER_WAIT_ENV = "SERBENCH_SCHEDULER_WAIT"
#: Seconds a run waits while the scheduler has no worker (batch jobs may queue for minutes).
DEFAULT_WORKER_WAIT = 300.0
#: Seconds one call to the scheduler (or connecting to it) may take.
DEFAULT_SCHEDULER_WAIT = 60.0
#: The longest bound accepted: beyond a week a value is a typing error, not a wait.
MAX_WAIT = 7 * 24 * 3600.0
#: How often the collect loop wakes up to check that workers and scheduler are still there.
POLL_SECONDS = 2.0


class RunStopped(SerbenchError):
    """A distributed run cannot go on (no workers, a silent scheduler, a cluster that cannot start).

    Finished cells are stored; ``serbench run`` exits with status 1 and re-running resumes.
    """


@dataclass(frozen=True)
class Waits:
    """The bounds of one distributed run, in seconds."""

    worker_wait: float = DEFAULT_WORKER_WAIT
    scheduler_wait: float = DEFAULT_SCHEDULER_WAIT


def seconds(value: Any, where: str) -> float:
    """A wait in seconds (a positive number up to :data:`MAX_WAIT`); :class:`ConfigError` names ``where``."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"{where}: expected a number of seconds, got {text!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0 < value <= MAX_WAIT:
        raise ConfigError(f"{where}: expected a number of seconds above 0 and up to {MAX_WAIT:.0f} "
                          f"(one week), got {value!r}")
    return float(value)


def resolve_waits(*, worker_wait: float | None = None, scheduler_wait: float | None = None,
                  config: Any = None, environ: Mapping[str, str] | None = None) -> Waits:
    """The bounds of a run: the command line's, else the environment's, else ``[executor]``'s, else the defaults.

    ``config`` is the ``[executor]`` table (:class:`ser_core.executor_config.ExecutorConfig`, already
    validated); each source's value is checked and named when wrong.
    """
    environ = os.environ if environ is None else environ

    def pick(given, env: str, key: str, option: str, default: float) -> float:
        if given is not None:
            return seconds(given, option)
        if environ.get(env, "").strip():
            return seconds(environ[env], f"${env}")
        configured = getattr(config, key, None) if config is not None else None
        return default if configured is None else float(configured)

    return Waits(
        worker_wait=pick(worker_wait, WORKER_WAIT_ENV, "worker_wait", "--worker-wait", DEFAULT_WORKER_WAIT),
        scheduler_wait=pick(scheduler_wait, SCHEDULER_WAIT_ENV, "scheduler_wait", "--scheduler-wait",
                            DEFAULT_SCHEDULER_WAIT),
    )


def silent_scheduler(address: str, waits: Waits, doing: str) -> RunStopped:
    """The error of a scheduler that did not answer within ``scheduler_wait``."""
    return RunStopped(
        f"the Dask scheduler at {address} did not answer within {waits.scheduler_wait:g} s while {doing}. "
        f"Check that it is running and reachable (and that the address is a Dask scheduler's), or raise the "
        f"bound ({SCHEDULER_WAIT_ENV}, [executor] scheduler_wait). Finished cells are stored; run the same "
        "command again to resume."
    )


def bounded(call: Callable[[], Any], limit: float, on_timeout: Callable[[], BaseException]) -> Any:
    """``call()``, given up after ``limit`` seconds (raising ``on_timeout()``).

    The call runs in a daemon thread, so a client call stuck on a scheduler that never answers
    cannot hold the run (the thread is abandoned; the process can still exit).
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="serbench-bounded-call", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        raise on_timeout()
    if "error" in box:
        raise box["error"]
    return box.get("value")


class Watch:
    """Futures of a distributed run, yielded as they complete, with every wait bounded.

    Completed futures are collected by :class:`distributed.as_completed` and taken without blocking;
    each poll (:data:`POLL_SECONDS`) that nothing completes, the scheduler is asked how many workers
    it has (bounded by ``scheduler_wait``); once it has had none for ``worker_wait`` seconds the run
    stops with :class:`RunStopped`. Futures may be added while iterating (a cell submitted again).
    """

    #: How long the loop sleeps between looks at the completed futures (the latency of a result).
    NAP = 0.05

    def __init__(self, client, futures: Iterable, waits: Waits, *, address: str = "", hint: str = "",
                 clock: Callable[[], float] = time.monotonic, poll: float = POLL_SECONDS):
        from distributed import as_completed

        self.client = client
        self.completed = as_completed(list(futures))
        self.waits = waits
        self.address = address or getattr(client, "scheduler_address", None) or "its address"
        self.hint = hint
        self.clock = clock
        self.poll = poll
        self._seen_worker = self._checked = clock()

    def add(self, future) -> None:
        self.completed.add(future)

    def __iter__(self) -> Iterator:
        while not self.completed.is_empty():
            batch = self.completed.next_batch(block=False)
            if not batch:
                time.sleep(self.NAP)
                if self.clock() - self._checked >= self.poll:
                    self._checked = self.clock()
                    self.check_workers()
                continue
            self._seen_worker = self.clock()
            for future in batch:
                self._refuse_cancelled(future)
                yield future

    def result(self, future):
        """``future.result()``, waiting as the loop does (a result lost with its worker is computed again)."""
        while future.status not in ("finished", "error", "cancelled"):
            self._wait([future])
        self._refuse_cancelled(future)
        return future.result()

    def _refuse_cancelled(self, future) -> None:
        """The run cancels nothing itself while it waits: a cancelled task means the connection to the
        scheduler was lost (the client cancels every task then) or someone else cancelled it. Either
        way the run stops, rather than storing every remaining cell as failed."""
        if future.status == "cancelled":
            raise self._cancelled()

    def _cancelled(self) -> RunStopped:
        return RunStopped(
            f"the connection to the Dask scheduler at {self.address} was lost (or it cancelled the run's tasks), "
            "so the cells still running there are gone. Check that the scheduler is running, then run the same "
            "command again to resume: every finished cell is stored."
        )

    def _wait(self, futures: list) -> set:
        from distributed import wait

        try:
            done, _ = bounded(
                lambda: wait(futures, timeout=self.poll, return_when="FIRST_COMPLETED"),
                self.poll + self.waits.scheduler_wait,
                lambda: silent_scheduler(self.address, self.waits, "waiting for results"),
            )
        except TimeoutError:
            done = set()
        except (asyncio.CancelledError, concurrent.futures.CancelledError):  # the connection was lost
            raise self._cancelled() from None
        if done:
            self._seen_worker = self.clock()
            return set(done)
        self.check_workers()
        return set()

    def worker_count(self) -> int:
        """The scheduler's number of workers now (bounded by ``scheduler_wait``)."""
        return len(bounded(
            lambda: self.client.nthreads(),
            self.waits.scheduler_wait,
            lambda: silent_scheduler(self.address, self.waits, "asked how many workers it has"),
        ))

    def check_workers(self) -> None:
        """Raise :class:`RunStopped` once the scheduler has had no worker for ``worker_wait`` seconds."""
        if self.client.status in ("closed", "closing"):
            raise silent_scheduler(self.address, self.waits, "waiting for results (the connection was closed)")
        if self.worker_count():
            self._seen_worker = self.clock()
            return
        idle = self.clock() - self._seen_worker
        if idle >= self.waits.worker_wait:
            raise RunStopped(
                f"the Dask scheduler at {self.address} has had no worker for {idle:.0f} s (the bound is "
                f"{self.waits.worker_wait:g} s), so no cell can run. Workers die when the machine runs out of "
                f"memory (or a worker passes its memory limit), when a batch job is preempted or reaches its "
                f"walltime, or when a cell crashes every worker it is given. {self.hint}Check the memory and "
                f"the logs (and the batch queue, for a cluster), raise the bound with --worker-wait SECONDS "
                f"({WORKER_WAIT_ENV}, [executor] worker_wait), or use fewer --workers. Every finished cell is "
                "stored; run the same command again to resume."
            )
