"""Old import paths of moved names: they keep working for one release, with a warning.

A module that lost public names sets ``__getattr__ = moved(__name__, {"Name": "new.module", ...})``;
``from old.module import Name`` then gives the same object as ``from ser_core import Name`` and
warns once per use with a :class:`DeprecationWarning` naming the import to use instead.
"""

from __future__ import annotations

import warnings
from importlib import import_module
from typing import Any, Callable, Mapping


def moved(module: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving ``names`` (name -> the module now defining it) with a warning."""

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(f"{module}.{name} has moved: import it from ser_core (from ser_core import {name}); "
                      f"the old path will be removed in the next minor release of ser-core",
                      DeprecationWarning, stacklevel=2)
        return getattr(import_module(names[name]), name)

    return __getattr__
