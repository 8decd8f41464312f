"""The plugin API: every name a plugin implements or may call, in one place.

These names, re-exported by :mod:`ser_core` with the same ``__all__``, are serbench's public,
versioned contract with plugins (documented one by one in docs/writing-a-plugin.md). They keep
their meaning within a ``ser-core`` minor series (``ser-core>=0.1,<0.2``); a change that breaks one
comes with a new minor version, and a moved name keeps working from its old path for one release
with a :class:`DeprecationWarning`. Everything else in ``ser_core`` is internal and may change in
any release, so plugins import only from here (or from :mod:`ser_core`), and a test scans every
package under ``plugins/`` for imports of anything else.

Nothing here imports a heavy library: ``serbench --help`` and ``serbench list`` import it.
Names used only by plugin tests are in :mod:`ser_core.api.testing`.
"""

from ser_core.benchmark_specs import ReferenceRow, ReferenceSpec, SuiteSpec, SystemSpec, read_benchmarks, read_reference
from ser_core.audio import SAMPLE_RATE, AudioError, ClipTooShortError, load_audio, require_samples
from ser_core.config import available_cores, cache_dir, thread_count
from ser_core.readers import (NOT_AUDIO, ManifestBuilder, NameMatch, NamingConvention, ParseResult, excluded,
                             filename_corpus, require_dir, scan_files, subdirectory, walk)
from ser_core.dependencies import missing, require
from ser_core.errors import ConfigError, CorpusError, FeatureError, MissingDependencyError, SerbenchError
from ser_core.hookspecs import hookimpl
from ser_core.metrics import class_weights, uar
from ser_core.specs import (LABELS, Clip, CorpusSpec, DownloadSource, Estimator, ExpectedContent, FeatureBlock,
                            FeatureSpec, Manifest, ManualSource, ModelContext, ModelSpec, ModelSummary, RemoteFile,
                            ScoringEstimator, Setting, SkippedFile, SummarisingEstimator, has_scores, split_blocks)

__all__ = [
    # hooks (the four hook specifications are in ser_core.hookspecs; plugins mark theirs with this)
    "hookimpl",
    # corpora: the spec, what a scan returns, where the data comes from
    "CorpusSpec",
    "Manifest",
    "Clip",
    "SkippedFile",
    "ExpectedContent",
    "LABELS",
    "DownloadSource",
    "RemoteFile",
    "ManualSource",
    # corpus-plugin helpers
    "NamingConvention",
    "NameMatch",
    "filename_corpus",
    "scan_files",
    "ParseResult",
    "NOT_AUDIO",
    "require_dir",
    "walk",
    "ManifestBuilder",
    "excluded",
    "subdirectory",
    # features
    "FeatureSpec",
    "require_samples",
    "ClipTooShortError",
    "SAMPLE_RATE",
    "load_audio",
    "AudioError",
    "cache_dir",
    "thread_count",
    "available_cores",
    # models
    "ModelSpec",
    "ModelContext",
    "Estimator",
    "ScoringEstimator",
    "SummarisingEstimator",
    "has_scores",
    "ModelSummary",
    "Setting",
    "FeatureBlock",
    "split_blocks",
    # benchmarks: systems, suites and published references (the register_benchmarks hook)
    "SystemSpec",
    "SuiteSpec",
    "ReferenceSpec",
    "ReferenceRow",
    "read_benchmarks",
    "read_reference",
    # the metric and the class weighting every model uses
    "uar",
    "class_weights",
    # errors and missing libraries
    "SerbenchError",
    "ConfigError",
    "CorpusError",
    "FeatureError",
    "MissingDependencyError",
    "require",
    "missing",
]
