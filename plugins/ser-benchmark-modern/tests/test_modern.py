"""ser-benchmark-modern: the modern baselines' suites and the cross-corpus suites, as registered."""

from __future__ import annotations

from ser_core.suites import registered


def test_every_suite_and_system_is_registered_by_this_distribution():
    benchmarks = registered()
    ours = {"ssl", "modern", "modern-cpu", "modern-text-independent", "cross-study", "loco-study", "cross-three",
            "loco-three", "within-three"}
    assert {n for n, o in benchmarks.suite_origins.items() if o == "ser-benchmark-modern 0.1.0"} == ours
    assert benchmarks.system_origins["svm-is09"] == "ser-benchmark-keesing2020 0.1.0", "the study's, not a copy"


def test_the_ssl_suite_runs_three_encoders_with_the_head_on_the_study_corpora():
    benchmarks = registered()
    ssl, paper = benchmarks.suite("ssl"), benchmarks.suite("paper")
    assert ssl.corpora == paper.corpora and ssl.repeats == 3
    assert {(s.model, s.feature) for s in ssl.systems} == {
        ("ssl-head", "wavlm-base-plus"), ("ssl-head", "hubert-base"), ("ssl-head", "wav2vec2-base")}


def test_the_modern_suite_pairs_offline_and_online_svm_is09():
    modern = registered().suite("modern")
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
    shipped_suites = registered()
    paper = shipped_suites.suite("paper")
    for name in ("cross-study", "loco-study", "cross-three", "loco-three", "within-three"):
        suite = shipped_suites.suite(name)
        assert suite.classes == ("anger", "happiness", "sadness", "neutral"), name
        assert {s.name for s in suite.systems} == {"svm-is09", "logreg-is09"}, name
    assert shipped_suites.suite("cross-study").corpora == paper.corpora
    assert shipped_suites.suite("loco-study").protocol == "leave-one-corpus-out"
    assert shipped_suites.suite("cross-three").corpora == ("emodb", "emovo", "urdu")


def test_the_cpu_and_text_independent_variants_of_the_modern_suite():
    shipped = registered()
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
