"""Optional dependencies: a missing library is a message naming what to install, never a traceback.

The core needs only its own dependencies; every heavy library (TensorFlow, librosa, openSMILE,
scikit-learn, ...) belongs to the plugin that uses it. Plugins import such libraries inside the
functions that use them, through :func:`require`, so that a missing one becomes a
:class:`~ser_core.errors.MissingDependencyError` that says which package to install::

    from ser_core import require

    def extract(signal, sample_rate):
        librosa = require("librosa", install="librosa", needed_by="feature 'mel'")
        ...

The core also checks the distributions a feature declares in ``FeatureSpec.libraries`` before
extracting, with :func:`check_libraries`,
and :func:`explain_import_error` turns any other ``ImportError`` into the same kind of message.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from types import ModuleType
from typing import TYPE_CHECKING

from ser_core.errors import MissingDependencyError

if TYPE_CHECKING:
    from ser_core.plugins import Registered


def require(module: str, *, install: str | None = None, needed_by: str = "this plugin") -> ModuleType:
    """Import ``module`` and return it, or raise :class:`MissingDependencyError` naming the package.

    :param install: what to pass to ``pip install`` (default: ``module``), e.g. ``"'ser-keras[gpu]'"``.
    :param needed_by: who needs it, for the message, e.g. ``"model 'mymodel' (ser-plugin-mymodel)"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise missing(module, install or module, needed_by, exc) from exc


def missing(module: str, install: str, needed_by: str, exc: BaseException | None = None) -> MissingDependencyError:
    """The error for a library ``needed_by`` something that cannot be imported."""
    detail = f" ({type(exc).__name__}: {exc})" if exc is not None and getattr(exc, "name", module) != module else ""
    return MissingDependencyError(
        f"{needed_by} needs the Python package {module!r}, which is not installed{detail}. "
        f"Install it with: pip install {install}"
    )


def check_libraries(item: "Registered") -> None:
    """Raise :class:`MissingDependencyError` when a distribution the registered feature or model
    declares in its ``libraries`` is not installed; the message names the plugin to reinstall."""
    for library in getattr(item.spec, "libraries", ()) or ():
        try:
            version(library)
        except PackageNotFoundError:
            plugin = item.plugin
            raise MissingDependencyError(
                f"{item.kind} {item.name!r} ({plugin.distribution} {plugin.version}) needs {library!r}, which is "
                f"not installed. Install it with: pip install {library} (or reinstall {plugin.distribution}, "
                "which declares it)."
            ) from None


def explain_import_error(exc: ImportError, needed_by: str | None = None) -> MissingDependencyError:
    """A :class:`MissingDependencyError` for an ``ImportError`` a plugin let escape."""
    module = (getattr(exc, "name", None) or str(exc)).split(".")[0]
    who = needed_by or "a plugin"
    return MissingDependencyError(
        f"{who} needs the Python package {module!r}, which cannot be imported ({exc}). Install it "
        f"(pip install {module}, or reinstall the plugin that needs it, which should declare it)."
    )
