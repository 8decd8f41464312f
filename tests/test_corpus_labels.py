"""Labels belong to corpora: a corpus with a class outside the shared vocabulary ("contempt") is
installed as a plugin, scanned, run and shown on the board without any change to the core."""

from __future__ import annotations

import json
import shutil

from typer.testing import CliRunner

from ser_core.cli import app
from ser_core.specs import LABELS, CorpusSpec, ExpectedContent, order_labels

from .conftest import CHEAP_PARTS

CONTEMPT_PLUGIN = '''
"""A corpus whose sadness clips are called contempt, with a cheap feature and model."""
from serbench_test_parts import Centroid, loudness

from ser_core import FeatureSpec, ModelSpec, hookimpl
from ser_core.readers import NamingConvention, filename_corpus
from ser_core.specs import ExpectedContent

NAMING = NamingConvention(
    pattern=r"(?P<speaker>[a-z]\\d+)_(?P<code>[a-z]+)_(?P<take>\\d+)",
    example="s1_contempt_00",
    labels={"anger": "anger", "happiness": "happiness", "contempt": "contempt", "neutral": "neutral"},
)


@hookimpl
def register_corpora(register):
    register(filename_corpus(
        "contempt-corpus", NAMING.parse,
        expected=ExpectedContent({"anger": 12, "happiness": 12, "contempt": 12, "neutral": 12}, 4, 16000),
        description="test corpus with a class outside the shared vocabulary",
        labels=("neutral", "anger", "happiness", "contempt"),
    ))


@hookimpl
def register_features(register):
    register(FeatureSpec("loudness", "functionals", extract=loudness))


@hookimpl
def register_models(register):
    register(ModelSpec("centroid", create=Centroid, accepts=frozenset({"functionals"})))
'''

SUITE = """
[systems.centroid-loudness]
model = "centroid"
feature = "loudness"

[suites.labels]
corpora = ["contempt-corpus"]
systems = ["centroid-loudness"]
repeats = 1
"""


def test_a_corpus_label_outside_the_shared_vocabulary_scans_runs_and_shows(
    tmp_path, install_distribution, synthetic_manifest, serbench_cache, monkeypatch
):
    assert "contempt" not in LABELS
    corpus = tmp_path / "clips"
    corpus.mkdir()
    for clip in synthetic_manifest.clips:
        label = "contempt" if clip.label == "sadness" else clip.label
        shutil.copy(clip.path, corpus / clip.path.name.replace(clip.label, label))
    install_distribution("ser-plugin-contempt", {"contempt": "ser_plugin_contempt"},
                         {"ser_plugin_contempt": CONTEMPT_PLUGIN, **CHEAP_PARTS})
    (tmp_path / "benchmarks.toml").write_text(SUITE + f'\n[corpora.contempt-corpus]\npath = "{corpus}"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SERBENCH_CONFIG", raising=False)
    runner = CliRunner()

    info = runner.invoke(app, ["corpus", "info", "contempt-corpus", "--path", str(corpus)])
    assert info.exit_code == 0, info.output
    text = " ".join(info.output.split())
    assert "anger happiness neutral contempt total" in text and "found 12 12 12 12 48" in text
    assert "OK: 48 clips, as expected" in text

    run = runner.invoke(app, ["run", "--suite", "labels", "--workers", "1", "--db", str(tmp_path / "r.db")])
    assert run.exit_code == 0, run.output
    assert "4 cells computed" in run.output and "contempt-corpus" in run.output and "UAR %" in run.output

    board = runner.invoke(app, ["leaderboard", "--db", str(tmp_path / "r.db"), "--format", "json"])
    assert board.exit_code == 0, board.output
    records = json.loads(board.output)
    records = records if isinstance(records, list) else records.get("entries", records)
    (entry,) = [r for r in records if r["corpus"] == "contempt-corpus"]
    assert entry["labels"] == ["anger", "happiness", "neutral", "contempt"]
    assert entry["uar_mean"] is not None


def test_label_order_puts_the_shared_vocabulary_first_then_the_corpus_order():
    assert order_labels({"contempt", "neutral", "anger", "zest"}, ("contempt", "neutral")) == [
        "anger", "neutral", "contempt", "zest"]
    spec = CorpusSpec("c", scan=lambda root: None, expected=ExpectedContent({"calm": 2, "anger": 2}, 2, 16000),
                      label_map={"calm": "neutral"})
    assert spec.label_set() == ("calm", "anger")
    assert spec.shared_label("calm") == "neutral" and spec.shared_label("anger") == "anger"
    assert spec.shared_label("zest") is None
    assert CorpusSpec("d", scan=lambda root: None).label_set() == LABELS
