"""The command line, run as a user runs it: in a subprocess, from the installed console script."""

from __future__ import annotations

import json
import re
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ser_core.api.testing import FAKE_MODEL, FAKE_SYSTEM, fake_suite_toml, fakes_environment, write_fakes_distribution

from .conftest import BROKEN_PLUGIN, CHEAP_PARTS, write_distribution

SERBENCH = [sys.executable, "-m", "ser_core.cli"]


def serbench(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*SERBENCH, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def broken_env(tmp_path_factory):
    """Environment in which a plugin that fails to import is installed, next to the core's fakes."""
    site = write_distribution(tmp_path_factory.mktemp("broken-site"), BROKEN_PLUGIN["dist"], "1.0",
                              BROKEN_PLUGIN["entry_points"], BROKEN_PLUGIN["modules"])
    fakes = write_fakes_distribution(tmp_path_factory.mktemp("fakes-site"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), str(fakes), env.get("PYTHONPATH")]))
    return env


def test_help_and_list_do_not_import_heavy_libraries():
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ser_core.cli import app\n"
        "for args in (['--help'], ['list'], ['list', '--json'], ['run', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        "listed = CliRunner().invoke(app, ['list', '--json']).output\n"
        "for name in ('logreg', 'mlp', 'fusion', 'compare2016', 'is13', 'gemaps'):\n"
        "    assert f'\"{name}\"' in listed, name  # the new models and openSMILE sets are registered, lazily\n"
        "heavy = ('tensorflow', 'keras', 'opensmile', 'librosa', 'sklearn', 'torch', 'dask', 'distributed',\n"
        "         'dask_jobqueue', 'transformers', 'ctranslate2')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_list_shows_every_plugin_and_the_broken_one(broken_env):
    out = serbench("list", "--json", env=broken_env)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    by_name = {(r["kind"], r["name"]): r for r in rows}
    assert by_name[("corpus", "synthetic")]["distribution"] == "ser-core"
    assert by_name[("model", FAKE_MODEL)]["status"] == "ok"
    broken = by_name[("plugin", "broken")]
    assert broken["status"] == "broken" and "no_such_dependency_for_serbench_tests" in broken["error"]
    assert set(rows[0]) == {"kind", "name", "distribution", "version", "status", "error"}
    table = serbench("list", env=broken_env)
    assert table.returncode == 0 and "broken" in table.stdout


DEMO_ONLY_FAKE = fake_suite_toml(suite="demo")


