"""serbench corpus ``emofilm``: EmoFilm (film dubbing in English, Spanish and Italian), folds by language.

Expected layout (as distributed on Zenodo, record 1326428; point the corpus path at the folder of
the ``.wav`` files, or the folder above it)::

    wav_corpus/f_ans1a_en.wav
    wav_corpus/m_gio12b_it.wav
    f_m_corpus_it_es_en_legend.xlsx   # film and actor legend: listed as not audio, not read

Names are ``g_eee..._ll``: gender = ``stem[0]`` (f/m), emotion code = ``stem[2:5]`` (ans fear,
dis disgust, gio happiness, rab anger, tri sadness), language = the last two characters
(en, es, it). Other codes or languages are skipped as problems naming them.

Speakers are not identified in the file names. Cross-validation therefore uses the three
languages as groups (``fold_by="group"``, group = language): dubbing actors work in one language,
so a language fold keeps every actor on one side. The ``speaker`` field is the truthful part of
what is known, the pool of actors a clip comes from, ``{language}-{gender}`` (e.g. ``it-f``):
six pools, not six people. It is never used to form folds.
"""

from __future__ import annotations

from pathlib import Path

from ser_core import ExpectedContent, ManualSource, NamingConvention, ParseResult, filename_corpus, hookimpl

NAME = "emofilm"

NAMING = NamingConvention(
    pattern=r"(?P<gender>[fm])_(?P<code>[a-z]{3})\w*_(?P<language>en|es|it)",
    example="f_ans1a_en",
    labels={"ans": "fear", "dis": "disgust", "gio": "happiness", "rab": "anger", "tri": "sadness"},
)

EXPECTED = ExpectedContent(
    {"anger": 232, "happiness": 240, "sadness": 254, "fear": 221, "disgust": 168},
    speakers=6,  # speaker pools ({language}-{gender}); the actors themselves are not identified
    sample_rate=48_000,
)


def parse(path: Path) -> ParseResult:
    """One EmoFilm file as a clip (speaker = its ``{language}-{gender}`` pool, group = language),
    or why it is skipped."""
    name = NAMING.match(path.stem)
    if isinstance(name, str):
        return name
    language, gender = name["language"], name["gender"]
    return name.clip(path, speaker=f"{language}-{gender}", group=language, gender=gender.upper(), language=language)


#: Restricted access on Zenodo: access is granted after accepting the EULA.
SOURCE = ManualSource(
    steps=(
        "Request access on https://zenodo.org/records/1326428, accepting the EmoFilm EULA as the record asks.",
        "Once granted, download and unzip the archive; point the corpus location at the unzipped folder.",
    ),
    request="https://zenodo.org/records/1326428",
    licence_text="EmoFilm EULA: academic research only, no redistribution.",
    facts="Zenodo record 1326428 (restricted access)",
)


@hookimpl
def register_corpora(register):
    """Register the ``emofilm`` corpus (the folder of its ``.wav`` files, or the folder above it)."""
    register(
        filename_corpus(
            NAME,
            parse,
            description="EmoFilm: film dubbing in English, Spanish, Italian; 5 classes; folds = languages",
            fold_by="group",
            expected=EXPECTED,
            version="2018 release (Zenodo record 1326428)",
            licence="EmoFilm EULA (academic research)",
            url="https://zenodo.org/record/1326428",
            audio_folders=("wav_corpus",),
            source=SOURCE,
        )
    )
