"""URDU (Urdu emotional speech from talk shows) as a serbench corpus named ``urdu``.

Reads the corpus as distributed: folders ``Angry``, ``Happy``, ``Neutral`` and ``Sad`` of WAV files
named like ``SM1_F10_A010.wav``: the speaker with its gender (``SM1`` male speaker 1, ``SF3`` female
speaker 3), a file number (``F10``), then the emotion letter (``A`` anger, ``H`` happiness, ``N``
neutral, ``S`` sadness) and an index. 400 clips, 100 per emotion, 44.1 kHz mono in the original
distribution. The corpus's paper (Latif et al. 2018) reports 38 speakers; the speaker codes run
``SM1``-``SM27`` and ``SF1``-``SF11`` (38 codes), but ``SM8``-``SM16`` have no clips, so 29 speakers
have clips, and that is the count expected here. A file whose folder names another emotion than its
letter is skipped, saying so. Speakers are the CV unit; with 29 of them, of very unequal size (2 to
80 clips), folds are seeded speaker groups.
"""

from __future__ import annotations

from pathlib import Path

from ser_core import ExpectedContent, ManualSource, NamingConvention, ParseResult, filename_corpus, hookimpl

NAMING = NamingConvention(
    pattern=r"(?P<speaker>S(?P<gender>[FM])\d{1,2})_F(?P<number>\d+)_(?P<code>[AHNS])(?P<index>\d+)",
    example="SM1_F10_A010",
    labels={"A": "anger", "H": "happiness", "N": "neutral", "S": "sadness"},
    language="ur",
)

#: The corpus's folders and the label of the clips in each.
FOLDERS = {"Angry": "anger", "Happy": "happiness", "Neutral": "neutral", "Sad": "sadness"}

EXPECTED = ExpectedContent(
    {"anger": 100, "happiness": 100, "sadness": 100, "neutral": 100},
    speakers=29,
    sample_rate=44_100,
)


def parse(path: Path) -> ParseResult:
    """One URDU file as a clip, or why it is skipped (a name off the convention, an unknown emotion
    letter, a letter that disagrees with the emotion folder the file is in)."""
    path = Path(path)
    name = NAMING.match(path.stem)
    if isinstance(name, str):
        return name
    folder = FOLDERS.get(path.parent.name)
    if folder is not None and folder != name.label:
        return (f"the emotion letter {name['code']!r} ({name.label}) disagrees with the folder "
                f"{path.parent.name!r} ({folder}); not guessed, file left out")
    return name.clip(path)


#: The corpus is published in its authors' GitHub repository without a published hash of the audio,
#: so serbench does not fetch it itself; the steps say how to get it.
SOURCE = ManualSource(
    steps=(
        "Download the URDU dataset from its authors' repository: https://github.com/siddiquelatif/URDU-Dataset "
        "(the Angry, Happy, Neutral and Sad folders, 100 WAV files each).",
        "Put the four folders in a folder of their own.",
        "Point the corpus location at that folder.",
    ),
    licence_text=(
        "Published for research; cite Latif, Qayyum, Usman & Qadir (2018), Cross Lingual Speech Emotion "
        "Recognition: Urdu vs. Western Languages, FIT 2018."
    ),
    facts="the authors' repository github.com/siddiquelatif/URDU-Dataset and the FIT 2018 paper; no hash is published",
)


@hookimpl
def register_corpora(register):
    """Register the ``urdu`` corpus."""
    register(
        filename_corpus(
            "urdu",
            parse,
            expected=EXPECTED,
            description="URDU: Urdu talk-show speech, 29 speakers with clips, 4 classes",
            version="2018 release (400 utterances)",
            licence="for research, as stated in the authors' repository",
            url="https://github.com/siddiquelatif/URDU-Dataset",
            source=SOURCE,
        )
    )
