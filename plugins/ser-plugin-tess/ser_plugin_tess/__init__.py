"""TESS (Toronto Emotional Speech Set) as a serbench corpus named ``tess``.

Reads the corpus as distributed, flat or in per-emotion folders (``OAF_angry/``, ``YAF_fear/``, ...;
folder names are not used): 2800 clips of 2 female speakers (OAF older, YAF younger), 24.414 kHz,
named like ``OAF_back_angry.wav`` = speaker ``OAF``, target word ``back``, emotion ``angry``.
Emotions: angry anger, disgust, fear, happy happiness, ps (pleasant surprise) surprise, sad sadness,
neutral. The distribution's quirks are read, not skipped: one file is prefixed ``OA_`` instead of
``OAF_`` (speaker OAF), two files named ``.wav`` hold AIFF-C data and one is at 96 kHz (the audio
loader decodes by content and resamples).
"""

from __future__ import annotations

from pathlib import Path

from ser_core import ExpectedContent, ManualSource, NamingConvention, ParseResult, filename_corpus, hookimpl

NAMING = NamingConvention(
    pattern=r"(?P<speaker>OAF|YAF|OA)_(?P<word>[A-Za-z]+)_(?P<code>[A-Za-z]+)",
    example="OAF_back_angry",
    labels={"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
            "ps": "surprise", "sad": "sadness", "neutral": "neutral"},
    fold_case=True,
    language="en",
)
#: Speaker prefixes as they occur in the distribution -> the speaker they stand for.
SPEAKERS = {"OAF": "OAF", "YAF": "YAF", "OA": "OAF"}

EXPECTED = ExpectedContent(
    {label: 400 for label in ("anger", "happiness", "sadness", "fear", "surprise", "disgust", "neutral")},
    speakers=2,
    sample_rate=24_414,
)


def parse(path: Path) -> ParseResult:
    """One TESS file as a clip, or why it is skipped (a name off the convention, an unknown
    emotion word)."""
    name = NAMING.match(path.stem)
    if isinstance(name, str):
        return name
    return name.clip(path, speaker=SPEAKERS[name["speaker"]], gender="F", sentence=name["word"].lower())


#: Hosted on the Borealis (Scholars Portal) Dataverse; no file hash could be confirmed from here.
SOURCE = ManualSource(
    steps=(
        "Open https://doi.org/10.5683/SP2/E8H2MF (the TESS dataset on Borealis Dataverse) and download "
        "all files ('Access Dataset' > 'Download ZIP').",
        "Unzip it into a folder of its own (per-emotion folders such as OAF_angry/, YAF_fear/ are fine).",
        "Point the corpus location at that folder.",
    ),
    licence_text="CC BY-NC-ND 4.0: non-commercial use, with attribution, no derivatives.",
    facts="the dataset's DOI landing page on Borealis Dataverse",
)


@hookimpl
def register_corpora(register):
    """Register the ``tess`` corpus."""
    register(
        filename_corpus(
            "tess",
            parse,
            expected=EXPECTED,
            description="TESS: Canadian English, 2 female speakers x 200 target words x 7 classes",
            version="University of Toronto release (2010), 2800 files",
            licence="CC BY-NC-ND 4.0",
            url="https://doi.org/10.5683/SP2/E8H2MF",
            source=SOURCE,
        )
    )
