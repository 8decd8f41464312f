"""serbench corpus ``demos``: DEMoS (Italian, elicited emotions), its 1564 prototypical clips.

Expected layout (as the owners distribute it; point the corpus path at the unpacked folder)::

    DEMOS/PR_01_rab01b.wav    # prototypical emotional samples: the clips used
    DEMOS/NP_01_rab02a.wav    # non-prototypical samples: listed as excluded
    NEU/...                   # neutral samples: listed as excluded

Names are ``{PR|NP}_SS_eeeNNx``: speaker = ``stem[-9:-7]``, emotion code = ``stem[-6:-3]``
(rab anger, tri sadness, gio happiness, pau fear, dis disgust, col guilt, sor surprise).
Following the reference study only ``PR_`` clips are used and no neutral: ``NP_`` files and ``neu``
clips are listed in ``Manifest.skipped`` as exclusions; any other prefix or code is skipped as a
problem naming it. Speakers are the CV unit (59 speakers in the prototypical part: 6 speaker
groups under the protocol's rule for corpora with more than 12 speakers).
"""

from __future__ import annotations

from pathlib import Path

from ser_core import (Clip, ExpectedContent, ManualSource, NamingConvention, ParseResult, excluded, filename_corpus,
                      hookimpl)

NAME = "demos"

NAMING = NamingConvention(
    # a fixed three-character tail puts speaker and code at the documented [-9:-7] and [-6:-3]
    pattern=r"(?P<prefix>[A-Za-z]+)_(?P<speaker>\d\d)_(?P<code>[a-z]{3})(?P<take>[A-Za-z0-9]{3})",
    example="PR_01_rab01b",
    labels={
        "rab": "anger",
        "tri": "sadness",
        "gio": "happiness",
        "pau": "fear",
        "dis": "disgust",
        "col": "guilt",
        "sor": "surprise",
    },
    excluded={"neu": "neutral sample; the reference study used no neutral DEMoS clips"},
)

EXPECTED = ExpectedContent(
    {"anger": 246, "happiness": 167, "sadness": 422, "fear": 177, "surprise": 203, "disgust": 140, "guilt": 209},
    speakers=59,
    sample_rate=48_000,
)


def parse(path: Path) -> ParseResult:
    """One DEMoS file as a clip, or why it is skipped (``NP_``/neutral exclusions, names off the
    convention, unknown emotion codes or prefixes)."""
    stem = path.stem
    name = NAMING.match(stem)
    if isinstance(name, str):
        return name
    prefix = name["prefix"]
    if prefix == "NP":
        return excluded("non-prototypical sample (NP_); the reference study used the prototypical PR_ clips")
    if prefix != "PR":
        return f"unknown prefix {prefix!r} (DEMoS names start with PR_ or NP_); not guessed, file left out"
    return Clip(clip_id=stem, path=path, speaker=name["speaker"], label=name.label, language="it")


#: Restricted access on Zenodo: the EULA must be signed by a permanent member of a university.
SOURCE = ManualSource(
    steps=(
        "Request access on https://zenodo.org/records/2544829, attaching the signed EULA as the record asks "
        "(it must be signed by a permanent university staff member).",
        "Once granted, download and unzip the archive; point the corpus location at the unzipped folder.",
    ),
    request="https://zenodo.org/records/2544829",
    licence_text="DEMoS EULA: academic research only, no redistribution.",
    facts="Zenodo record 2544829 (restricted access)",
)


@hookimpl
def register_corpora(register):
    """Register the ``demos`` corpus."""
    register(
        filename_corpus(
            NAME,
            parse,
            expected=EXPECTED,
            description="DEMoS: Italian elicited emotions, prototypical (PR_) clips, 7 classes incl. guilt",
            version="2019 release (Zenodo record 2544829)",
            licence="DEMoS EULA (academic research, signed by a permanent university staff member)",
            url="https://zenodo.org/record/2544829",
            source=SOURCE,
        )
    )
