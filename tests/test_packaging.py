"""Packaging: a lean core, self-contained plugin packages with publishable metadata, and a clear
message (never a traceback) when a plugin's library is missing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import requires
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists())
HEAVY = {"tensorflow", "tensorflow-cpu", "keras", "librosa", "opensmile", "scikit-learn", "torch"}
MODELS_ON_KERAS = {"ser-plugin-aldeneh", "ser-plugin-latif", "ser-plugin-zhang", "ser-plugin-zhao"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()


def _project(path: Path) -> dict:
    return tomllib.loads((path / "pyproject.toml").read_text())["project"]


def test_the_core_declares_no_model_feature_or_corpus_library():
    project = _project(ROOT)
    declared = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        declared += extra
    assert not {_name(r) for r in declared} & HEAVY, declared
    installed = requires("ser-core") or []  # what pip would install for the core, extras included
    assert not {_name(r) for r in installed} & HEAVY, installed


def test_each_library_is_declared_by_the_plugin_that_uses_it():
    owners = {
        "opensmile": "ser-plugin-opensmile",
        "librosa": "ser-plugin-spectral",
        "scikit-learn": "ser-plugin-svm",
        "keras": "ser-keras",
        "transformers": ["ser-plugin-ssl", "ser-plugin-whisper"],
        "ctranslate2": "ser-plugin-whisper",
    }
    for library, owner in owners.items():
        holders = [p.name for p in PLUGINS if library in {_name(r) for r in _project(p)["dependencies"]}]
        assert holders == (owner if isinstance(owner, list) else [owner]), (library, holders)


def test_plugins_that_share_a_library_pin_the_same_version():
    """Two plugins installed side by side must not ask pip for two versions of one library."""
    pins: dict[str, dict[str, str]] = {}
    for plugin in PLUGINS:
        for requirement in _project(plugin)["dependencies"]:
            name = _name(requirement)
            if name != "ser-core":
                pins.setdefault(name, {})[plugin.name] = requirement[len(name):].strip()
    clashes = {name: by for name, by in pins.items() if len(set(by.values())) > 1}
    assert not clashes, clashes
    keras = _project(ROOT / "plugins" / "ser-keras")
    assert "tensorflow" in {_name(r) for r in keras["dependencies"]}, "a model plugin alone must work"
    assert set(keras["optional-dependencies"]) == {"gpu"}
    assert {_name(r) for r in keras["optional-dependencies"]["gpu"]} == {"tensorflow"}, "the same package: no clash"
    for package in MODELS_ON_KERAS:
        project = _project(ROOT / "plugins" / package)
        assert "ser-keras" in {_name(r) for r in project["dependencies"]}, package
        assert set(project["optional-dependencies"]) == {"gpu"}, package


@pytest.mark.parametrize("package", [ROOT, *PLUGINS], ids=lambda p: p.name if p != ROOT else "ser-core")
def test_metadata_is_complete_enough_to_publish(package):
    project = _project(package)
    for key in ("name", "version", "description", "readme", "license", "requires-python", "classifiers", "urls"):
        assert project.get(key), f"{package.name}: [project] {key} missing"
    assert (package / project["readme"]).is_file()
    assert "Homepage" in project["urls"] and "Source" in project["urls"]
    assert any(c.startswith("Programming Language :: Python :: 3.11") for c in project["classifiers"])
    if package != ROOT:
        core = [r for r in project["dependencies"] if _name(r) == "ser-core"]
        assert core and re.search(r">=\s*0\.1", core[0]) and "<" in core[0], f"{package.name}: pin a ser-core range"


def _run_without(module: str, code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter in which importing ``module`` fails as if it were absent."""
    blocker = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name == {module!r} or name.startswith({module!r} + '.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SERBENCH_DEBUG", "SERBENCH_VERBOSE")}
    return subprocess.run([sys.executable, "-c", blocker + code], capture_output=True, text=True, env=env,
                          timeout=120)


def test_models_info_without_tensorflow_names_the_package_to_install():
    result = _run_without(
        "tensorflow",
        "import sys; from ser_core.cli import app; sys.argv = ['serbench', 'models', 'info', 'aldeneh', "
        "'--feature', 'logmel40', '--classes', '4']; app()",
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    message = " ".join(result.stderr.split())
    assert "'tensorflow'" in message and "tensorflow==2.21.0" in message


def test_a_feature_without_its_library_is_one_clear_error():
    result = _run_without(
        "librosa",
        "import sys\n"
        "from ser_core.errors import MissingDependencyError\n"
        "import ser_plugin_spectral\n"
        "try:\n"
        "    ser_plugin_spectral.mel_filters(16000, 400, 40, 0.0, 8000.0)\n"
        "except MissingDependencyError as exc:\n"
        "    print(exc); sys.exit(0)\n"
        "sys.exit(1)\n",
    )
    assert result.returncode == 0, result.stderr
    assert "pip install librosa" in result.stdout and "ser-plugin-spectral" in result.stdout


def test_an_import_error_escaping_a_plugin_is_a_message_not_a_traceback(tmp_path, install_distribution, monkeypatch):
    from typer.testing import CliRunner

    monkeypatch.delenv("SERBENCH_DEBUG", raising=False)

    from ser_core.cli import app

    install_distribution(
        "ser-plugin-needy",
        {"needy": "ser_plugin_needy"},
        {
            "ser_plugin_needy": '''
            from ser_core import ModelSpec, hookimpl

            def create(context):
                import no_such_library_for_serbench  # noqa: F401

            @hookimpl
            def register_models(register):
                register(ModelSpec("needy", create, frozenset({"functionals"})))
            '''
        },
    )
    result = CliRunner().invoke(app, ["models", "info", "needy", "--feature", "egemaps"])
    assert result.exit_code == 2, result.output
    assert "no_such_library_for_serbench" in result.output and "pip install" in result.output
    assert "Traceback" not in result.output


def test_a_plugin_missing_a_library_at_import_is_listed_with_what_to_install(install_distribution):
    from ser_core.plugins import load_registry

    install_distribution("ser-plugin-heavy", {"heavy": "ser_plugin_heavy"},
                         {"ser_plugin_heavy": "import no_such_library_for_serbench.sub\n"})
    (plugin,) = [p for p in load_registry().plugins if p.name == "heavy"]
    assert plugin.status == "broken"
    assert ("needs the Python package 'no_such_library_for_serbench', which is not installed: "
            "pip install no_such_library_for_serbench (or reinstall ser-plugin-heavy") in plugin.errors[0]
