"""ser-benchmark-demo: the demo suites on the embedded synthetic corpora."""

from __future__ import annotations

from ser_core.suites import registered


def test_the_demo_suite_runs_two_systems_on_the_synthetic_corpus():
    benchmarks = registered()
    demo = benchmarks.suite("demo")
    assert demo.corpora == ("synthetic",) and demo.repeats == 1
    assert [s.name for s in demo.systems] == ["svm-egemaps", "aldeneh-logmel40-demo"]
    assert demo.settings_for(demo.systems[1]) == {"epochs": 5, "learning_rate": 1e-3}
    assert benchmarks.suite_origins["demo"] == "ser-benchmark-demo 0.1.0"


def test_the_cross_smoke_suite_crosses_the_two_synthetic_corpora():
    smoke = registered().suite("cross-smoke")
    assert smoke.corpora == ("synthetic", "synthetic-b") and smoke.protocol == "cross"
    assert smoke.normalisation == "corpus" and smoke.settings_for(smoke.systems[0]) == {"inner_folds": 3}
