"""Fixtures for plugin authors (installed as a pytest plugin through the ``pytest11`` entry point).

- ``serbench_plugin_manager``: a fresh pluggy manager with serbench's hook specs and no plugins.
- ``serbench_registry``: a factory ``(plugin, name="test-plugin", entry_points=False) -> Registry``
  registering a plugin object or module in-process.
- ``synthetic_manifest``: a tiny synthetic corpus (4 speakers x 4 classes x 3 clips) written to a
  temporary directory, as a :class:`~ser_core.specs.Manifest`.
- ``serbench_cache``: points ``SERBENCH_CACHE_DIR`` at a temporary directory for the test.
- ``serbench_model``: a factory ``(name, n_classes, kind, seed=0, **settings) -> Estimator`` creating
  an installed model as a cell does, for a feature of ``kind`` (the model's defaults under ``settings``).
- ``serbench_fakes``: makes the fakes of :mod:`ser_core.testing_fakes` (feature ``fake-stats``, model
  ``fake-centroid``) an installed plugin for the test, in-process and for ``serbench`` subprocesses.
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


@pytest.fixture
def serbench_fakes(tmp_path, monkeypatch):
    """Install the fakes (:mod:`ser_core.testing_fakes`) as the plugin ``fakes`` for one test: on
    ``sys.path`` for in-process registries and CLI calls, on ``PYTHONPATH`` for subprocesses. Returns
    the folder holding the distribution. Without this fixture the fakes are nowhere registered."""
    import importlib
    import os

    from ser_core.testing_fakes import write_fakes_distribution

    site = write_fakes_distribution(tmp_path / "serbench-fakes-site")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    importlib.invalidate_caches()
    return site


@pytest.fixture(scope="session")
def serbench_model():
    """Factory: a fresh estimator of the installed model ``name``, created as a cell creates it
    (:class:`~ser_core.specs.ModelContext` of ``n_classes``, a pass-through feature of ``kind``,
    the model's defaults updated with ``settings``, ``seed``)."""
    from ser_core.plugins import load_registry
    from ser_core.specs import FeatureSpec, ModelContext

    registry = load_registry()

    def make(name: str, n_classes: int, kind: str, seed: int = 0, **settings):
        spec = registry.model(name).spec
        feature = FeatureSpec("test", kind, lambda signal, rate: signal)
        return spec.create(ModelContext(n_classes, feature, {**spec.defaults, **settings}, seed))

    return make
