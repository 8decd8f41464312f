"""The plugin contract: one hook each for corpora, features, models and benchmarks.

Every hook receives a ``register`` callback and calls it once per thing the plugin provides.
The core records which distribution registered each name and refuses duplicates.
Implement a hook in a plugin module with ``@ser_core.hookimpl`` and point an entry point of
the ``serbench`` group at that module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:
    from ser_core.benchmark_specs import ReferenceSpec, SuiteSpec, SystemSpec
    from ser_core.specs import CorpusSpec, FeatureSpec, ModelSpec

PROJECT = "serbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_corpora(register: Callable[["CorpusSpec"], None]) -> None:
    """Register corpus readers.

    :param register: call ``register(CorpusSpec(...))`` once per corpus. The spec's ``scan``
        turns a directory (or ``None`` for corpora that generate themselves) into a
        :class:`~ser_core.specs.Manifest`. Names must be unique across all installed plugins.
        The spec's ``source`` may say where the data comes from: a
        :class:`~ser_core.specs.DownloadSource` (files with URL, size and the publisher's MD5 or
        SHA-256 hash, fetched by ``serbench corpus download``) or a :class:`~ser_core.specs.ManualSource`
        (licence, request address and steps).
    Contract: registration is cheap; do no I/O and import no heavy library here.
    """


@hookspec
def register_features(register: Callable[["FeatureSpec"], None]) -> None:
    """Register feature extractors.

    :param register: call ``register(FeatureSpec(...))`` once per feature. ``extract`` maps one
        16 kHz mono float32 signal to a float array whose shape matches the spec's ``kind``.
    Contract: ``extract`` is deterministic and runs in worker processes; import heavy libraries
    inside it, never at module import time.
    """


@hookspec
def register_models(register: Callable[["ModelSpec"], None]) -> None:
    """Register model architectures.

    :param register: call ``register(ModelSpec(...))`` once per model. ``create`` returns a fresh,
        untrained :class:`~ser_core.specs.Estimator` for one fold of one repeat.
    Contract: ``accepts`` names the feature kinds the model can consume; import heavy libraries
    inside ``create``, never at module import time.
    """


@hookspec
def register_benchmarks(register: Callable[["SystemSpec | SuiteSpec | ReferenceSpec"], None]) -> None:
    """Register systems, suites and published reference results.

    :param register: call ``register(SystemSpec(...))`` per system (a model on a feature, with
        settings), ``register(SuiteSpec(...))`` per suite (corpora x systems with repeats, seed,
        normalisation, overrides) and ``register(ReferenceSpec(...))`` per published table
        (``serbench leaderboard --reference NAME``). :func:`~ser_core.benchmark_specs.read_benchmarks`
        turns a benchmarks file shipped with the distribution into the first two. Names are unique
        across all installed plugins, each kind on its own; a suite may use systems of other
        distributions (declare them as dependencies). A user's benchmarks file adds to these and
        replaces them by name.
    Contract: registration is cheap: reading the distribution's own small data files is fine; no
    network, no heavy library.
    """
