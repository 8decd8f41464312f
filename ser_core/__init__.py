"""serbench core: hook specs, plugin loading, the data flow from corpus to leaderboard.

Plugins implement the hooks in :mod:`ser_core.hookspecs` with the ``hookimpl`` marker exported here.
"""

from importlib.metadata import PackageNotFoundError, version

from ser_core.config import thread_count
from ser_core.hookspecs import hookimpl
from ser_core.specs import (Clip, CorpusSpec, DownloadSource, Estimator, FeatureBlock, FeatureSpec, Manifest,
                            ManualSource, ModelContext, ModelSpec, ModelSummary, RemoteFile, Setting, has_scores,
                            split_blocks)

try:
    __version__ = version("ser-core")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "Clip",
    "CorpusSpec",
    "DownloadSource",
    "Estimator",
    "FeatureBlock",
    "FeatureSpec",
    "Manifest",
    "ManualSource",
    "ModelContext",
    "ModelSpec",
    "ModelSummary",
    "RemoteFile",
    "Setting",
    "has_scores",
    "hookimpl",
    "split_blocks",
    "thread_count",
    "__version__",
]
