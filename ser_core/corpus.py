"""Corpus manifests, the first stage of a run: finding a corpus's directory, scanning it, and checking the result.

A corpus directory comes from (first match wins) a ``--corpus-path NAME=DIR`` option, the
``[corpora.NAME] path`` entry of ``benchmarks.toml``, the environment variable
``SERBENCH_CORPUS_<NAME>`` (name upper-cased, non-alphanumerics as ``_``), or the location
``serbench corpus download`` recorded (:mod:`ser_core.locations`). :func:`scan` runs a corpus
plugin's scan (written with the helpers of :mod:`ser_core.readers`) and :func:`validate` refuses a
manifest the protocol cannot use; :func:`skip_kind` sorts the files a scan passed over, and
:func:`benchmark_problems` says why a corpus cannot be benchmarked. :func:`inspect` compares what a scan found with the plugin's
:class:`~ser_core.specs.ExpectedContent` and reads every clip's audio header, for ``serbench corpus info``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Literal, Mapping

from ser_core.errors import CorpusError
from ser_core.plugins import Registered
from ser_core.deprecation import moved
from ser_core.readers import EXCLUDED, NOT_AUDIO
from ser_core.specs import LABELS, Clip, ExpectedContent, Manifest, SkippedFile


def env_var(name: str) -> str:
    """The environment variable that can hold corpus ``name``'s directory."""
    return "SERBENCH_CORPUS_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def find_location(name: str, *sources: Mapping[str, Path]) -> tuple[Path, str] | None:
    """Corpus ``name``'s directory and where it was configured: from the given mappings (in priority
    order, reported as ``"option or benchmarks file"``), the environment, then the recorded downloads;
    ``None`` when nothing names one."""
    from ser_core import locations

    for source in sources:
        if name in source:
            return Path(source[name]), "option or benchmarks file"
    if os.environ.get(env_var(name)):
        return Path(os.environ[env_var(name)]).expanduser(), env_var(name)
    recorded = locations.recorded_path(name)
    if recorded is not None:
        return recorded, f"downloaded (recorded in {locations.locations_file()})"
    return None


def locate(name: str, needs_path: bool, *sources: Mapping[str, Path]) -> Path | None:
    """The directory of corpus ``name`` (see :func:`find_location`); ``None`` for corpora that need
    no directory and have none configured."""
    found = find_location(name, *sources)
    if found is not None:
        return found[0]
    if needs_path:
        raise CorpusError(
            f"corpus {name!r}: no directory configured. Pass --corpus-path {name}=DIR, add "
            f"[corpora.{name}] path = \"DIR\" to benchmarks.toml, set {env_var(name)}=DIR, or fetch it "
            f"with `serbench corpus download {name}` (see `serbench corpus list`)."
        )
    return None


def scan(corpus: Registered, root: Path | None) -> Manifest:
    """Run the corpus plugin's scan on ``root`` and validate what it returns."""
    if root is not None and not Path(root).exists():
        raise CorpusError(
            f"corpus {corpus.name!r}: {root} does not exist. Point the corpus location at the "
            "unpacked corpus."
        )
    manifest = corpus.spec.scan(Path(root) if root is not None else None)
    if not manifest.label_order:
        manifest.label_order = corpus.spec.label_set()
    labels = None if corpus.spec.any_labels else corpus.spec.label_set()
    validate(manifest, fold_by=corpus.spec.fold_by, labels=labels, any_labels=corpus.spec.any_labels)
    return manifest


