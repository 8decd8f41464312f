"""The benchmarks file: the repository's own file parses; malformed files name the offending key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ser_core.errors import ConfigError
from ser_core.suites import load_benchmarks

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


def test_repository_benchmarks_file_has_the_demo_suite():
    benchmarks = load_benchmarks(ROOT / "benchmarks.toml")
    demo = benchmarks.suite("demo")
    assert demo.corpora == ("synthetic",)
    assert "svm-egemaps" in [s.name for s in demo.systems]


def test_a_valid_file_resolves_defaults_overrides_and_paths(tmp_path):
    benchmarks = load_benchmarks(write(tmp_path, GOOD))
    suite = benchmarks.suite("s")
    assert (suite.repeats, suite.seed, suite.normalisation) == (2, 4, "speaker")
    assert suite.settings_for(suite.systems[0]) == {"inner_folds": 2}
    assert benchmarks.corpus_paths["emodb"] == tmp_path / "data/emodb"


@pytest.mark.parametrize(
    "text, message",
    [
        ("[suites.s\ncorpora = 1", r"not valid TOML: .*line 1"),
        (GOOD.replace("seed = 4", "sead = 4"), r"suites\.s\.sead: unknown key"),
        (GOOD.replace('systems = ["a"]', 'systems = ["a", "b"]'), r"suites\.s\.systems\[1\]: unknown system 'b'"),
        (GOOD.replace("repeats = 2", "repeats = 0"), r"defaults\.repeats: expected a positive integer"),
        (GOOD.replace("seed = 4", 'normalisation = "global"'), r"suites\.s\.normalisation: expected one of"),
        (GOOD.replace('feature = "egemaps"\n', ""), r"systems\.a\.feature: required"),
        (GOOD.replace('corpora = ["synthetic", "emodb"]', "corpora = []"), r"suites\.s\.corpora: expected a non-empty list"),
        (GOOD.replace("overrides = { a =", "overrides = { z ="), r"suites\.s\.overrides\.z: not one of this suite"),
        (GOOD + "\n[extra]\n", r"\(top level\)\.extra: unknown key"),
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
    benchmarks = load_benchmarks(ROOT / "benchmarks.toml")
    paper, quick = benchmarks.suite("paper"), benchmarks.suite("paper-quick")
    assert len(paper.corpora) == 15 and len(paper.systems) == 7 and paper.repeats == 3
    assert paper.corpora == quick.corpora and paper.systems == quick.systems
    assert not paper.overrides, "the paper suite runs the study's settings"
    assert {s.name for s in quick.systems} - set(quick.overrides) == {"svm-is09"}


def test_a_file_of_corpus_locations_alone_is_valid(tmp_path):
    benchmarks = load_benchmarks(write(tmp_path, '[corpora.emodb]\npath = "/data/emodb"\n'))
    assert benchmarks.corpus_paths == {"emodb": Path("/data/emodb")}
    with pytest.raises(ConfigError, match=r"no suite 'demo'; defined suites: \(none\)"):
        benchmarks.suite("demo")
