"""Fixtures for plugin authors (installed as a pytest plugin through the ``pytest11`` entry point).

- ``serbench_plugin_manager``: a fresh pluggy manager with serbench's hook specs and no plugins.
- ``serbench_registry``: a factory ``(plugin, name="test-plugin", entry_points=False) -> Registry``
  registering a plugin object or module in-process.
- ``synthetic_manifest``: a tiny synthetic corpus (4 speakers x 4 classes x 3 clips) written to a
  temporary directory, as a :class:`~ser_core.specs.Manifest`.
- ``serbench_cache``: points ``SERBENCH_CACHE_DIR`` at a temporary directory for the test.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def serbench_plugin_manager():
    from ser_core.plugins import make_plugin_manager

    return make_plugin_manager()


@pytest.fixture
def serbench_registry():
    from ser_core.plugins import load_registry

    def make(plugin, name: str = "test-plugin", entry_points: bool = False):
        return load_registry([(name, plugin)], use_entry_points=entry_points)

    return make


@pytest.fixture
def serbench_cache(tmp_path, monkeypatch):
    directory = tmp_path / "serbench-cache"
    monkeypatch.setenv("SERBENCH_CACHE_DIR", str(directory))
    return directory


@pytest.fixture(scope="session")
def synthetic_manifest(tmp_path_factory):
    from ser_core.synthetic import SyntheticConfig, generate

    config = SyntheticConfig(speakers=4, clips_per_class=3, min_seconds=0.8, max_seconds=1.2)
    return generate(config, tmp_path_factory.mktemp("synthetic"))