def validate(
    manifest: Manifest, *, fold_by: str = "speaker", labels: Iterable[str] | None = None, any_labels: bool = False
) -> None:
    """Refuse manifests the protocol cannot use, naming the offending clips.

    :param labels: the corpus's label set (:meth:`~ser_core.specs.CorpusSpec.label_set`); default:
        the shared vocabulary. With ``any_labels`` every non-empty label is accepted.
    """
    where = f"corpus {manifest.corpus!r}" + (f" at {manifest.root}" if manifest.root else "")
    if not manifest.clips:
        if not manifest.skipped:
            raise CorpusError(
                f"{where}: no clips found, the directory holds no files. Check the path points at the "
                "corpus as its owners distribute it (see docs/corpora.md)."
            )
        examples = "; ".join(f"{s.path}: {s.reason}" for s in manifest.skipped[:3])
        raise CorpusError(
            f"{where}: no clips found; all {len(manifest.skipped)} files were skipped (e.g. {examples}). "
            "Check the path points at this corpus as its owners distribute it (see docs/corpora.md)."
        )
    seen: dict[str, Path] = {}
    for clip in manifest.clips:
        if clip.clip_id in seen:
            raise CorpusError(
                f"{where}: duplicate clip id {clip.clip_id!r} ({seen[clip.clip_id]} and {clip.path}); "
                "each clip must appear once. Remove the extra copy."
            )
        seen[clip.clip_id] = clip.path
    _refuse_shared_files(where, manifest.clips)
    allowed = tuple(labels) if labels is not None else LABELS
    unknown = [] if any_labels else sorted({c.label for c in manifest.clips} - set(allowed))
    if unknown:
        example = next(c for c in manifest.clips if c.label == unknown[0])
        which = "the shared vocabulary" if labels is None else "the corpus's label set"
        raise CorpusError(
            f"{where}: labels outside {which} {unknown} (e.g. {example.path}). The corpus declares: "
            f"{', '.join(allowed)}. Map them to one of these, or declare them in CorpusSpec(labels=...)."
        )
    nameless = [c for c in manifest.clips if not c.speaker]
    if nameless:
        raise CorpusError(f"{where}: {len(nameless)} clips without a speaker, e.g. {nameless[0].path}.")
    if fold_by == "group":
        groupless = [c for c in manifest.clips if not c.group]
        if groupless:
            raise CorpusError(f"{where}: folds use CV groups but {groupless[0].path} has none.")


def _refuse_shared_files(where: str, clips: Iterable[Clip]) -> None:
    """Refuse one audio file given as two clips (under two speakers, or twice under one): folds would
    test on a recording they trained on, and the file would count twice."""
    owner: dict[str, Clip] = {}
    for clip in clips:
        key = os.path.normcase(os.path.realpath(clip.path))  # a link to a file is that file
        first = owner.setdefault(key, clip)
        if first is clip:
            continue
        if first.speaker != clip.speaker:
            raise CorpusError(
                f"{where}: the same audio file {clip.path} is listed under two speakers, {first.speaker!r} (clip "
                f"{first.clip_id!r}) and {clip.speaker!r} (clip {clip.clip_id!r}); speaker-independent folds would "
                "test on a recording they trained on. Give the file its one true speaker and remove the other entry."
            )
        raise CorpusError(
            f"{where}: the same audio file {clip.path} is listed twice, as clips {first.clip_id!r} and "
            f"{clip.clip_id!r} (speaker {clip.speaker!r}); it would be counted twice. Remove the extra entry."
        )


def skip_kind(skipped: SkippedFile) -> Literal["excluded", "not audio", "problem"]:
    """Whether a skipped file is a planned exclusion, an unrelated (non-audio) file, or a problem
    (a misnamed file, an unknown label code) that makes the directory differ from the corpus."""
    if skipped.reason.startswith(EXCLUDED):
        return "excluded"
    if skipped.reason.startswith(NOT_AUDIO):
        return "not audio"
    return "problem"


# --- comparing a scan with what the corpus should contain ------------------------------------------


def suspect_labels(manifest: Manifest, fold_by: str = "speaker") -> list[str]:
    """Warnings about classes cross-validation cannot treat fairly, one sentence each.

    A class with a single clip is tested in one fold that never trained on it, and no other fold
    tests it; a class whose clips all come from one speaker (or CV group) has the same problem.
    """
    unit = "CV group" if fold_by == "group" else "speaker"
    by_label: dict[str, list[Clip]] = {}
    for clip in manifest.clips:
        by_label.setdefault(clip.label, []).append(clip)
    warnings = []
    for label in manifest.labels():
        clips = by_label[label]
        if len(clips) == 1:
            warnings.append(
                f"class {label!r} has a single clip ({clips[0].path}): the fold that tests it never trains "
                "on this class, and no other fold tests it. Add clips of the class or leave it out."
            )
            continue
        units = {(c.group if fold_by == "group" else c.speaker) for c in clips}
        if len(units) == 1:
            warnings.append(
                f"class {label!r}: all {len(clips)} clips come from one {unit} ({units.pop()}): the fold "
                "that tests them never trains on this class. Add clips from other speakers or leave it out."
            )
    return warnings


#: The fewest classes a benchmark scores: with one class, any classifier scores 100 % UAR.
MIN_CLASSES = 2
#: The fewest speakers (or CV groups) folds need: with one, no fold has a training part.
MIN_FOLD_UNITS = 2
#: The most classes a corpus may have (models size their output by it): more is a wrong label column.
MAX_CLASSES = 100


