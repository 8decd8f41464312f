"""The benchmarks file and the registered benchmarks: malformed files name the offending key; a user's
file adds to and replaces what distributions register. (The shipped suites' contents are tested in
their distributions: plugins/ser-benchmark-*/tests.)"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ser_core.errors import ConfigError
from ser_core.benchmark_specs import SuiteSpec, SystemSpec
from ser_core.hookspecs import hookimpl
from ser_core.plugins import load_registry
from ser_core.suites import REGISTERED, load_benchmarks, load_suites

ROOT = Path(__file__).resolve().parents[1]

GOOD = """
[defaults]
repeats = 2

[systems.a]
model = "svm"
feature = "egemaps"
settings = { inner_folds = 3 }

[corpora.emodb]
path = "data/emodb"

[suites.s]
corpora = ["synthetic", "emodb"]
systems = ["a"]
seed = 4
overrides = { a = { inner_folds = 2 } }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "benchmarks.toml"
    path.write_text(text)
    return path


class Bench:
    """An in-process benchmark distribution: two systems and a suite on the embedded corpus."""

    @hookimpl
    def register_benchmarks(self, register):
        register(SystemSpec("base-sys", model="svm", feature="egemaps"))
        register(SystemSpec("other-sys", model="svm", feature="is09", settings={"inner_folds": 4}))
        register(SuiteSpec("base-suite", corpora=("synthetic",), systems=("base-sys",), repeats=1))


def bench_registry():
    return load_registry([("bench", Bench())], use_entry_points=False)


def test_a_valid_file_resolves_defaults_overrides_and_paths(tmp_path):
    benchmarks = load_benchmarks(write(tmp_path, GOOD))
    suite = benchmarks.suite("s")
    assert (suite.repeats, suite.seed, suite.normalisation) == (2, 4, "speaker")
    assert suite.folds == "speaker-independent"
    text = load_benchmarks(write(tmp_path, GOOD.replace("seed = 4", 'folds = "text-independent"'))).suite("s")
    assert text.folds == "text-independent"
    assert suite.settings_for(suite.systems[0]) == {"inner_folds": 2}
    assert benchmarks.corpus_paths["emodb"] == tmp_path / "data/emodb"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[suites.s\ncorpora = 1", r"not valid TOML: .*line 1"),
        (GOOD.replace("seed = 4", "sead = 4"), r"suites\.s\.sead: unknown key"),
        (GOOD.replace('systems = ["a"]', 'systems = ["a", "b"]'), r"suites\.s\.systems\[1\]: unknown system 'b'"),
        (GOOD.replace("repeats = 2", "repeats = 0"), r"defaults\.repeats: expected an integer from 1 to 100, got 0"),
        (GOOD.replace("repeats = 2", "repeats = 1000000000"),
         r"defaults\.repeats: expected an integer from 1 to 100, got 1000000000 \(the limit is 100"),
        (GOOD.replace("seed = 4", "seed = 4294967296"), r"suites\.s\.seed: expected an integer from 0 to 4294967295"),
        (GOOD.replace("seed = 4", "seed = -1"), r"suites\.s\.seed: expected an integer from 0 to 4294967295, got -1"),
        (GOOD.replace('systems = ["a"]', 'systems = ["a", "a"]'),
         r"suites\.s\.systems\[1\]: 'a' is listed twice \(also as suites\.s\.systems\[0\]\); its cells would be "
         r"computed twice"),
        (GOOD.replace('corpora = ["synthetic", "emodb"]', 'corpora = ["synthetic", "emodb", "synthetic"]'),
         r"suites\.s\.corpora\[2\]: 'synthetic' is listed twice"),
        (GOOD.replace("[corpora.emodb]", '[systems.b]\nmodel = "svm"\nfeature = "egemaps"\nsettings = { inner_folds = 3 }\n\n[corpora.emodb]')
         .replace('systems = ["a"]', 'systems = ["a", "b"]').replace("overrides = { a = { inner_folds = 2 } }", ""),
         r"suites\.s\.systems\[1\]: 'b' is the same system as 'a' \(model 'svm', feature 'egemaps', the same settings "
         r"and normalisation\); its cells would be computed twice"),
        (GOOD.replace("seed = 4", 'normalisation = "global"'), r"suites\.s\.normalisation: expected one of"),
        (GOOD.replace("seed = 4", 'folds = "by-text"'), r"suites\.s\.folds: expected one of speaker-independent, text-independent"),
        (GOOD.replace('feature = "egemaps"\n', ""), r"systems\.a\.feature: required"),
        (GOOD.replace('corpora = ["synthetic", "emodb"]', "corpora = []"), r"suites\.s\.corpora: expected a non-empty list"),
        (GOOD.replace("overrides = { a =", "overrides = { z ="), r"suites\.s\.overrides\.z: not one of this suite"),
        (GOOD + "\n[extra]\n", r"\(top level\)\.extra: unknown key"),
        (GOOD.replace('feature = "egemaps"', 'feature = "egemaps"\nfeatures = ["a", "b"]'), r"systems\.a: give either"),
        (GOOD.replace('feature = "egemaps"', 'features = ["egemaps"]'), r"systems\.a\.features: expected two or more"),
        (GOOD.replace('feature = "egemaps"', 'features = ["is09", "is09"]'), r"systems\.a\.features: expected two or more"),
        (GOOD.replace('feature = "egemaps"', 'feature = "egemaps"\nnormalisation = "global"'),
         r"systems\.a\.normalisation: expected one of speaker, fold, none"),
    ],
)
def test_malformed_files_name_the_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_benchmarks(path)
    assert str(path) in str(info.value)


