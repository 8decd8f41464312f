"""The benchmarks file: the repository's own file parses; malformed files name the offending key."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ser_core.errors import ConfigError
from ser_core.suites import SHIPPED, load_benchmarks, load_suites

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


def test_the_shipped_suites_have_the_demo_suite():
    benchmarks = load_benchmarks(SHIPPED)
    demo = benchmarks.suite("demo")
    assert demo.corpora == ("synthetic",)
    assert "svm-egemaps" in [s.name for s in demo.systems]


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


def test_paper_suites_cover_the_study_grid():
    benchmarks = load_benchmarks(SHIPPED)
    paper, quick = benchmarks.suite("paper"), benchmarks.suite("paper-quick")
    assert len(paper.corpora) == 15 and len(paper.systems) == 7 and paper.repeats == 3
    assert paper.corpora == quick.corpora and paper.systems == quick.systems
    assert not paper.overrides, "the paper suite runs the study's settings"
    assert {s.name for s in quick.systems} - set(quick.overrides) == {"svm-is09"}


def test_paper_cpu_runs_the_study_systems_on_one_corpus_within_the_study_budget():
    """Fewer epochs only ever with a higher learning rate (1e-4 x 50 / epochs, at most 1e-3), every
    system valid for its model (precision included), and the description says it is not the study's."""
    from ser_core.plugins import load_registry
    from ser_core.plan import check_suite

    benchmarks = load_benchmarks(SHIPPED)
    cpu, paper = benchmarks.suite("paper-cpu"), benchmarks.suite("paper")
    assert cpu.systems == paper.systems and cpu.corpora == ("emodb",) and cpu.repeats == 1
    assert "NOT the study's settings" in cpu.description
    for name, settings in cpu.overrides.items():
        epochs = settings.get("epochs", 50)
        assert 1 <= epochs <= 50 and settings.get("precision", "float32") in ("float32", "auto", "mixed_bfloat16")
        expected = min(1e-3, 1e-4 * 50 / epochs)
        assert settings.get("learning_rate", 1e-4) == pytest.approx(expected, rel=0.25), name
    check_suite(load_registry(), cpu)  # every override is a valid setting of its model


def test_a_file_of_corpus_locations_alone_is_valid(tmp_path):
    benchmarks = load_benchmarks(write(tmp_path, '[corpora.emodb]\npath = "/data/emodb"\n'))
    assert benchmarks.corpus_paths == {"emodb": Path("/data/emodb")}
    with pytest.raises(ConfigError, match=r"no suite 'demo'; defined suites: \(none\)"):
        benchmarks.suite("demo")


def test_a_local_file_adds_suites_and_replaces_systems_and_suites_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SERBENCH_CONFIG", raising=False)
    alone = load_suites()
    assert set(alone.suites) == {"demo", "paper", "paper-quick", "paper-cpu", "ssl", "modern", "modern-cpu",
                                 "modern-text-independent", "cross-smoke", "cross-study", "loco-study",
                                 "cross-three", "loco-three", "within-three"} and alone.sources == [SHIPPED]
    write(tmp_path, """
[defaults]
seed = 7

[systems.svm-egemaps]
model = "svm"
feature = "is09"
settings = { inner_folds = 4 }  # not the same system as svm-is09 (a suite may not list one system twice)

[suites.mine]
corpora = ["synthetic"]
systems = ["svm-egemaps", "svm-is09"]

[suites.paper-quick]
corpora = ["emodb"]
systems = ["svm-is09"]
repeats = 1

[corpora.emodb]
path = "data/emodb"
""")
    merged = load_suites()
    assert set(merged.suites) == {"demo", "paper", "paper-quick", "paper-cpu", "ssl", "modern", "modern-cpu",
                                  "modern-text-independent", "cross-smoke", "cross-study", "loco-study",
                                  "cross-three", "loco-three", "within-three", "mine"}
    assert merged.sources == [SHIPPED, Path("benchmarks.toml")]
    mine = merged.suite("mine")
    assert mine.seed == 7 and [s.feature for s in mine.systems] == ["is09", "is09"], "uses shipped svm-is09"
    assert merged.suite("demo").seed == 0, "a file's [defaults] apply to its own suites only"
    demo_svm = next(s for s in merged.suite("demo").systems if s.name == "svm-egemaps")
    assert demo_svm.feature == "is09", "a replaced system is replaced in the shipped suites too"
    assert merged.suite("paper-quick").corpora == ("emodb",)
    assert merged.suite_origins["paper-quick"] == Path("benchmarks.toml")
    assert merged.suite_origins["paper"] == SHIPPED and merged.system_origins["svm-is09"] == SHIPPED
    assert merged.corpus_paths["emodb"] == Path("data/emodb")


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


def test_the_modern_suite_pairs_offline_and_online_svm_is09():
    modern = load_benchmarks(SHIPPED).suite("modern")
    systems = {s.name: s for s in modern.systems}
    assert "emodb" in modern.corpora and len(modern.corpora) == 15
    offline, online = systems["svm-is09"], systems["svm-is09-online"]
    assert (offline.model, offline.features) == (online.model, online.features) == ("svm", ("is09",))
    assert modern.normalisation_for(offline) == "speaker" and modern.normalisation_for(online) == "fold"
    assert systems["fusion-whisper-is09"].features == ("whisper-tiny.en", "is09")
    assert systems["svm-compare2016"].feature == "compare2016"
    head = systems["head-whisper-tiny.en"]
    assert (head.model, head.feature) == ("ssl-head", "whisper-tiny.en-frames") and modern.settings_for(head) == {}

def test_the_cross_corpus_suites_share_four_classes_and_the_study_corpora():
    shipped_suites = load_benchmarks(SHIPPED)
    paper = shipped_suites.suite("paper")
    for name in ("cross-study", "loco-study", "cross-three", "loco-three", "within-three"):
        suite = shipped_suites.suite(name)
        assert suite.classes == ("anger", "happiness", "sadness", "neutral"), name
        assert {s.name for s in suite.systems} == {"svm-is09", "logreg-is09"}, name
    assert shipped_suites.suite("cross-study").corpora == paper.corpora
    assert shipped_suites.suite("loco-study").protocol == "leave-one-corpus-out"
    assert shipped_suites.suite("cross-three").corpora == ("emodb", "emovo", "urdu")
    smoke = shipped_suites.suite("cross-smoke")
    assert smoke.corpora == ("synthetic", "synthetic-b") and smoke.protocol == "cross"



def test_the_cpu_and_text_independent_variants_of_the_modern_suite():
    shipped = load_benchmarks(SHIPPED)
    modern, cpu, text = (shipped.suite(name) for name in ("modern", "modern-cpu", "modern-text-independent"))
    assert [s.name for s in cpu.systems] == [s.name for s in modern.systems] and cpu.corpora == modern.corpora
    (head,) = [s for s in cpu.systems if s.name == "head-whisper-tiny.en"]
    assert cpu.settings_for(head) == {"epochs": 40, "patience": 5}, "reduced for a CPU, and only the head"
    assert all(cpu.settings_for(s) == modern.settings_for(s) for s in cpu.systems if s is not head)
    assert "40 epochs" in cpu.description and "NOT the head's default" in cpu.description
    assert text.folds == "text-independent" and modern.folds == cpu.folds == "speaker-independent"
    assert {s.name for s in text.systems} == {"svm-is09", "svm-whisper-tiny.en", "fusion-whisper-is09"}
    assert "emodb" in text.corpora and set(text.corpora) <= set(modern.corpora)


# --- unbounded input, and corpora that cannot be benchmarked, before any work ------------------------------


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
