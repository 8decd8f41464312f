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
    """The user's benchmarks file when no ``--config`` is given (it adds to the shipped suites)."""
    return Path(os.environ.get(CONFIG_ENV) or "benchmarks.toml")
