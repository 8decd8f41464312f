"""The classes a suite scores: a corpus's labels after its ``label_map``, and the clips of the classes kept.

Used when planning a within-corpus suite restricted to some classes (:mod:`ser_core.plan`) and for
every cross-corpus cell, whose corpora are scored on the classes they share (:mod:`ser_core.crosscorpus`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any, Mapping

from ser_core.corpus import MIN_CLASSES
from ser_core.specs import Manifest


def mapped_labels(manifest: Manifest, spec) -> set[str]:
    """The shared-vocabulary labels a corpus's clips have after its ``label_map``."""
    return {m for m in (spec.shared_label(c.label) for c in manifest.clips) if m is not None}


def shared_classes(corpora: Mapping[str, tuple[Manifest, Any]], named: tuple[str, ...] = ()) -> tuple[list[str], str | None]:
    """``(classes, reason refused)`` of the corpora ``{name: (manifest, spec)}``: the labels every
    one has after its label map (restricted to ``named`` when given, in that order), and, when fewer
    than two remain, why the cell is refused (``None`` otherwise)."""
    from ser_core.specs import order_labels

    have = {name: mapped_labels(m, spec) for name, (m, spec) in corpora.items()}
    common = set.intersection(*have.values()) if have else set()
    classes = [c for c in named if c in common] if named else order_labels(common)
    if len(classes) >= MIN_CLASSES:
        return classes, None
    listing = "; ".join(f"{name}: {', '.join(sorted(labels)) or '(none)'}" for name, labels in have.items())
    wanted = f" of the suite's classes ({', '.join(named)})" if named else ""
    return classes, (f"{len(classes)} shared class{'es' if len(classes) != 1 else ''}{wanted} "
                     f"({', '.join(classes) or 'none'}); at least {MIN_CLASSES} are needed. Labels after each "
                     f"corpus's label_map: {listing}")


def restrict(manifest: Manifest, spec, classes: list[str] | tuple[str, ...]) -> tuple[Manifest, dict[str, int]]:
    """The manifest's clips whose label maps onto ``classes`` (relabelled to the shared label), and
    the clips left out, counted per original label."""
    keep, left_out = [], Counter()
    for clip in manifest.clips:
        label = spec.shared_label(clip.label)
        if label in classes:
            keep.append(clip if label == clip.label else replace(clip, label=label))
        else:
            left_out[clip.label] += 1
    restricted = replace(manifest, clips=keep, label_order=tuple(classes))
    return restricted, dict(sorted(left_out.items()))
