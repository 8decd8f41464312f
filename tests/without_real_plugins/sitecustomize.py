"""Hides the real ``svm`` and ``opensmile`` plugins from every Python process started with this
folder on ``PYTHONPATH`` (used by tests/test_packaging.py): their entry points are not listed and
their modules cannot be imported, as if the distributions were not installed. The core's tests of
core behaviour must pass like that, on the fakes of ser_core.testing_fakes alone."""

import importlib.abc
import importlib.metadata
import sys

HIDDEN = ("ser_plugin_svm", "ser_plugin_opensmile")


class _Hide(importlib.abc.MetaPathFinder):
    """Refuses the hidden modules, as an uninstalled distribution would."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by tests/without_real_plugins)", name=name)
        return None


_real_entry_points = importlib.metadata.entry_points


def _entry_points(**params):
    """The installed entry points of one selection (``group=...``) less those of the hidden modules."""
    found = _real_entry_points(**params)
    if not params:  # every group (a dict-like on older Pythons): serbench always selects a group
        return found
    kept = [ep for ep in found if ep.value.split(":")[0].split(".")[0] not in HIDDEN]
    return importlib.metadata.EntryPoints(kept) if isinstance(found, importlib.metadata.EntryPoints) else kept


sys.meta_path.insert(0, _Hide())
importlib.metadata.entry_points = _entry_points
