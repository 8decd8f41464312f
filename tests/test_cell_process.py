"""Where a cell runs: neural cells in fresh processes, a plugin that ends its process fails only its
cell, and a cell past the time limit is stopped (``serbench run --cell-process``, ``--cell-time-limit``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CHEAP_PARTS, TinyCorpus, write_distribution

from ser_core import CorpusSpec, hookimpl
from ser_core.errors import ConfigError
from ser_core.plugins import load_registry
from ser_core.results import ResultStore
from ser_core.runner import Runner
from ser_core.suites import Suite, System

SERBENCH = [sys.executable, "-m", "ser_core.cli"]

#: Models that end their process in fit or predict, one that never returns from predict, one that
#: reports the process it ran in, and an ordinary one: importable in fresh processes and workers.
ENDERS = {
    "serbench_enders": """
    import os
    import sys
    import time

    from ser_core import FeatureSpec, ModelSpec, hookimpl
    from serbench_test_parts import Centroid, loudness


    class SysExit3(Centroid):
        def fit(self, X, y, groups):
            sys.exit(3)


    class SysExit0(Centroid):
        def predict(self, X):
            sys.exit()


    class OsExit7(Centroid):
        def fit(self, X, y, groups):
            os._exit(7)


    class Sleeper(Centroid):
        def predict(self, X):
            while True:
                time.sleep(60)


    class WhereAmI(Centroid):
        def describe(self):
            return {"pid": os.getpid()}


    class Unsendable(Centroid):
        def describe(self):
            return {"callback": lambda: None}  # plain data only, says the contract


    def models():
        functionals = frozenset({"functionals"})
        return [
            ModelSpec("sysexit3", create=SysExit3, accepts=functionals),
            ModelSpec("sysexit0", create=SysExit0, accepts=functionals),
            ModelSpec("osexit7", create=OsExit7, accepts=functionals, accelerator=True),
            ModelSpec("sleeper", create=Sleeper, accepts=functionals, accelerator=True),
            ModelSpec("where-neural", create=WhereAmI, accepts=functionals, accelerator=True),
            ModelSpec("where", create=WhereAmI, accepts=functionals),
            ModelSpec("centroid", create=Centroid, accepts=functionals),
            ModelSpec("unsendable", create=Unsendable, accepts=functionals, accelerator=True),
        ]


    class Plugin:
        @hookimpl
        def register_features(self, register):
            register(FeatureSpec("rms", "functionals", extract=loudness))

        @hookimpl
        def register_models(self, register):
            for spec in models():
                register(spec)


    @hookimpl
    def register_features(register):
        register(FeatureSpec("rms", "functionals", extract=loudness))


    @hookimpl
    def register_models(register):
        for spec in models():
            register(spec)
    """,
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The models above as an installed distribution ``ser-plugin-enders`` (for the CLI) and as
    modules on ``sys.path`` (for the runner here and the fresh processes it starts)."""
    root = write_distribution(tmp_path_factory.mktemp("enders"), "ser-plugin-enders", "1.0",
                              {"enders": "serbench_enders"}, {**CHEAP_PARTS, **ENDERS})
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))
    sys.modules.pop("serbench_enders", None)
    sys.modules.pop("serbench_test_parts", None)


@pytest.fixture
def registry(site, synthetic_manifest):
    import serbench_enders

    return load_registry([("tiny", TinyCorpus(synthetic_manifest)), ("enders", serbench_enders.Plugin())],
                         use_entry_points=False)


def suite_of(*models: str) -> Suite:
    systems = tuple(System(name, name, "rms") for name in models)
    return Suite("t", ("tiny",), systems, repeats=1, seed=0, normalisation="speaker")


def stored(db: Path) -> dict[str, list]:
    with ResultStore(db) as store:
        cells = list(store.cells())
    by_system: dict[str, list] = {}
    for cell in cells:
        by_system.setdefault(cell.key.system, []).append(cell)
    return by_system


