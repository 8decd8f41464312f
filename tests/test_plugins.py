"""Plugin contract: in-process registration, entry-point discovery, broken and duplicate plugins."""

from __future__ import annotations

import types

import pytest

from ser_core import CorpusSpec, FeatureSpec, Manifest, ModelSpec, hookimpl
from ser_core.api.testing import FAKE_FEATURE, FAKE_MODEL
from ser_core.errors import PluginError, UnknownNameError
from ser_core.plugins import load_registry, make_plugin_manager

from .conftest import BROKEN_PLUGIN


def _corpus(name: str) -> CorpusSpec:
    return CorpusSpec(name=name, scan=lambda root: Manifest(name, []), needs_path=False)


class CorpusPlugin:
    def __init__(self, *names: str):
        self.names = names

    @hookimpl
    def register_corpora(self, register):
        for name in self.names:
            register(_corpus(name))


class FeatureAndModelPlugin:
    @hookimpl
    def register_features(self, register):
        register(FeatureSpec("zeros", "functionals", extract=lambda signal, rate: signal[:3] * 0))

    @hookimpl
    def register_models(self, register):
        register(ModelSpec("dummy", create=lambda context: None, accepts=frozenset({"functionals"})))


def test_in_process_registration_collects_every_kind(serbench_registry):
    registry = load_registry(
        [("corpora", CorpusPlugin("a", "b")), ("fm", FeatureAndModelPlugin())], use_entry_points=False
    )
    assert sorted(registry.items["corpus"]) == ["a", "b"]
    assert registry.feature("zeros").spec.kind == "functionals"
    assert registry.model("dummy").plugin.name == "fm"
    assert all(p.status == "ok" for p in registry.plugins)
    single = serbench_registry(CorpusPlugin("c"))
    assert list(single.items["corpus"]) == ["c"]


def test_fresh_plugin_manager_has_the_four_hooks(serbench_plugin_manager):
    hooks = {name for name in dir(serbench_plugin_manager.hook) if name.startswith("register_")}
    assert hooks == {"register_corpora", "register_features", "register_models", "register_benchmarks"}
    assert serbench_plugin_manager.get_plugins() == set()
    assert make_plugin_manager() is not serbench_plugin_manager


def test_unknown_name_suggests_the_closest_one():
    registry = load_registry([("p", CorpusPlugin("emodb"))], use_entry_points=False)
    with pytest.raises(UnknownNameError, match=r"unknown corpus 'emodbb'.*Did you mean 'emodb'"):
        registry.corpus("emodbb")


DUPLICATING = """
    from ser_core import CorpusSpec, Manifest, hookimpl
    @hookimpl
    def register_corpora(register):
        register(CorpusSpec(name="shared", scan=lambda root: Manifest("shared", []), needs_path=False))
        register(CorpusSpec(name="{own}", scan=lambda root: Manifest("{own}", []), needs_path=False))
"""


@pytest.mark.parametrize("order", ["first-installed-first", "second-installed-first"])
@pytest.mark.parametrize("entry_point_names", [("first", "second"), ("same", "same")])
def test_duplicate_name_is_refused_for_both_naming_both_distributions(install_distribution, order, entry_point_names):
    dists = [("ser-plugin-first", "1.2", "first_mod", "only-first"), ("ser-plugin-second", "3.4", "second_mod", "only-second")]
    if order == "second-installed-first":
        dists.reverse()
        entry_point_names = entry_point_names[::-1]
    for (dist, version, module, own), ep_name in zip(dists, entry_point_names):
        install_distribution(dist, {ep_name: module}, {module: DUPLICATING.replace("{own}", own)}, version=version)
    registry = load_registry()
    # whichever loads first, the name is refused for both and each keeps its other names
    assert "shared" not in registry.items["corpus"]
    assert {"only-first", "only-second"} <= set(registry.items["corpus"])
    for dist in ("ser-plugin-first", "ser-plugin-second"):
        plugin = next(p for p in registry.plugins if p.distribution == dist)
        assert plugin.status == "broken" and len(plugin.errors) == 1, plugin.errors
        message = plugin.errors[0]
        assert "ser-plugin-first 1.2" in message and "ser-plugin-second 3.4" in message
        assert "refused from all" in message
    with pytest.raises(PluginError, match=r"'shared' is registered by both ser-plugin-first 1\.2 .* and ser-plugin-second 3\.4"):
        registry.corpus("shared")


