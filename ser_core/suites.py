"""The benchmarks file (``benchmarks.toml``): systems, suites and corpus locations.

Layout::

    [defaults]                 # optional; each suite may override
    repeats = 3
    seed = 0
    normalisation = "speaker"  # speaker | fold | none
    folds = "speaker-independent"  # or text-independent: no speaker and no sentence shared

    [systems.mymodel-myfeature]   # a system = a model on a feature, with optional setting overrides
    model = "mymodel"
    feature = "myfeature"
    settings = { inner_folds = 5 }

    [systems.mymodel-myfeature-online]
    model = "mymodel"
    feature = "myfeature"
    normalisation = "fold"     # this system's own normalisation, whatever its suite's is

    [systems.mymodel-two-features]
    model = "mymodel"
    features = ["myfeature", "otherfeature"]   # several functionals features, each cached on its own,
                                               # concatenated per clip; the model gets the blocks (ModelContext.blocks)

    [corpora.mycorpus]         # where a corpus lives (relative paths: relative to this file)
    path = "/data/mycorpus/wav"

    [executor]                 # optional: run on a batch system (see ser_core.executor_config.ExecutorConfig)
    kind = "slurm"             # slurm | pbs | sge | lsf
    queue = "gpu"
    cores = 8
    memory = "32GB"
    walltime = "04:00:00"
    gpus = 1
    adaptive = { minimum = 0, maximum = 8 }

    [suites.mine]
    corpora = ["synthetic"]
    systems = ["mymodel-myfeature"]
    repeats = 1
    overrides = { mymodel-myfeature = { inner_folds = 3 } }   # per-system settings for this suite only

    [suites.cross]             # cross-corpus (ser_core.crosscorpus; docs/cross-corpus.md)
    corpora = ["mycorpus", "othercorpus", "thirdcorpus"]
    systems = ["mymodel-myfeature"]
    protocol = "cross"         # within (default) | cross | leave-one-corpus-out
    classes = ["anger", "happiness", "sadness", "neutral"]   # optional; also for within suites
    normalisation = "corpus"   # cross-corpus protocols may also standardise per corpus
    cap_per_corpus = 2000      # optional: at most this many clips per training corpus

Every error names the file and the offending key.

Suites and systems come from the installed benchmark distributions (each registers them through the
``register_benchmarks`` hook; :func:`registered`), so ``serbench run`` works in any directory.
:func:`load_suites` reads them, then the user's file - ``--config``, else ``$SERBENCH_CONFIG``, else
``benchmarks.toml`` in the working directory when there is one - whose systems, suites and corpus
locations add to the registered ones or replace those of the same name (a replaced system is replaced
in every suite that uses it). Each file's ``[defaults]`` apply to the suites it defines. A registered
system or suite is checked by the same code as a user's file; one that cannot be used marks its
plugin broken (``serbench list``) and is left out. ``serbench suites`` shows where each was defined:
the distribution and version that registered it, or the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ser_core.benchmark_specs import SUITE_DEFAULTS
from ser_core.errors import ConfigError
from ser_core.protocol import FOLD_POLICIES, NORMALISATIONS

#: What the registered systems and suites are called where a message names their source.
REGISTERED = Path("(installed benchmarks)")

DEFAULTS: dict[str, Any] = SUITE_DEFAULTS
#: The most repeats a suite may ask for: each repeat re-runs every fold of every system, so more than
#: this is a typing error, not a study (100 repeats of a 10-fold corpus are already 1000 cells a system).
MAX_REPEATS = 100
#: The largest seed: seeds are 32-bit integers (NumPy's, TensorFlow's and PyTorch's generators).
MAX_SEED = 2**32 - 1
#: The most clips per training corpus ``cap_per_corpus`` may name (more than any corpus has).
MAX_CAP = 10_000_000
_TOP_KEYS = {"defaults", "systems", "corpora", "suites", "executor"}
_SYSTEM_KEYS = {"model", "feature", "features", "settings", "description", "normalisation"}
_SUITE_KEYS = {"description", "corpora", "systems", "overrides", "protocol", "classes", "cap_per_corpus"} | set(DEFAULTS)
#: Protocols a suite may choose (``protocol = ...``; :mod:`ser_core.crosscorpus`).
PROTOCOLS: tuple[str, ...] = ("within", "cross", "leave-one-corpus-out")
#: Normalisations a suite or system may name: the within-corpus ones, plus ``corpus`` (cross-corpus only).
ANY_NORMALISATION: tuple[str, ...] = NORMALISATIONS + ("corpus",)


@dataclass(frozen=True)
class System:
    """A model on a feature, with setting overrides (applied on top of the model's defaults).

    ``features`` lists the features of a system given several (``features = [...]``: functionals,
    concatenated per clip in that order); ``feature`` is then their names joined by ``+``. A single
    feature system has ``features == (feature,)``. ``normalisation``, when set, replaces the suite's
    normalisation for this system (e.g. ``fold``, "online", beside the suite's per-speaker "offline").
    """

    name: str
    model: str
    feature: str
    settings: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    features: tuple[str, ...] = ()
    normalisation: str | None = None

    def __post_init__(self) -> None:
        if not self.features:
            object.__setattr__(self, "features", (self.feature,))


@dataclass(frozen=True)
class Suite:
    """A named grid of corpora x systems with its protocol settings."""

    name: str
    corpora: tuple[str, ...]
    systems: tuple[System, ...]
    repeats: int
    seed: int
    normalisation: str
    description: str = ""
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    folds: str = "speaker-independent"  # one of ser_core.protocol.FOLD_POLICIES
    #: ``within`` (speaker-independent folds in each corpus), ``cross`` or ``leave-one-corpus-out``
    protocol: str = "within"
    #: the shared classes to use (empty: all a cell's corpora share); other clips are left out
    classes: tuple[str, ...] = ()
    #: at most this many clips per training corpus (cross-corpus protocols; ``None``: no cap)
    cap_per_corpus: int | None = None

    @property
    def cap(self) -> int | None:
        return self.cap_per_corpus

    def subset(self, corpora: list[str] | None = None, systems: list[str] | None = None) -> "Suite":
        """This suite restricted to some of its corpora and systems (same protocol, same config hashes)."""
        for kind, wanted, have in (("corpus", corpora, self.corpora), ("system", systems, [s.name for s in self.systems])):
            unknown = [name for name in wanted or [] if name not in have]
            if unknown:
                raise ConfigError(f"suite {self.name!r} has no {kind} {unknown[0]!r}; it has: {', '.join(have)}")
        return replace(
            self,
            corpora=tuple(c for c in self.corpora if not corpora or c in corpora),
            systems=tuple(s for s in self.systems if not systems or s.name in systems),
        )

    def settings_for(self, system: System) -> dict[str, Any]:
        """The system's own overrides with this suite's overrides for it on top."""
        return {**system.settings, **self.overrides.get(system.name, {})}

    def normalisation_for(self, system: System) -> str:
        """The system's own normalisation when it sets one, else this suite's."""
        return system.normalisation or self.normalisation


@dataclass
class Benchmarks:
    """A parsed, validated benchmarks file."""

    path: Path
    systems: dict[str, System]
    suites: dict[str, Suite]
    corpus_paths: dict[str, Path]
    #: where each suite and each system was defined (the last one, when a file replaced another's): the
    #: file, or the distribution that registered it (``"ser-benchmark-x 0.1.0"``)
    suite_origins: dict[str, Path | str] = field(default_factory=dict)
    system_origins: dict[str, Path | str] = field(default_factory=dict)
    #: the files read, in order (:data:`REGISTERED` first, for the installed distributions' suites)
    sources: list[Path] = field(default_factory=list)
    #: the ``[executor]`` table: a batch-system cluster to run on (:class:`ser_core.executor_config.ExecutorConfig`)
    executor: Any = None

    def suite(self, name: str) -> Suite:
        if not self.suites:
            read = [str(p) for p in self.sources if p != REGISTERED]
            raise NoSuitesError(
                f"no suite {name!r}: no suite is defined at all (no installed distribution registers one"
                + (f", and {' + '.join(read)} defines none" if read else ", and no benchmarks file was read")
                + "). Install one (pip install ser-benchmark-demo for the demo suite on the embedded synthetic "
                "corpus, ser-benchmark-keesing2020 for the study's suites), or write a benchmarks.toml "
                "(README: The benchmarks file)."
            )
        if name not in self.suites:
            files = " + ".join(str(p) for p in self.sources or [self.path])
            raise ConfigError(
                f"{files}: no suite {name!r}; defined suites: {', '.join(sorted(self.suites)) or '(none)'}. "
                f"Add a [suites.{name}] table or pick a defined suite with --suite (`serbench suites` lists them)."
            )
        return self.suites[name]


def _fail(path: Path, key: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: {key}: {message}")


def _table(path: Path, key: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise _fail(path, key, f"expected a table, got {type(value).__name__}")
    return value


def _check_keys(path: Path, key: str, table: dict, allowed: set[str]) -> None:
    for name in table:
        if name not in allowed:
            raise _fail(path, f"{key}.{name}", f"unknown key; allowed keys: {', '.join(sorted(allowed))}")


def _names(path: Path, key: str, value: Any, *, once: bool = True) -> tuple[str, ...]:
    """A non-empty list of names; with ``once``, each name at most once (a suite's cells computed once)."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _fail(path, key, "expected a non-empty list of names")
    for index, name in enumerate(value):
        if once and name in value[:index]:
            raise _fail(path, f"{key}[{index}]", f"{name!r} is listed twice (also as {key}[{value.index(name)}]); "
                        "its cells would be computed twice. Remove the repeated name.")
    return tuple(value)


def _protocol(path: Path, key: str, table: dict, base: dict[str, Any]) -> dict[str, Any]:
    values = {name: table.get(name, base[name]) for name in DEFAULTS}
    for name, low, high in (("repeats", 1, MAX_REPEATS), ("seed", 0, MAX_SEED)):
        value = values[name]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise _fail(path, f"{key}.{name}", f"expected an integer from {low} to {high}, got {value!r}"
                        + (f" (the limit is {high}; each repeat re-runs every fold of every system)"
                           if name == "repeats" and isinstance(value, int) and value > high else ""))
    if values["normalisation"] not in ANY_NORMALISATION:
        raise _fail(
            path, f"{key}.normalisation", f"expected one of {', '.join(ANY_NORMALISATION)}, got {values['normalisation']!r}"
        )
    if values["folds"] not in FOLD_POLICIES:
        raise _fail(path, f"{key}.folds", f"expected one of {', '.join(FOLD_POLICIES)}, got {values['folds']!r}")
    return values


def _refuse_twins(path: Path, key: str, suite: Suite) -> None:
    """Refuse a suite naming one system twice under two names (same model, features, settings and
    normalisation): every one of its cells would be computed twice."""
    import json

    seen: dict[str, str] = {}
    for index, system in enumerate(suite.systems):
        what = json.dumps([system.model, system.features, suite.settings_for(system), suite.normalisation_for(system)],
                          sort_keys=True, default=str)
        if what in seen:
            raise _fail(path, f"{key}.systems[{index}]", f"{system.name!r} is the same system as {seen[what]!r} (model "
                        f"{system.model!r}, feature {system.feature!r}, the same settings and normalisation); its "
                        "cells would be computed twice. List one of them, or make them differ.")
        seen[what] = system.name


def _cross_keys(path: Path, key: str, entry: dict) -> dict[str, Any]:
    """A suite's ``protocol``, ``classes`` and ``cap_per_corpus``, checked."""
    from ser_core.specs import LABELS

    protocol = entry.get("protocol", "within")
    if protocol not in PROTOCOLS:
        raise _fail(path, f"{key}.protocol", f"expected one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    classes = entry.get("classes", [])
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
        raise _fail(path, f"{key}.classes", "expected a list of class names of the shared vocabulary")
    unknown = [c for c in classes if c not in LABELS]
    if unknown or len(set(classes)) != len(classes) or (classes and len(classes) < 2):
        raise _fail(path, f"{key}.classes", f"expected two or more different names of the shared vocabulary "
                    f"({', '.join(LABELS)}); got {classes!r}")
    cap = entry.get("cap_per_corpus")
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= MAX_CAP):
        raise _fail(path, f"{key}.cap_per_corpus", f"expected an integer from 1 to {MAX_CAP} (clips per training "
                    f"corpus), got {cap!r}")
    if cap is not None and protocol == "within":
        raise _fail(path, f"{key}.cap_per_corpus", "applies to the cross-corpus protocols only")
    return {"protocol": protocol, "classes": tuple(classes), "cap_per_corpus": cap}


def load_benchmarks(path: str | Path, base: Benchmarks | None = None) -> Benchmarks:
    """Parse and validate a benchmarks file; raises :class:`ConfigError` naming the offending key.

    :param base: suites and systems defined before this file (the registered ones): the file's suites
        may use their systems, and its systems and suites replace theirs of the same name.
    """
    path = Path(path)
    raw = _read(path)
    return _parse(path, raw, base)


class NoSuitesError(ConfigError):
    """No suite at all: no benchmark distribution installed and no benchmarks file."""


def registered(registry: Any = None) -> Benchmarks:
    """The systems and suites the installed distributions register, each checked as a user's file is
    checked (its models, features and corpora are checked with the run's plan). One that cannot be used
    marks its plugin broken, with the reason, and is left out; the rest stay usable.

    :param registry: a :class:`~ser_core.plugins.Registry` (default: the installed plugins').
    """
    from ser_core.plugins import load_registry

    registry = load_registry() if registry is None else registry
    systems, system_origins = _checked(registry, "system", None)
    base = Benchmarks(REGISTERED, systems, {}, {}, {}, system_origins, [REGISTERED])
    suites, suite_origins = _checked(registry, "suite", base)
    return Benchmarks(REGISTERED, systems, suites, {}, suite_origins, system_origins, [REGISTERED])


def _checked(registry: Any, kind: str, base: Benchmarks | None) -> tuple[dict[str, Any], dict[str, Path | str]]:
    """Every registered ``kind`` (``system`` or ``suite``) parsed as its table in a benchmarks file
    would be (suites on top of ``base``'s systems), with the distribution that registered it; one that
    cannot be used marks its plugin broken and is left out."""
    from ser_core.plugins import mark_broken

    parsed: dict[str, Any] = {}
    origins: dict[str, Path | str] = {}
    for name, item in sorted(registry.items[kind].items()):
        label = f"{item.plugin.distribution} {item.plugin.version}"
        try:
            found = _parse(Path(label), {f"{kind}s": {name: item.spec.table()}}, base)
        except ConfigError as exc:
            mark_broken(item.plugin, f"{kind} {name!r} cannot be used: {exc}")
            continue
        parsed[name] = (found.systems if kind == "system" else found.suites)[name]
        origins[name] = label
    return parsed, origins


def user_config(config: Path | None = None) -> Path | None:
    """The user's benchmarks file: ``config``, else ``$SERBENCH_CONFIG``, else ``./benchmarks.toml``
    when it exists; ``None`` when there is none (the registered suites alone are used)."""
    from ser_core import config as locations

    if config is not None:
        return Path(config)
    path = locations.default_config()
    if path.exists() or os.environ.get(locations.CONFIG_ENV):
        return path  # a missing $SERBENCH_CONFIG is an error, reported when it is read
    return None


def load_suites(config: Path | None = None, registry: Any = None) -> Benchmarks:
    """The registered suites (:func:`registered`) with the user's benchmarks file (see
    :func:`user_config`) on top."""
    path = user_config(config)
    base = registered(registry)
    return base if path is None else load_benchmarks(path, base)


def corpus_paths(config: Path | None = None, registry: Any = None) -> dict[str, Path]:
    """The corpus locations (``[corpora.NAME] path``) of the benchmarks file that every command reads
    (:func:`user_config`), read on top of the registered suites as ``serbench run`` reads it, so a file
    whose suites use registered systems is valid."""
    return dict(load_suites(config, registry).corpus_paths)


def _read(path: Path) -> dict:
    from ser_core.inputs import read_text

    try:
        raw = tomllib.loads(read_text(path))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: file not found. Pass --config (or set SERBENCH_CONFIG to) an existing benchmarks "
            "file, or leave both out to use the installed suites (`serbench suites` lists them)."
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"{path}: is a directory, not a benchmarks file. Pass the file itself, e.g. "
            f"--config {path / 'benchmarks.toml'} (or set SERBENCH_CONFIG to it)."
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not a text file (byte {exc.start} is not UTF-8); a benchmarks file is TOML text. "
            "Check --config / SERBENCH_CONFIG point at the right file."
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc}). Check the path and its permissions.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return raw


def _parse(path: Path, raw: dict, earlier: Benchmarks | None) -> Benchmarks:
    _check_keys(path, "(top level)", raw, _TOP_KEYS)
    defaults_table = _table(path, "defaults", raw.get("defaults", {}))
    _check_keys(path, "defaults", defaults_table, set(DEFAULTS))
    base = _protocol(path, "defaults", defaults_table, DEFAULTS)

    systems: dict[str, System] = {}
    for name, entry in _table(path, "systems", raw.get("systems", {})).items():
        key = f"systems.{name}"
        entry = _table(path, key, entry)
        _check_keys(path, key, entry, _SYSTEM_KEYS)
        if not isinstance(entry.get("model"), str):
            raise _fail(path, f"{key}.model", "required; expected a name (string)")
        if "feature" in entry and "features" in entry:
            raise _fail(path, key, "give either feature = \"NAME\" or features = [\"NAME\", ...], not both")
        if "features" in entry:
            names = _names(path, f"{key}.features", entry["features"], once=False)
            if len(names) < 2 or len(set(names)) != len(names):
                raise _fail(path, f"{key}.features", "expected two or more different feature names "
                            "(a single feature: feature = \"NAME\")")
        elif not isinstance(entry.get("feature"), str):
            raise _fail(path, f"{key}.feature", "required; expected a name (string), or features = [NAME, ...]")
        else:
            names = (entry["feature"],)
        normalisation = entry.get("normalisation")
        if normalisation is not None and normalisation not in ANY_NORMALISATION:
            raise _fail(path, f"{key}.normalisation", f"expected one of {', '.join(ANY_NORMALISATION)}, got {normalisation!r}")
        systems[name] = System(
            name,
            entry["model"],
            "+".join(names),
            dict(_table(path, f"{key}.settings", entry.get("settings", {}))),
            str(entry.get("description", "")),
            features=names,
            normalisation=normalisation,
        )

    corpus_paths: dict[str, Path] = {}
    for name, entry in _table(path, "corpora", raw.get("corpora", {})).items():
        entry = _table(path, f"corpora.{name}", entry)
        _check_keys(path, f"corpora.{name}", entry, {"path"})
        if not isinstance(entry.get("path"), str):
            raise _fail(path, f"corpora.{name}.path", "required; expected a directory (string)")
        location = Path(entry["path"]).expanduser()
        corpus_paths[name] = location if location.is_absolute() else path.parent / location

    known = {**(earlier.systems if earlier else {}), **systems}
    suites: dict[str, Suite] = {}
    for name, entry in _table(path, "suites", raw.get("suites", {})).items():
        key = f"suites.{name}"
        entry = _table(path, key, entry)
        _check_keys(path, key, entry, _SUITE_KEYS)
        corpora = _names(path, f"{key}.corpora", entry.get("corpora"))
        system_names = _names(path, f"{key}.systems", entry.get("systems"))
        for i, system in enumerate(system_names):
            if system not in known:
                raise _fail(
                    path,
                    f"{key}.systems[{i}]",
                    f"unknown system {system!r}; defined systems: {', '.join(sorted(known)) or '(none)'}",
                )
        overrides = _table(path, f"{key}.overrides", entry.get("overrides", {}))
        for system, settings in overrides.items():
            if system not in system_names:
                raise _fail(path, f"{key}.overrides.{system}", "not one of this suite's systems")
            _table(path, f"{key}.overrides.{system}", settings)
        protocol = _protocol(path, key, entry, base)
        cross = _cross_keys(path, key, entry)
        if cross["protocol"] == "within" and (protocol["normalisation"] == "corpus" or any(
                known[s].normalisation == "corpus" for s in system_names)):
            raise _fail(path, f"{key}.normalisation", "'corpus' normalisation needs protocol = \"cross\" or "
                        "\"leave-one-corpus-out\"")
        if cross["protocol"] != "within" and len(corpora) < 2:
            raise _fail(path, f"{key}.corpora", f"protocol {cross['protocol']!r} needs two or more corpora")
        suites[name] = Suite(
            name=name,
            corpora=corpora,
            systems=tuple(known[s] for s in system_names),
            description=str(entry.get("description", "")),
            overrides={k: dict(v) for k, v in overrides.items()},
            **protocol,
            **cross,
        )
        _refuse_twins(path, key, suites[name])
    executor = None
    if "executor" in raw:
        from ser_core.executor_config import parse_executor

        executor = parse_executor(path, raw["executor"])
    if earlier is None:
        return Benchmarks(path, systems, suites, corpus_paths, {n: path for n in suites}, {n: path for n in systems},
                          [path], executor)
    # Suites of earlier files use this file's version of a system it replaces.
    inherited = {
        name: replace(suite, systems=tuple(known[s.name] for s in suite.systems))
        for name, suite in earlier.suites.items()
        if name not in suites
    }
    return Benchmarks(
        path,
        known,
        {**inherited, **suites},
        {**earlier.corpus_paths, **corpus_paths},
        {**earlier.suite_origins, **{n: path for n in suites}},
        {**earlier.system_origins, **{n: path for n in systems}},
        [*earlier.sources, path],
        executor if executor is not None else earlier.executor,
    )
