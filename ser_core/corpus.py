"""Corpus manifests: finding a corpus's directory, scanning it, and checking the result.

A corpus directory comes from (first match wins) a ``--corpus-path NAME=DIR`` option, the
``[corpora.NAME] path`` entry of ``benchmarks.toml``, or the environment variable
``SERBENCH_CORPUS_<NAME>`` (name upper-cased, non-alphanumerics as ``_``).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Callable, Mapping

from ser_core.errors import CorpusError
from ser_core.plugins import Registered
from ser_core.specs import LABELS, Clip, Manifest, SkippedFile


def env_var(name: str) -> str:
    """The environment variable that can hold corpus ``name``'s directory."""
    return "SERBENCH_CORPUS_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def locate(name: str, needs_path: bool, *sources: Mapping[str, Path]) -> Path | None:
    """The directory of corpus ``name`` from the given mappings (in priority order), then the
    environment; ``None`` for corpora that need no directory and have none configured."""
    for source in sources:
        if name in source:
            return Path(source[name])
    if os.environ.get(env_var(name)):
        return Path(os.environ[env_var(name)])
    if needs_path:
        raise CorpusError(
            f"corpus {name!r}: no directory configured. Pass --corpus-path {name}=DIR, add "
            f"[corpora.{name}] path = \"DIR\" to benchmarks.toml, or set {env_var(name)}=DIR."
        )
    return None


def scan(corpus: Registered, root: Path | None) -> Manifest:
    """Run the corpus plugin's scan on ``root`` and validate what it returns."""
    if root is not None and not root.is_dir():
        raise CorpusError(
            f"corpus {corpus.name!r}: {root} is not a directory. Point the corpus location at the "
            "unpacked corpus."
        )
    manifest = corpus.spec.scan(root)
    validate(manifest, fold_by=corpus.spec.fold_by)
    return manifest


def validate(manifest: Manifest, *, fold_by: str = "speaker") -> None:
    """Refuse manifests the protocol cannot use, naming the offending clips."""
    where = f"corpus {manifest.corpus!r}" + (f" at {manifest.root}" if manifest.root else "")
    if not manifest.clips:
        raise CorpusError(
            f"{where}: no clips found ({len(manifest.skipped)} files skipped). Check the path points "
            "at the corpus as its owners distribute it."
        )
    duplicates = [cid for cid, n in Counter(c.clip_id for c in manifest.clips).items() if n > 1]
    if duplicates:
        raise CorpusError(f"{where}: duplicate clip ids {duplicates[:5]}; each clip must appear once.")
    unknown = sorted({c.label for c in manifest.clips} - set(LABELS))
    if unknown:
        example = next(c for c in manifest.clips if c.label == unknown[0])
        raise CorpusError(
            f"{where}: labels outside the shared vocabulary {unknown} (e.g. {example.path}). "
            f"Map them to one of: {', '.join(LABELS)}."
        )
    nameless = [c for c in manifest.clips if not c.speaker]
    if nameless:
        raise CorpusError(f"{where}: {len(nameless)} clips without a speaker, e.g. {nameless[0].path}.")
    if fold_by == "group":
        groupless = [c for c in manifest.clips if not c.group]
        if groupless:
            raise CorpusError(f"{where}: folds use CV groups but {groupless[0].path} has none.")


#: What a corpus plugin's ``parse`` returns for one file: a clip, or the reason it was skipped.
ParseResult = Clip | str

AUDIO_SUFFIXES = (".wav",)


def scan_files(
    corpus: str,
    root: Path,
    parse: Callable[[Path], ParseResult],
    *,
    suffixes: tuple[str, ...] = AUDIO_SUFFIXES,
) -> Manifest:
    """Walk ``root`` (recursively, in sorted order) and turn each audio file into a clip.

    ``parse(path)`` returns a :class:`Clip`, or a string saying why the file is not one of the
    corpus's clips (an excluded emotion, a name that breaks the convention); every such file and
    every file without one of ``suffixes`` is listed in the manifest's ``skipped``, never dropped
    silently.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"corpus {corpus!r}: {root} is not a directory.")
    clips: list[Clip] = []
    skipped: list[SkippedFile] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name.startswith("."):
            continue
        if path.suffix.lower() not in suffixes:
            skipped.append(SkippedFile(str(path), f"not an audio file ({', '.join(suffixes)})"))
            continue
        result = parse(path)
        if isinstance(result, Clip):
            clips.append(result)
        else:
            skipped.append(SkippedFile(str(path), result))
    return Manifest(corpus, clips, root=root, skipped=skipped)
