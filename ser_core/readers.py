"""Helpers for writing a corpus plugin's ``scan`` (part of the plugin API: import them from :mod:`ser_core`).

Corpus plugins that read file-name conventions build on :func:`scan_files` (the shared walker),
:class:`NamingConvention` (a pattern plus a table of label codes, whose
:meth:`~NamingConvention.parse` makes the clips) and :func:`filename_corpus`; plugins that read
annotation files use :func:`require_dir`, :func:`walk` and :class:`ManifestBuilder` (which refuses
a clip found twice). Every file a scan does not turn into a clip is kept in ``Manifest.skipped``
with its reason; exclusions the reference protocol makes are marked with :func:`excluded`, files of
another kind with :data:`NOT_AUDIO`.

Nothing here runs a pipeline stage: scanning a registered corpus, checking the manifest and
reporting on it are :mod:`ser_core.corpus`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Mapping

from ser_core.errors import CorpusError
from ser_core.specs import Clip, CorpusSource, CorpusSpec, ExpectedContent, Manifest, SkippedFile


def require_dir(corpus: str, root: Path | None, unpack_hint: str) -> Path:
    """``root`` as a Path, or a :class:`CorpusError` saying it is missing, not a directory or empty.

    :param unpack_hint: what the user should point at, e.g. "the unpacked IEMOCAP_full_release folder".
    """
    if root is None:
        raise CorpusError(f"corpus {corpus!r}: no directory given. Pass --corpus-path {corpus}=DIR.")
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(
            f"corpus {corpus!r}: {root} does not exist or is not a directory. Point the corpus path at "
            f"{unpack_hint}."
        )
    if not any(root.iterdir()):
        raise CorpusError(f"corpus {corpus!r}: {root} is empty. Unpack the corpus there ({unpack_hint}).")
    return root


def walk(root: Path) -> list[Path]:
    """Every file under ``root``, sorted, skipping hidden files and folders (``.DS_Store``, ``._x.wav``)."""
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files.extend(Path(folder) / name for name in names if not name.startswith("."))
    return sorted(files)


#: What a corpus plugin's ``parse`` returns for one file: a clip, or the reason it was skipped.
ParseResult = Clip | str


AUDIO_SUFFIXES = (".wav",)


#: Skip reasons starting with this are exclusions the reference protocol makes on purpose (the
#: silent CREMA-D clip, ShEMO fear): they are listed, but they are not a mismatch.
EXCLUDED = "excluded: "


#: Skip reason of files whose suffix is not one of the corpus's audio suffixes.
NOT_AUDIO = "not an audio file"


def excluded(reason: str) -> str:
    """A skip reason marking a file the reference protocol leaves out on purpose."""
    return EXCLUDED + reason


class ManifestBuilder:
    """Collects what a scan finds: clips, and every file it passes over with the reason.

    A clip id claimed twice (two copies of a file, two folders with the same clips) raises
    :class:`CorpusError` naming both files, because no scan can tell which copy is right. Corpus
    plugins that read annotation files build their manifest with it::

        found = ManifestBuilder("mycorpus", root)
        for path in walk(root):
            if path.suffix != ".wav":
                found.skip(path, NOT_AUDIO)
                continue
            found.add(Clip(path.stem, path, speaker, label))
        return found.manifest()

    :meth:`claim` reserves an id before the clip is known (when a duplicate must be refused even if
    the file turns out to be skipped).
    """

    def __init__(self, corpus: str, root: Path):
        self.corpus = corpus
        self.root = Path(root)
        self.clips: list[Clip] = []
        self.skipped: list[SkippedFile] = []
        self._seen: dict[str, Path] = {}

    def __contains__(self, clip_id: str) -> bool:
        return clip_id in self._seen

    def claim(self, clip_id: str, path: Path) -> None:
        """Reserve ``clip_id`` for ``path``; :class:`CorpusError` when another file holds it."""
        if clip_id in self._seen and Path(self._seen[clip_id]) != Path(path):
            raise CorpusError(
                f"corpus {self.corpus!r}: clip {clip_id!r} appears twice, as {self._seen[clip_id]} and {path}. "
                "Remove one copy, or point the location at only one of the folders."
            )
        self._seen[clip_id] = Path(path)

    def add(self, clip: Clip) -> None:
        """Add a clip (claiming its id for its file)."""
        self.claim(clip.clip_id, clip.path)
        self.clips.append(clip)

    def skip(self, path: Path | str, reason: str) -> None:
        """Record a file (or ``file:line``) the scan does not turn into a clip, and why."""
        self.skipped.append(SkippedFile(str(path), reason))

    def manifest(self) -> Manifest:
        """The manifest of everything added and skipped."""
        return Manifest(self.corpus, self.clips, root=self.root, skipped=self.skipped)


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
    silently. Hidden files (names starting with ``.``, e.g. macOS ``._x.wav`` forks) are not
    corpus files and are passed over. Two files giving the same clip id raise
    :class:`CorpusError` naming both, as no scan can tell which copy is right.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(
            f"corpus {corpus!r}: {root} is not a directory. Point the corpus location at the "
            "directory of the unpacked corpus."
        )
    found = ManifestBuilder(corpus, root)
    for path in walk(root):
        if path.suffix.lower() not in suffixes:
            found.skip(path, f"{NOT_AUDIO} ({', '.join(suffixes)})")
            continue
        result = parse(path)
        if isinstance(result, Clip):
            found.claim(result.clip_id, path)
            found.clips.append(result)
        else:
            found.skip(path, result)
    return found.manifest()


@dataclass(frozen=True)
class NameMatch:
    """A file name that follows its corpus's convention: the pattern's named fields and the label."""

    fields: Mapping[str, str]
    label: str
    language: str | None = None

    def clip(self, path: Path, **overrides) -> Clip:
        """The clip of the file at ``path``: id = the file stem, label = :attr:`label`, speaker,
        sentence and gender from the pattern's groups of those names (when it has them), language
        from the convention; ``overrides`` set any :class:`~ser_core.specs.Clip` field instead."""
        values = {
            "clip_id": Path(path).stem,
            "path": Path(path),
            "speaker": self.get("speaker"),
            "label": self.label,
            "gender": self.get("gender"),
            "language": self.language,
            "sentence": self.get("sentence"),
        }
        return Clip(**{**values, **overrides})

    def __getitem__(self, key: str) -> str:
        return self.fields[key]

    def get(self, key: str, default: str | None = None) -> str | None:
        """The field ``key``, or ``default`` when the pattern has no such field or it did not match."""
        value = self.fields.get(key)
        return default if value is None else value


@dataclass(frozen=True)
class NamingConvention:
    """How a corpus names its files: a pattern on the file stem and a table of label codes.

    ``pattern`` must match the whole stem and capture the label code in the named group ``code``
    (other named groups, e.g. ``speaker``, come back in :class:`NameMatch`). ``labels`` maps codes
    to the corpus's labels (the scan refuses labels outside the corpus's label set); ``excluded``
    maps codes the reference study leaves out to the reason.
    A code in neither table is never guessed: the file is skipped with a reason naming the code.
    ``fold_case`` compares codes lower-cased; ``language`` is given to every clip :meth:`NameMatch.clip`
    makes. For the common case :meth:`parse` is a corpus's whole ``parse`` function::

        NAMING = NamingConvention(r"(?P<speaker>\\d\\d)_(?P<code>[a-z]+)", "03_ang", {"ang": "anger"}, language="en")
        filename_corpus("mine", NAMING.parse, expected=..., description=...)
    """

    pattern: str
    example: str
    labels: Mapping[str, str]
    excluded: Mapping[str, str] = field(default_factory=dict)
    fold_case: bool = False
    language: str | None = None

    def __post_init__(self) -> None:
        compiled = re.compile(self.pattern)
        if "code" not in compiled.groupindex:
            raise ValueError(f"naming pattern {self.pattern!r} has no (?P<code>...) group")
        if not compiled.fullmatch(self.example):
            raise ValueError(f"the example {self.example!r} does not match {self.pattern!r}")

    def match(self, stem: str) -> NameMatch | str:
        """The fields and label of a file stem, or the reason the file is skipped."""
        found = re.fullmatch(self.pattern, stem)
        if found is None:
            return f"name does not follow the corpus convention (expected a name like {self.example!r})"
        fields = {k: v for k, v in found.groupdict().items() if v is not None}
        code = fields["code"].lower() if self.fold_case else fields["code"]
        if code in self.excluded:
            return excluded(f"{self.excluded[code]} (code {code!r})")
        if code not in self.labels:
            known = ", ".join(sorted(self.labels))
            return f"unknown emotion code {code!r} (known codes: {known}); not guessed, file left out"
        return NameMatch(fields, self.labels[code], self.language)

    def parse(self, path: Path) -> ParseResult:
        """The clip of the file at ``path`` (:meth:`NameMatch.clip`), or why it is skipped."""
        found = self.match(Path(path).stem)
        return found if isinstance(found, str) else found.clip(path)


def subdirectory(root: Path, *candidates: str) -> Path:
    """``root/candidate`` for the first candidate that is a directory under ``root``, else ``root``.

    Lets a user point a corpus location either at the corpus's top folder or at its audio folder
    (e.g. EMO-DB's ``wav/``, CREMA-D's ``AudioWAV/``)."""
    for candidate in candidates:
        inner = Path(root) / candidate
        if inner.is_dir():
            return inner
    return Path(root)


def filename_corpus(
    name: str,
    parse: Callable[[Path], ParseResult],
    *,
    expected: ExpectedContent,
    description: str,
    version: str = "",
    licence: str = "",
    url: str = "",
    suffixes: tuple[str, ...] = AUDIO_SUFFIXES,
    audio_folders: tuple[str, ...] = (),
    labels: tuple[str, ...] = (),
    label_map: Mapping[str, str] | None = None,
    fold_by: Literal["speaker", "group"] = "speaker",
    source: CorpusSource | None = None,
) -> CorpusSpec:
    """A :class:`CorpusSpec` for a corpus whose labels are in its file names.

    Its scan walks the location (or the first of ``audio_folders`` found inside it) with
    :func:`scan_files` and ``parse`` (often :meth:`NamingConvention.parse`), so a missing location,
    a location that is not a directory and a clip found twice are reported for you. Speakers are the
    cross-validation unit unless ``fold_by="group"`` (then every clip needs a ``group``). ``source``
    says where the data comes from (see :class:`~ser_core.specs.DownloadSource`).
    """

    def scan_directory(root: Path | None) -> Manifest:
        if root is None:
            raise CorpusError(f"corpus {name!r} needs a directory: pass --path DIR or --corpus-path {name}=DIR.")
        return scan_files(name, subdirectory(root, *audio_folders), parse, suffixes=suffixes)

    scan_directory.__doc__ = f"Scan a copy of {name} into a manifest."
    return CorpusSpec(
        name=name,
        scan=scan_directory,
        description=description,
        expected=expected,
        version=version,
        licence=licence,
        url=url,
        labels=labels,
        label_map=dict(label_map or {}),
        fold_by=fold_by,
        source=source,
    )
