"""EMOVO (Italian emotional speech) as a serbench corpus named ``emovo``.

Reads the corpus as distributed: one folder per actor (``f1``-``f3``, ``m1``-``m3``) of WAV files named
``<emotion>-<speaker>-<sentence>.wav`` (e.g. ``rab-f1-b2.wav``): 6 actors x 14 sentences x 7 emotions =
588 clips, 84 per emotion, 48 kHz stereo in the original distribution. Emotion codes are Italian:
``dis`` (disgusto) disgust, ``gio`` (gioia) happiness, ``neu`` neutral, ``pau`` (paura) fear, ``rab``
(rabbia) anger, ``sor`` (sorpresa) surprise, ``tri`` (tristezza) sadness: all seven are in the shared
vocabulary, so no label map is needed. Sentence codes ``b1``-``b3``, ``d1``-``d2``, ``l1``-``l4``,
``n1``-``n5``; gender is the speaker code's letter. Speakers are the CV unit (leave-one-speaker-out).
"""

from __future__ import annotations

from pathlib import Path

from ser_core import ExpectedContent, ManualSource, NamingConvention, ParseResult, filename_corpus, hookimpl

NAMING = NamingConvention(
    pattern=r"(?P<code>[a-z]{3})-(?P<speaker>(?P<gender>[fm])[1-3])-(?P<sentence>(?:b[1-3]|d[1-2]|l[1-4]|n[1-5]))",
    example="rab-f1-b2",
    labels={"dis": "disgust", "gio": "happiness", "neu": "neutral", "pau": "fear", "rab": "anger",
            "sor": "surprise", "tri": "sadness"},
    language="it",
)

EXPECTED = ExpectedContent(
    {"anger": 84, "happiness": 84, "sadness": 84, "fear": 84, "surprise": 84, "disgust": 84, "neutral": 84},
    speakers=6,
    sample_rate=48_000,
)


def parse(path: Path) -> ParseResult:
    """One EMOVO file as a clip (gender ``F``/``M`` from the speaker code), or why it is skipped
    (a name off the convention, an unknown emotion code)."""
    name = NAMING.match(Path(path).stem)
    if isinstance(name, str):
        return name
    return name.clip(path, gender=name["gender"].upper())


#: EMOVO is handed out by its publisher, the Fondazione Ugo Bordoni, without a published hash, so
#: serbench does not fetch it itself; the steps say how to get it.
SOURCE = ManualSource(
    steps=(
        "Request or download EMOVO from its publisher, the Fondazione Ugo Bordoni: "
        "http://voice.fub.it/activities/corpora/emovo/index.html",
        "Unpack it into a folder of its own: it holds one folder per actor (f1, f2, f3, m1, m2, m3) with "
        "98 WAV files each, and documents/.",
        "Point the corpus location at that folder.",
    ),
    request="http://voice.fub.it/activities/corpora/emovo/index.html",
    licence_text=(
        "For research; cite Costantini, Iaderola, Paoloni & Todisco (2014), EMOVO Corpus: an Italian "
        "Emotional Speech Database, LREC 2014."
    ),
    facts="the publisher's page (Fondazione Ugo Bordoni) and the LREC 2014 paper; no hash is published",
)


@hookimpl
def register_corpora(register):
    """Register the ``emovo`` corpus."""
    register(
        filename_corpus(
            "emovo",
            parse,
            expected=EXPECTED,
            description="EMOVO: Italian acted emotions, 6 actors, 7 classes",
            version="2014 release (588 utterances)",
            licence="for research, as stated by the publisher (Fondazione Ugo Bordoni)",
            url="http://voice.fub.it/activities/corpora/emovo/index.html",
            source=SOURCE,
        )
    )