def test_a_name_registered_twice_by_one_plugin_is_refused():
    registry = load_registry([("twice", CorpusPlugin("x", "x", "y"))], use_entry_points=False)
    assert "x" not in registry.items["corpus"] and "y" in registry.items["corpus"]
    assert "registered twice by (in-process)" in registry.plugins[0].errors[0]


def test_entry_point_discovery_of_an_installed_distribution(install_distribution, serbench_fakes):
    install_distribution(
        "ser-plugin-extra",
        {"extra": "ser_plugin_extra"},
        {"ser_plugin_extra": """
            from ser_core import CorpusSpec, Manifest, hookimpl
            @hookimpl
            def register_corpora(register):
                register(CorpusSpec(name="extra", scan=lambda root: Manifest("extra", []), needs_path=False))
        """},
        version="0.7",
    )
    registry = load_registry()
    found = registry.corpus("extra")
    assert (found.plugin.distribution, found.plugin.version) == ("ser-plugin-extra", "0.7")
    # the core's own corpora and another installed distribution (the fakes) are discovered the same way
    assert {"synthetic", "extra"} <= set(registry.items["corpus"])
    assert registry.model(FAKE_MODEL).plugin.distribution == registry.feature(FAKE_FEATURE).plugin.distribution
    assert registry.model(FAKE_MODEL).plugin.distribution == "serbench-test-fakes"


def test_import_failure_becomes_a_broken_row(install_distribution):
    install_distribution(BROKEN_PLUGIN["dist"], BROKEN_PLUGIN["entry_points"], BROKEN_PLUGIN["modules"])
    registry = load_registry()
    rows = [r for r in registry.rows() if r["status"] == "broken"]
    assert [r["name"] for r in rows] == ["broken"]
    assert "no_such_dependency_for_serbench_tests" in rows[0]["error"]
    assert "synthetic" in registry.items["corpus"], "other plugins keep working"


def test_strict_mode_reraises(install_distribution, monkeypatch):
    install_distribution(BROKEN_PLUGIN["dist"], BROKEN_PLUGIN["entry_points"], BROKEN_PLUGIN["modules"])
    monkeypatch.setenv("SERBENCH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="ser-plugin-broken"):
        load_registry()


def test_misspelled_hook_fails_loudly():
    plugin = types.SimpleNamespace()

    @hookimpl
    def register_corpra(register):  # misspelled on purpose
        register(_corpus("never"))

    plugin.register_corpra = register_corpra
    registry = load_registry([("typo", plugin)], use_entry_points=False)
    (info,) = registry.plugins
    assert info.status == "broken" and "register_corpra" in info.errors[0]
    assert "never" not in registry.items["corpus"]


def test_hook_that_raises_or_registers_garbage_is_isolated():
    class Raises:
        @hookimpl
        def register_models(self, register):
            raise RuntimeError("boom")

    class Garbage:
        @hookimpl
        def register_features(self, register):
            register("not a spec")

    registry = load_registry(
        [("raises", Raises()), ("garbage", Garbage()), ("fine", CorpusPlugin("ok"))], use_entry_points=False
    )
    status = {p.name: p for p in registry.plugins}
    assert "RuntimeError: boom" in status["raises"].errors[0]
    assert "expects a FeatureSpec" in status["garbage"].errors[0]
    assert status["fine"].status == "ok" and "ok" in registry.items["corpus"]


def test_every_plugin_directory_is_in_requirements():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    listed = set(re.findall(r"^-e plugins/([^\s\[]+)", (root / "requirements.txt").read_text(), re.M))
    for package in sorted((root / "plugins").iterdir()):
        if (package / "pyproject.toml").exists():
            assert package.name in listed, f"{package.name} missing from requirements.txt"
