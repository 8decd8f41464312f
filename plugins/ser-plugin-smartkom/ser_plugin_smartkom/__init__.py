"""serbench corpus ``smartkom``: SmartKom Public (German Wizard-of-Oz dialogues), one clip per user turn.

Expected layout (release SKP as the Bavarian Archive for Speech Signals distributes it; point the
corpus path at the folder holding the session folders, or the one above ``SK-Public``)::

    SK-Public/
        w001_pk/
            w001_pkd.wav          # the session's audio, <session><channel letter>.wav
            w001_pk_AAA.par       # BAS Partitur (BPF) file of the user, speaker code AAA
            w001_pk_SMA.par       # BPF file of the SmartKom system itself: not read
            ...                   # other files: listed as not audio
        w002_pk/ ...

The user's BPF file (format: www.bas.uni-muenchen.de/Bas/BasFormatseng.html) has a header of
``KEY: value`` lines (``SAM:`` the time unit, samples per second, 16000 if absent) ending at
``LBD:``, then one line per segment. Two tiers are read, times in ``SAM`` units, a segment
covering samples ``begin .. begin + duration`` inclusive::

    TRN: <begin> <duration> <word indices, comma-separated> <turn name>    # user turns
    USH: <begin> <duration> <user state> [...]                              # holistic user states

User states (quotes around them are removed; umlauts may be written as Ä/Ü, Ae/Ue, or dropped,
and ``_`` may stand for ``/``): Neutral neutral, Freude/Erfolg happiness, Ueberlegen/Nachdenken
pondering, Ratlosigkeit helplessness, Aerger/Misserfolg anger, Ueberraschung/Verwunderung
surprise, Restklasse unknown. A ``TRN:``/``USH:`` line whose times are not integers raises
:class:`CorpusError` with file and line.

Each turn (in ``TRN`` order by begin time, numbered from 000) becomes the clip
``<par stem>_<NNN>``, e.g. ``w001_pk_AAA_000``; speaker = the par file's speaker code (``[8:11]`` of
the clip id). Its label is the user state covering most of the turn (:func:`majority_state`):
the samples of the turn each state interval overlaps are summed per state; stretches of the turn
no interval covers count for no state; a tie goes to the tied state that appears first in the
turn; a turn no interval touches is skipped with that reason, as is a turn whose majority state is
not one of the seven above. Sessions whose user BPF has no ``USH`` or no ``TRN`` tier are skipped.

Audio: turns are cut from the session audio (the first ``<session>?.wav`` in name order when there
are several channels; the others are listed as excluded) into
``<serbench cache>/smartkom-turns/<key>/<clip id>.wav``, ``key`` a hash of the session file's path,
size and modification time, each written to a temporary name and renamed, so a clip file is
complete or absent. A later scan reuses them. Turns that run past the end of the audio are skipped.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ser_core import (NOT_AUDIO, Clip, CorpusError, CorpusSpec, ExpectedContent, Manifest, ManualSource, SkippedFile,
                      excluded, hookimpl, require_dir, walk)

NAME = "smartkom"

STATES = {
    "neutral": "neutral",
    "freude/erfolg": "happiness",
    "ueberlegen/nachdenken": "pondering",
    "ratlosigkeit": "helplessness",
    "aerger/misserfolg": "anger",
    "ueberraschung/verwunderung": "surprise",
    "restklasse": "unknown",
}
#: SmartKom's classes: shared ones first, then its own user states in the order boards show them.
LABELS = ("anger", "happiness", "surprise", "neutral", "pondering", "helplessness", "unknown")
#: Spellings seen in converted copies, where the umlaut was dropped (``Uberlegen``) or ``ss`` lost.
STATE_ALIASES = {
    "uberlegen/nachdenken": "ueberlegen/nachdenken",
    "arger/misserfolg": "aerger/misserfolg",
    "arger/miserfolg": "aerger/misserfolg",
    "aerger/miserfolg": "aerger/misserfolg",
    "uberraschung/verwunderung": "ueberraschung/verwunderung",
}

# The study lists the clips per label but no speaker count for SmartKom: 79 is the number of users
# recalled from the reference study's corpus table, unverified; check it against a complete copy.
EXPECTED = ExpectedContent(
    {"anger": 99, "happiness": 118, "helplessness": 54, "surprise": 9, "neutral": 1786, "pondering": 183,
     "unknown": 46},
    speakers=79,
    sample_rate=16_000,
)

USER_PAR = re.compile(r"^(?P<session>.+)_(?P<speaker>[A-Z]{3})$")
SYSTEM_SPEAKER = "SMA"


@dataclass(frozen=True)
class Segment:
    """One BPF segment: samples ``begin .. end`` inclusive, its label, and its line in the file."""

    begin: int
    end: int
    label: str
    line: int


@dataclass
class Partitur:
    """The tiers of one user BPF file that this plugin reads."""

    path: Path
    sample_rate: int
    turns: list[Segment]
    states: list[Segment]


def normalise_state(raw: str) -> str | None:
    """The shared-vocabulary label of a SmartKom user-state name, or ``None`` when unknown."""
    key = raw.strip().strip('"').strip()
    for umlaut, spelled in (("Ä", "Ae"), ("Ü", "Ue"), ("Ö", "Oe"), ("ä", "ae"), ("ü", "ue"), ("ö", "oe"), ("ß", "ss")):
        key = key.replace(umlaut, spelled)
    key = key.lower().replace("_", "/")
    return STATES.get(STATE_ALIASES.get(key, key))


def read_partitur(path: Path) -> Partitur:
    """Read the ``SAM`` header and the ``TRN`` and ``USH`` tiers of a BPF file.

    Raises :class:`CorpusError` naming the file and line for a segment line without integer times.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # BAS files of that time are ISO 8859-1
    sample_rate = 16_000
    turns: list[Segment] = []
    states: list[Segment] = []
    for number, line in enumerate(text.splitlines(), start=1):
        key, _, rest = line.partition(":")
        if key == "SAM" and rest.strip():
            try:
                sample_rate = int(float(rest.strip()))
            except ValueError:
                raise CorpusError(f"corpus {NAME!r}: {path}, line {number}: SAM is not a number: {line!r}.") from None
        if key not in ("TRN", "USH"):
            continue
        fields = rest.split()
        try:
            begin, duration = int(fields[0]), int(fields[1])
            label = fields[2] if key == "USH" else (fields[3] if len(fields) > 3 else "")
        except (IndexError, ValueError):
            expected = "<begin> <duration> <user state>" if key == "USH" else "<begin> <duration> <words> <turn>"
            raise CorpusError(
                f"corpus {NAME!r}: {path}, line {number}: expected '{key}: {expected}' with integer "
                f"times, found {line.strip()!r}. Restore the file from the distribution."
            ) from None
        segment = Segment(begin, begin + duration, label.strip('"'), number)
        (turns if key == "TRN" else states).append(segment)
    turns.sort(key=lambda s: (s.begin, s.end))
    states.sort(key=lambda s: (s.begin, s.end))
    return Partitur(path, sample_rate, turns, states)


