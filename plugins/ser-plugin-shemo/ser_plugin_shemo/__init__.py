"""ShEMO (Sharif Emotional Speech Database) as a serbench corpus named ``shemo``.

Reads the corpus as distributed (``female/`` and ``male/`` folders, or one flat folder): 3000 Persian
radio-play utterances of 87 speakers at 44.1 kHz, named like ``F01A01.wav`` = speaker ``F01`` (first
letter the gender), emotion ``A``, utterance ``01``. Emotions: A anger, H happiness, N neutral,
S sadness, W surprise; F (fear, 38 clips) is excluded with that reason, as in the reference study
(2962 clips). With 87 speakers, folds are 6 seeded speaker groups.
"""

from __future__ import annotations

from pathlib import Path

from ser_core import hookimpl
from ser_core.corpus import NamingConvention, ParseResult, filename_corpus
from ser_core.specs import ExpectedContent

NAMING = NamingConvention(
    pattern=r"(?P<speaker>(?P<gender>[FM])\d\d)(?P<code>[A-Z])(?P<number>\d\d)",
    example="F01A01",
    labels={"A": "anger", "H": "happiness", "N": "neutral", "S": "sadness", "W": "surprise"},
    excluded={"F": "fear has too few clips (38) and is left out by the reference study"},
    language="fa",
)

EXPECTED = ExpectedContent(
    {"anger": 1059, "happiness": 201, "sadness": 449, "surprise": 225, "neutral": 1028},
    speakers=87,
    sample_rate=44_100,
)


def parse(path: Path) -> ParseResult:
    """One ShEMO file as a clip, or why it is skipped (fear, a name off the convention, an
    unknown emotion code)."""
    return NAMING.parse(path)  # speaker and gender are groups of the pattern


@hookimpl
def register_corpora(register):
    """Register the ``shemo`` corpus."""
    register(
        filename_corpus(
            "shemo",
            parse,
            expected=EXPECTED,
            description="ShEMO: Persian radio-play speech, 87 speakers, 5 classes (fear excluded)",
            version="GitHub release (3000 utterances)",
            licence="free for academic use, as stated in the repository",
            url="https://github.com/pariajm/sharif-emotional-speech-dataset",
        )
    )
