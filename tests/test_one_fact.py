"""Each fact of the protocol is defined once, and every user of it agrees (issue 20, item 4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser_core import stats
from ser_core.leaderboard import Entry
from ser_core.metrics import uar, uar_from_counts
from ser_core.testing_fakes import FAKE_FEATURE, FAKE_MODEL, FAKES_DISTRIBUTION

# Two folds of three classes; class 2 is absent from fold 0's test clips, class 0 from fold 1's.
FOLD0 = ([0, 0, 1], [0, 1, 1])  # recalls: class 0 1/2, class 1 1 -> UAR 3/4
FOLD1 = ([2, 2, 2, 1], [2, 0, 0, 1])  # recalls: class 2 1/3, class 1 1 -> UAR 2/3


def test_uar_by_hand_with_a_class_absent_from_the_fold():
    assert uar(*FOLD0) == pytest.approx(3 / 4)
    assert uar(*FOLD1) == pytest.approx(2 / 3)
    assert uar([0, 0, 1, 1, 1], [0, 1, 1, 1, 0]) == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_uar_from_counts_is_vectorised_and_skips_absent_classes():
    true = np.array([[2, 1, 0], [0, 1, 3], [0, 0, 0]])
    correct = np.array([[1, 1, 0], [0, 1, 1], [0, 0, 0]])
    got = uar_from_counts(true, correct)
    assert got.shape == (3,)
    assert got[:2] == pytest.approx([3 / 4, 2 / 3])
    assert np.isnan(got[2])  # no test clip at all: undefined, not 0


def test_uar_accepts_any_label_values_as_before():
    assert uar(["a", "a", "b"], ["a", "b", "b"]) == pytest.approx(3 / 4)
    assert uar([5, 5, 9], [5, 9, 9]) == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="same length"):
        uar([0, 1], [0])


def _rows():
    """``(repeat, fold, clip_ids, speakers, y_true, y_pred)`` of the two folds; one speaker per fold."""
    (t0, p0), (t1, p1) = FOLD0, FOLD1
    return [(0, 0, ["a", "b", "c"], ["s0"] * 3, t0, p0), (0, 1, ["d", "e", "f", "g"], ["s1"] * 4, t1, p1)]


def test_cell_statistics_and_board_agree_on_the_hand_worked_folds():
    counts = stats.speaker_counts(_rows(), 3)
    fold_mean = (uar(*FOLD0) + uar(*FOLD1)) / 2
    assert fold_mean == pytest.approx(17 / 24)
    assert stats.uar_of(counts) == pytest.approx(fold_mean, abs=1e-15)
    assert stats.per_speaker_uar(counts) == pytest.approx({"s0": uar(*FOLD0), "s1": uar(*FOLD1)}, abs=1e-15)
    confusion = np.zeros((3, 3), dtype=int)
    for t, p in (FOLD0, FOLD1):
        np.add.at(confusion, (t, p), 1)
    entry = Entry("c", "s", "p", "i", None, None, confusion=confusion.tolist())
    pooled = uar(FOLD0[0] + FOLD1[0], FOLD0[1] + FOLD1[1])
    assert pooled == pytest.approx((1 / 2 + 1 + 1 / 3) / 3)
    assert entry.pooled_uar == pytest.approx(pooled, abs=1e-15)


def test_make_folds_reads_the_policy_that_the_store_records(monkeypatch):
    from ser_core import protocol, records

    assert records.fold_policy() == protocol.FOLD_POLICY.record() == {"max_speakers": 12, "n_groups": 6}
    assert list(records.fold_policy()) == ["max_speakers", "n_groups"]  # stored JSON byte-identical
    speakers = [f"s{i}" for i in range(4) for _ in range(2)]
    assert make_folds_method(speakers) == "leave-one-speaker-out"
    monkeypatch.setattr(protocol, "FOLD_POLICY", protocol.FoldPolicy(max_speakers=3, n_groups=2))
    assert make_folds_method(speakers) == "2-speaker-groups(seed=0)"
    assert records.fold_policy() == {"max_speakers": 3, "n_groups": 2}
    assert records.fold_policy("text-independent")["n_groups"] == 2
    assert records.SystemProtocol("m", "f", {}, {}, "speaker", 0).fold_policy == {"max_speakers": 3, "n_groups": 2}


def make_folds_method(speakers):
    from ser_core.protocol import make_folds

    return make_folds(speakers).method


def test_available_cores_follows_the_affinity(monkeypatch):
    import os

    from ser_core import config

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert config.available_cores() == 2
    monkeypatch.delattr(os, "sched_getaffinity")
    assert config.available_cores() == 64
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert config.available_cores() == 1


COMMANDS = {
    "corpus info": ["corpus", "info", "synthetic", "--no-audio"],
    "features extract": ["features", "extract", "--corpus", "synthetic", "-f", FAKE_FEATURE, "--workers", "0"],
    "run": ["run", "--suite", "demo"],
}


@pytest.mark.parametrize("where", ["--config", "$SERBENCH_CONFIG", "./benchmarks.toml"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_reads_the_same_benchmarks_file(where, command, tmp_path, monkeypatch, serbench_fakes):
    """One lookup (:func:`ser_core.suites.user_config`): a file that is not TOML, put in each of the
    three places, is the file each command reads and names."""
    from typer.testing import CliRunner

    from ser_core import suites
    from ser_core.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SERBENCH_CONFIG", raising=False)
    monkeypatch.setenv("SERBENCH_CACHE_DIR", str(tmp_path / "cache"))
    name = "benchmarks.toml" if where == "./benchmarks.toml" else "mine.toml"
    (tmp_path / name).write_text("this is = = not toml\n")
    args = list(COMMANDS[command])
    if command == "run":
        args += ["--db", str(tmp_path / "r.db")]
    if where == "--config":
        args += ["--config", name]
    if where == "$SERBENCH_CONFIG":
        monkeypatch.setenv("SERBENCH_CONFIG", name)
    assert suites.user_config(Path(name) if where == "--config" else None) == Path(name)
    result = CliRunner().invoke(app, args, env={"COLUMNS": "300"})
    assert result.exit_code != 0
    assert f"{name}: not valid TOML" in result.output


def test_the_registry_is_typed_by_kind():
    """``registry.model(name).spec`` is a ModelSpec to a type checker, and so on for each kind."""
    import typing

    from ser_core.benchmark_specs import ReferenceSpec, SuiteSpec, SystemSpec
    from ser_core.plugins import Registered, Registry
    from ser_core.specs import CorpusSpec, FeatureSpec, ModelSpec

    for method, spec in ((Registry.corpus, CorpusSpec), (Registry.feature, FeatureSpec), (Registry.model, ModelSpec),
                         (Registry.system, SystemSpec), (Registry.suite, SuiteSpec), (Registry.reference, ReferenceSpec)):
        returned = typing.get_type_hints(method)["return"]
        assert typing.get_origin(returned) is Registered and typing.get_args(returned) == (spec,)
    assert typing.get_type_hints(Registered)["spec"].__bound__ == typing.Union[
        CorpusSpec, FeatureSpec, ModelSpec, SystemSpec, SuiteSpec, ReferenceSpec]


def test_registry_lookups_return_the_registered_spec(serbench_fakes):
    from ser_core.plugins import load_registry
    from ser_core.specs import ModelSpec

    registry = load_registry()
    model = registry.model(FAKE_MODEL)
    assert isinstance(model.spec, ModelSpec) and model.kind == "model" and model.name == FAKE_MODEL


#: A cell's details as ``serbench run`` writes them today (ser_core.runner: _details, then _store).
RUN_DETAILS = {
    "cell_process": "in-process", "overrides": {"C": 1.0}, "description": "a centroid on clip statistics",
    "corpus_root": "/data/emodb", "feature_cache_key": "abc123",
    "excluded_clips": [["03a01Fa", "no features"]], "skipped_files": [["x.txt", "not audio"]],
    "plugins": {FAKES_DISTRIBUTION: "1.0"}, "fold_name": "03", "seeds": {"suite": 0, "repeat": 0, "cell": 7},
}


@pytest.mark.parametrize("details", [
    RUN_DETAILS,
    {**RUN_DETAILS, "cell_time_limit": 60.0, "classes": ["anger", "neutral"], "left_out": 12},
    {"fold_name": "s1", "overrides": {}, "excluded_clips": [], "model_card": None, "bundle_run": 3,
     "bundle": {"status": "verified", "file": "b.json"}},
    {"fold_name": "s1", "seeds": {}, "speakers": "clip", "migrated_from_schema": 1, "a-future-key": [1, {"x": None}]},
    {},
], ids=["run", "run-with-limits", "imported", "migrated-with-unknown-key", "empty"])
def test_cell_details_round_trip_byte_identical(details):
    import json

    from ser_core.records import CellDetails

    text = json.dumps(details, default=str)
    record = CellDetails.from_json(json.loads(text))
    assert json.dumps(record.to_json(), default=str) == text
    assert CellDetails.from_json(record.to_json()) == record


def test_cell_details_of_an_old_row_read_with_the_readers_defaults():
    from ser_core.records import CellDetails
    from ser_core.results import CellKey, StoredCell
    from ser_core.records import CellOutcome

    old = CellDetails.from_json({"fold_name": "03", "future": 1})
    assert old.fold_name == "03" and old.overrides == {} and old.excluded_clips == [] and old.bundle is None
    assert old.cross is None and old.model_card is None and old.extra == {"future": 1}
    assert old.has("fold_name") and not old.has("overrides")
    cell = StoredCell(CellKey("c", "s", "p", "i", 0, 0), CellOutcome.failure("x", None, 0.0), 0, details=dict(RUN_DETAILS))
    assert cell.cell_details.excluded_clips == [["03a01Fa", "no features"]]
    assert cell.cell_details.to_json() == RUN_DETAILS


def test_the_board_text_is_apart_from_its_computation():
    """The text formatting lives in board_text, which imports nothing of the board at run time; the
    old names stay importable from leaderboard and are the same objects."""
    import ast
    import inspect

    from ser_core import board_text, leaderboard

    tree = ast.parse(inspect.getsource(board_text))
    runtime = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all("leaderboard" not in ast.dump(n) for n in runtime)
    for name in ("BEST", "TIED", "EXCLUDED", "UNVERIFIED", "LEGEND", "pct", "format_cell", "rank_lines"):
        assert getattr(leaderboard, name) is getattr(board_text, name)
    assert not any(name in vars(leaderboard) and inspect.isfunction(vars(leaderboard)[name])
                   and vars(leaderboard)[name].__module__ == "ser_core.leaderboard" for name in ("pct", "format_cell"))
