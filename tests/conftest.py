"""Fixtures for the core's own tests."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest


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
