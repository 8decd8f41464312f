"""What a plugin's own tests may call besides the plugin API: the pipeline steps a plugin feeds.

A corpus plugin's tests scan a folder the way ``serbench`` does and compare the result with the
expected content; a feature plugin's tests extract a manifest through the cache. These names are
public and versioned like :mod:`ser_core.api` (docs/writing-a-plugin.md, "Testing"), together with
the fixtures of :mod:`ser_core.pytest_plugin`; plugin code itself (outside its tests) needs none
of them.
"""

from ser_core.corpus import compare, inspect, scan, skip_kind
from ser_core.cache import cache_key
from ser_core.features import extract
from ser_core.plugins import load_registry
from ser_core.protocol import SENTENCE_GROUPS, make_folds, text_independent
from ser_core.testing_fakes import (FAKE_FEATURE, FAKE_MODEL, FAKE_SYSTEM, FakeCentroid, ManifestCorpus, fake_stats,
                                    fake_suite_toml, fakes_environment, write_fakes_distribution)
from ser_core import testing_fakes as fakes

__all__ = [
    "load_registry",
    "scan",
    "compare",
    "inspect",
    "skip_kind",
    "extract",
    "cache_key",
    "make_folds",
    "text_independent",
    "SENTENCE_GROUPS",
    # fakes (ser_core.testing_fakes): a pipeline without any real plugin
    "fakes",
    "FAKE_FEATURE",
    "FAKE_MODEL",
    "FAKE_SYSTEM",
    "fake_stats",
    "FakeCentroid",
    "ManifestCorpus",
    "fake_suite_toml",
    "write_fakes_distribution",
    "fakes_environment",
]
