"""serbench corpus ``iemocap``: IEMOCAP, four-class set, cross-validated over its five sessions.

Expected layout (``IEMOCAP_full_release`` as USC distributes it; point the corpus path at it)::

    Session1/
        sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav   # one folder per dialog
        dialog/EmoEvaluation/Ses01F_impro01.txt                 # labels, one file per dialog
        dialog/EmoEvaluation/Categorical/...                    # per-rater files: not read
    Session2/ ... Session5/

Labels come from the ``*.txt`` files directly in ``SessionN/dialog/EmoEvaluation/``. Each utterance
has one summary line ``[start - end]<TAB>utterance<TAB>code<TAB>[v, a, d]``; the rater lines under
it (``C-E1:``, ``A-E2:``) and the ``%`` header are ignored. Codes kept: ``ang`` anger, ``hap`` and
``exc`` happiness (merged), ``sad`` sadness, ``neu`` neutral. The other IEMOCAP codes (``fru``,
``sur``, ``fea``, ``dis``, ``oth``, ``xxx``) are listed in ``Manifest.skipped`` as exclusions.
Audio is not opened by the scan; ``serbench corpus info`` reads every clip's header and names any
unreadable file.

Speaker: the session plus the gender letter of the utterance's *last* name field, e.g. ``01M`` for
``Ses01F_impro01_M013``. Taking the speaker as ``stem[3:6]`` (a common shortcut) is wrong: that slice is the
gender of the actor wearing the motion-capture markers in the *dialog*, the same for both
speakers' turns; the utterance field says who speaks. For the ``F`` turns the two agree.
CV group (``fold_by="group"``): the session, ``stem[3:5]`` (``01`` .. ``05``).
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_core import (NOT_AUDIO, Clip, CorpusError, CorpusSpec, ExpectedContent, Manifest, ManifestBuilder,
                      ManualSource, excluded, hookimpl, require_dir, walk)

NAME = "iemocap"

LABEL_MAP = {"ang": "anger", "hap": "happiness", "exc": "happiness", "sad": "sadness", "neu": "neutral"}
#: Codes IEMOCAP uses that the four-class protocol leaves out.
OTHER_CODES = {
    "fru": "frustration",
    "sur": "surprise",
    "fea": "fear",
    "dis": "disgust",
    "oth": "other",
    "xxx": "no agreement among raters",
}

EXPECTED = ExpectedContent(
    {"anger": 1103, "happiness": 1636, "sadness": 1084, "neutral": 1708},
    speakers=10,
    sample_rate=16_000,
)

SESSION_DIR = re.compile(r"^Session([1-5])$")
UTTERANCE = re.compile(r"^Ses0(?P<session>[1-5])[MF]_(?:impro|script)\w*_(?P<gender>[MF])\w*\d$")
SUMMARY_LINE = re.compile(
    r"^\[\s*(?P<start>\d+(?:\.\d+)?)\s*-\s*(?P<end>\d+(?:\.\d+)?)\s*\]\t"
    r"(?P<utterance>\S+)\t(?P<code>\S+)\t\[[^\]]*\]\s*$"
)


def _require_root(root: Path | None) -> Path:
    return require_dir(NAME, root, "the unpacked IEMOCAP_full_release folder (the one holding Session1 .. Session5)")


def read_labels(path: Path) -> dict[str, tuple[str, int]]:
    """The utterance codes in one EmoEvaluation file: ``{utterance: (code, line number)}``.

    A line that starts like a summary line (``[``) but does not have its four tab-separated fields
    raises :class:`CorpusError` naming the file and line.
    """
    labels: dict[str, tuple[str, int]] = {}
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("["):
            continue
        match = SUMMARY_LINE.match(line.rstrip("\r"))
        if match is None:
            raise CorpusError(
                f"corpus {NAME!r}: {path}, line {number}: expected '[start - end]<TAB>utterance<TAB>"
                f"code<TAB>[v, a, d]', found {line.strip()!r}. Restore the file from the distribution."
            )
        utterance, code = match["utterance"], match["code"]
        if utterance in labels and labels[utterance][0] != code:
            raise CorpusError(
                f"corpus {NAME!r}: {path}: utterance {utterance} is labelled {labels[utterance][0]!r} on "
                f"line {labels[utterance][1]} and {code!r} on line {number}. Restore the file."
            )
        labels[utterance] = (code, number)
    return labels


def _session_labels(session_dir: Path) -> dict[str, tuple[str, Path, int]]:
    folder = session_dir / "dialog" / "EmoEvaluation"
    files = sorted(p for p in folder.glob("*.txt") if not p.name.startswith(".")) if folder.is_dir() else []
    if not files:
        raise CorpusError(
            f"corpus {NAME!r}: no label files in {folder}. IEMOCAP's labels live in "
            "SessionN/dialog/EmoEvaluation/*.txt; copy the session's dialog/ folder from the distribution."
        )
    labels: dict[str, tuple[str, Path, int]] = {}
    for path in files:
        for utterance, (code, line) in read_labels(path).items():
            if utterance in labels and labels[utterance][0] != code:
                other = labels[utterance]
                raise CorpusError(
                    f"corpus {NAME!r}: utterance {utterance} is labelled {other[0]!r} in {other[1]} "
                    f"line {other[2]} and {code!r} in {path} line {line}. Keep one of the files."
                )
            labels[utterance] = (code, path, line)
    return labels


def scan(root: Path | None) -> Manifest:
    """Read IEMOCAP from ``root`` (the folder holding ``Session1`` .. ``Session5``)."""
    root = _require_root(root)
    sessions = sorted(p for p in root.iterdir() if p.is_dir() and SESSION_DIR.match(p.name))
    if not sessions:
        raise CorpusError(
            f"corpus {NAME!r}: no Session1 .. Session5 folders in {root}. Point the corpus path at "
            "IEMOCAP_full_release itself."
        )
    found = ManifestBuilder(NAME, root)
    for session_dir in sessions:
        session = SESSION_DIR.match(session_dir.name).group(1)
        labels = _session_labels(session_dir)
        wav_root = session_dir / "sentences" / "wav"
        if not wav_root.is_dir():
            raise CorpusError(
                f"corpus {NAME!r}: {wav_root} is missing. Copy the session's sentences/wav folder "
                "from the distribution."
            )
        for path in walk(wav_root):
            if path.suffix.lower() != ".wav":
                found.skip(path, f"{NOT_AUDIO} (.wav)")
                continue
            stem = path.stem
            match = UTTERANCE.match(stem)
            if match is None:
                found.skip(path, (
                    "name does not follow IEMOCAP's Ses0N{F|M}_{impro|script}NN_{F|M}NNN convention; "
                    "rename it or remove it from the corpus folder"))
                continue
            if match["session"] != session:
                found.skip(path, (
                    f"utterance of session {match['session']} stored under {session_dir.name}; "
                    f"move it to Session{match['session']}, where its labels are"))
                continue
            found.claim(stem, path)
            if stem not in labels:
                found.skip(path, (
                    f"no label for this utterance in {session_dir / 'dialog' / 'EmoEvaluation'}/*.txt; "
                    "restore the dialog's EmoEvaluation file"))
                continue
            code, label_file, line = labels[stem]
            if code in OTHER_CODES:
                found.skip(path, excluded(
                    f"label {code!r} ({OTHER_CODES[code]}, {label_file.name} line {line}) is outside the "
                    "four-class set ang/hap+exc/sad/neu"))
                continue
            if code not in LABEL_MAP:
                found.skip(path, (
                    f"unknown label code {code!r} in {label_file} line {line}; IEMOCAP codes are "
                    f"{', '.join(sorted(LABEL_MAP.keys() | OTHER_CODES.keys()))}. Fix the annotation line"))
                continue
            gender = match["gender"]
            found.clips.append(Clip(
                clip_id=stem,
                path=path,
                speaker=f"{stem[3:5]}{gender}",
                label=LABEL_MAP[code],
                group=stem[3:5],
                gender=gender,
                language="en",
            ))
        for utterance, (code, label_file, line) in sorted(labels.items()):
            if code in LABEL_MAP and utterance not in found:
                found.skip(f"{label_file}:{line}", (
                    f"labelled utterance {utterance} ({code}) has no audio at "
                    f"{wav_root}/<dialog>/{utterance}.wav; copy it from the distribution"))
    return found.manifest()


#: Released on request only: the licence must be signed and sent to USC SAIL.
SOURCE = ManualSource(
    steps=(
        "Fill in the release form at https://sail.usc.edu/iemocap/iemocap_release.htm and send it as the "
        "page says; SAIL replies with a download link.",
        "Unpack IEMOCAP_full_release.tar.gz; point the corpus location at the IEMOCAP_full_release folder.",
    ),
    request="https://sail.usc.edu/iemocap/iemocap_release.htm",
    licence_text="USC SAIL IEMOCAP release agreement: research use only, no redistribution.",
    facts="the IEMOCAP release page of USC SAIL",
)


@hookimpl
def register_corpora(register):
    """Register the ``iemocap`` corpus."""
    register(
        CorpusSpec(
            name=NAME,
            scan=scan,
            description="IEMOCAP (English dyadic, 10 actors in 5 sessions): ang, hap+exc, sad, neu",
            fold_by="group",
            expected=EXPECTED,
            version="IEMOCAP_full_release",
            licence="USC SAIL IEMOCAP release agreement (research use, no redistribution)",
            url="https://sail.usc.edu/iemocap/",
            source=SOURCE,
        )
    )
