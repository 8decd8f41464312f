"""CaFE (Canadian French Emotional speech dataset) as a serbench corpus named ``cafe``.

Reads the corpus as distributed: per-emotion folders (``Colère/Faible/``, ``Colère/Fort/``, ...,
``Neutre/``; folder names are not used) of the 48 kHz release (``.wav``) or the 192 kHz release
(``.aiff``). 936 clips of 12 actors, named ``AA-E-I-S`` = actor ``AA`` (odd male, even female),
emotion ``E``, intensity ``I`` (1 low, 2 high; neutral clips may lack it), sentence ``S`` (1-6).
Emotions: C anger, D disgust, J happiness, N neutral, P fear, S surprise, T sadness.
"""

from __future__ import annotations

from pathlib import Path

from ser_core import ExpectedContent, ManualSource, NamingConvention, ParseResult, filename_corpus, hookimpl

NAMING = NamingConvention(
    pattern=r"(?P<speaker>\d\d)-(?P<code>[A-Z])(?:-(?P<intensity>[12]))?-(?P<sentence>[1-6])",
    example="01-C-1-1",
    labels={"C": "anger", "D": "disgust", "J": "happiness", "N": "neutral", "P": "fear",
            "S": "surprise", "T": "sadness"},
    language="fr",
)

EXPECTED = ExpectedContent(
    {"anger": 144, "happiness": 144, "sadness": 144, "fear": 144, "surprise": 144, "disgust": 144,
     "neutral": 72},
    speakers=12,
    sample_rate=48_000,
)


def parse(path: Path) -> ParseResult:
    """One CaFE file as a clip, or why it is skipped (a name off the convention, an unknown
    emotion code or actor)."""
    name = NAMING.match(path.stem)
    if isinstance(name, str):
        return name
    actor = name["speaker"]
    if not 1 <= int(actor) <= 12:
        return f"unknown actor {actor!r} (CaFE actors are 01-12)"
    return name.clip(path, gender="M" if int(actor) % 2 else "F")


#: No hash of the archive could be confirmed from here, so serbench does not fetch it itself (a
#: download it cannot verify would defeat the check); the publisher's record lists each file's MD5.
SOURCE = ManualSource(
    steps=(
        "Open https://zenodo.org/records/1478765 and download CaFE_48k.zip (the 48 kHz release; "
        "CaFE_192k.zip, in AIFF, works too).",
        "Check the file's MD5 against the one the record page shows (md5sum CaFE_48k.zip).",
        "Unzip it into a folder of its own; point the corpus location at that folder.",
    ),
    licence_text="CC BY-NC-SA 4.0: non-commercial use, with attribution (Gournay, Lahaie & Lefebvre, 2018).",
    facts="Zenodo record 1478765; file names from the record; no published hash available offline",
)


@hookimpl
def register_corpora(register):
    """Register the ``cafe`` corpus."""
    register(
        filename_corpus(
            "cafe",
            parse,
            expected=EXPECTED,
            description="CaFE: Canadian French acted speech, 12 actors, 6 sentences, 7 classes",
            version="48 kHz release (Zenodo, 2018)",
            licence="CC BY-NC-SA 4.0",
            url="https://zenodo.org/record/1478765",
            source=SOURCE,
            suffixes=(".wav", ".aiff", ".aif"),
        )
    )
