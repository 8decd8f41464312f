"""CREMA-D (Crowd-sourced Emotional Multimodal Actors Dataset) as a serbench corpus named ``cremad``.

Reads the ``AudioWAV/`` folder of the corpus repository (or the repository root holding it): 7442
files of 91 actors at 16 kHz, named like ``1001_DFA_ANG_XX.wav`` = actor ``1001``, sentence ``DFA``,
emotion ``ANG``, intensity ``XX`` (LO, MD, HI, or XX unspecified). Emotions: ANG anger, DIS disgust,
FEA fear, HAP happiness, NEU neutral, SAD sadness. ``1076_MTI_SAD_XX`` is silent and excluded, as in
the reference study (7441 clips). When ``VideoDemographics.csv`` sits beside ``AudioWAV/`` each
clip's gender is taken from it. With 91 speakers, folds are 6 seeded speaker groups.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

from ser_core import ExpectedContent, ManualSource, NamingConvention, ParseResult, excluded, filename_corpus, hookimpl

NAMING = NamingConvention(
    pattern=r"(?P<speaker>\d{4})_(?P<sentence>[A-Z]{3})_(?P<code>[A-Z]{3})_(?P<intensity>LO|MD|HI|XX)",
    example="1001_DFA_ANG_XX",
    labels={"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness", "NEU": "neutral", "SAD": "sadness"},
    language="en",
)
#: Clips the reference study leaves out, with the reason.
EXCLUDED_CLIPS = {"1076_MTI_SAD_XX": "silent recording (no speech), left out by the reference study"}

EXPECTED = ExpectedContent(
    {"anger": 1271, "happiness": 1271, "sadness": 1270, "fear": 1271, "disgust": 1271, "neutral": 1087},
    speakers=91,
    sample_rate=16_000,
)


@lru_cache(maxsize=8)
def _genders(audio_dir: Path) -> dict[str, str]:
    """Actor id -> ``M``/``F`` from ``VideoDemographics.csv`` next to (or in) the audio folder."""
    for candidate in (audio_dir.parent / "VideoDemographics.csv", audio_dir / "VideoDemographics.csv"):
        if candidate.is_file():
            with candidate.open(newline="", encoding="utf-8-sig") as handle:
                return {
                    row["ActorID"].strip(): row["Sex"].strip()[:1].upper()
                    for row in csv.DictReader(handle)
                    if row.get("ActorID") and row.get("Sex")
                }
    return {}


def parse(path: Path) -> ParseResult:
    """One CREMA-D file as a clip, or why it is skipped (the silent clip, a name off the
    convention, an unknown emotion code)."""
    if path.stem in EXCLUDED_CLIPS:
        return excluded(EXCLUDED_CLIPS[path.stem])
    name = NAMING.match(path.stem)
    if isinstance(name, str):
        return name
    return name.clip(path, gender=_genders(path.parent).get(name["speaker"]))


#: The corpus is a Git LFS repository of 7442 separately stored WAV files. Declaring them as downloads
#: would need each file's LFS pointer (SHA-256 and size), which could not be collected from here for
#: all 7442 files, so the route is manual: Git LFS itself verifies every file's SHA-256 on checkout.
SOURCE = ManualSource(
    steps=(
        "Install Git LFS (https://git-lfs.com) and run: git lfs install",
        "GIT_LFS_SKIP_SMUDGE=1 git clone https://github.com/CheyneyComputerScience/CREMA-D.git  "
        "(the repository without its large files)",
        "cd CREMA-D && git lfs pull --include 'AudioWAV/*'  (only the WAV files; Git LFS checks each "
        "file's SHA-256 as it fetches it)",
        "Point the corpus location at the CREMA-D folder (or its AudioWAV/ folder).",
    ),
    licence_text="Open Database License (ODbL) 1.0; contents under the Database Contents License (DbCL) 1.0.",
    facts="the repository's README and its Git LFS pointers (AudioWAV/*.wav stored with Git LFS)",
)


@hookimpl
def register_corpora(register):
    """Register the ``cremad`` corpus."""
    register(
        filename_corpus(
            "cremad",
            parse,
            expected=EXPECTED,
            description="CREMA-D: US English acted emotions, 91 actors, 12 sentences, 6 classes",
            version="GitHub release (AudioWAV, 7442 files)",
            licence="Open Database License (ODbL) 1.0; contents under the Database Contents License",
            url="https://github.com/CheyneyComputerScience/CREMA-D",
            source=SOURCE,
            audio_folders=("AudioWAV",),
        )
    )
