"""RAVDESS (Ryerson Audio-Visual Database of Emotional Speech and Song) as a corpus named ``ravdess``.

Reads the audio-only speech release (``Audio_Speech_Actors_01-24``, distributed as ``Actor_NN/``
folders; a flat folder of the same files works too): 1440 clips of 24 actors at 48 kHz, named like
``03-01-05-01-02-01-12.wav`` = modality (03 audio-only) - vocal channel (01 speech, 02 song) -
emotion - intensity - statement - repetition - actor. Emotions: 01 neutral, 02 calm, 03 happiness,
04 sadness, 05 anger, 06 fear, 07 disgust, 08 surprise. Files of other modalities (video) and song
files are excluded, with that reason, as in the reference study. Odd actors are male.
"""

from __future__ import annotations

from pathlib import Path

from ser_core import (DownloadSource, ExpectedContent, NamingConvention, ParseResult, RemoteFile, excluded,
                      filename_corpus, hookimpl)

NAMING = NamingConvention(
    pattern=(
        r"(?P<modality>\d\d)-(?P<channel>\d\d)-(?P<code>\d\d)-(?P<intensity>\d\d)-"
        r"(?P<statement>\d\d)-(?P<repetition>\d\d)-(?P<actor>\d\d)"
    ),
    example="03-01-05-01-02-01-12",
    labels={
        "01": "neutral", "02": "calm", "03": "happiness", "04": "sadness",
        "05": "anger", "06": "fear", "07": "disgust", "08": "surprise",
    },
    language="en",
)
MODALITIES = {"01": "full audio-video", "02": "video-only", "03": "audio-only"}
CHANNELS = {"01": "speech", "02": "song"}

EXPECTED = ExpectedContent(
    {"anger": 192, "happiness": 192, "sadness": 192, "fear": 192, "surprise": 192, "disgust": 192,
     "neutral": 96, "calm": 192},
    speakers=24,
    sample_rate=48_000,
)


def parse(path: Path) -> ParseResult:
    """One RAVDESS file as a clip, or why it is skipped (not audio-only speech, a name off the
    convention, an unknown code)."""
    name = NAMING.match(path.stem)
    if isinstance(name, str):
        return name
    modality, channel = name["modality"], name["channel"]
    if modality not in MODALITIES or channel not in CHANNELS:
        return f"unknown modality {modality!r} or vocal channel {channel!r} in the file name; not guessed"
    if modality != "03":
        return excluded(f"{MODALITIES[modality]} file; the reference study uses audio-only files")
    if channel != "01":
        return excluded("song file; the reference study uses speech only")
    actor = name["actor"]
    if not 1 <= int(actor) <= 24:
        return f"unknown actor {actor!r} (RAVDESS actors are 01-24)"
    return name.clip(path, speaker=actor, gender="M" if int(actor) % 2 else "F", sentence=name["statement"])


#: The audio-only speech release from the publisher's Zenodo record (https://zenodo.org/records/1188976,
#: which lists an MD5 and a size for every file). The size (208,468,073 bytes) and MD5 below are those
#: values as quoted, identically, by several independent projects that verified their downloads
#: against the record; serbench could not open the record itself when they were entered. A change on
#: the publisher's side shows up as a size or hash mismatch, never as a silently different corpus.
#: The archive holds the ``Actor_01/`` ... ``Actor_24/`` folders.
SOURCE = DownloadSource(
    files=(
        RemoteFile(
            url="https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip?download=1",
            hash="md5:bc696df654c87fed845eb13823edef8a",
            size=208_468_073,
            name="Audio_Speech_Actors_01-24.zip",
        ),
    ),
    facts="Zenodo record 1188976 (MD5 and size of Audio_Speech_Actors_01-24.zip, as quoted by projects that verified them)",
)


@hookimpl
def register_corpora(register):
    """Register the ``ravdess`` corpus."""
    register(
        filename_corpus(
            "ravdess",
            parse,
            expected=EXPECTED,
            description="RAVDESS: North American English acted speech, 24 actors, 8 classes incl. calm",
            version="1.0.0 (Zenodo, 2018), Audio_Speech_Actors_01-24",
            licence="CC BY-NC-SA 4.0",
            url="https://zenodo.org/record/1188976",
            source=SOURCE,
            audio_folders=("Audio_Speech_Actors_01-24",),
        )
    )