def test_run_on_the_synthetic_corpus_with_a_broken_plugin_installed(tmp_path, broken_env):
    config = tmp_path / "benchmarks.toml"
    config.write_text(DEMO_ONLY_FAKE)
    db = tmp_path / "results.db"
    out = serbench("run", "--config", str(config), "--db", str(db), env=broken_env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "plugin broken is broken" in out.stderr
    assert "synthetic" in out.stdout and FAKE_SYSTEM in out.stdout
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT fold, uar, status FROM cells").fetchall()
    assert len(rows) == 8 and all(status == "ok" for _, _, status in rows)
    mean = sum(u for _, u, _ in rows) / len(rows)
    assert 0.5 < mean < 0.99, f"well above chance (0.25), below perfect: {mean:.3f}"
    # not a terminal, so no progress bar: one time-stamped line per cell, with the stored UAR
    logged = [line for line in out.stdout.splitlines() if f"synthetic / {FAKE_SYSTEM} repeat 0 fold" in line]
    assert len(logged) == 8 and "(8 of 8 cells)" in logged[-1] and "left)" in logged[0]
    for fold, value, _ in rows:
        assert any(f"fold {fold}: UAR {100 * value:.1f}% in " in line for line in logged), (fold, logged)
    again = serbench("leaderboard", "--db", str(db))
    assert again.returncode == 0 and f"{100 * mean:.1f}" in again.stdout
    rerun = serbench("run", "--config", str(config), "--db", str(db), env=fakes_environment(tmp_path / "fakes"))
    assert "0 cells computed, 8 already stored" in rerun.stdout


def test_bad_input_gives_a_message_not_a_traceback(tmp_path):
    config = tmp_path / "benchmarks.toml"
    config.write_text(DEMO_ONLY_FAKE.replace("repeats = 1", "repeats = 'x'"))
    out = serbench("run", "--config", str(config), "--db", str(tmp_path / "r.db"))
    assert out.returncode == 2
    assert "suites.demo.repeats" in out.stderr and "Traceback" not in out.stderr
    missing = serbench("run", "--config", str(tmp_path / "absent.toml"))
    assert missing.returncode == 2 and "file not found" in missing.stderr
    nodb = serbench("leaderboard", "--db", str(tmp_path / "none.db"))
    assert nodb.returncode == 2 and "no results database" in nodb.stderr
    bad_path = serbench("run", "--config", str(config), "--corpus-path", "oops")
    assert bad_path.returncode == 2


def test_run_in_an_empty_directory_runs_the_shipped_demo(tmp_path):
    """No benchmarks file anywhere: the demo suite shipped with the package runs and prints its board
    (restricted to its SVM system to stay fast; the suite is otherwise the shipped one)."""
    env = {k: v for k, v in os.environ.items() if k != "SERBENCH_CONFIG"}
    env["SERBENCH_DB"] = str(tmp_path / "serbench.db")
    out = serbench("run", "--system", "svm-egemaps", "--workers", "1", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Suite demo" in out.stdout and "UAR %" in out.stdout
    assert sum("synthetic / svm-egemaps repeat 0 fold" in line for line in out.stdout.splitlines()) == 8
    assert "synthetic" in out.stdout and "svm-egemaps" in out.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serbench.db"]


def test_suites_lists_registered_and_local_suites_with_their_origin(tmp_path):
    (tmp_path / "benchmarks.toml").write_text(
        '[systems.svm-egemaps]\nmodel = "svm"\nfeature = "is09"\n\n'
        '[suites.mine]\ncorpora = ["synthetic"]\nsystems = ["svm-egemaps"]\nrepeats = 1\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "SERBENCH_CONFIG"}
    out = serbench("suites", "--json", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    origin = {s["name"]: s["defined_in"] for s in listed["suites"]}
    local = str((tmp_path / "benchmarks.toml").resolve())
    assert origin.pop("mine") == local
    assert origin and all(re.fullmatch(r"ser-benchmark-[a-z0-9]+ \d+\.\d+\.\d+", o) for o in origin.values()), origin
    systems = {s["name"]: s for s in listed["systems"]}
    assert systems["svm-egemaps"]["feature"] == "is09" and systems["svm-egemaps"]["defined_in"] == local
    assert systems["svm-is09-online"]["normalisation"] == "fold" and systems["svm-is09"]["normalisation"] is None
    assert systems["fusion-whisper-is09"]["features"] == ["whisper-tiny.en", "is09"]
    demo = next(s for s in listed["suites"] if s["name"] == "demo")
    assert demo["corpora"] == ["synthetic"] and "svm-egemaps" in demo["systems"]
    table = serbench("suites", env=env, cwd=tmp_path)
    assert table.returncode == 0 and "ser-benchmark-" in table.stdout and "paper-quick" in table.stdout


TF_PLUGIN = {
    "ser_plugin_tfprobe": '''
    """A cheap model whose fit starts TensorFlow the way the Keras models do (through ser-keras).

    While TensorFlow loads, in whatever process, an audit hook writes a start-up line in TensorFlow's
    format to file descriptor 2 (TensorFlow's own lines depend on the CPU: some print no oneDNN line)."""
    import os
    import sys

    from serbench_test_parts import Centroid, loudness

    from ser_core import FeatureSpec, ModelSpec, hookimpl

    START_UP = b"I0000 00:00:1796013910.504867   14159 port.cc:153] oneDNN custom operations are on (tfprobe)\\n"


    def _tensorflow_loads(event, args):
        if event == "import" and args and args[0] == "tensorflow":
            os.write(2, START_UP)


    sys.addaudithook(_tensorflow_loads)


    class Probe(Centroid):
        def fit(self, X, y, groups):
            from ser_keras import configure_tensorflow

            configure_tensorflow()
            super().fit(X, y, groups)


    @hookimpl
    def register_features(register):
        register(FeatureSpec("rms", "functionals", extract=loudness))


    @hookimpl
    def register_models(register):
        register(ModelSpec("tfprobe", create=Probe, accepts=frozenset({"functionals"})))
    ''',
    **CHEAP_PARTS,
}


def test_worker_processes_print_no_tensorflow_start_up_lines_unless_verbose(tmp_path):
    """serbench's filter in the Dask workers drops TensorFlow-format start-up lines written while
    TensorFlow loads (the probe writes one, whatever this CPU makes TensorFlow print) and passes
    them through under --verbose."""
    site = write_distribution(tmp_path / "site", "ser-plugin-tfprobe", "1.0", {"tfprobe": "ser_plugin_tfprobe"},
                              TF_PLUGIN)
    config = tmp_path / "benchmarks.toml"
    config.write_text('[systems.probe]\nmodel = "tfprobe"\nfeature = "rms"\n\n'
                      '[suites.probe]\ncorpora = ["synthetic"]\nsystems = ["probe"]\nrepeats = 1\n')
    env = {k: v for k, v in os.environ.items() if k not in ("SERBENCH_DEBUG", "SERBENCH_VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    args = ["run", "--config", str(config), "--suite", "probe", "--workers", "2"]
    quiet = serbench(*args, "--db", str(tmp_path / "quiet.db"), env=env, cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "8 cells computed" in quiet.stdout
    both = quiet.stdout + quiet.stderr
    assert "oneDNN" not in both and "absl::InitializeLog" not in both and "cpu_feature_guard" not in both, both
    loud = serbench("--verbose", *args, "--db", str(tmp_path / "loud.db"), env=env, cwd=tmp_path)
    assert loud.returncode == 0, loud.stdout + loud.stderr
    assert "oneDNN custom operations are on (tfprobe)" in loud.stderr, "with --verbose, TensorFlow's lines are shown"


def _commands(command, path=()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_help_texts_survive_rich_markup():
    """--help is rendered with rich markup, which silently drops an unescaped ``[default: ...]`` or
    ``[corpora.NAME]``: every command's and option's text must render as written."""
    import typer
    from rich.text import Text

    from ser_core.cli import app

    commands = list(_commands(typer.main.get_command(app)))
    assert len(commands) > 10
    lost = []
    for path, command in commands:
        for name, text in [("(doc)", command.help or "")] + [(p.name, getattr(p, "help", None) or "")
                                                             for p in command.params]:
            if Text.from_markup(text).plain != text.replace("\\[", "["):
                lost.append(f"serbench {' '.join(path)} {name}: {text!r}")
    assert not lost, "\n".join(lost)


def test_a_board_written_to_a_file_or_pipe_keeps_full_system_names(tmp_path):
    """Output that is not a terminal gets a wide console (rich's 80 columns would not hold seven long
    system names in a log file); $COLUMNS still wins when set: in 80 columns the board is one line per
    cell, every name and number whole."""
    from board_helpers import instance, protocol, put

    from ser_core.results import ResultStore

    names = ["A1-aldeneh-logmel40", "A2-aldeneh-logmel240", "A3-aldeneh-spec5s240", "L-latif-raw5s",
             "N-zhang-raw5s", "O-zhao-spec5s40", "svm-is09"]  # the study's seven, as shipped
    corpus = instance("emodb", ["angry", "neutral"], ["s1", "s2"], 8)
    with ResultStore(tmp_path / "r.db") as store:
        for index, name in enumerate(names):
            for fold in range(2):
                put(store, corpus, name, protocol(model=f"m{index}"), 0, fold, [0, 0, 1, 1], [0, 1, 1, 1])
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    wide = serbench("leaderboard", "--db", str(tmp_path / "r.db"), env=env)
    assert wide.returncode == 0, wide.stderr
    assert all(name in wide.stdout for name in names), wide.stdout
    narrow = serbench("leaderboard", "--db", str(tmp_path / "r.db"), env={**env, "COLUMNS": "80"})
    assert narrow.returncode == 0 and "one line per cell" in narrow.stdout and "one line per cell" not in wide.stdout
    assert all(f"{name}: " in narrow.stdout for name in names) and "…" not in narrow.stdout
