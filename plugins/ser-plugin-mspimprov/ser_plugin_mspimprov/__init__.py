"""serbench corpus ``mspimprov``: MSP-IMPROV, consensus labels, cross-validated over its six sessions.

Expected layout (as UT Dallas distributes it; point the corpus path at the folder holding
``Evaluation.txt``)::

    Evaluation.txt
    session1/S01A/P/MSP-IMPROV-S01A-F01-P-FM01.wav   # sessionN/<sentence+emotion>/<scenario>/
    session1/S01A/R/MSP-IMPROV-S01A-F01-R-FM01.wav
    ...
    session6/...

Audio files are found anywhere below the root (some copies add an ``Audio/`` level or flatten the
session folders); ``.avi`` videos and other files are listed as skipped.

``Evaluation.txt`` format (plain text, one block per clip, blocks separated by blank lines). The
first line of a block is the clip's consensus line, ``;``-separated::

    UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:3.000000; V:2.000000; D:3.000000 ; N:4.000000;

field 1: the clip (the project's old ``UTD-IMPROV-`` prefix and the video name; the audio file is
``MSP-IMPROV-S01A-F01-P-FM01.wav``), field 2: the consensus category code, then mean activation,
valence, dominance and naturalness. The following lines are single raters'
(``rater; Angry; Angry,Frustrated; A:..; V:..; D:..; N:..;``) and are not read. Consensus codes:
``A`` anger, ``H`` happiness, ``S`` sadness, ``N`` neutral are kept; ``O`` (other emotion) and
``X`` (no consensus) are listed as skipped, as is any other code. A line whose first field names
a ``UTD-IMPROV-``/``MSP-IMPROV-`` clip but has no code raises :class:`CorpusError` with its line.
Audio is not opened by the scan; ``serbench corpus info`` reads every clip's header.

Clip names ``MSP-IMPROV-S01A-F01-P-FM01``: ``[11:14]`` target sentence (``S01``), ``[14]`` the
emotion the actor was asked to convey (not used: labels are perceptual), speaker ``[16:19]``
(``F01``), ``[20]`` scenario (P natural interaction, R read, S spontaneous, T target improvised).
CV group (``fold_by="group"``): the session, the last two characters of the speaker (``01``).
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_core import (NOT_AUDIO, Clip, CorpusError, CorpusSpec, ExpectedContent, Manifest, ManifestBuilder,
                      ManualSource, excluded, hookimpl, require_dir, walk)

NAME = "mspimprov"

LABEL_MAP = {"A": "anger", "H": "happiness", "S": "sadness", "N": "neutral"}
DROPPED = {"O": "other emotion", "X": "no consensus among raters"}

EXPECTED = ExpectedContent(
    {"anger": 792, "happiness": 2644, "sadness": 885, "neutral": 3477},
    speakers=12,
    sample_rate=44_100,
)

CLIP_NAME = re.compile(r"^MSP-IMPROV-S\d{2}[A-Z]-(?P<speaker>[MF](?P<session>0[1-6]))-[A-Z]-\w+$")
CLIP_FIELD = re.compile(r"^(?:UTD|MSP)-IMPROV-(?P<rest>[A-Za-z0-9-]+)\.(?:avi|wav)$")


def read_evaluation(path: Path) -> dict[str, tuple[str, int]]:
    """Consensus codes from ``Evaluation.txt``: ``{clip id: (code, line number)}``.

    Clip ids use the audio files' ``MSP-IMPROV-`` prefix. Rater lines are ignored; a consensus line
    without a code, or a clip listed twice with different codes, raises :class:`CorpusError`.
    """
    codes: dict[str, tuple[str, int]] = {}
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        fields = [field.strip() for field in line.split(";")]
        match = CLIP_FIELD.match(fields[0])
        if match is None:
            continue
        if len(fields) < 2 or not re.fullmatch(r"[A-Z]", fields[1]):
            raise CorpusError(
                f"corpus {NAME!r}: {path}, line {number}: expected '<clip>.avi; <code>; A:..; V:..; "
                f"D:..; N:..;' with a one-letter consensus code, found {line.strip()!r}. Restore the "
                "file from the distribution."
            )
        clip_id = "MSP-IMPROV-" + match["rest"]
        code = fields[1]
        if clip_id in codes and codes[clip_id][0] != code:
            raise CorpusError(
                f"corpus {NAME!r}: {path}: clip {clip_id} has consensus {codes[clip_id][0]!r} on line "
                f"{codes[clip_id][1]} and {code!r} on line {number}. Restore the file."
            )
        codes[clip_id] = (code, number)
    if not codes:
        raise CorpusError(
            f"corpus {NAME!r}: {path} lists no clips (no line starts with 'UTD-IMPROV-...avi; <code>;'). "
            "Restore Evaluation.txt from the distribution."
        )
    return codes


def scan(root: Path | None) -> Manifest:
    """Read MSP-IMPROV from ``root`` (the folder holding ``Evaluation.txt`` and the sessions)."""
    root = require_dir(NAME, root, "the unpacked MSP-IMPROV folder (the one holding Evaluation.txt)")
    files = walk(root)
    evaluations = [p for p in files if p.name == "Evaluation.txt"]
    if not evaluations:
        raise CorpusError(
            f"corpus {NAME!r}: no Evaluation.txt under {root}; MSP-IMPROV's labels are read from it. "
            "Copy it from the distribution into the corpus folder."
        )
    if len(evaluations) > 1:
        raise CorpusError(
            f"corpus {NAME!r}: several Evaluation.txt files ({', '.join(map(str, evaluations))}); "
            "keep the one from the distribution."
        )
    codes = read_evaluation(evaluations[0])
    found = ManifestBuilder(NAME, root)
    for path in files:
        if path == evaluations[0]:
            continue
        if path.suffix.lower() != ".wav":
            found.skip(path, f"{NOT_AUDIO} (.wav)")
            continue
        stem = path.stem
        match = CLIP_NAME.match(stem)
        if match is None:
            found.skip(path, (
                "name does not follow MSP-IMPROV's MSP-IMPROV-S01A-F01-P-FM01 convention "
                "(speaker F/M01..06 at [16:19]); rename it or remove it from the corpus folder"))
            continue
        found.claim(stem, path)
        if stem not in codes:
            found.skip(path, (
                f"no consensus line for this clip in {evaluations[0]}; restore Evaluation.txt from the "
                "distribution"))
            continue
        code, line = codes[stem]
        if code in DROPPED:
            found.skip(path, excluded(
                f"consensus {code!r} ({DROPPED[code]}, Evaluation.txt line {line}); only A/H/S/N are used"))
            continue
        if code not in LABEL_MAP:
            found.skip(path, (
                f"unknown consensus code {code!r} on Evaluation.txt line {line}; MSP-IMPROV codes are "
                "A, H, S, N, O, X. Fix the line"))
            continue
        speaker = match["speaker"]
        found.clips.append(Clip(
            clip_id=stem,
            path=path,
            speaker=speaker,
            label=LABEL_MAP[code],
            group=speaker[-2:],
            gender=speaker[0],
            language="en",
            sentence=stem[11:14],
        ))
    for clip_id, (code, line) in sorted(codes.items()):
        if code in LABEL_MAP and clip_id not in found:
            found.skip(f"{evaluations[0]}:{line}", (
                f"clip {clip_id} ({code}) has no audio file {clip_id}.wav under {root}; copy it from "
                "the distribution"))
    return found.manifest()


#: Released on request only: an academic licence signed with the MSP lab of UT Dallas.
SOURCE = ManualSource(
    steps=(
        "Request the corpus from the MSP lab as described at "
        "https://ecs.utdallas.edu/research/researchlabs/msp-lab/MSP-Improv.html (academic licence agreement).",
        "Unpack what you receive; point the corpus location at the folder holding Evaluation.txt and the audio.",
    ),
    request="https://ecs.utdallas.edu/research/researchlabs/msp-lab/MSP-Improv.html",
    licence_text="UT Dallas MSP-IMPROV academic licence: research use only, no redistribution.",
    facts="the MSP-IMPROV page of the MSP lab",
)


@hookimpl
def register_corpora(register):
    """Register the ``mspimprov`` corpus."""
    register(
        CorpusSpec(
            name=NAME,
            scan=scan,
            description="MSP-IMPROV (English improvised dyads, 12 actors in 6 sessions): consensus A/H/S/N",
            fold_by="group",
            expected=EXPECTED,
            version="MSP-IMPROV (Evaluation.txt release)",
            licence="UT Dallas MSP-IMPROV academic licence (research use, no redistribution)",
            url="https://ecs.utdallas.edu/research/researchlabs/msp-lab/MSP-Improv.html",
            source=SOURCE,
        )
    )
