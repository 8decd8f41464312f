"""Users' own data without a plugin: the corpora ``csv`` and ``csv-grouped``, read from a CSV manifest.

The corpus location is either the CSV file itself or a directory holding ``manifest.csv``
(``--corpus-path csv=/data/mine/clips.csv``, ``[corpora.csv] path = "..."`` or
``SERBENCH_CORPUS_CSV``). The file is UTF-8 with a header row; required columns ``path,speaker,label``,
optional ``group``, ``clip_id``, ``gender``, ``language``, ``sentence``, ``sha256`` (in any order). ``path`` is
relative to the CSV's folder unless absolute; ``label`` is any class name (lower-cased): the shared
vocabulary's (:data:`ser_core.specs.LABELS`) are shown first, others after them, but a label that
starts like a shared one without being it (``happy``, ``angry``, ``fearful``) is refused as a likely
misspelling; ``clip_id`` defaults to ``path``. Every problem
(a missing column, an unknown label, a missing audio file, a duplicate row) is reported with the
file and line, all at once, and nothing is read until the file is right. ``csv`` forms folds from
speakers as the protocol does (a ``group`` column is kept in the manifest); ``csv-grouped`` uses the
``group`` column as the cross-validation folds (like IEMOCAP's sessions), so every row needs one.
The same audio file on two rows (the same path, or the same ``sha256`` content hash when the column
is given) is refused naming both lines and speakers: folds would test on a recording they trained on.
"""

from __future__ import annotations

import csv
from pathlib import Path

from ser_core import hookimpl
from ser_core.errors import CorpusError
from ser_core.specs import LABELS, Clip, CorpusSpec, Manifest

MANIFEST_NAME = "manifest.csv"


def misspelt(label: str) -> str | None:
    """The shared label ``label`` probably means (same first three letters), or ``None``."""
    return next((shared for shared in LABELS if shared != label and shared[:3] == label[:3]), None)

REQUIRED = ("path", "speaker", "label")
OPTIONAL = ("group", "clip_id", "gender", "language", "sentence", "sha256")
#: Problems listed in one error before the rest is counted.
SHOWN = 10


def manifest_file(location: Path) -> Path:
    """The CSV file a location stands for: the file itself, or ``manifest.csv`` in a directory."""
    location = Path(location)
    if location.is_dir():
        candidate = location / MANIFEST_NAME
        if not candidate.is_file():
            raise CorpusError(
                f"corpus 'csv': {location} holds no {MANIFEST_NAME}. Write one with the columns "
                f"{','.join(REQUIRED)}[,group], or point the location at your CSV file."
            )
        return candidate
    if location.exists() and not location.is_file():
        raise CorpusError(f"corpus 'csv': {location} is not a regular file (a FIFO or a device, which could block "
                          "or never end). Point the location at your CSV manifest.")
    if not location.is_file():
        raise CorpusError(f"corpus 'csv': {location} does not exist. Point the location at your CSV manifest.")
    return location


