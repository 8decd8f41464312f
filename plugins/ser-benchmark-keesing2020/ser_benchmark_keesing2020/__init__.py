"""The reference study as a serbench benchmark: Keesing, Watson & Witbrock (2020), "Convolutional and
Recurrent Neural Networks for Spoken Emotion Recognition".

Registers its seven systems and the suites ``paper``, ``paper-quick`` and ``paper-cpu`` from
``benchmarks.toml`` (the repository's top-level file, shipped as this package's data), and two
published references: ``keesing2020``, the whole of Table 3 (UAR, 15 corpora x 7 systems), and
``keesing2020-human``, its human row (an accuracy, not a UAR).
"""

from __future__ import annotations

from importlib.resources import files

from ser_core import hookimpl, read_benchmarks, read_reference

CITATION = ("Keesing, A., Watson, I., & Witbrock, M. (2020). Convolutional and Recurrent Neural Networks for "
            "Spoken Emotion Recognition. Table 3.")


def data_file(name: str):
    """A file of this package's data (``benchmarks.toml``, ``table3.csv``, ``human.csv``)."""
    return files(__name__) / name


@hookimpl
def register_benchmarks(register):
    for spec in read_benchmarks(data_file("benchmarks.toml")):
        register(spec)
    register(read_reference(data_file("table3.csv"), name="keesing2020", citation=CITATION,
                            description="The study's Table 3: UAR (%) of its 7 systems on 15 corpora (3 repeats "
                                        "averaged; Zhang 1)"))
    register(read_reference(data_file("human.csv"), name="keesing2020-human", citation=CITATION, measure="accuracy",
                            description="Table 3's human row: a human rater's average accuracy (%), where known"))
