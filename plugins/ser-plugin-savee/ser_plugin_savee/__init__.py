"""SAVEE (Surrey Audio-Visual Expressed Emotion) as a serbench corpus named ``savee``.

Reads either layout the corpus is found in: speaker folders as distributed (``AudioData/DC/a01.wav``;
point at ``AudioData/`` or the folder above it) or flattened names (``DC_a01.wav``). 480 clips of 4
male speakers (DC, JE, JK, KL) at 44.1 kHz. The name's prefix is the emotion: a anger, d disgust,
f fear, h happiness, n neutral, sa sadness, su surprise, then a two-digit number.
"""

from __future__ import annotations

from pathlib import Path

from ser_core import Clip, ExpectedContent, ManualSource, NamingConvention, ParseResult, filename_corpus, hookimpl

SPEAKERS = ("DC", "JE", "JK", "KL")
LABELS = {"a": "anger", "d": "disgust", "f": "fear", "h": "happiness", "n": "neutral",
          "sa": "sadness", "su": "surprise"}
#: Flattened layout: the speaker is in the name.
FLAT = NamingConvention(
    pattern=r"(?P<speaker>[A-Z]{2})_(?P<code>[a-z]+)(?P<number>\d\d)", example="DC_a01", labels=LABELS
)
#: Speaker-folder layout: the speaker is the folder.
IN_FOLDER = NamingConvention(pattern=r"(?P<code>[a-z]+)(?P<number>\d\d)", example="a01", labels=LABELS)

EXPECTED = ExpectedContent(
    {"anger": 60, "happiness": 60, "sadness": 60, "fear": 60, "surprise": 60, "disgust": 60, "neutral": 120},
    speakers=4,
    sample_rate=44_100,
)


def parse(path: Path) -> ParseResult:
    """One SAVEE file as a clip, or why it is skipped (a name in neither layout, an unknown
    speaker or emotion code)."""
    if "_" in path.stem:
        name = FLAT.match(path.stem)
        if isinstance(name, str):
            return name
        speaker = name["speaker"]
    else:
        speaker = path.parent.name
        if speaker not in SPEAKERS:
            return (
                f"cannot tell the speaker: {path.name} is not in a speaker folder ({', '.join(SPEAKERS)}); "
                "expected AudioData/DC/a01.wav or a flattened name like DC_a01.wav"
            )
        name = IN_FOLDER.match(path.stem)
        if isinstance(name, str):
            return name
    if speaker not in SPEAKERS:
        return f"unknown speaker {speaker!r} (SAVEE speakers: {', '.join(SPEAKERS)})"
    return Clip(
        clip_id=f"{speaker}_{path.stem.split('_')[-1]}",
        path=path,
        speaker=speaker,
        label=name.label,
        gender="M",
        language="en",
    )


#: Released after registration on the SAVEE site (a password is sent by e-mail).
SOURCE = ManualSource(
    steps=(
        "Register at http://kahlan.eps.surrey.ac.uk/savee/Register.html; the site e-mails a password.",
        "Download the audio data (AudioData.zip) from http://kahlan.eps.surrey.ac.uk/savee/Download.html.",
        "Unzip it; point the corpus location at the AudioData folder (speaker folders DC, JE, JK, KL).",
    ),
    request="http://kahlan.eps.surrey.ac.uk/savee/Register.html",
    licence_text="Free for research use after registration; cite Haq & Jackson (2009).",
    facts="the SAVEE registration and download pages",
)


@hookimpl
def register_corpora(register):
    """Register the ``savee`` corpus."""
    register(
        filename_corpus(
            "savee",
            parse,
            expected=EXPECTED,
            description="SAVEE: British English, 4 male speakers, 7 classes",
            version="AudioData release (480 files)",
            licence="free for research use after registration on the SAVEE site",
            url="http://kahlan.eps.surrey.ac.uk/savee/",
            source=SOURCE,
            audio_folders=("AudioData",),
        )
    )
