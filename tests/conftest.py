"""Fixtures for the core's own tests."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from ser_core.api.testing import ManifestCorpus


def write_distribution(root: Path, dist: str, version: str, entry_points: dict[str, str],
                       modules: dict[str, str]) -> Path:
    """Write an installed-looking distribution (``.dist-info`` with entry points) plus its modules
    under ``root``, which can then go on ``sys.path`` or ``PYTHONPATH``."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[serbench]\n{lines}\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


@pytest.fixture
def install_distribution(tmp_path, monkeypatch):
    """Factory: make a distribution discoverable through ``importlib.metadata`` for one test."""
    counter = iter(range(1000))

    def install(dist: str, entry_points: dict[str, str], modules: dict[str, str], version: str = "1.0"):
        root = write_distribution(tmp_path / f"site{next(counter)}", dist, version, entry_points, modules)
        monkeypatch.syspath_prepend(str(root))
        importlib.invalidate_caches()
        for module in modules:
            sys.modules.pop(module, None)
        return root

    return install


BROKEN_PLUGIN = {
    "dist": "ser-plugin-broken",
    "entry_points": {"broken": "ser_plugin_broken"},
    "modules": {"ser_plugin_broken": "import no_such_dependency_for_serbench_tests\n"},
}


#: A module for test plugins: a cheap functionals feature and a nearest-centroid model, importable
#: in worker processes (install it next to the plugin module with ``install_distribution`` or
#: ``write_distribution``).
CHEAP_PARTS = {
    "serbench_test_parts": """
    import numpy as np


    def loudness(signal, rate):
        spectrum = np.abs(np.fft.rfft(signal))
        freqs = np.fft.rfftfreq(len(signal), 1 / rate)
        return np.array([np.log(np.sqrt(np.mean(signal ** 2)) + 1e-9),
                         (spectrum * freqs).sum() / (spectrum.sum() + 1e-9)], dtype=np.float32)


    class Centroid:
        def __init__(self, context):
            self.centroids = None

        def fit(self, X, y, groups):
            X = np.stack(X)
            self.centroids = np.stack([X[y == c].mean(axis=0) for c in range(int(y.max()) + 1)])

        def predict(self, X):
            return np.argmin(((np.stack(X)[:, None] - self.centroids[None]) ** 2).sum(-1), axis=1)

        def parameter_count(self):
            return int(self.centroids.size)

        def describe(self):
            return {}
    """,
}


#: A corpus plugin named ``tiny`` that scans to a given manifest (no files needed): the core's fake.
TinyCorpus = ManifestCorpus