def benchmark_problems(manifest: Manifest, folds=None, fold_by: str = "speaker") -> list[str]:
    """Why ``manifest`` cannot be cross-validated or scored meaningfully, one sentence each (empty: it can).

    Refused (by ``serbench run`` before any work, and as not OK by ``serbench corpus info``): fewer
    than :data:`MIN_CLASSES` classes (a single class scores 100 % whatever the model does), more than
    :data:`MAX_CLASSES`; fewer than
    :data:`MIN_FOLD_UNITS` speakers (or CV groups, ``fold_by="group"``); and, given the ``folds``
    (:class:`~ser_core.protocol.Folds`), a fold whose training part holds fewer than two classes, or a
    class that no fold trains on (it can never be predicted).
    """
    where = f"corpus {manifest.corpus!r}"
    problems = []
    labels = manifest.labels()
    if len(labels) < MIN_CLASSES:
        only = f"only one class ({labels[0]!r}, {len(manifest.clips)} clips)" if labels else "no class"
        problems.append(
            f"{where} has {only}: any model scores 100 % UAR on it, so it cannot be benchmarked. It needs at least "
            f"{MIN_CLASSES} classes; check the labels the scan reads (`serbench corpus info {manifest.corpus}`) "
            "or the suite's classes."
        )
    if len(labels) > MAX_CLASSES:
        problems.append(
            f"{where} has {len(labels)} classes (e.g. {', '.join(map(repr, labels[:3]))}); at most {MAX_CLASSES} "
            "are allowed, as every model sizes its output by them. Check the column or file names the labels are "
            "read from."
        )
    unit = "CV group" if fold_by == "group" else "speaker"
    units = sorted({(c.group if fold_by == "group" else c.speaker) or "" for c in manifest.clips})
    if len(units) < MIN_FOLD_UNITS:
        problems.append(
            f"{where} has {len(units)} {unit}{'s' if len(units) != 1 else ''} ({', '.join(units) or 'none'}): "
            f"{unit}-independent folds need at least {MIN_FOLD_UNITS}, or no fold has anything to train on. Add "
            f"clips of other {unit}s, or check the {unit} the scan reads for each clip."
        )
    if problems or folds is None:
        return problems
    import numpy as np

    label_of = np.array([c.label for c in manifest.clips], dtype=object)
    trained: set[str] = set()
    for fold, name in enumerate(folds.names):
        present = set(label_of[folds.train_mask(fold)])
        trained |= present
        if len(present) < MIN_CLASSES:
            held = f"only class {sorted(present)[0]!r}" if present else "no clip"
            problems.append(
                f"{where}: fold {name!r} trains on {held}, so its model cannot tell classes apart; the folds need "
                f"clips of at least {MIN_CLASSES} classes outside each fold. Add clips of other {unit}s."
            )
    never = [label for label in labels if label not in trained]
    if never:
        problems.append(
            f"{where}: class{'es' if len(never) > 1 else ''} {', '.join(map(repr, never))} never "
            f"appear{'s' if len(never) == 1 else ''} in any "
            "fold's training part, so no model can predict them. Add clips of them from other speakers (or "
            "sentences), or leave them out with the suite's classes."
        )
    return problems


def fold_problems(manifest: Manifest, fold_by: str = "speaker", seed: int = 0) -> list[str]:
    """:func:`benchmark_problems` of ``manifest`` under the default (speaker-independent) folds."""
    from ser_core.protocol import make_folds

    problems = benchmark_problems(manifest, None, fold_by)
    if problems:
        return problems
    groups = [c.group for c in manifest.clips] if fold_by == "group" else None
    try:
        folds = make_folds([c.speaker for c in manifest.clips], groups, seed=seed)
    except ValueError as exc:
        return [f"corpus {manifest.corpus!r}: {exc}"]
    return benchmark_problems(manifest, folds, fold_by)


def compare(manifest: Manifest, expected: ExpectedContent) -> list[str]:
    """Every way the manifest's clips differ from ``expected`` (clips per label, speaker count),
    one sentence each; empty when they agree."""
    problems = []
    found = manifest.label_counts()
    for label in list(expected.clips_per_label) + [l for l in found if l not in expected.clips_per_label]:
        want, have = expected.clips_per_label.get(label, 0), found.get(label, 0)
        if have < want:
            problems.append(f"{label}: {want - have} clips missing (expected {want}, found {have})")
        elif have > want:
            problems.append(f"{label}: {have - want} clips more than expected (expected {want}, found {have})")
    speakers = len(manifest.speakers())
    if speakers != expected.speakers:
        problems.append(f"speakers: expected {expected.speakers}, found {speakers}")
    return problems


