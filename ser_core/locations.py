"""Recorded corpus locations: where ``serbench corpus download`` left each corpus it made ready.

The record is ``locations.json`` in the data directory (``$SERBENCH_DATA_DIR``, default
``$XDG_DATA_HOME/serbench`` or ``~/.local/share/serbench``)::

    {"corpora": {"mycorpus": {"path": "/home/me/.local/share/serbench/mycorpus",
                             "recorded": "2026-11-30T05:00:00+00:00", "clips": 1440, "plugin": "ser-plugin-mycorpus 0.1.0"}}}

It is the last place a corpus location is looked for (after ``--corpus-path``, the benchmarks file
and ``SERBENCH_CORPUS_<NAME>``), so anything set explicitly wins. The file is only ever replaced
whole (:func:`ser_core.outputs.write_text`); a damaged file is an error naming it, never ignored.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ser_core import config
from ser_core.errors import ConfigError

FILE_NAME = "locations.json"


def locations_file() -> Path:
    """The file recording downloaded corpora's locations."""
    return config.data_dir() / FILE_NAME


def _read(path: Path) -> dict[str, dict[str, Any]]:
    try:
        from ser_core.inputs import read_text

        data = json.loads(read_text(path))
    except FileNotFoundError:
        return {}
    except NotADirectoryError:  # the data directory itself is a file: deleting the record is not the cure
        raise ConfigError(
            f"the data directory {path.parent} is not a directory (a file is in the way), so the record of "
            "downloaded corpora cannot be kept there. Set SERBENCH_DATA_DIR to a directory (or move the file)."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"{path}: the record of downloaded corpora cannot be read ({exc}). Delete it (the corpora stay "
            "where they are) and run `serbench corpus download NAME` again, or pass --corpus-path."
        ) from None
    corpora = data.get("corpora") if isinstance(data, dict) else None
    if not isinstance(corpora, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("path"), str) for v in corpora.values()
    ):
        raise ConfigError(
            f"{path}: not a record of corpus locations (expected {{\"corpora\": {{NAME: {{\"path\": DIR}}}}}}). "
            "Delete it and run `serbench corpus download NAME` again."
        )
    return corpora


def recorded() -> dict[str, dict[str, Any]]:
    """Every recorded corpus: name -> its entry (``path`` and details)."""
    return _read(locations_file())


def recorded_path(name: str) -> Path | None:
    """The recorded directory of corpus ``name``, or ``None``."""
    entry = recorded().get(name)
    return Path(entry["path"]) if entry else None


def record(name: str, path: Path, **details: Any) -> Path:
    """Record ``path`` as corpus ``name``'s directory (replacing any earlier entry); returns the file."""
    from ser_core.outputs import write_text

    target = locations_file()
    corpora = _read(target)
    corpora[name] = {
        "path": str(Path(path).resolve()),
        "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **details,
    }
    write_text(target, json.dumps({"corpora": dict(sorted(corpora.items()))}, indent=2) + "\n")
    return target
