"""EMO-DB (Berlin Database of Emotional Speech) as a serbench corpus named ``emodb``.

Reads the ``wav/`` folder of the corpus as distributed (or the folder above it): 535 clips of 10 actors
at 16 kHz, named like ``03a01Fa.wav`` = speaker ``03``, sentence ``a01``, emotion code ``F``, version
``a``. Emotion codes are German initials: W(ut) anger, L(angeweile) boredom, E(kel) disgust,
A(ngst) fear, F(reude) happiness, T(rauer) sadness, N(eutral) neutral. Speakers are the CV unit
(leave-one-speaker-out); gender comes from the corpus documentation.
"""

from __future__ import annotations

from pathlib import Path

from ser_core import ExpectedContent, ManualSource, NamingConvention, ParseResult, filename_corpus, hookimpl

NAMING = NamingConvention(
    pattern=r"(?P<speaker>\d\d)(?P<sentence>[ab]\d\d)(?P<code>[A-Z])(?P<version>[a-z])",
    example="03a01Fa",
    labels={"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"},
    language="de",
)
MALE = {"03", "10", "11", "12", "15"}
FEMALE = {"08", "09", "13", "14", "16"}

EXPECTED = ExpectedContent(
    {"anger": 127, "happiness": 71, "sadness": 62, "fear": 69, "disgust": 46, "neutral": 79, "boredom": 81},
    speakers=10,
    sample_rate=16_000,
)


def parse(path: Path) -> ParseResult:
    """One EMO-DB file as a clip, or why it is skipped (a name off the convention, an unknown
    emotion code or speaker number)."""
    name = NAMING.match(path.stem)
    if isinstance(name, str):
        return name
    speaker = name["speaker"]
    if speaker not in MALE | FEMALE:
        return f"unknown speaker {speaker!r} (EMO-DB speakers: {', '.join(sorted(MALE | FEMALE))})"
    return name.clip(path, gender="M" if speaker in MALE else "F")


#: The publisher's archive is served without a published hash, so serbench does not fetch it itself
#: (it could not tell a damaged or altered archive from the real one); the steps say how to get it.
SOURCE = ManualSource(
    steps=(
        "Download http://emodb.bilderbar.info/download/download.zip.",
        "Unzip it into a folder of its own: it holds wav/ (535 files) and the label folders.",
        "Point the corpus location at that folder (or at its wav/ folder).",
    ),
    licence_text="Free for research; cite Burkhardt et al. (2005), A Database of German Emotional Speech, Interspeech.",
    facts="the publisher's download page http://emodb.bilderbar.info/download/; no hash is published",
)


@hookimpl
def register_corpora(register):
    """Register the ``emodb`` corpus."""
    register(
        filename_corpus(
            "emodb",
            parse,
            expected=EXPECTED,
            description="EMO-DB: German acted emotions, 10 actors, 7 classes incl. boredom",
            version="2005 release (535 utterances)",
            licence="free for research, as stated on the download page",
            url="http://emodb.bilderbar.info/",
            source=SOURCE,
            audio_folders=("wav",),
        )
    )
