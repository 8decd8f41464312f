"""What a benchmark distribution registers: systems, suites and published reference results.

A *system* is a model on a feature (or several) with settings; a *suite* is a grid of corpora x
systems with its protocol; a *reference* is a published table (UAR, or accuracy for a human row,
per corpus and system) that a board is read against. A distribution registers them through the
``register_benchmarks`` hook, beside the corpora, features and models of other hooks; names are
global and a name claimed twice is refused for every claimant. A user's benchmarks file adds to
them and replaces them by name.

:func:`read_benchmarks` turns a benchmarks file (the TOML a user writes) into specs, so a
distribution can ship its suites as that file; :func:`read_reference` reads a CSV of published
numbers. Both only read and check the file's own shape: whether a suite's systems, models and
features exist is checked when the registry is read, as for a user's file, and every problem names
the file (and key or line).
"""

from __future__ import annotations

import csv
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Mapping

from ser_core.errors import ConfigError

#: What a published reference row measures: unweighted average recall, or plain accuracy (what the
#: human ratings of most corpora report); a board compares its UARs only with ``uar`` references.
MEASURES: tuple[str, ...] = ("uar", "accuracy")


@dataclass(frozen=True)
class SystemSpec:
    """A model on a feature with settings (the ``[systems.NAME]`` table of a benchmarks file).

    ``features`` lists several functionals features (concatenated per clip, in that order) instead of
    ``feature``; ``settings`` override the model's defaults; ``normalisation`` replaces the suite's
    for this system (``speaker``, ``fold``, ``none``, or ``corpus`` in cross-corpus suites).
    """

    name: str
    model: str
    feature: str = ""
    features: tuple[str, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    normalisation: str | None = None

    def __post_init__(self) -> None:
        _names_of(self, "features")

    def table(self) -> dict[str, Any]:
        """The system as the table a benchmarks file would hold (validated by the same code)."""
        out: dict[str, Any] = {"model": self.model}
        if self.features:
            out["features"] = list(self.features)
        else:
            out["feature"] = self.feature
        if self.settings:
            out["settings"] = dict(self.settings)
        if self.description:
            out["description"] = self.description
        if self.normalisation is not None:
            out["normalisation"] = self.normalisation
        return out


@dataclass(frozen=True)
class SuiteSpec:
    """A grid of corpora x systems with its protocol (the ``[suites.NAME]`` table of a benchmarks file).

    ``systems`` are names of systems registered by any distribution or defined in the user's file.
    ``overrides`` maps a system to settings used in this suite only. ``protocol``, ``classes`` and
    ``cap_per_corpus`` choose within- or cross-corpus evaluation (docs/cross-corpus.md).
    """

    name: str
    corpora: tuple[str, ...]
    systems: tuple[str, ...]
    description: str = ""
    repeats: int = 3
    seed: int = 0
    normalisation: str = "speaker"
    folds: str = "speaker-independent"
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    protocol: str = "within"
    classes: tuple[str, ...] = ()
    cap_per_corpus: int | None = None

    def __post_init__(self) -> None:
        for attribute in ("corpora", "systems", "classes"):
            _names_of(self, attribute)

    def table(self) -> dict[str, Any]:
        """The suite as the table a benchmarks file would hold (validated by the same code)."""
        out: dict[str, Any] = {
            "corpora": list(self.corpora), "systems": list(self.systems), "repeats": self.repeats,
            "seed": self.seed, "normalisation": self.normalisation, "folds": self.folds, "protocol": self.protocol,
        }
        if self.description:
            out["description"] = self.description
        if self.overrides:
            out["overrides"] = {k: dict(v) for k, v in self.overrides.items()}
        if self.classes:
            out["classes"] = list(self.classes)
        if self.cap_per_corpus is not None:
            out["cap_per_corpus"] = self.cap_per_corpus
        return out


#: The protocol settings a suite inherits from a benchmarks file's ``[defaults]`` table, with their values
#: when neither sets them (:class:`SuiteSpec`'s own defaults).
SUITE_DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(SuiteSpec)
                                  if f.name in ("repeats", "seed", "normalisation", "folds")}


def _names_of(spec: Any, attribute: str) -> None:
    """``spec.attribute`` as a tuple of names; a single string (``corpora = "mycorpus"``) is refused, not
    read letter by letter."""
    value = getattr(spec, attribute)
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{type(spec).__name__} {spec.name!r}: {attribute} must be a list of names, got {value!r}")
    object.__setattr__(spec, attribute, tuple(value))


