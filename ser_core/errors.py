"""Errors the core raises for bad input: each says what was wrong, where, and what to do.

The CLI turns every :class:`SerbenchError` into a one-paragraph message and a non-zero exit code,
never a traceback.
"""


class SerbenchError(Exception):
    """Base class: an error caused by input or environment that a user can fix."""


class PluginError(SerbenchError):
    """A plugin failed to import, to register, or registered something invalid."""


class UnknownNameError(SerbenchError):
    """A corpus, feature, model, system or suite name that is not registered or defined."""


class ConfigError(SerbenchError):
    """A malformed benchmarks file; the message names the file and the offending key."""


class CorpusError(SerbenchError):
    """A corpus directory that cannot be read; the message names the path."""


class FeatureError(SerbenchError):
    """Feature extraction failed for one or more clips; the message names them."""


class OutputError(SerbenchError):
    """A file serbench writes (export, cache table, database) cannot be written; names the path."""


class CacheError(OutputError):
    """The feature cache directory cannot be used (a file, read-only, full); stops the whole run."""


class ResultsDbError(SerbenchError):
    """The results database cannot be used: not a file, not serbench's, unwritable or full."""


class MissingDependencyError(SerbenchError):
    """A library a plugin needs is not installed; the message names the package to install."""
