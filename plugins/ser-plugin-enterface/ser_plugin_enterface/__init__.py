"""serbench corpus ``enterface``: eNTERFACE'05 (audio-visual, English), 43 subjects, audio of the videos.

Expected layout (as distributed; point the corpus path at the folder holding the subject folders)::

    subject 1/anger/sentence 1/s1_an_1.avi
    subject 1/disgust/sentence 2/s1_di_2.avi
    ...
    subject 44/surprise/sentence 5/s44_su_5.avi

Names are ``sN_ee_K``: speaker = the text before the first ``_``, emotion = the two letters after
it (an anger, di disgust, fe fear, ha happiness, sa sadness, su surprise), K = sentence 1..5.
When a file lies under a ``subject N`` folder and an emotion folder, both must agree with its name;
a disagreement is skipped as a problem naming both, never resolved by guessing. The known slips of
the distribution are handled explicitly (:data:`KNOWN_SLIPS`):

- subject 11's videos are named ``s12_...`` inside ``subject 11/``: they become ``s11_...``;
- ``s16_su_3avi`` (no dot before ``avi``; with or without a further ``.avi``) is ``s16_su_3``;
- ``s_3_...`` (a stray underscore) is ``s3_...``.

Subject 6 is excluded, as in the reference study (listed in ``Manifest.skipped`` as an exclusion).

Audio: each clip's ``path`` is the ``.avi`` itself. :func:`ser_core.audio.load_audio` and
``audio_info`` read video containers through FFmpeg's libraries (PyAV), so the audio track is
decoded on load like any other file, and the feature cache keeps what is computed from it. That
avoids a second, extracted copy of the corpus to keep in step with the videos. This plugin depends
on PyAV (``av``, whose wheels bundle FFmpeg) so that installing it makes the clips loadable.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_core import (NOT_AUDIO, Clip, CorpusSpec, ExpectedContent, Manifest, ManualSource, ParseResult, excluded,
                      hookimpl, require_dir, scan_files)

NAME = "enterface"

LABEL_MAP = {"an": "anger", "di": "disgust", "fe": "fear", "ha": "happiness", "sa": "sadness", "su": "surprise"}
FOLDER_LABELS = {
    "anger": "an", "disgust": "di", "fear": "fe", "happiness": "ha", "sadness": "sa", "surprise": "su",
}
EXCLUDED_SUBJECTS = {"6": "subject 6 is excluded by the reference study"}

#: Known naming slips of the distribution: stem as shipped -> stem it should have had.
MISSING_DOT = {"s16_su_3avi": "s16_su_3"}
STRAY_UNDERSCORE = re.compile(r"^s_3_")
#: Subject folders whose files carry another subject's number: folder subject -> number in names.
RENAMED_SUBJECTS = {"11": "12"}
KNOWN_SLIPS = (
    "subject 11's files are named s12_* (taken from the folder: s11)",
    "s16_su_3avi has no dot before avi (read as s16_su_3)",
    "s_3_* has a stray underscore (read as s3_*)",
)

EXPECTED = ExpectedContent(
    {"anger": 215, "happiness": 212, "sadness": 215, "fear": 215, "surprise": 215, "disgust": 215},
    speakers=43,
    sample_rate=48_000,
)

STEM = re.compile(r"^s(?P<subject>\d+)_(?P<code>[a-z]{2})_(?P<sentence>\d+)$")
SUBJECT_DIR = re.compile(r"^subject\s*(\d+)$", re.IGNORECASE)


def _stem(path: Path) -> str | None:
    """The file's clip stem after the known slips, or ``None`` for a file that is not a video."""
    if path.suffix.lower() == ".avi":
        stem = path.stem
    elif path.name in MISSING_DOT:  # the slip without any extension
        stem = path.name
    else:
        return None
    stem = MISSING_DOT.get(stem, stem)
    return STRAY_UNDERSCORE.sub("s3_", stem)


def parse(path: Path) -> ParseResult:
    """One eNTERFACE video as a clip, or why it is skipped (subject 6, a name off the convention,
    a name that disagrees with its subject or emotion folder, an unknown emotion code)."""
    stem = _stem(path)
    if stem is None:
        return f"{NOT_AUDIO} (.avi)"
    match = STEM.match(stem)
    if match is None:
        return "name does not follow the sN_ee_K convention (e.g. s1_an_1.avi); rename it or remove it"
    subject, code, sentence = match["subject"], match["code"], match["sentence"]
    folders = [SUBJECT_DIR.match(part) for part in path.parent.parts]
    folder_subject = next((str(int(m.group(1))) for m in reversed(folders) if m), None)
    if folder_subject is not None and folder_subject != subject:
        if RENAMED_SUBJECTS.get(folder_subject) == subject:
            subject = folder_subject
        else:
            return (
                f"name says subject {subject} but the file is in the folder of subject {folder_subject}, "
                "which is not a known slip of the distribution; move or rename the file"
            )
    if code not in LABEL_MAP:
        return f"unknown emotion code {code!r} (known codes: {', '.join(LABEL_MAP)}); not guessed, file left out"
    folder_code = next(
        (FOLDER_LABELS[part.lower()] for part in reversed(path.parent.parts) if part.lower() in FOLDER_LABELS), None
    )
    if folder_code is not None and folder_code != code:
        return (
            f"name says emotion {code!r} but the file is in a {LABEL_MAP[folder_code]} folder; "
            "move or rename the file"
        )
    if subject in EXCLUDED_SUBJECTS:
        return excluded(EXCLUDED_SUBJECTS[subject])
    return Clip(
        clip_id=f"s{subject}_{code}_{sentence}",
        path=path,
        speaker=f"s{subject}",
        label=LABEL_MAP[code],
        language="en",
        sentence=sentence,
    )


def scan(root: Path | None) -> Manifest:
    """Scan a copy of eNTERFACE'05 (the folder holding ``subject 1`` .. ``subject 44``)."""
    root = require_dir(NAME, root, "the folder holding the eNTERFACE'05 'subject 1' .. 'subject 44' folders")
    # "" lets extension-less files reach parse: one known slip (s16_su_3avi) has no extension
    return scan_files(NAME, root, parse, suffixes=(".avi", ""))


#: The project site serves the database without a published hash, and some clients reject its
#: certificate chain: the route is manual.
SOURCE = ManualSource(
    steps=(
        "Open http://www.enterface.net/enterface05/emotion.html and download the audio-visual emotion "
        "database (enterface05.zip).",
        "Unzip it into a folder of its own: it holds 'subject 1/' ... 'subject 44/'.",
        "Point the corpus location at the folder holding the subject folders.",
    ),
    licence_text="Free for research use, as stated on the eNTERFACE'05 site; cite Martin et al. (2006).",
    facts="the eNTERFACE'05 emotion database page",
)


@hookimpl
def register_corpora(register):
    """Register the ``enterface`` corpus."""
    register(
        CorpusSpec(
            name=NAME,
            scan=scan,
            description="eNTERFACE'05: English audio-visual emotions, 43 subjects (6 excluded), 6 classes",
            expected=EXPECTED,
            version="eNTERFACE'05 audio-visual emotion database (2006 release)",
            licence="free for research use, as stated on the eNTERFACE'05 site",
            url="http://www.enterface.net/enterface05/",
            source=SOURCE,
        )
    )