def read_manifest(location: Path, *, corpus: str = "csv", require_group: bool = False) -> Manifest:
    """Read a CSV manifest into a :class:`Manifest`, or raise :class:`CorpusError` listing every
    problem with its line number."""
    from ser_core.inputs import UnreadableInput, check_regular

    path = manifest_file(location)
    base = path.parent
    try:
        check_regular(path)  # a FIFO would block the open below, a device never end
    except UnreadableInput as exc:
        raise CorpusError(f"{path}: {exc}.") from None
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            rows = [(reader.line_num, row) for row in reader]
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not UTF-8 text ({exc}). Save the manifest as UTF-8 CSV.") from exc
    except csv.Error as exc:
        raise CorpusError(f"{path}: not a readable CSV file ({exc}).") from exc
    missing = [name for name in REQUIRED if name not in header]
    unknown = [name for name in header if name not in REQUIRED + OPTIONAL]
    if require_group and "group" not in header:
        missing.append("group")
    if missing or unknown:
        found = ",".join(header) or "(empty file)"
        parts = [f"missing columns {missing}"] if missing else []
        parts += [f"unknown columns {unknown}"] if unknown else []
        raise CorpusError(
            f"{path}: {' and '.join(parts)} in the header ({found}). The header must name "
            f"{','.join(REQUIRED)} and may add {','.join(OPTIONAL)}."
        )
    problems: list[str] = []
    clips: list[Clip] = []
    seen: dict[str, int] = {}
    same: dict[tuple[str, str], tuple[int, str]] = {}  # (file or content, key) -> (first line, its speaker)
    for line, raw in rows:
        row = {(key or "").strip(): (value or "").strip() for key, value in raw.items() if key is not None}
        if None in raw:
            problems.append(f"line {line}: more fields than columns in the header")
            continue
        where = f"line {line}"
        if not row.get("path"):
            problems.append(f"{where}: empty path")
            continue
        audio = Path(row["path"]).expanduser()
        audio = audio if audio.is_absolute() else base / audio
        label = row.get("label", "").lower()
        clip_id = row.get("clip_id") or row["path"]
        if not row.get("speaker"):
            problems.append(f"{where}: empty speaker for {row['path']}")
        if not label:
            problems.append(f"{where}: empty label for {row['path']}")
        elif label not in LABELS and misspelt(label):
            problems.append(
                f"{where}: label {row.get('label')!r} is not in the shared vocabulary; did you mean "
                f"{misspelt(label)!r}? (shared labels: {', '.join(LABELS)}; other class names are kept as they are)"
            )
        if require_group and not row.get("group"):
            problems.append(f"{where}: empty group for {row['path']} (csv-grouped folds by the group column)")
        if not audio.is_file():
            problems.append(f"{where}: audio file {audio} not found")
        repeated = clip_id in seen
        if repeated:
            problems.append(f"{where}: clip {clip_id!r} is listed twice (also on line {seen[clip_id]})")
        seen.setdefault(clip_id, line)
        speaker = row.get("speaker", "")
        for kind, key in (("file", str(audio.resolve())), ("content (sha256)", row.get("sha256", "").lower())):
            if not key or repeated:
                continue
            first = same.setdefault((kind, key), (line, speaker))
            if first[0] != line:
                whose = (f"under two speakers, {first[1]!r} (line {first[0]}) and {speaker!r}" if first[1] != speaker
                         else f"twice for speaker {speaker!r} (also line {first[0]})")
                problems.append(f"{where}: the same audio {kind} as line {first[0]} ({row['path']}) is listed {whose}; "
                                "folds would test on a recording they trained on. Keep one row per recording")
                break
        clips.append(
            Clip(
                clip_id=clip_id,
                path=audio,
                speaker=row.get("speaker", ""),
                label=label,
                group=row.get("group") or None,
                gender=row.get("gender") or None,
                language=row.get("language") or None,
                sentence=row.get("sentence") or None,
            )
        )
    if problems:
        listed = "\n  ".join(problems[:SHOWN])
        more = f"\n  ... and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise CorpusError(
            f"{path}: {len(problems)} problems in the manifest; fix them and run again:\n  {listed}{more}"
        )
    if not clips:
        raise CorpusError(f"{path}: the manifest lists no clips. Add one row per audio file under the header.")
    return Manifest(corpus, clips, root=base)


def scan_csv(location: Path | None) -> Manifest:
    """The ``csv`` corpus: folds from speakers."""
    if location is None:
        raise CorpusError("corpus 'csv' needs a location: a CSV file or a directory holding manifest.csv.")
    return read_manifest(location, corpus="csv")


def scan_csv_grouped(location: Path | None) -> Manifest:
    """The ``csv-grouped`` corpus: folds from the ``group`` column."""
    if location is None:
        raise CorpusError("corpus 'csv-grouped' needs a location: a CSV file or a directory holding manifest.csv.")
    return read_manifest(location, corpus="csv-grouped", require_group=True)


@hookimpl
def register_corpora(register):
    """Register ``csv`` and ``csv-grouped``."""
    register(
        CorpusSpec(
            name="csv",
            scan=scan_csv,
            description="Your own data from a CSV manifest (path,speaker,label[,group]); folds from speakers",
            licence="yours",
            any_labels=True,
        )
    )
    register(
        CorpusSpec(
            name="csv-grouped",
            scan=scan_csv_grouped,
            description="Your own data from a CSV manifest (path,speaker,label,group); folds from the group column",
            fold_by="group",
            licence="yours",
            any_labels=True,
        )
    )
