"""serbench's demo suites on the embedded synthetic corpora: ``demo`` (an SVM on eGeMAPS and a short
Aldeneh CNN) and ``cross-smoke`` (cross-corpus, the two synthetic corpora). They run anywhere, with no
data to fetch: the README's first command."""

from __future__ import annotations

from importlib.resources import files

from ser_core import hookimpl, read_benchmarks


@hookimpl
def register_benchmarks(register):
    for spec in read_benchmarks(files(__name__) / "benchmarks.toml"):
        register(spec)