@dataclass(frozen=True)
class ReferenceRow:
    """One published figure: ``value`` in percent for ``system`` on ``corpus``; where the publication
    gives them, ``spread`` (its standard deviation over ``repeats`` runs, in percent points)."""

    corpus: str
    system: str
    value: float
    spread: float | None = None
    repeats: int | None = None
    source: str = ""
    line: int | None = None  # where the row is in the file it was read from


@dataclass(frozen=True)
class ReferenceSpec:
    """A published table a board is read against (``serbench leaderboard --reference NAME``).

    ``measure`` is ``uar`` (compared with the board's UARs) or ``accuracy`` (shown apart, labelled:
    e.g. the human raters of a corpus). Each (corpus, system) appears once; values lie in 0-100.
    """

    name: str
    citation: str
    rows: tuple[ReferenceRow, ...]
    measure: Literal["uar", "accuracy"] = "uar"
    description: str = ""
    path: Path | None = None  # the file it was read from, when there is one

    def __post_init__(self) -> None:
        where = str(self.path) if self.path is not None else f"reference {self.name!r}"
        if not self.name or not isinstance(self.name, str):
            raise ConfigError(f"{where}: a reference needs a name")
        if self.measure not in MEASURES:
            raise ConfigError(f"{where}: measure {self.measure!r} is not one of {', '.join(MEASURES)}")
        first: dict[tuple[str, str], ReferenceRow] = {}
        for index, row in enumerate(self.rows):
            at = _row_place(where, row, index)
            if not row.corpus or not row.system:
                raise ConfigError(f"{at}: a row needs a corpus and a system (found corpus {row.corpus!r}, "
                                  f"system {row.system!r})")
            if not isinstance(row.value, (int, float)) or not math.isfinite(row.value) or not 0 <= row.value <= 100:
                raise ConfigError(f"{at}: {self.measure} {row.value!r} is not a percentage between 0 and 100")
            if 0 < row.value <= 1:  # below chance for any corpus of at most 100 classes: a fraction
                raise ConfigError(f"{at}: {self.measure} {row.value:g} looks like a fraction; the column is in "
                                  f"percent (write {100 * row.value:g}, not {row.value:g})")
            if row.spread is not None and not (math.isfinite(row.spread) and 0 <= row.spread <= 100):
                raise ConfigError(f"{at}: spread {row.spread!r} is not a number of percent points from 0 to 100")
            if row.repeats is not None and (not isinstance(row.repeats, int) or row.repeats < 1):
                raise ConfigError(f"{at}: repeats {row.repeats!r} is not a whole number of 1 or more")
            key = (row.corpus, row.system)
            if key in first:
                earlier = first[key]
                lines = (f"lines {earlier.line} and {row.line}" if earlier.line and row.line
                         else f"rows {self.rows.index(earlier) + 1} and {index + 1}")
                raise ConfigError(f"{at}: {row.system} on {row.corpus} is given twice, on {lines}; which "
                                  "published number is meant cannot be known. Keep one row (or comment one out "
                                  "with #).")
            first[key] = row

    def value(self, corpus: str, system: str) -> float | None:
        """The published figure (percent) for ``system`` on ``corpus``, or ``None``."""
        return next((r.value for r in self.rows if r.corpus == corpus and r.system == system), None)


def _row_place(where: str, row: ReferenceRow, index: int) -> str:
    return f"{where}:{row.line}" if row.line else f"{where}: row {index + 1}"


