"""Checks and plan rows made before any work: cell options, a suite's settings, a system's resolved settings.

Shared by within-corpus runs (:mod:`ser_core.runner`) and cross-corpus runs (:mod:`ser_core.crosscorpus`),
and by ``serbench run --dry-run``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ser_core.errors import ConfigError, SerbenchError
from ser_core.plugins import Registered, Registry
from ser_core.suites import Suite, System


#: Where cells run (``serbench run --cell-process``; :class:`Runner`'s ``cell_process``).
CELL_PROCESS_MODES: tuple[str, ...] = ("auto", "fresh", "in-process")


def check_cell_options(cell_process: str, cell_time_limit: float | None) -> None:
    """Refuse a cell-process mode or time limit that cannot work (:class:`ConfigError`, before any work)."""
    if cell_process not in CELL_PROCESS_MODES:
        raise ConfigError(f"--cell-process {cell_process!r}: choose one of {', '.join(CELL_PROCESS_MODES)}")
    if cell_time_limit is not None:  # a finite bound: inf, NaN or 1e300 would be no limit, stored as one
        from ser_core.waiting import seconds

        seconds(cell_time_limit, "--cell-time-limit (or $SERBENCH_CELL_TIME_LIMIT)")
    if cell_time_limit is not None and cell_process == "in-process":
        raise ConfigError("--cell-time-limit needs each cell in a fresh process (a cell running in serbench's own "
                          "process cannot be stopped): drop --cell-process in-process or the time limit")


def resolve_settings(model: Registered, suite: Suite, system: System) -> tuple[dict, dict]:
    """``(settings used, overrides)``: the model's defaults with the system's and suite's overrides.

    Both as the model resolves them (``ModelSpec.resolve``: e.g. ``precision = "auto"`` becomes the
    precision used), so the protocol and the printed overrides name what was used.
    """
    overrides = suite.settings_for(system)
    unknown = sorted(set(overrides) - set(model.spec.defaults))
    if unknown:
        raise ConfigError(
            f"system {system.name!r}: unknown setting(s) {unknown} for model {model.name!r}; "
            f"its settings are: {', '.join(sorted(model.spec.defaults)) or '(none)'}"
        )
    settings = model.spec.resolved_settings({**model.spec.defaults, **overrides})
    defaults = model.spec.resolved_settings(model.spec.defaults)
    return settings, {k: v for k, v in settings.items() if k not in defaults or defaults[k] != v}


def check_suite(registry: Registry, suite: Suite) -> None:
    """Check every system's settings against its model's declared types and ranges, before any work.

    Systems whose model or feature is not installed are left to the run (it reports them as
    skipped). :raises ConfigError: listing every unknown setting and every value of the wrong type
    or out of range, naming the system, the setting and what is expected.
    """
    problems = []
    for system in suite.systems:
        try:
            model = registry.model(system.model)
        except SerbenchError:
            continue
        overrides = suite.settings_for(system)
        unknown = sorted(set(overrides) - set(model.spec.defaults))
        if unknown:
            problems.append(
                f"system {system.name!r}: unknown setting(s) {unknown} for model {model.name!r}; its settings "
                f"are: {', '.join(sorted(model.spec.defaults)) or '(none)'}"
            )
        known = {k: v for k, v in overrides.items() if k in model.spec.defaults}
        for name, given, expected in model.spec.setting_problems(known):
            problems.append(
                f"system {system.name!r}: setting {name!r} of model {model.name!r} is {given}; expected {expected}"
            )
    for system in suite.systems:
        if suite.protocol == "within" and suite.normalisation_for(system) == "corpus":
            problems.append(f"system {system.name!r}: normalisation 'corpus' needs a cross-corpus protocol")
    if problems:
        raise ConfigError(
            f"suite {suite.name!r} cannot run; nothing was computed:\n  " + "\n  ".join(problems)
            + "\nFix the settings in the benchmarks file ([systems.NAME] settings or the suite's overrides)."
        )


@dataclass
class PlanRow:
    """One (corpus, system) of a plan: its cells, how many are stored, and the compute still needed.

    ``seconds`` estimates the missing cells' compute from the stored wall times of this system on
    this corpus (``None`` when none is stored); ``cell_seconds`` is their mean.
    """

    corpus: str
    system: str
    cells: int
    done: int
    missing: int
    seconds: float | None = None
    cell_seconds: float | None = None
