"""Results bundles: export -> verify -> import round trip, tampering refused, labels never carried."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bundle_helpers import stand_in_registry, store_system
from ser_core import bundle, export, leaderboard
from ser_core.cli import app
from ser_core.records import CorpusInstance
from ser_core.results import ResultStore
from ser_core.synthetic import SyntheticConfig

DOCS = Path(__file__).resolve().parents[1] / "docs" / "results-bundle.md"
CONFIGS = {
    "tiny": SyntheticConfig(speakers=4, clips_per_class=2, min_seconds=0.3, max_seconds=0.5),  # leave-one-speaker-out
    "crowd": SyntheticConfig(speakers=14, clips_per_class=1, seed=1, min_seconds=0.3, max_seconds=0.5),  # 6 groups
}
SYSTEMS = {"good": 0.85, "fair": 0.6, "weak": 0.35}
RESAMPLES = 200


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpora")
    for name in CONFIGS:
        (root / name).mkdir()
    return {name: root / name for name in CONFIGS}


@pytest.fixture(scope="module")
def registry():
    return stand_in_registry(CONFIGS)


@pytest.fixture(scope="module")
def source(tmp_path_factory, corpora, registry):
    path = tmp_path_factory.mktemp("source") / "source.db"
    with ResultStore(path) as store:
        for corpus in CONFIGS:
            for system, accuracy in SYSTEMS.items():
                store_system(store, registry, corpus, system, accuracy=accuracy, repeats=2, root=corpora[corpus])
    return path


@pytest.fixture(scope="module")
def exported(source, registry):
    with ResultStore(source, readonly=True) as store:
        return bundle.export_bundle(store, registry=registry, citation="Doe et al. 2026", notes="generated",
                                    resamples=RESAMPLES)


@pytest.fixture
def fresh(exported):
    return copy.deepcopy(exported)


def verify(data, registry, corpora, **kwargs):
    return bundle.verify_bundle(data, registry=registry, corpus_paths=corpora, **kwargs)


def rehash(data):
    data["content_hash"] = bundle.content_hash(data)
    return data


def problems(verification) -> str:
    return " | ".join(verification.problems + [p for s in verification.sections for p in s.problems])


def numbers(board):
    return [(e.corpus, e.system, e.uar_mean, e.uar_std, (e.ci.low, e.ci.high) if e.ci else None, e.mark,
             e.per_speaker, e.confusion, e.n_scored) for e in board.entries]


def test_a_bundle_holds_every_prediction_by_clip_id_and_no_labels(exported):
    assert exported["format"] == bundle.FORMAT and exported["version"] == bundle.VERSION
    assert exported["content_hash"] == bundle.content_hash(exported)
    assert len(exported["results"]) == len(CONFIGS) * len(SYSTEMS)
    text = json.dumps(exported)
    assert "y_true" not in text and "anger.wav" not in text  # no labels of clips, no paths to audio
    tiny = next(i for i in exported["instances"] if i["instance"]["corpus"] == "tiny")
    n_clips = CONFIGS["tiny"].speakers * len(CONFIGS["tiny"].classes) * CONFIGS["tiny"].clips_per_class
    assert len(tiny["clips"]["clip_ids"]) == n_clips
    section = next(r for r in exported["results"] if (r["corpus"], r["system"]) == ("tiny", "good"))
    assert len(section["cells"]) == 2 * CONFIGS["tiny"].speakers  # 2 repeats x leave-one-speaker-out
    assert sum(len(c["clip_ids"]) for c in section["cells"]) == 2 * n_clips
    assert section["model_card"]["citation"] == "Doe et al. 2026"
    assert section["model_card"]["parameter_count"] == 1234
    assert set(section["figures"]) == set(bundle.FIGURE_KEYS)
    assert exported["runs"] and all(str(c["run"]) in exported["runs"] for c in section["cells"])


def test_every_key_of_the_bundle_is_documented(exported):
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOCS.read_text(), flags=re.M))
    section = exported["results"][0]
    keys = (set(exported) | set(exported["instances"][0]) | set(exported["instances"][0]["clips"]) | set(section)
            | set(section["cells"][0]) | set(section["model_card"]))
    assert keys - documented == set()


def test_round_trip_gives_the_same_board(tmp_path, exported, source, registry, corpora):
    verification = verify(exported, registry, corpora, for_import=True)
    assert verification.status == bundle.VERIFIED, problems(verification)
    assert verification.exit_status == 0
    target = tmp_path / "empty.db"
    with ResultStore(target) as store:
        report = bundle.import_bundle(store, exported, verification)
        assert [r[2] for r in report.imported] == ["verified"] * 6 and not report.refused
        again = bundle.import_bundle(store, exported, verify(exported, registry, corpora, for_import=True))
        assert again.imported == [] and len(again.already) == 6  # idempotent
        imported = leaderboard.compute(store, resamples=RESAMPLES)
        assert len(store.runs()) == len(exported["runs"]) == 6  # each of the submitter's runs, stored once
    with ResultStore(source, readonly=True) as store:
        original = leaderboard.compute(store, resamples=RESAMPLES)
    assert numbers(imported) == numbers(original)
    assert {e.mark for e in imported.entries} >= {leaderboard.BEST}
    assert {e.verification for e in imported.entries} == {"verified"}
    assert {e.verification for e in original.entries} == {"local"}
    assert imported.ranks.average_ranks == original.ranks.average_ranks


def test_without_the_corpus_it_checks_consistency_and_says_labels_are_unchecked(exported, registry, corpora, tmp_path):
    verification = verify(exported, registry, {"tiny": corpora["tiny"]})
    by_corpus = {s.corpus: s.status for s in verification.sections}
    assert by_corpus == {"tiny": bundle.VERIFIED, "crowd": bundle.UNCHECKED}
    assert verification.status == bundle.UNCHECKED and verification.exit_status == 4
    crowd = next(s for s in verification.sections if s.corpus == "crowd")
    assert "could not be checked" in crowd.unchecked and "--corpus-path crowd=DIR" in crowd.unchecked
    with ResultStore(tmp_path / "t.db") as store:  # no labels here: cannot be scored, even --unverified
        report = bundle.import_bundle(store, exported, verify(exported, registry, {}, for_import=True),
                                      allow_unverified=True)
    assert report.imported == [] and len(report.refused) == 6
    assert all("carries no labels" in why for _, _, why in report.refused)


def _section(data, corpus="tiny", system="good"):
    return next(r for r in data["results"] if (r["corpus"], r["system"]) == (corpus, system))


def _flip_a_wrong_prediction(data, registry, corpora):
    """Make one wrong prediction right, as a submitter improving their numbers by hand would."""
    manifest = registry.corpus("tiny").spec.scan(corpora["tiny"])
    labels = manifest.labels()
    truth = {c.clip_id: labels.index(c.label) for c in manifest.clips}
    cell, i = next((cell, i) for cell in _section(data)["cells"]
                   for i, (c, p) in enumerate(zip(cell["clip_ids"], cell["y_pred"])) if truth[c] != p)
    cell["y_pred"][i] = truth[cell["clip_ids"][i]]
    from ser_core.metrics import uar

    cell["uar"] = uar([truth[c] for c in cell["clip_ids"]], cell["y_pred"])  # the stored UAR edited to match
    return data


def test_a_changed_prediction_is_refused_by_the_content_hash(fresh, registry, corpora):
    verification = verify(_flip_a_wrong_prediction(fresh, registry, corpora), registry, corpora)
    assert verification.status == bundle.FAILED and verification.exit_status == 1
    assert "does not match the content" in problems(verification)


def test_a_changed_prediction_with_its_uar_edited_and_rehashed_is_refused_by_the_figures(fresh, registry, corpora, tmp_path):
    data = rehash(_flip_a_wrong_prediction(fresh, registry, corpora))
    verification = verify(data, registry, corpora, for_import=True)
    assert verification.status == bundle.FAILED
    assert "the stated uar_mean" in problems(verification)
    with ResultStore(tmp_path / "t.db") as store:
        report = bundle.import_bundle(store, data, verification)
    assert [(c, s) for c, s, _ in report.refused] == [("tiny", "good")]
    assert "not verified: " in report.refused[0][2] and "--unverified" in report.refused[0][2]


def test_a_stored_uar_that_does_not_follow_from_the_predictions_is_refused(fresh, registry, corpora):
    _section(fresh)["cells"][1]["uar"] = 0.999
    verification = verify(rehash(fresh), registry, corpora)
    assert "is not what its predictions score against the corpus's labels" in problems(verification)


def test_a_test_speaker_in_a_training_fold_is_refused(fresh, registry, corpora):
    instance = next(i for i in fresh["instances"] if i["instance"]["corpus"] == "tiny")
    section = _section(fresh)
    for repeat in (0, 1):  # move one clip of fold 0's speaker into fold 1's test set
        cells = {c["fold"]: c for c in section["cells"] if c["repeat"] == repeat}
        clip, pred = cells[0]["clip_ids"].pop(), cells[0]["y_pred"].pop()
        cells[1]["clip_ids"].append(clip)
        cells[1]["y_pred"].append(pred)
    instance["clips"]["folds"][instance["clips"]["clip_ids"].index(clip)] = 1
    verification = verify(rehash(fresh), registry, corpora)
    text = problems(verification)
    assert "not speaker-independent" in text
    assert "in a different fold than serbench puts them" in text
    internal = verify(fresh, registry, {})  # the corpus is not needed to see it
    assert "not speaker-independent" in problems(internal) and internal.status == bundle.FAILED


def _edit_instance(data, corpus, change):
    item = next(i for i in data["instances"] if i["instance"]["corpus"] == corpus)
    change(item)
    new_key = CorpusInstance.from_record(item["instance"]).key  # a careful forger keeps the keys consistent
    for section in data["results"]:
        if section["instance_key"] == item["key"]:
            section["instance_key"] = new_key
    item["key"] = new_key
    return rehash(data)


def test_a_different_corpus_version_is_refused_by_the_fingerprint(fresh, registry, corpora):
    data = _edit_instance(fresh, "tiny", lambda item: item["instance"].update(manifest="0123456789abcdef"))
    verification = verify(data, registry, corpora)
    assert "manifest fingerprint 0123456789abcdef differs" in problems(verification)
    assert {s.corpus for s in verification.sections if s.status == bundle.FAILED} == {"tiny"}


def test_a_clip_id_the_corpus_does_not_have_is_refused(fresh, registry, corpora):
    item = next(i for i in fresh["instances"] if i["instance"]["corpus"] == "tiny")
    old = item["clips"]["clip_ids"][0]
    item["clips"]["clip_ids"][0] = "invented-clip"
    for section in fresh["results"]:
        for cell in section["cells"]:
            cell["clip_ids"] = ["invented-clip" if c == old else c for c in cell["clip_ids"]]
    verification = verify(rehash(fresh), registry, corpora)
    assert "clip ids the local tiny does not have: invented-clip" in problems(verification)


def test_a_bundle_of_a_future_layout_version_is_refused(tmp_path, fresh):
    fresh["version"] = bundle.VERSION + 1
    path = tmp_path / "future.json"
    path.write_text(json.dumps(rehash(fresh)))
    with pytest.raises(bundle.BundleError, match="newer than this serbench reads"):
        bundle.read_bundle(path)


def test_an_unverified_import_is_marked_on_every_board(tmp_path, fresh, registry, corpora):
    data = rehash(_flip_a_wrong_prediction(fresh, registry, corpora))
    with ResultStore(tmp_path / "t.db") as store:
        report = bundle.import_bundle(store, data, verify(data, registry, corpora, for_import=True),
                                      allow_unverified=True, path="forged.json")
        board = leaderboard.compute(store, resamples=0)
    statuses = {(c, s): status for c, s, status, _ in report.imported}
    assert statuses[("tiny", "good")] == "unverified" and statuses[("tiny", "fair")] == "verified"
    entry = next(e for e in board.entries if (e.corpus, e.system) == ("tiny", "good"))
    assert entry.verification == "unverified"
    assert leaderboard.format_cell(entry).endswith(leaderboard.UNVERIFIED)
    assert any(n.startswith(f"{leaderboard.UNVERIFIED} good on tiny: imported from forged.json") for n in board.notes)
    assert leaderboard.UNVERIFIED in export.to_markdown(board)
    records = {(r["corpus"], r["system"]): r["verification"] for r in json.loads(export.to_json(board))["entries"]}
    assert records[("tiny", "good")] == "unverified" and records[("tiny", "fair")] == "verified"


def test_an_import_never_overwrites_different_stored_results(tmp_path, exported, registry, corpora):
    with ResultStore(tmp_path / "t.db") as store:
        store_system(store, registry, "tiny", "good", accuracy=0.5, repeats=2, root=corpora["tiny"])
        before = [c.predictions for c in store.cells("tiny", "good")]
        report = bundle.import_bundle(store, exported, verify(exported, registry, corpora, for_import=True))
        after = [c.predictions for c in store.cells("tiny", "good")]
    assert ("tiny", "good") in [(c, s) for c, s, _ in report.refused] and before == after


def test_the_commands_export_verify_and_import(tmp_path, source, registry, corpora, monkeypatch):
    import ser_core.plugins

    monkeypatch.setattr(ser_core.plugins, "load_registry", lambda *a, **k: registry)
    runner = CliRunner()
    out = tmp_path / "mine.serbench.json"
    result = runner.invoke(app, ["results", "export", "--db", str(source), "-o", str(out), "--system", "good",
                                 "--resamples", "100"])
    assert result.exit_code == 0, result.output
    assert {r["system"] for r in json.loads(out.read_text())["results"]} == {"good"}
    paths = [f"--corpus-path={name}={path}" for name, path in corpora.items()]
    result = runner.invoke(app, ["results", "verify", str(out), *paths])
    assert result.exit_code == 0, result.output
    assert "Verified" in result.output
    result = runner.invoke(app, ["results", "verify", str(out), paths[0]])
    assert result.exit_code == 4 and "labels not checked" in result.output
    db = tmp_path / "board.db"
    result = runner.invoke(app, ["results", "import", str(out), "--db", str(db), *paths])
    assert result.exit_code == 0, result.output
    assert result.output.count("imported good on") == 2
    result = runner.invoke(app, ["results", "import", str(out), "--db", str(db), *paths])
    assert result.exit_code == 0 and result.output.count("already imported") == 2
    data = json.loads(out.read_text())
    data["version"] = 99
    out.write_text(json.dumps(data))
    result = runner.invoke(app, ["results", "verify", str(out)])
    assert result.exit_code == 2 and "newer than this serbench reads" in result.output


def test_a_damaged_bundle_is_a_message_never_a_traceback(tmp_path, fresh, registry, corpora):
    _section(fresh)["cells"][0]["clip_ids"] = 17
    _section(fresh, "crowd")["protocol"] = None
    verification = verify(rehash(fresh), registry, corpora)
    text = problems(verification)
    assert verification.status == bundle.FAILED
    assert "results[" in text and "is malformed" in text and "the file is damaged" in text
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "serbench-results-bundle", "version": 1, "results": [')
    with pytest.raises(bundle.BundleError, match="broken.json:1: not JSON"):
        bundle.read_bundle(broken)
    other = tmp_path / "board.json"
    other.write_text(json.dumps({"format": "serbench-board", "version": 1}))
    with pytest.raises(bundle.BundleError, match="not a serbench results bundle"):
        bundle.read_bundle(other)


@pytest.mark.emodb
def test_the_committed_emodb_results_verify_against_the_real_emodb(tmp_path, emodb_dir):
    from ser_core.plugins import load_registry

    source = Path(__file__).resolve().parents[1] / "docs" / "results" / "emodb.db"
    registry = load_registry()
    if "svm" not in registry.items["model"] or "is09" not in registry.items["feature"]:
        pytest.skip("the committed EMO-DB results are ser-plugin-svm's on ser-plugin-opensmile's IS09: "
                    "install both (requirements.txt does) to verify them")
    with ResultStore(source, readonly=True) as store:
        data = bundle.export_bundle(store, registry=registry, resamples=RESAMPLES)
        original = leaderboard.compute(store, resamples=RESAMPLES)
    verification = bundle.verify_bundle(data, registry=registry, corpus_paths={"emodb": Path(emodb_dir)},
                                        for_import=True)
    assert verification.status == bundle.VERIFIED, problems(verification)
    with ResultStore(tmp_path / "board.db") as store:
        bundle.import_bundle(store, data, verification)
        imported = leaderboard.compute(store, resamples=RESAMPLES)
    assert numbers(imported) == numbers(original)
    card = _section(data, "emodb", "svm-is09")["model_card"]
    assert card["distribution"] == "ser-plugin-svm" and card["feature_kind"] == "functionals"
