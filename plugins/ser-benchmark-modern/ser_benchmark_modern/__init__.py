"""Modern baselines beside the study's, as serbench suites: self-supervised encoders with a PyTorch head
(``ssl``), Whisper tiny.en features, the other openSMILE sets, logistic regression, an MLP and late
fusion (``modern``, ``modern-cpu``, ``modern-text-independent``), and cross-corpus suites
(``cross-study``, ``loco-study``, ``cross-three``, ``loco-three``, ``within-three``). Their SVM-IS09 is
the study's system, registered by ser-benchmark-keesing2020."""

from __future__ import annotations

from importlib.resources import files

from ser_core import hookimpl, read_benchmarks


@hookimpl
def register_benchmarks(register):
    for spec in read_benchmarks(files(__name__) / "benchmarks.toml"):
        register(spec)
