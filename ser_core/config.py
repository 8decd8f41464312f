"""Where serbench keeps things: the cache directory and the default results database.

``SERBENCH_CACHE_DIR`` overrides the cache location (default ``$XDG_CACHE_HOME/serbench`` or
``~/.cache/serbench``); ``SERBENCH_DATA_DIR`` overrides the data directory, where ``serbench corpus
download`` puts corpora and records their locations (default ``$XDG_DATA_HOME/serbench`` or
``~/.local/share/serbench``); ``SERBENCH_DB`` overrides the results database (default ``serbench.db`` in
the working directory); ``SERBENCH_CONFIG`` overrides the benchmarks file (default
``benchmarks.toml`` in the working directory).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The root of serbench's caches (features, generated corpora)."""
    explicit = os.environ.get("SERBENCH_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "serbench"


def data_dir() -> Path:
    """The root of downloaded corpora and of the file recording where corpora are."""
    explicit = os.environ.get("SERBENCH_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "serbench"


def default_db() -> Path:
    """The results database used when no ``--db`` is given."""
    return Path(os.environ.get("SERBENCH_DB", "serbench.db"))


CONFIG_ENV = "SERBENCH_CONFIG"


def default_config() -> Path:
    """The user's benchmarks file when no ``--config`` is given (it adds to the registered suites)."""
    return Path(os.environ.get(CONFIG_ENV) or "benchmarks.toml")


def available_cores() -> int:
    """The cores this process may run on: its CPU affinity where the system has one (a container or
    ``taskset`` may give it fewer than the machine has), else the machine's count; at least 1.

    The one count of cores: worker counts and per-worker thread counts derive from it."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on macOS or Windows
        return max(1, os.cpu_count() or 1)


#: The most threads a ``SERBENCH_*_THREADS`` variable may ask for: more is a typing error, and a
#: library asked for 10**9 threads tries to start them.
MAX_THREADS = 1024


def check_thread_variables(environ=None) -> None:
    """Check every ``SERBENCH_..._THREADS`` variable that is set (:func:`thread_count`), before a run starts:
    plugins read them in each worker, where a garbled one would fail every cell instead of the command."""
    environ = os.environ if environ is None else environ
    for name in sorted(environ):
        if name.startswith("SERBENCH_") and name.endswith("_THREADS"):
            thread_count(name)


def thread_count(*names: str, default: int | None = None) -> int | None:
    """The thread count the first set variable of ``names`` gives (e.g. ``SERBENCH_TF_INTRA_THREADS``), else
    ``default``: for plugins, so that a garbled value is one message naming the variable, not a
    ``ValueError`` in every cell.

    :raises ConfigError: the value is not a whole number from 1 to :data:`MAX_THREADS`, naming the variable.
    """
    from ser_core.errors import ConfigError

    for name in names:
        text = os.environ.get(name, "").strip()
        if not text:
            continue
        if not (text.isdigit() and 1 <= int(text) <= MAX_THREADS):
            raise ConfigError(f"${name}={text!r}: expected a whole number of threads from 1 to {MAX_THREADS}; "
                              "fix it, or unset it for the default.")
        return int(text)
    return default