def test_missing_file_and_unknown_suite(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_benchmarks(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="no suite 'x'; defined suites: s"):
        load_benchmarks(write(tmp_path, GOOD)).suite("x")


def test_a_suite_can_be_narrowed_to_some_corpora_and_systems(tmp_path):
    suite = load_benchmarks(write(tmp_path, GOOD)).suite("s")
    narrowed = suite.subset(["emodb"], None)
    assert narrowed.corpora == ("emodb",) and narrowed.systems == suite.systems
    assert narrowed.seed == suite.seed and narrowed.overrides == suite.overrides
    with pytest.raises(ConfigError, match="suite 's' has no corpus 'iemocap'"):
        suite.subset(["iemocap"], None)
    with pytest.raises(ConfigError, match="has no system 'zz'"):
        suite.subset(None, ["zz"])


def test_a_file_of_corpus_locations_alone_is_valid(tmp_path):
    benchmarks = load_benchmarks(write(tmp_path, '[corpora.emodb]\npath = "/data/emodb"\n'))
    assert benchmarks.corpus_paths == {"emodb": Path("/data/emodb")}
    with pytest.raises(ConfigError, match=r"no suite 'demo': no suite is defined at all .*benchmarks.toml defines none"):
        benchmarks.suite("demo")


def test_a_local_file_adds_suites_and_replaces_systems_and_suites_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SERBENCH_CONFIG", raising=False)
    alone = load_suites(registry=bench_registry())
    assert set(alone.suites) == {"base-suite"} and alone.sources == [REGISTERED]
    assert alone.suite_origins["base-suite"] == "(in-process) -" and alone.system_origins["base-sys"] == "(in-process) -"
    write(tmp_path, """
[defaults]
seed = 7

[systems.base-sys]
model = "svm"
feature = "compare2016"

[suites.mine]
corpora = ["synthetic"]
systems = ["base-sys", "other-sys"]

[suites.base-suite-2]
corpora = ["emodb"]
systems = ["other-sys"]
repeats = 1

[corpora.emodb]
path = "data/emodb"
""")
    merged = load_suites(registry=bench_registry())
    assert set(merged.suites) == {"base-suite", "mine", "base-suite-2"}
    assert merged.sources == [REGISTERED, Path("benchmarks.toml")]
    mine = merged.suite("mine")
    assert mine.seed == 7 and [s.feature for s in mine.systems] == ["compare2016", "is09"], "uses registered other-sys"
    assert merged.suite("base-suite").seed == 0, "a file's [defaults] apply to its own suites only"
    (base,) = merged.suite("base-suite").systems
    assert base.feature == "compare2016", "a replaced system is replaced in the registered suites too"
    assert merged.suite_origins["mine"] == Path("benchmarks.toml")
    assert merged.suite_origins["base-suite"] == "(in-process) -" and merged.system_origins["other-sys"] == "(in-process) -"
    assert merged.system_origins["base-sys"] == Path("benchmarks.toml")
    assert merged.corpus_paths["emodb"] == Path("data/emodb")


class Clashing:
    """Another distribution claiming the suite name ``base-suite`` and the system ``other-sys``."""

    @hookimpl
    def register_benchmarks(self, register):
        register(SystemSpec("other-sys", model="svm", feature="egemaps"))
        register(SuiteSpec("base-suite", corpora=("synthetic",), systems=("other-sys",)))


def test_a_system_or_suite_name_registered_twice_is_refused_for_every_claimant(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no user benchmarks file
    monkeypatch.delenv("SERBENCH_CONFIG", raising=False)
    registry = load_registry([("bench", Bench()), ("clash", Clashing())], use_entry_points=False)
    assert {("system", "other-sys"), ("suite", "base-suite")} <= set(registry.conflicts)
    assert all(p.status == "broken" for p in registry.plugins)
    assert any("suite name 'base-suite' is registered by both" in e for e in registry.plugins[0].errors)
    benchmarks = load_suites(None, registry)
    assert "base-suite" not in benchmarks.suites and "other-sys" not in benchmarks.systems
    assert "base-sys" in benchmarks.systems, "the names only one distribution claims stay usable"


class Broken:
    """A distribution whose suite names a system nobody registers, and one with a bad repeat count."""

    @hookimpl
    def register_benchmarks(self, register):
        register(SuiteSpec("needs-x", corpora=("synthetic",), systems=("x-sys",)))
        register(SuiteSpec("zero", corpora=("synthetic",), systems=("base-sys",), repeats=0))


def test_a_registered_suite_that_cannot_be_used_marks_its_plugin_broken_and_is_left_out(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SERBENCH_CONFIG", raising=False)
    registry = load_registry([("bench", Bench()), ("broken", Broken())], use_entry_points=False)
    benchmarks = load_suites(registry=registry)
    assert set(benchmarks.suites) == {"base-suite"}
    broken = next(p for p in registry.plugins if p.name == "broken")
    assert broken.status == "broken"
    assert any("suite 'needs-x' cannot be used" in e and "unknown system 'x-sys'" in e for e in broken.errors)
    assert any("suite 'zero' cannot be used" in e and "repeats" in e for e in broken.errors)
    load_suites(registry=registry)
    assert len(broken.errors) == 2, "each problem recorded once, however often the suites are read"


def test_with_no_suite_anywhere_the_error_says_what_to_install(monkeypatch, tmp_path):
    from ser_core.suites import NoSuitesError

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SERBENCH_CONFIG", raising=False)
    with pytest.raises(NoSuitesError, match="pip install ser-benchmark-demo"):
        load_suites(registry=load_registry(use_entry_points=False)).suite("demo")


def test_an_explicit_config_that_is_missing_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="file not found"):
        load_suites(tmp_path / "absent.toml")
    monkeypatch.setenv("SERBENCH_CONFIG", str(tmp_path / "also-absent.toml"))
    with pytest.raises(ConfigError, match="also-absent.toml: file not found"):
        load_suites()


def test_a_system_may_combine_features_and_set_its_own_normalisation(tmp_path):
    text = GOOD.replace('[corpora.emodb]', """[systems.both]
model = "fusion"
features = ["egemaps", "is09"]

[systems.online]
model = "svm"
feature = "is09"
normalisation = "fold"

[corpora.emodb]""").replace('systems = ["a"]', 'systems = ["a", "both", "online"]')
    suite = load_benchmarks(write(tmp_path, text)).suite("s")
    a, both, online = suite.systems
    assert (a.features, a.normalisation, suite.normalisation_for(a)) == (("egemaps",), None, "speaker")
    assert both.features == ("egemaps", "is09") and both.feature == "egemaps+is09"
    assert suite.normalisation_for(online) == "fold" and suite.normalisation_for(both) == "speaker"


def test_a_huge_repeats_is_refused_by_run_and_dry_run_before_any_work(tmp_path):
    import re
    import time

    from typer.testing import CliRunner

    from ser_core.cli import app

    path = write(tmp_path, GOOD.replace("repeats = 2", "repeats = 1000000000"))
    db = tmp_path / "r.db"
    for extra in (["--dry-run"], []):
        started = time.monotonic()
        result = CliRunner().invoke(app, ["run", "--config", str(path), "--suite", "s", "--db", str(db), *extra],
                                    env={"COLUMNS": "200"})
        text = re.sub(r"\s+", " ", result.output)
        assert result.exit_code == 2, text
        assert f"{path}: defaults.repeats: expected an integer from 1 to 100, got 1000000000" in text
        assert "Traceback" not in text and time.monotonic() - started < 60  # refused, nothing planned
    assert not db.exists()  # nothing was computed, not even the database created


def test_model_settings_are_bounded_even_without_a_declared_maximum():
    from ser_core.specs import MAX_INTEGER_SETTING, Setting

    assert Setting(int).problem(10**12) == f"{10**12!r}, beyond the limit of {MAX_INTEGER_SETTING} for integer settings"
    assert Setting(list, items=int).problem([1, 10**12]).startswith("element 1 is 1000000000000, beyond the limit")
    assert Setting.of_default(5).problem(MAX_INTEGER_SETTING) is None
    assert Setting(int, minimum=1, maximum=10**13).problem(10**12) is None  # a declared maximum wins


def test_count_settings_of_the_shipped_models_are_bounded_naming_the_system(tmp_path):
    from ser_core.plugins import load_registry
    from ser_core.plan import check_suite

    text = GOOD.replace("overrides = { a = { inner_folds = 2 } }", "overrides = { a = { inner_folds = 1000000000 } }")
    suite = load_benchmarks(write(tmp_path, text)).suite("s")
    with pytest.raises(ConfigError) as error:
        check_suite(load_registry(), suite)
    assert ("system 'a': setting 'inner_folds' of model 'svm' is 1000000000, out of range; expected an integer "
            "from 2 to 20") in str(error.value) and "nothing was computed" in str(error.value)


@pytest.mark.parametrize("value", ["inf", "-inf", "[1.0, inf]"])
def test_an_infinite_number_is_never_a_setting(tmp_path, value):
    """TOML spells inf: a learning rate of inf passed a bare minimum and trained to NaN, silently."""
    from ser_core.plugins import load_registry
    from ser_core.plan import check_suite
    from ser_core.specs import Setting

    assert Setting(float, minimum=1e-12).problem(float("inf")) == "inf, not a finite number"
    assert Setting(float).problem(float("-inf")) == "-inf, not a finite number"
    assert Setting(list, items=float).problem([1.0, float("inf")]).startswith("element 1 is inf, not a finite")
    assert Setting(float, minimum=1e-12).problem(1e300) is None  # large but finite: the plugin's range decides
    setting = "learning_rate" if not value.startswith("[") else "C"
    model = "logreg" if setting == "C" else "mlp"
    text = GOOD.replace('model = "svm"', f'model = "{model}"').replace(
        "overrides = { a = { inner_folds = 2 } }", f"overrides = {{ a = {{ {setting} = {value} }} }}")
    suite = load_benchmarks(write(tmp_path, text)).suite("s")
    with pytest.raises(ConfigError) as error:
        check_suite(load_registry(), suite)
    assert f"system 'a': setting '{setting}' of model '{model}'" in str(error.value)
    assert "not a finite number" in str(error.value) and "nothing was computed" in str(error.value)


def _two_corpora_registry(synthetic_manifest, degenerate):
    from test_runner import Plugin

    from ser_core import CorpusSpec, hookimpl
    from ser_core.plugins import load_registry

    class Degenerate:
        @hookimpl
        def register_corpora(self, register):
            register(CorpusSpec("oneclass", scan=lambda root: degenerate, needs_path=False))

    return load_registry([("tiny", Plugin(synthetic_manifest)), ("one", Degenerate())], use_entry_points=False)


@pytest.mark.parametrize("change, reason", [
    (lambda c: replace(c, label="anger"), "corpus 'oneclass' has only one class ('anger', 48 clips): any model scores "
     "100 % UAR on it, so it cannot be benchmarked"),
    (lambda c: replace(c, speaker="spk"), "corpus 'oneclass' has 1 speaker (spk): speaker-independent folds need "
     "at least 2"),
])
def test_a_corpus_that_cannot_be_benchmarked_is_skipped_by_name_and_the_rest_runs(synthetic_manifest, tmp_path,
                                                                                   change, reason):
    from test_runner import make_suite

    from ser_core.results import ResultStore
    from ser_core.runner import Runner

    degenerate = replace(synthetic_manifest, corpus="oneclass", clips=[change(c) for c in synthetic_manifest.clips])
    registry = _two_corpora_registry(synthetic_manifest, degenerate)
    suite = make_suite(corpora=("oneclass", "tiny"), repeats=1)
    with ResultStore(tmp_path / "r.db") as store:
        runner = Runner(registry, store, workers=0)
        rows, planned = runner.plan(suite)
        report = runner.run(suite)
        cells = list(store.cells())
    for found in (planned, report):
        (what, why), = found.skipped
        assert what == "corpus oneclass" and why.startswith("refused, it cannot be cross-validated or scored: " + reason)
    assert [r.corpus for r in rows] == ["tiny"]
    assert not report.ok and report.computed == 4 and {c.key.corpus for c in cells} == {"tiny"}


def test_a_class_restricted_suite_refuses_a_corpus_whose_folds_train_on_one_class(synthetic_manifest, tmp_path):
    """After restriction to two classes, each speaker holds one of them: no fold trains on both."""
    from test_runner import make_suite

    from ser_core.results import ResultStore
    from ser_core.runner import Runner

    speakers = synthetic_manifest.speakers()
    keep = [c for c in synthetic_manifest.clips
            if (c.label == "anger" and c.speaker == speakers[0]) or (c.label == "sadness" and c.speaker != speakers[0])
            or c.label in ("happiness", "neutral")]
    degenerate = replace(synthetic_manifest, corpus="oneclass", clips=keep)
    registry = _two_corpora_registry(synthetic_manifest, degenerate)
    suite = make_suite(corpora=("oneclass", "tiny"), repeats=1, classes=("anger", "sadness"))
    with ResultStore(tmp_path / "r.db") as store:
        report = Runner(registry, store, workers=0).run(suite)
    (what, why), = report.skipped
    assert what == "corpus oneclass" and f"fold '{speakers[1]}' trains on only class 'sadness'" not in why
    assert f"fold '{speakers[0]}' trains on only class 'sadness'" in why, why
    assert report.computed == 4


@pytest.mark.parametrize("table, key, message", [
    ('cores = 100000000', "executor.cores", "expected an integer from 1 to 1024, got 100000000"),
    ('processes = 5000', "executor.processes", "expected an integer from 1 to 1024, got 5000"),
    ('gpus = 1000', "executor.gpus", "expected an integer from 0 to 64, got 1000"),
    ('jobs = 1000000000', "executor.jobs", "expected an integer from 1 to 10000, got 1000000000"),
    ('adaptive = { minimum = 0, maximum = 1000000000 }', "executor.adaptive.maximum",
     "expected a positive number of jobs up to 10000, got 1000000000"),
])
def test_executor_counts_are_bounded_naming_the_file_and_key(tmp_path, table, key, message):
    path = write(tmp_path, f'[executor]\nkind = "slurm"\n{table}\n')
    with pytest.raises(ConfigError) as error:
        load_benchmarks(path)
    assert str(error.value).startswith(f"{path}: {key}: {message}")


def test_models_info_bounds_the_number_of_classes():
    import re

    from typer.testing import CliRunner

    from ser_core.cli import app

    result = CliRunner().invoke(app, ["models", "info", "svm", "--feature", "egemaps", "--classes", "1000000000"],
                                env={"COLUMNS": "200"})
    text = re.sub(r"\s+", " ", result.output)
    assert result.exit_code == 2 and "Invalid value for '--classes'" in text and "less than or equal to 100" in text


def test_one_corpus_given_two_locations_on_the_command_line_is_refused(tmp_path):
    import re

    from typer.testing import CliRunner

    from ser_core.cli import app

    result = CliRunner().invoke(app, ["run", "--suite", "demo", "--db", str(tmp_path / "r.db"), "--corpus-path",
                                      "emodb=/data/a", "--corpus-path", "emodb=/data/b", "--dry-run"],
                                env={"COLUMNS": "200"})
    text = re.sub(r"\s+", " ", result.output)
    assert result.exit_code == 2 and "--corpus-path emodb= is given twice, as /data/a and /data/b" in text, text
    assert not (tmp_path / "r.db").exists()


def test_a_corpus_path_naming_no_installed_corpus_is_refused_and_an_unused_one_is_named(tmp_path):
    """`--corpus-path emodbb=DIR` was accepted and ignored: the corpus meant ran without data, and nothing
    named the misspelling."""
    import re

    from typer.testing import CliRunner

    from ser_core.cli import app

    run = ["run", "--suite", "demo", "--db", str(tmp_path / "r.db"), "--dry-run"]
    result = CliRunner().invoke(app, [*run, "--corpus-path", "emodbb=/data/emodb"], env={"COLUMNS": "200"})
    text = re.sub(r"\s+", " ", result.output)
    assert result.exit_code == 2, text
    assert "--corpus-path emodbb=/data/emodb: unknown corpus 'emodbb'. Did you mean 'emodb'?" in text
    assert not (tmp_path / "r.db").exists()
    unused = CliRunner().invoke(app, [*run, "--corpus-path", "emodb=/data/emodb"], env={"COLUMNS": "300"})
    text = re.sub(r"\s+", " ", unused.output)
    assert unused.exit_code == 0, text
    assert "warning: --corpus-path emodb=...: suite demo does not use corpus emodb here (it runs synthetic)" in text