def test_a_plugin_that_ends_its_process_fails_only_its_cells(registry, tmp_path):
    """sys.exit(3) in fit, sys.exit() in predict (in this process) and os._exit(7) in fit (a neural
    model: its fresh process ends) each fail their cells with the plugin and the exit status named;
    the other system's cells are computed."""
    db = tmp_path / "r.db"
    with ResultStore(db) as store:
        report = Runner(registry, store, workers=0).run(suite_of("sysexit3", "sysexit0", "osexit7", "centroid"))
    assert report.computed == 4 and len(report.failed) == 12
    cells = stored(db)
    for system, status in (("sysexit3", 3), ("sysexit0", 0), ("osexit7", 7)):
        assert len(cells[system]) == 4
        for cell in cells[system]:
            assert cell.status == "failed"
            assert f"model {system!r}" in cell.error, cell.error
            assert f"the model's plugin ended its process (exit status {status})" in cell.error, cell.error
    assert {c.details["cell_process"] for c in cells["sysexit3"]} == {"in-process"}
    assert {c.details["cell_process"] for c in cells["osexit7"]} == {"fresh"}
    assert all(c.status == "ok" for c in cells["centroid"])


def test_neural_cells_run_each_in_a_fresh_process_unless_asked_otherwise(registry, tmp_path):
    """auto: a model declaring ``accelerator`` gets a new process per cell, others run here; the mode
    is stored with each cell and with the run."""
    runs = {}
    for mode in ("auto", "fresh", "in-process"):
        db = tmp_path / f"{mode}.db"
        with ResultStore(db) as store:
            report = Runner(registry, store, workers=0, cell_process=mode).run(suite_of("where-neural", "where"))
            (run,) = store.runs().values()
        assert report.ok and report.computed == 8
        assert run.processes["cell_process"] == mode
        runs[mode] = stored(db)
    here = os.getpid()
    for mode, neural_fresh, other_fresh in (("auto", True, False), ("fresh", True, True), ("in-process", False, False)):
        for system, fresh in (("where-neural", neural_fresh), ("where", other_fresh)):
            cells = runs[mode][system]
            pids = {c.outcome.estimator["pid"] for c in cells}
            assert (here not in pids and len(pids) == 4) if fresh else pids == {here}, (mode, system, pids)
            assert {c.details["cell_process"] for c in cells} == {"fresh" if fresh else "in-process"}
    # the same cells, wherever they ran
    assert ([c.predictions for c in runs["auto"]["where-neural"]] == [c.predictions for c in runs["in-process"]["where-neural"]])


@pytest.mark.parametrize("workers", [0, 2])
def test_a_cell_past_the_time_limit_is_stopped_and_the_run_goes_on(registry, tmp_path, workers):
    """In this process's runner and on two Dask workers: every cell of a model whose predict never
    returns is stopped after the limit and stored as failed; the run ends."""
    db = tmp_path / "r.db"
    started = time.monotonic()
    with ResultStore(db) as store:
        report = Runner(registry, store, workers=workers, cell_time_limit=3).run(suite_of("sleeper"))
    elapsed = time.monotonic() - started
    assert len(report.failed) == 4 and report.computed == 0
    assert elapsed < 4 * 3 + 45, f"four cells of 3 s took {elapsed:.0f} s"
    for cell in stored(db)["sleeper"]:
        assert cell.status == "failed"
        assert "model 'sleeper'" in cell.error and "exceeded the cell time limit of 3 s" in cell.error, cell.error
        assert cell.details["cell_time_limit"] == 3 and cell.details["cell_process"] == "fresh"


def test_cell_options_that_cannot_work_are_refused_before_any_work(registry, tmp_path):
    with ResultStore(tmp_path / "r.db") as store:
        with pytest.raises(ConfigError, match="needs each cell in a fresh process"):
            Runner(registry, store, cell_process="in-process", cell_time_limit=10)
        with pytest.raises(ConfigError, match="choose one of auto, fresh, in-process"):
            Runner(registry, store, cell_process="elsewhere")


