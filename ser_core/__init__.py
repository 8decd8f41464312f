"""serbench core: hook specs, plugin loading, the data flow from corpus to leaderboard.

The names exported here (``__all__``) are the plugin API, defined in :mod:`ser_core.api`: the public,
versioned contract a plugin may rely on (docs/writing-a-plugin.md). Every other module of the core is
internal. Plugins implement the hooks in :mod:`ser_core.hookspecs` with the ``hookimpl`` marker.
"""

from importlib.metadata import PackageNotFoundError, version

from ser_core import api
from ser_core.api import *  # noqa: F403 - the plugin API, listed once in ser_core.api.__all__

try:
    __version__ = version("ser-core")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
__all__ += api.__all__
