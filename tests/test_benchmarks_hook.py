"""The register_benchmarks hook: systems, suites and published references come from distributions,
the core names none of them, and a core without any says what to install."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ser_core.benchmark_specs import ReferenceRow, ReferenceSpec, SuiteSpec, SystemSpec, read_benchmarks, read_reference
from ser_core.errors import ConfigError
from ser_core.hookspecs import hookimpl
from ser_core.plugins import load_registry

ROOT = Path(__file__).resolve().parents[1]
#: Embedded in the core: its own corpora are the exception the rule allows.
CORE_OWN = {"synthetic", "synthetic-b", "csv"}


def test_the_core_names_no_corpus_feature_model_or_system_of_a_plugin():
    """grep of ser_core's code and package data for every name an installed distribution registers."""
    registry = load_registry()
    names = {name for kind in ("corpus", "feature", "model", "system") for name, item in registry.items[kind].items()
             if item.plugin.distribution != "ser-core"} - CORE_OWN
    assert {"svm-is09", "emodb", "is09", "aldeneh"} <= names, "the search needs the installed plugins' names"
    found = {}
    for path in sorted((ROOT / "ser_core").rglob("*")):
        if path.is_file() and path.suffix in (".py", ".toml", ".js", ".css", ".html", ".json", ".csv"):
            text = path.read_text(errors="replace")
            hits = sorted(n for n in names if re.search(r"(?<![\w.-])" + re.escape(n) + r"(?![\w-])", text))
            if hits:
                found[str(path.relative_to(ROOT))] = hits
    assert found == {}


class Paper:
    """A benchmark distribution registering a system, a suite and a reference, in-process."""

    @hookimpl
    def register_benchmarks(self, register):
        register(SystemSpec("s1", model="m", feature="f"))
        register(SuiteSpec("grid", corpora=("synthetic",), systems=("s1",)))
        register(ReferenceSpec("paper2026", "Me 2026", (ReferenceRow("synthetic", "s1", 71.5),)))


def test_each_kind_is_registered_with_its_distribution_and_listed():
    registry = load_registry([("paper", Paper())], use_entry_points=False)
    assert registry.system("s1").spec.model == "m" and registry.suite("grid").spec.systems == ("s1",)
    assert registry.reference("paper2026").spec.value("synthetic", "s1") == 71.5
    rows = {(r["kind"], r["name"]): r["distribution"] for r in registry.rows()}
    assert rows[("system", "s1")] == rows[("suite", "grid")] == rows[("reference", "paper2026")] == "(in-process)"


class Twice:
    @hookimpl
    def register_benchmarks(self, register):
        register(ReferenceSpec("paper2026", "someone else", (ReferenceRow("synthetic", "s1", 60.0),)))
        register("not a spec")


def test_a_reference_name_claimed_twice_is_refused_for_both_and_a_wrong_object_is_named():
    registry = load_registry([("paper", Paper()), ("twice", Twice())], use_entry_points=False)
    assert ("reference", "paper2026") in registry.conflicts and "paper2026" not in registry.items["reference"]
    twice = next(p for p in registry.plugins if p.name == "twice")
    assert any("expects a SystemSpec or SuiteSpec or ReferenceSpec, got 'not a spec'" in e for e in twice.errors)
    with pytest.raises(Exception, match="reference name 'paper2026' is registered by both"):
        registry.reference("paper2026")


def test_a_reference_spec_refuses_what_a_published_table_cannot_hold():
    with pytest.raises(ConfigError, match="s1 on c is given twice, on rows 1 and 2"):
        ReferenceSpec("r", "x", (ReferenceRow("c", "s1", 50.0), ReferenceRow("c", "s1", 51.0)))
    with pytest.raises(ConfigError, match="looks like a fraction"):
        ReferenceSpec("r", "x", (ReferenceRow("c", "s1", 0.5),))
    with pytest.raises(ConfigError, match="not a percentage between 0 and 100"):
        ReferenceSpec("r", "x", (ReferenceRow("c", "s1", float("nan")),))
    with pytest.raises(ConfigError, match="measure 'f1' is not one of uar, accuracy"):
        ReferenceSpec("r", "x", (), measure="f1")  # type: ignore[arg-type]


def test_read_reference_keeps_spread_repeats_and_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("# comment\ncorpus,system,uar,spread,repeats,source\nc,s1,70.5,1.5,3,p\nc,s2,60,,,\n")
    spec = read_reference(path, citation="Me 2026")
    assert spec.name == "t" and spec.citation == "Me 2026"
    assert [(r.system, r.value, r.spread, r.repeats, r.line) for r in spec.rows] == [
        ("s1", 70.5, 1.5, 3, 3), ("s2", 60.0, None, None, 4)]
    path.write_text("corpus,system,uar,repeats\nc,s1,70,three\n")
    with pytest.raises(ConfigError, match=r"t.csv:2: repeats 'three' is not a whole number"):
        read_reference(path)


def test_read_benchmarks_applies_the_files_defaults_and_refuses_a_users_tables(tmp_path):
    path = tmp_path / "b.toml"
    path.write_text(textwrap.dedent("""
        [defaults]
        repeats = 2
        [systems.s1]
        model = "m"
        features = ["f", "g"]
        [suites.grid]
        corpora = ["synthetic"]
        systems = ["s1"]
        seed = 5
    """))
    system, suite = read_benchmarks(path)
    assert system == SystemSpec("s1", "m", features=("f", "g"))
    assert (suite.repeats, suite.seed, suite.corpora) == (2, 5, ("synthetic",))
    path.write_text(path.read_text() + '\n[corpora.x]\npath = "/data"\n')
    with pytest.raises(ConfigError, match=r"b.toml: corpora: a distribution's benchmarks file holds only"):
        read_benchmarks(path)
    path.write_text('[suites.grid]\ncorpora = "synthetic"\nsystems = ["s1"]\n')
    with pytest.raises(ConfigError, match="corpora must be a list of names"):
        read_benchmarks(path)


HIDE = '''
import importlib.abc, importlib.metadata, os, sys
HIDDEN = tuple(os.environ["SERBENCH_HIDE_MODULES"].split(","))
class _Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(name, name=name)
_real = importlib.metadata.entry_points
def _entry_points(**params):
    found = _real(**params)
    if not params:
        return found
    return importlib.metadata.EntryPoints([e for e in found if e.value.split(":")[0].split(".")[0] not in HIDDEN])
sys.meta_path.insert(0, _Hide())
importlib.metadata.entry_points = _entry_points
'''


def test_run_on_a_core_with_no_benchmark_installed_says_what_to_install(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(HIDE)
    env = dict(os.environ, SERBENCH_HIDE_MODULES="ser_benchmark_demo,ser_benchmark_keesing2020,ser_benchmark_modern",
               PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path / "site"), os.environ.get("PYTHONPATH")])),
               SERBENCH_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("SERBENCH_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "ser_core.cli", "run", "--db", str(tmp_path / "r.db")], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    message = " ".join(done.stderr.split())
    assert done.returncode == 1, done.stdout + done.stderr
    assert "no suite is defined at all" in message and "pip install ser-benchmark-demo" in message
    assert "Traceback" not in done.stderr and not (tmp_path / "r.db").exists()
    listed = subprocess.run([sys.executable, "-m", "ser_core.cli", "suites", "--json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0 and '"suites": []' in listed.stdout
