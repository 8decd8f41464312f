"""JL-corpus (New Zealand English emotional speech) as a serbench corpus named ``jl``.

Reads the corpus as distributed: the folder ``Raw JL corpus (unchecked and unannotated)/JL(wav+txt)/``
(found when the location is the download's top folder) or any folder of its files. 2400 clips of
4 actors (male1, male2, female1, female2) at 44.1 kHz, named like ``male1_angry_10a_1.wav`` = speaker,
emotion, sentence ``10a``, take ``1``; transcripts (``.txt``) beside them are ignored. The five primary
emotions are used (angry anger, sad sadness, neutral, happy happiness, excited excitedness: 1200 clips);
the secondary ones (anxious, apologetic, assertive, concerned, encouraging) are excluded with that reason.
"""

from __future__ import annotations

from pathlib import Path

from ser_core import ExpectedContent, ManualSource, NamingConvention, ParseResult, filename_corpus, hookimpl

SECONDARY = ("anxious", "apologetic", "assertive", "concerned", "encouraging")
NAMING = NamingConvention(
    pattern=r"(?P<speaker>(?:fe)?male[12])_(?P<code>[a-z]+)_(?P<sentence>\d+[a-z])_(?P<take>\d+)",
    example="male1_angry_10a_1",
    labels={"angry": "anger", "sad": "sadness", "neutral": "neutral", "happy": "happiness",
            "excited": "excitedness"},
    excluded={code: "secondary emotion, left out by the reference study" for code in SECONDARY},
    language="en",
)

EXPECTED = ExpectedContent(
    {"anger": 240, "happiness": 240, "sadness": 240, "neutral": 240, "excitedness": 240},
    speakers=4,
    sample_rate=44_100,
)


def parse(path: Path) -> ParseResult:
    """One JL-corpus file as a clip, or why it is skipped (a secondary emotion, a name off the
    convention, an unknown emotion word)."""
    name = NAMING.match(path.stem)
    if isinstance(name, str):
        return name
    return name.clip(path, gender="F" if name["speaker"].startswith("female") else "M")


#: Distributed on Kaggle, which needs a signed-in account: no scripted download.
SOURCE = ManualSource(
    steps=(
        "Sign in to Kaggle and download the dataset from https://www.kaggle.com/datasets/tli725/jl-corpus "
        "(or run: kaggle datasets download -d tli725/jl-corpus).",
        "Unzip it into a folder of its own; the audio is under "
        "'Raw JL corpus (unchecked and unannotated)/JL(wav+txt)/'.",
        "Point the corpus location at the unzipped folder.",
    ),
    licence_text="As stated on the Kaggle page; cite James, Tian & Watson (2018), Interspeech.",
    facts="the Kaggle dataset page tli725/jl-corpus",
)


@hookimpl
def register_corpora(register):
    """Register the ``jl`` corpus."""
    register(
        filename_corpus(
            "jl",
            parse,
            expected=EXPECTED,
            description="JL-corpus: NZ English, 4 actors, 5 primary emotions incl. excitedness",
            version="Kaggle release (James et al., 2018)",
            licence="as stated on the distribution page",
            url="https://www.kaggle.com/tli725/jl-corpus",
            source=SOURCE,
            audio_folders=("Raw JL corpus (unchecked and unannotated)/JL(wav+txt)",),
        )
    )