def read_reference(path: str | Path, *, name: str | None = None, citation: str = "",
                   measure: Literal["uar", "accuracy"] = "uar", description: str = "") -> ReferenceSpec:
    """A :class:`ReferenceSpec` from a CSV file: columns ``corpus,system`` and the measure (``uar`` or
    ``accuracy``, in percent), optionally ``spread``, ``repeats`` and ``source``; lines starting with
    ``#`` are comments. ``name`` defaults to the file's stem, ``citation`` to the rows' sources.

    :raises ConfigError: naming the file and the line of a problem.
    """
    from ser_core.inputs import read_text

    path = Path(path)
    try:
        text = read_text(path, encoding="utf-8-sig")  # a spreadsheet's byte-order mark is not part of the header
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--reference {path}: cannot be read ({exc})") from None
    # (line number in the file, line) of every line the CSV reader sees: comments are left out, so the
    # reader's own line count is mapped back to the file's to name the line of a problem
    kept = [(i + 1, line) for i, line in enumerate(text.splitlines()) if not line.lstrip().startswith("#")]
    reader = csv.DictReader(line for _, line in kept)
    needed = {"corpus", "system", measure}
    if reader.fieldnames is None or not needed <= set(reader.fieldnames):
        raise ConfigError(f"--reference {path}: the header must name the columns corpus,system,{measure} "
                          f"(found {', '.join(reader.fieldnames or []) or 'nothing'})")
    twice = sorted({n for n in reader.fieldnames if reader.fieldnames.count(n) > 1})
    if twice:
        raise ConfigError(f"--reference {path}: the header names the column {', '.join(twice)} twice; which one "
                          "holds the numbers cannot be known. Keep one.")
    rows = []
    for row in reader:
        line = kept[reader.line_num - 1][0]
        rows.append(ReferenceRow(
            (row.get("corpus") or "").strip(), (row.get("system") or "").strip(),
            _number(path, line, measure, row.get(measure), f"{'a UAR' if measure == 'uar' else 'an accuracy'} in percent"),
            _optional(path, line, "spread", row.get("spread"), float),
            _optional(path, line, "repeats", row.get("repeats"), int),
            (row.get("source") or "").strip(), line,
        ))
    sources = sorted({r.source for r in rows if r.source})
    return ReferenceSpec(name or path.stem, citation or "; ".join(sources), tuple(rows), measure, description, path)


def _number(path: Path, line: int, column: str, text: str | None, what: str) -> float:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{path}:{line}: {column} {text!r} is not a number ({what})") from None


def _optional(path: Path, line: int, column: str, text: str | None, kind: type) -> Any:
    if text is None or not text.strip():
        return None
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{path}:{line}: {column} {text!r} is not {'a whole number' if kind is int else 'a number'}") \
            from None


#: Keys of a benchmarks file a distribution's file may hold: ``[corpora]`` (where data lives) and
#: ``[executor]`` (a batch system) describe one user's machine, so they belong in the user's file.
_DISTRIBUTION_KEYS = {"defaults", "systems", "suites"}


def read_benchmarks(path: str | Path) -> list[SystemSpec | SuiteSpec]:
    """The systems and suites of a benchmarks file, as specs to register (its ``[defaults]`` applied
    to its suites). Only the file's shape is checked here; the rest is checked when the registry
    is read, with the messages a user's file gets.

    :raises ConfigError: naming the file and the key of a problem.
    """
    from ser_core.inputs import read_text

    path = Path(path)
    try:
        raw = tomllib.loads(read_text(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    extra = sorted(set(raw) - _DISTRIBUTION_KEYS)
    if extra:
        raise ConfigError(f"{path}: {extra[0]}: a distribution's benchmarks file holds only "
                          f"{', '.join(sorted(_DISTRIBUTION_KEYS))} ([corpora] and [executor] belong in a user's file)")
    defaults = {**SUITE_DEFAULTS, **_mapping(path, "defaults", raw.get("defaults", {}))}
    specs: list[SystemSpec | SuiteSpec] = []
    for name, entry in _mapping(path, "systems", raw.get("systems", {})).items():
        entry = dict(_mapping(path, f"systems.{name}", entry))
        try:
            specs.append(SystemSpec(name, entry.pop("model"), entry.pop("feature", ""),
                                    entry.pop("features", ()), entry.pop("settings", {}),
                                    entry.pop("description", ""), entry.pop("normalisation", None)))
        except (KeyError, TypeError, ConfigError) as exc:
            raise ConfigError(f"{path}: systems.{name}: needs model and feature (or features) ({exc})") from None
        if entry:
            raise ConfigError(f"{path}: systems.{name}.{sorted(entry)[0]}: unknown key")
    for name, entry in _mapping(path, "suites", raw.get("suites", {})).items():
        entry = {**defaults, **_mapping(path, f"suites.{name}", entry)}
        try:
            specs.append(SuiteSpec(
                name, entry.pop("corpora"), entry.pop("systems"), entry.pop("description", ""),
                entry.pop("repeats"), entry.pop("seed"), entry.pop("normalisation"), entry.pop("folds"),
                entry.pop("overrides", {}), entry.pop("protocol", "within"), entry.pop("classes", ()),
                entry.pop("cap_per_corpus", None)))
        except (KeyError, TypeError, ConfigError) as exc:
            raise ConfigError(f"{path}: suites.{name}: needs corpora and systems (lists of names) ({exc})") from None
        if entry:
            raise ConfigError(f"{path}: suites.{name}.{sorted(entry)[0]}: unknown key")
    return specs


def _mapping(path: Path, key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key}: expected a table, got {type(value).__name__}")
    return value