@dataclass
class CorpusReport:
    """What ``serbench corpus info`` shows: the manifest, its audio, and how it differs from the
    corpus's expected content. ``problems`` are mismatches (``--strict`` fails on any); ``warnings``
    are data the protocol will use but that is suspect (a class with a single clip or a single
    speaker, a silent clip); ``notes`` are things worth knowing that are not mismatches (planned
    exclusions, unrelated files, sample rates that are converted on load)."""

    corpus: str
    manifest: Manifest
    expected: ExpectedContent | None
    durations: dict[str, float] = field(default_factory=dict)
    sample_rates: Counter = field(default_factory=Counter)
    unreadable: list[SkippedFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)  # clip ids whose peak is below SILENT_PEAK
    #: why the corpus cannot be cross-validated or scored (:func:`benchmark_problems`); never OK
    unusable: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the directory holds exactly the expected content, every clip is readable and the
        corpus can be benchmarked (two or more classes and speakers, every fold trains on two classes)."""
        return not self.problems and not self.unusable

    def skipped_of(self, kind: str) -> list[SkippedFile]:
        """Skipped files of one :func:`skip_kind`."""
        return [s for s in self.manifest.skipped if skip_kind(s) == kind]

    def groups(self) -> dict[str, int]:
        """Clips per CV group (empty when the corpus defines none)."""
        counts = Counter(c.group for c in self.manifest.clips if c.group)
        return dict(sorted(counts.items()))


def inspect(
    corpus: Registered,
    root: Path | None,
    *,
    read_audio: bool = True,
    on_progress: Callable[[int], None] | None = None,
) -> CorpusReport:
    """Scan ``root`` as ``corpus`` and compare it with the plugin's expected content.

    With ``read_audio`` every clip's header is read (sample rate, duration); unreadable and
    zero-length clips become problems naming the file. ``on_progress(n)`` is called as clips are read.
    """
    from ser_core.audio import AudioError, audio_info, peak
    from ser_core.audio import SILENT_PEAK

    manifest = scan(corpus, root)
    expected = corpus.spec.expected
    report = CorpusReport(corpus.name, manifest, expected)
    report.unusable.extend(fold_problems(manifest, corpus.spec.fold_by))
    report.warnings.extend(suspect_labels(manifest, corpus.spec.fold_by))
    if expected is not None:
        report.problems.extend(compare(manifest, expected))
    else:
        report.notes.append("the plugin records no expected content; nothing to compare with")
    for item in report.skipped_of("problem"):
        report.problems.append(f"{item.path}: {item.reason}")
    by_reason = Counter(s.reason for s in report.skipped_of("excluded"))
    for reason, count in sorted(by_reason.items()):
        report.notes.append(f"{count} file{'s' if count > 1 else ''} {reason}")
    unrelated = report.skipped_of("not audio")
    if unrelated:
        shown = ", ".join(Path(s.path).name for s in unrelated[:5]) + (", ..." if len(unrelated) > 5 else "")
        report.notes.append(f"{len(unrelated)} files that are not audio were ignored ({shown})")
    if read_audio:
        for clip in manifest.clips:
            try:
                info = audio_info(clip.path)
                if info.duration <= 0:
                    raise AudioError(f"{clip.path}: the file holds no audio samples (zero length). Replace or remove it.")
                if peak(clip.path) < SILENT_PEAK:
                    report.silent.append(clip.clip_id)
            except AudioError as exc:
                report.unreadable.append(SkippedFile(str(clip.path), str(exc)))
                report.problems.append(str(exc))
            else:
                report.durations[clip.clip_id] = info.duration
                report.sample_rates[info.sample_rate] += 1
            if on_progress is not None:
                on_progress(1)
        if report.silent:
            shown = ", ".join(str(c.path) for c in manifest.clips if c.clip_id in set(report.silent[:5]))
            report.warnings.append(
                f"{len(report.silent)} clip{'s are' if len(report.silent) > 1 else ' is'} silent (peak below "
                f"{SILENT_PEAK:g}, i.e. -80 dBFS) and would be used as they are: {shown}"
                + (", ..." if len(report.silent) > 5 else "") + ". Check or remove them."
            )
        if expected is not None:
            others = {rate: n for rate, n in report.sample_rates.items() if rate != expected.sample_rate}
            if others:
                stated = ", ".join(f"{n} at {rate} Hz" for rate, n in sorted(others.items()))
                report.notes.append(
                    f"native rate is {expected.sample_rate} Hz, but {stated}; all are converted to 16 kHz on load"
                )
    return report


#: the corpus-plugin helpers this module held until ser-core 0.1 (now :mod:`ser_core.readers`, public
#: through :mod:`ser_core`): their old paths work, with a DeprecationWarning, for one release
__getattr__ = moved(__name__, {name: "ser_core.readers" for name in (
    "ManifestBuilder", "NameMatch", "NamingConvention", "ParseResult", "excluded", "filename_corpus", "require_dir",
    "scan_files", "subdirectory", "walk")})