def serbench(*args: str, site: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return subprocess.run([*SERBENCH, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def config_of(tmp_path: Path, *models: str) -> Path:
    path = tmp_path / "benchmarks.toml"
    systems = "".join(f'[systems.{m}]\nmodel = "{m}"\nfeature = "rms"\n\n' for m in models)
    names = ", ".join(f'"{m}"' for m in models)
    path.write_text(systems + f'[suites.enders]\ncorpora = ["synthetic"]\nsystems = [{names}]\nrepeats = 1\n')
    return path


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serbench_run_survives_a_plugin_that_exits(site, tmp_path, workers):
    """--workers 1: sys.exit and os._exit; --workers 2 (Dask): sys.exit in fit on a worker. Failed
    cells, no traceback, the other system computed, exit status 1."""
    models = ("sysexit3", "osexit7", "centroid") if workers == "1" else ("sysexit3", "centroid")
    config = config_of(tmp_path, *models)
    out = serbench("run", "--config", str(config), "--suite", "enders", "--workers", workers,
                   "--db", str(tmp_path / "r.db"), site=site, cwd=tmp_path)
    both = out.stdout + out.stderr
    assert out.returncode == 1, both
    assert "8 cells computed" in out.stdout and f"{8 * (len(models) - 1)} failed" in out.stdout, both
    assert "Traceback" not in both, both
    assert "the model's plugin ended its process (exit status 3)" in both
    if workers == "1":
        assert "the model's plugin ended its process (exit status 7)" in both
    errors = {c.error for c in stored(tmp_path / "r.db")["sysexit3"]}
    assert len(errors) == 1 and "ser-plugin-enders 1.0" in errors.pop()


def test_cell_options_are_checked_by_the_command_line(site, tmp_path):
    config = config_of(tmp_path, "centroid")
    for args, message in ((("--cell-process", "in-process", "--cell-time-limit", "5"), "needs each cell in a fresh"),
                          (("--cell-process", "nowhere"), "choose one of auto, fresh, in-process")):
        out = serbench("run", "--config", str(config), "--suite", "enders", *args, "--db", str(tmp_path / "r.db"),
                       site=site, cwd=tmp_path)
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr
        assert not (tmp_path / "r.db").exists()


@pytest.mark.parametrize("value", ["inf", "nan", "1e300", "0", "-5", "604801"])
def test_a_cell_time_limit_is_a_finite_number_of_seconds_up_to_a_week(tmp_path, monkeypatch, value):
    """inf and 1e300 were accepted (a limit that never stops anything, stored with every cell as one), nan was
    refused as "should be >= 0.001"; option and environment variable alike are usage errors now."""
    from typer.testing import CliRunner

    from ser_core.cli import app

    monkeypatch.chdir(tmp_path)
    for args, env in ((["--cell-time-limit", value], {}), ([], {"SERBENCH_CELL_TIME_LIMIT": value})):
        result = CliRunner().invoke(app, ["run", "--dry-run", *args, "--db", str(tmp_path / "r.db")], env=env)
        assert result.exit_code == 2, result.output
        message = " ".join(result.output.split())
        assert "--cell-time-limit (or $SERBENCH_CELL_TIME_LIMIT): expected a number of seconds above 0 and up to " \
               "604800 (one week)" in message, message
    accepted = CliRunner().invoke(app, ["run", "--dry-run", "--cell-time-limit", "604800", "--db",
                                        str(tmp_path / "r.db")])
    assert accepted.exit_code == 0, accepted.output


EXITERS = {
    "serbench_exiters": """
    from ser_core import hookimpl
    from serbench_enders import models


    @hookimpl
    def register_models(register):
        for spec in models():
            if "exit" in spec.name:
                register(spec)
    """,
}


def test_validate_plugin_reports_a_model_that_ends_its_process(site, tmp_path):
    """Never exit status 0 because the model said so: each way of ending the process is a failed check."""
    exiters = write_distribution(tmp_path / "exiters", "ser-plugin-exiters", "1.0", {"exiters": "serbench_exiters"},
                                 {**CHEAP_PARTS, **ENDERS, **EXITERS})
    out = serbench("validate-plugin", "exiters", site=exiters, cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    text = " ".join(out.stdout.split())
    assert "sys.exit, exit status 3" in text and "sys.exit, exit status 0" in text, out.stdout
    assert "ended its process (exit status 7)" in text, out.stdout
    assert "Traceback" not in out.stdout + out.stderr


@pytest.mark.slow
def test_two_neural_cells_give_the_same_predictions_in_either_order(tmp_path, serbench_cache):
    """MUST-SHOW (issue 25): oneDNN's CPU kernels made a Keras cell's result depend on what its
    process ran before (the demo's Aldeneh system: 67.8 and 68.8 on one seed). Two Keras systems run in
    one process (--workers 0), in one order and in the other, store the same predictions."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:  # not imported here: only the cells' processes do
        pytest.skip("TensorFlow is not installed")
    from ser_core.synthetic import SyntheticConfig, generate

    manifest = generate(SyntheticConfig(speakers=2, clips_per_class=2, min_seconds=0.6, max_seconds=0.9),
                        tmp_path / "synthetic")
    registry = load_registry([("tiny", TinyCorpus(manifest))], use_entry_points=True)
    tiny = {"epochs": 1, "learning_rate": 1e-3}
    systems = (System("aldeneh-tiny", "aldeneh", "logmel40", settings=tiny),
               System("zhao-tiny", "zhao", "logmel40", settings={**tiny, "batch_size": 8}))
    predictions = {}
    for order in (systems, systems[::-1]):
        db = tmp_path / f"{order[0].name}-first.db"
        suite = Suite("t", ("tiny",), order, repeats=1, seed=0, normalisation="speaker")
        with ResultStore(db) as store:
            report = Runner(registry, store, workers=0).run(suite)
        assert report.ok and report.computed == 4, report
        cells = [c for cells in stored(db).values() for c in cells]
        assert {c.details["cell_process"] for c in cells} == {"fresh"}
        # the predictions, and the final training loss to the last bit: the numerics, not only the argmax
        predictions[order[0].name] = {(c.key.system, c.key.fold): (c.predictions.y_pred,
                                                                   c.outcome.estimator["final_train_loss"])
                                      for c in cells}
    assert predictions["aldeneh-tiny"] == predictions["zhao-tiny"]


def test_a_neural_model_that_cannot_leave_this_process_runs_here_with_a_note(site, synthetic_manifest, tmp_path):
    """A factory that does not pickle (a closure, as in a notebook): its cells run in this process, the
    run says why, and each cell records it."""
    from serbench_test_parts import Centroid, loudness

    from ser_core import FeatureSpec, ModelSpec
    from ser_core.events import Reporter

    class Local:
        @hookimpl
        def register_features(self, register):
            register(FeatureSpec("rms", "functionals", extract=loudness))

        @hookimpl
        def register_models(self, register):
            register(ModelSpec("local", create=lambda context: Centroid(context), accepts=frozenset({"functionals"}),
                               accelerator=True))

    class Notes(Reporter):
        def __init__(self):
            self.lines: list[str] = []

        def note(self, message):
            self.lines.append(message)

    registry = load_registry([("tiny", TinyCorpus(synthetic_manifest)), ("local", Local())], use_entry_points=False)
    db = tmp_path / "r.db"
    with ResultStore(db) as store:
        notes = Notes()
        report = Runner(registry, store, workers=0, reporter=notes).run(suite_of("local"))
    assert report.ok and report.computed == 4
    assert any("local: its model does not pickle" in line and "run in this process" in line for line in notes.lines)
    assert {c.details["cell_process"] for c in stored(db)["local"]} == {"in-process"}


def test_a_result_that_cannot_leave_its_process_fails_the_cell_saying_why(registry, tmp_path):
    db = tmp_path / "r.db"
    with ResultStore(db) as store:
        report = Runner(registry, store, workers=0).run(suite_of("unsendable"))
    assert len(report.failed) == 4
    for cell in stored(db)["unsendable"]:
        assert "model 'unsendable'" in cell.error and "cannot be sent back from its process" in cell.error, cell.error


def test_on_dask_workers_each_neural_cell_gets_a_fresh_process(registry, tmp_path):
    """--workers 2: a neural model's four cells ran in four processes; the other model's in the two workers."""
    db = tmp_path / "r.db"
    with ResultStore(db) as store:
        report = Runner(registry, store, workers=2).run(suite_of("where-neural", "where"))
    assert report.ok and report.computed == 8
    cells = stored(db)
    neural = {c.outcome.estimator["pid"] for c in cells["where-neural"]}
    other = {c.outcome.estimator["pid"] for c in cells["where"]}
    assert len(neural) == 4 and len(other) <= 2 and not neural & other, (neural, other)
    assert {c.details["cell_process"] for c in cells["where-neural"]} == {"fresh"}
    assert {c.details["cell_process"] for c in cells["where"]} == {"in-process"}


class TwoCorpora:
    def __init__(self, manifests):
        self.manifests = manifests

    @hookimpl
    def register_corpora(self, register):
        for name, manifest in self.manifests.items():
            register(CorpusSpec(name, scan=lambda root, m=manifest: m, needs_path=False))


def test_cross_corpus_cells_of_a_neural_model_run_each_in_a_fresh_process(site, tmp_path_factory, tmp_path):
    """A cross-corpus suite follows the same rule as a within-corpus one: each cell of a neural model
    in a new process (the mode stored with it), the others here, the same predictions either way."""
    import serbench_enders
    from ser_core.synthetic import SyntheticConfig, generate

    manifests = {
        name: generate(SyntheticConfig(speakers=3, clips_per_class=2, classes=("anger", "neutral"), seed=seed,
                                       min_seconds=0.5, max_seconds=0.6), tmp_path_factory.mktemp(name), name=name)
        for seed, name in enumerate(("one", "two"))
    }
    registry = load_registry([("c", TwoCorpora(manifests)), ("enders", serbench_enders.Plugin())],
                             use_entry_points=False)
    systems = (System("where-neural", "where-neural", "rms"), System("where", "where", "rms"))
    cells = {}
    for mode in ("auto", "in-process"):
        with ResultStore(tmp_path / f"{mode}.db") as store:
            report = Runner(registry, store, workers=0, cell_process=mode).run(
                Suite("x", ("one", "two"), systems, repeats=1, seed=0, normalisation="fold", protocol="cross"))
            assert report.ok and report.computed == 4
            cells[mode] = {(c.key.corpus, c.key.system): c for c in store.cells()}
    here = os.getpid()
    for (pair, system), cell in cells["auto"].items():
        neural = system == "where-neural"
        assert (cell.outcome.estimator["pid"] != here) == neural, (pair, system)
        assert cell.details["cell_process"] == ("fresh" if neural else "in-process")
        assert cell.predictions == cells["in-process"][(pair, system)].predictions
    assert {c.details["cell_process"] for c in cells["in-process"].values()} == {"in-process"}


@pytest.mark.parametrize("value", ["abc", "0", "-2", "2.5", "1000000000"])
def test_a_garbled_thread_variable_is_one_message_naming_it(tmp_path, monkeypatch, value):
    """SERBENCH_TF_INTRA_THREADS=abc was int('abc') in every cell (each failed with a bare ValueError), and
    10**9 asked TensorFlow for a billion threads; now run and features extract refuse it up front."""
    from typer.testing import CliRunner

    from ser_core import thread_count
    from ser_core.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SERBENCH_TORCH_THREADS", value)
    with pytest.raises(ConfigError, match=r"\$SERBENCH_TORCH_THREADS=.*expected a whole number of threads from 1 "
                                          "to 1024"):
        thread_count("SERBENCH_TORCH_THREADS")
    for args in (["run", "--dry-run", "--db", str(tmp_path / "r.db")],
                 ["features", "extract", "--corpus", "synthetic", "--feature", "egemaps"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert f"$SERBENCH_TORCH_THREADS='{value}': expected a whole number" in " ".join(result.output.split())
    assert not (tmp_path / "r.db").exists()


def test_thread_variables_fall_back_in_order_and_to_the_default(monkeypatch):
    from ser_core import thread_count

    monkeypatch.delenv("SERBENCH_TF_INTRA_THREADS", raising=False)
    monkeypatch.setenv("SERBENCH_THREADS", " 3 ")
    assert thread_count("SERBENCH_TF_INTRA_THREADS", "SERBENCH_THREADS", default=8) == 3
    monkeypatch.setenv("SERBENCH_TF_INTRA_THREADS", "1024")
    assert thread_count("SERBENCH_TF_INTRA_THREADS", "SERBENCH_THREADS", default=8) == 1024
    monkeypatch.delenv("SERBENCH_TF_INTRA_THREADS")
    monkeypatch.delenv("SERBENCH_THREADS")
    assert thread_count("SERBENCH_TF_INTRA_THREADS", "SERBENCH_THREADS", default=8) == 8
