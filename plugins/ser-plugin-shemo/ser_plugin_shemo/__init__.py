"""ShEMO (Sharif Emotional Speech Database) as a serbench corpus named ``shemo``.

Reads the corpus as distributed (``female/`` and ``male/`` folders, or one flat folder): 3000 Persian
radio-play utterances of 87 speakers at 44.1 kHz, named like ``F01A01.wav`` = speaker ``F01`` (first
letter the gender), emotion ``A``, utterance ``01``. Emotions: A anger, H happiness, N neutral,
S sadness, W surprise; F (fear, 38 clips) is excluded with that reason, as in the reference study
(2962 clips). With 87 speakers, folds are 6 seeded speaker groups.
"""

from __future__ import annotations

from pathlib import Path

from ser_core import (DownloadSource, ExpectedContent, NamingConvention, ParseResult, RemoteFile, filename_corpus,
                      hookimpl)

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


#: The two audio archives of the corpus's GitHub repository (mansourehk/ShEMO), stored with Git LFS:
#: fetched through GitHub's LFS media address at the commit that added them. Sizes and SHA-256 hashes
#: are the LFS pointers' ``size`` and ``oid`` in that commit (Git LFS names each object by the SHA-256
#: of its content). The archives hold the ``F..``/``M..`` WAV files the scan reads.
_SHEMO = "https://media.githubusercontent.com/media/mansourehk/ShEMO/ed2c666098ac7944dcb893300aaf7ca4f9e532ab"
SOURCE = DownloadSource(
    files=(
        RemoteFile(
            url=f"{_SHEMO}/female.zip",
            hash="sha256:663d8d7dceb44adbbf87d84be3a080fb691d169fbd972f6941e6302bc39f71e6",
            size=374_368_830,
        ),
        RemoteFile(
            url=f"{_SHEMO}/male.zip",
            hash="sha256:747670d0d918e59d5e5020cf66610242890b093d42968c467c4f02eb5e6a6b1a",
            size=496_606_401,
        ),
    ),
    accept=(
        "ShEMO is free of charge for academic purposes only; cite Mohamad Nezami, Jamshid Lou & Karami (2019), "
        "ShEMO: a large-scale validated database for Persian speech emotion detection, Language Resources "
        "and Evaluation 53(1)."
    ),
    facts="Git LFS pointers (oid sha256, size) of female.zip and male.zip in mansourehk/ShEMO at commit ed2c666",
)


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
            url="https://github.com/mansourehk/ShEMO",
            source=SOURCE,
        )
    )
