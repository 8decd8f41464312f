"""Systems with several features (``features = ["a", "b"]``): one table of concatenated functionals.

Each feature is extracted and cached on its own (:func:`ser_core.features.extract`), so a table
another system already extracted is reused. The combined table holds, for every clip that has all
the features, their functionals concatenated in the order the system lists them; a clip that failed
for any of them is left out, with each feature's reason. The model receives the block names and
widths in :attr:`ser_core.specs.ModelContext.blocks` and may cut the items back with
:func:`ser_core.specs.split_blocks`. Only ``functionals`` features combine this way.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ser_core import cache, features
from ser_core.errors import ConfigError
from ser_core.plugins import Registered
from ser_core.records import digest
from ser_core.specs import FeatureBlock, FeatureSpec, Manifest


def _concatenation(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    raise RuntimeError("a combined feature is built from its parts' cached tables, never extracted from audio")


def combined_spec(parts: Sequence[Registered]) -> FeatureSpec:
    """The feature spec a several-feature system's model and records see: ``functionals``, named
    ``"a+b"``, whose params hold every part's name, params and providing plugin (so the system's
    protocol changes when any part does)."""
    problems = [f"{p.name!r} is a {p.spec.kind!r} feature" for p in parts if p.spec.kind != "functionals"]
    if problems:
        raise ConfigError(
            "only functionals features can be combined in one system (concatenated per clip); "
            + ", ".join(problems)
        )
    return FeatureSpec(
        name="+".join(p.name for p in parts),
        kind="functionals",
        extract=_concatenation,
        params={"blocks": [{"feature": p.name, "params": dict(p.spec.params),
                            "plugin": [p.plugin.distribution, p.plugin.version]} for p in parts]},
        libraries=tuple(dict.fromkeys(lib for p in parts for lib in p.spec.libraries)),
        description=" + ".join(p.spec.description or p.name for p in parts),
    )


def extract_combined(
    manifest: Manifest,
    parts: Sequence[Registered],
    *,
    workers: int | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_part: Callable[[Registered], None] | None = None,
) -> tuple[cache.FeatureTable, tuple[FeatureBlock, ...]]:
    """The concatenated table of ``parts`` on ``manifest`` and its blocks, in ``parts`` order.

    :param on_part: called before each part's extraction (e.g. to start a progress stage).
    :raises FeatureError: as :func:`ser_core.features.extract`, for any part.
    """
    tables = []
    for part in parts:
        if on_part is not None:
            on_part(part)
        tables.append(features.extract(manifest, part, workers=workers, on_progress=on_progress))
    by_id = [dict(zip(t.clip_ids, t.items)) for t in tables]
    failures: dict[str, str] = {}
    for part, table in zip(parts, tables):
        for clip, reason in table.failures.items():
            failures[clip] = f"{failures[clip]}; " if clip in failures else ""
            failures[clip] += f"{part.name}: {reason}"
    clip_ids = [c.clip_id for c in manifest.clips if c.clip_id not in failures and all(c.clip_id in t for t in by_id)]
    items = [np.concatenate([t[cid] for t in by_id]).astype(np.float32) for cid in clip_ids]
    widths = [next(iter(t.values())).shape[0] if t else 0 for t in by_id]
    blocks = tuple(FeatureBlock(p.name, w) for p, w in zip(parts, widths))
    silent = sorted({cid for t in tables for cid in t.silent})
    notes = [f"{p.name}: {n}" for p, t in zip(parts, tables) for n in t.notes]
    key = digest([t.cache_key for t in tables])
    table = cache.FeatureTable(clip_ids, items, key, failures, all(t.from_cache for t in tables), None, silent, notes)
    return table, blocks