def majority_state(begin: int, end: int, states: list[Segment]) -> tuple[str, Segment] | None:
    """The state covering most of the turn ``begin .. end`` (samples, inclusive), with the first
    interval of that state inside the turn; ``None`` when no interval overlaps the turn.

    Overlaps are summed per state; uncovered samples count for nobody; a tie goes to the tied state
    whose first overlapping interval starts earliest.
    """
    covered: dict[str, int] = {}
    first: dict[str, Segment] = {}
    for state in states:
        overlap = min(end, state.end) - max(begin, state.begin) + 1
        if overlap <= 0:
            continue
        covered[state.label] = covered.get(state.label, 0) + overlap
        if state.label not in first or state.begin < first[state.label].begin:
            first[state.label] = state
    if not covered:
        return None
    winner = max(covered, key=lambda label: (covered[label], -first[label].begin))
    return winner, first[winner]


def _turn_cache(audio: Path) -> Path:
    from ser_core import cache_dir

    stat = audio.stat()
    key = hashlib.sha256(f"{audio.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_dir() / "smartkom-turns" / key


def _write_turn(audio: Path, target: Path, start: int, stop: int) -> None:
    """Cut frames ``start .. stop - 1`` of ``audio`` into ``target``, atomically."""
    import soundfile

    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    data, rate = soundfile.read(str(audio), start=start, stop=stop, dtype="int16", always_2d=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    soundfile.write(str(partial), data, rate, subtype="PCM_16", format="WAV")
    os.replace(partial, target)


def _session_clips(par: Path, session: str, speaker: str, audio: Path,
                   clips: list[Clip], skipped: list[SkippedFile]) -> None:
    import soundfile

    partitur = read_partitur(par)
    missing = [tier for tier, rows in (("USH", partitur.states), ("TRN", partitur.turns)) if not rows]
    if missing:
        skipped.append(SkippedFile(str(par), excluded(
            f"no {' or '.join(missing)} tier: this session has no "
            f"{'user-state labels' if 'USH' in missing else 'turn segmentation'}, so it gives no clips")))
        return
    try:
        info = soundfile.info(str(audio))
    except Exception as exc:  # libsndfile raises several types; all mean "cannot read"
        skipped.append(SkippedFile(str(audio), (
            f"cannot read the session audio ({exc}); its {len(partitur.turns)} turns are left out. "
            "Re-copy the file from the distribution")))
        return
    scale = info.samplerate / partitur.sample_rate
    cache = _turn_cache(audio)
    for index, turn in enumerate(partitur.turns):
        clip_id = f"{par.stem}_{index:03d}"
        where = f"{par}:{turn.line}"
        found = majority_state(turn.begin, turn.end, partitur.states)
        if found is None:
            skipped.append(SkippedFile(where, f"turn {clip_id} overlaps no USH user-state interval; no label"))
            continue
        state, segment = found
        label = normalise_state(state)
        if label is None:
            skipped.append(SkippedFile(where, (
                f"turn {clip_id}: majority user state {state!r} (line {segment.line}) is not a SmartKom "
                f"user state ({', '.join(sorted(STATES))}); not guessed, fix the USH line")))
            continue
        start, stop = round(turn.begin * scale), round((turn.end + 1) * scale)
        if stop > info.frames:
            skipped.append(SkippedFile(where, (
                f"turn {clip_id} ends at {stop / info.samplerate:.2f} s but {audio.name} is only "
                f"{info.frames / info.samplerate:.2f} s long; re-copy the session audio")))
            continue
        target = cache / f"{clip_id}.wav"
        _write_turn(audio, target, start, stop)
        clips.append(Clip(clip_id=clip_id, path=target, speaker=speaker, label=label, language="de"))


def scan(root: Path | None) -> Manifest:
    """Read SmartKom Public from ``root``: user turns cut from each session, labelled by majority
    user state."""
    root = require_dir(NAME, root, "the unpacked SmartKom Public release (the folder holding the session folders)")
    files = walk(root)
    user_pars = []
    for path in files:
        match = USER_PAR.match(path.stem) if path.suffix == ".par" else None
        if match and match["speaker"] != SYSTEM_SPEAKER:
            user_pars.append((path, match["session"], match["speaker"]))
    if not user_pars:
        raise CorpusError(
            f"corpus {NAME!r}: no user BPF files (<session>_<SPK>.par) under {root}. SmartKom's turns and "
            "user states are read from them; point the corpus path at the SK-Public folder."
        )
    by_stem: dict[str, Path] = {}
    for par, _, _ in user_pars:
        if par.stem in by_stem:
            raise CorpusError(
                f"corpus {NAME!r}: session file {par.stem}.par appears twice, as {by_stem[par.stem]} and "
                f"{par}: two copies of one session are under the corpus folder. Remove one."
            )
        by_stem[par.stem] = par
    clips: list[Clip] = []
    skipped: list[SkippedFile] = []
    used: set[Path] = set()
    for par, session, speaker in user_pars:
        used.add(par)
        channels = sorted(par.parent.glob(f"{glob_escape(session)}?.wav"))
        if not channels:
            skipped.append(SkippedFile(str(par), (
                f"no session audio {session}?.wav beside it; copy the session's audio from the distribution")))
            continue
        audio = channels[0]
        used.update(channels)
        for other in channels[1:]:
            skipped.append(SkippedFile(str(other), excluded(
                f"another channel of session {session}; serbench reads {audio.name}")))
        _session_clips(par, session, speaker, audio, clips, skipped)
    for path in files:
        if path not in used:
            system = path.stem.endswith("_" + SYSTEM_SPEAKER)
            what = "the SmartKom system's own BPF file" if system else "not a session's audio or user BPF file"
            skipped.append(SkippedFile(str(path), f"{NOT_AUDIO} ({what})"))
    return Manifest(NAME, clips, root=root, skipped=skipped)


def glob_escape(text: str) -> str:
    """``text`` with glob wildcards escaped, for names used in :meth:`Path.glob`."""
    return re.sub(r"([*?\[])", r"[\1]", text)


#: Licensed by the Bavarian Archive for Speech Signals (BAS): a signed licence is required.
SOURCE = ManualSource(
    steps=(
        "Order the SmartKom Public corpus from BAS as described at "
        "https://www.bas.uni-muenchen.de/forschung/Bas/BasSmartKomPubliceng.html (signed licence).",
        "Unpack the delivery; point the corpus location at the folder holding the sessions.",
    ),
    request="https://www.bas.uni-muenchen.de/forschung/Bas/BasSmartKomPubliceng.html",
    licence_text="BAS SmartKom licence: research use only, no redistribution.",
    facts="the BAS SmartKom Public page",
)


@hookimpl
def register_corpora(register):
    """Register the ``smartkom`` corpus."""
    register(
        CorpusSpec(
            name=NAME,
            scan=scan,
            description="SmartKom Public: German human-machine dialogues, user turns by majority user state",
            expected=EXPECTED,
            labels=LABELS,
            version="SmartKom Public (SKP) release, BAS",
            licence="BAS SmartKom licence (research use, no redistribution)",
            url="https://www.bas.uni-muenchen.de/forschung/Bas/BasSmartKomPubliceng.html",
            source=SOURCE,
        )
    )
