"""The European Portuguese emotional prosody set of Castro & Lima (2010) as a corpus named ``portuguese``.

Reads the two supplementary archives as unpacked (sentences and pseudosentences, in one folder or
two): 368 validated clips of 2 speakers (A, B), named ``NN{s|p}{A|B}_emotionN`` like ``12sA_angry3.wav``
= item ``12``, ``s`` sentence or ``p`` pseudosentence, speaker ``A``, emotion word, take. Emotion words:
angry anger, disgust, fear, happy happiness, sad sadness, neutral, surprise. With 2 speakers, folds are
leave-one-speaker-out. The paper does not state a sample rate; 44.1 kHz is recorded as native and any
other rate found is reported as a note (audio is converted on load either way).
"""

from __future__ import annotations

from pathlib import Path

from ser_core import ExpectedContent, ManualSource, NamingConvention, ParseResult, filename_corpus, hookimpl

NAMING = NamingConvention(
    pattern=r"(?P<item>\d+)(?P<kind>[sp])(?P<speaker>[AB])_(?P<code>[a-z]+)(?P<take>\d*)",
    example="12sA_angry3",
    labels={"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
            "sad": "sadness", "neutral": "neutral", "surprise": "surprise"},
    fold_case=True,
    language="pt",
)

EXPECTED = ExpectedContent(
    {"anger": 63, "happiness": 46, "sadness": 59, "fear": 41, "surprise": 64, "disgust": 35, "neutral": 60},
    speakers=2,
    sample_rate=44_100,
)


def parse(path: Path) -> ParseResult:
    """One file of the set as a clip, or why it is skipped (a name off the convention, an unknown
    emotion word)."""
    name = NAMING.match(path.stem)
    return name if isinstance(name, str) else name.clip(path, sentence=f"{name['item']}{name['kind']}")


#: Distributed as the article's supplementary material, through the publisher's site.
SOURCE = ManualSource(
    steps=(
        "Open the article (Castro & Lima, 2010, Behavior Research Methods 42(1):74-81) at "
        "https://doi.org/10.3758/BRM.42.1.74 and download its supplementary material.",
        "Unzip it into a folder of its own; point the corpus location at that folder.",
    ),
    request="https://doi.org/10.3758/BRM.42.1.74",
    licence_text="Research use, as the article's supplementary material; cite Castro & Lima (2010).",
    facts="the article's page at the publisher",
)


@hookimpl
def register_corpora(register):
    """Register the ``portuguese`` corpus."""
    register(
        filename_corpus(
            "portuguese",
            parse,
            expected=EXPECTED,
            description="Portuguese (Castro & Lima 2010): European Portuguese, 2 speakers, 7 classes",
            version="Behavior Research Methods 42(1) supplementary material (368 clips)",
            licence="research use; supplementary material of the article",
            url="https://doi.org/10.3758/BRM.42.1.74",
            source=SOURCE,
        )
    )
