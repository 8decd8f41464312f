"""Planning a run, before any work: the checks (cell options, a suite's settings), and the plan itself.

:func:`plan_units` turns a suite, the installed plugins and the store into :class:`Unit` objects, one
per (corpus, system) with its cell keys and the ones still to compute; engines
(:mod:`ser_core.engines`) compute them and :mod:`ser_core.runner` stores what they yield. The checks
and :func:`resolve_settings` are shared with cross-corpus runs (:mod:`ser_core.crosscorpus`), and
:class:`PlanRow` is a line of ``serbench run --dry-run``.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ser_core import corpus as corpus_mod
from ser_core.cell import CellTask
from ser_core.classes import restrict, shared_classes
from ser_core.errors import ConfigError, CorpusError, SerbenchError
from ser_core.events import Reporter, RunReport
from ser_core.plugins import Registered, Registry
from ser_core.protocol import Folds, cell_seed, make_folds, text_independent
from ser_core.records import CorpusInstance, SystemProtocol, fold_policy
from ser_core.results import CellKey, ResultStore
from ser_core.specs import FeatureBlock, Manifest
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


@dataclass
class PlanContext:
    """What planning reads: the installed plugins, the store (which cells are done), where corpora
    are, and where to report what cannot run."""

    registry: Registry
    store: ResultStore
    corpus_paths: Mapping[str, Path]
    reporter: Reporter


def skip(report: RunReport, reporter: Reporter, what: str, why: str) -> None:
    """``what`` (a corpus, or a system on a corpus) cannot run: reported, and the run goes on."""
    report.skipped.append((what, why))
    reporter.warning(f"skipped {what}", why)


def refuse_unusable(manifest: Manifest, folds: Folds | None, fold_by: str) -> None:
    """Refuse, before any work, a corpus whose score would mean nothing (:func:`corpus.benchmark_problems`)."""
    unusable = corpus_mod.benchmark_problems(manifest, folds, fold_by)
    if unusable:
        raise CorpusError("refused, it cannot be cross-validated or scored: " + " ".join(unusable))


@dataclass
class Unit:
    """One (corpus, system) of a planned suite: what its cells need, its cell keys, and the ones not stored yet."""

    corpus: Registered
    system: System
    model: Registered
    feature: Registered
    manifest: Manifest
    folds: Folds
    protocol: SystemProtocol
    instance: CorpusInstance
    settings: dict
    overrides: dict
    keys: list[CellKey]
    todo: list[CellKey]
    #: the features the system combines (one for most systems); ``feature`` is their combination
    parts: tuple[Registered, ...] = ()
    normalisation: str = "speaker"
    blocks: tuple[FeatureBlock, ...] = ()  # known once the parts are extracted
    #: the corpus as scanned, when the suite restricts it to some classes: features are extracted on
    #: it, so within- and cross-corpus runs share one cached table per corpus
    scanned: Manifest | None = None
    left_out: dict = field(default_factory=dict)  # clips of other classes, per label

    @property
    def table_manifest(self) -> Manifest:
        """The manifest the feature table is extracted on."""
        return self.scanned or self.manifest

    def tasks(self, suite_seed: int) -> list[CellTask]:
        """The cell tasks of the missing cells (the features' blocks known once they are extracted)."""
        source = self.model.plugin
        plugin = (f"model {self.model.name!r} (in-process plugin {source.name!r})" if source.distribution.startswith("(")
                  else f"model {self.model.name!r} ({source.distribution} {source.version})")
        return [
            CellTask(
                key=key,
                create=self.model.spec.create,
                feature=self.feature.spec,
                settings=self.settings,
                n_classes=len(self.instance.labels),
                normalisation=self.normalisation,
                seed=cell_seed(suite_seed, key.repeat, key.fold),
                plugin=plugin,
                blocks=self.blocks,
            )
            for key in self.todo
        ]


def plugin_modules(units) -> dict[str, str]:
    """The modules a worker imports to run these units' cells (their model's and feature's code), each
    with the plugin it comes from, for :meth:`ser_core.executor.DaskExecutor.check_worker_imports`."""
    modules: dict[str, str] = {}
    for unit in units:
        for registered, code in ((unit.model, unit.model.spec.create), (unit.feature, unit.feature.spec.extract)):
            module = getattr(code, "__module__", None)
            if module and module != "__main__" and module.split(".")[0] != "ser_core":
                source = registered.plugin
                modules.setdefault(module, f"{registered.kind} {registered.name!r} of {source.distribution} "
                                           f"{source.version}")
    return modules


def plan_units(context: PlanContext, suite: Suite, benchmark_paths, report: RunReport) -> list[Unit]:
    """Every (corpus, system) of a within-corpus ``suite`` with its cells and the ones not yet stored;
    what cannot run is reported (``report``, ``context.reporter``) and left out."""
    units = []
    for corpus_name in suite.corpora:
        units.extend(_plan_corpus(context, suite, corpus_name, benchmark_paths, report))
    return units


def locate_corpus(context: PlanContext, name: str, benchmark_paths, report: RunReport) -> tuple[Registered, Path | None] | None:
    """The corpus plugin ``name`` and its directory, or ``None`` after reporting why there is none: no
    directory configured (``report.missing``, normal for corpora this machine lacks) or another reason."""
    try:
        corpus = context.registry.corpus(name)
        return corpus, corpus_mod.locate(name, corpus.spec.needs_path, context.corpus_paths, benchmark_paths)
    except CorpusError as exc:
        report.missing.append((name, str(exc)))
        context.reporter.warning(f"no data for corpus {name}", str(exc))
    except SerbenchError as exc:
        skip(report, context.reporter, f"corpus {name}", str(exc))
    return None


def _plan_corpus(context: PlanContext, suite: Suite, corpus_name: str, benchmark_paths, report: RunReport) -> list[Unit]:
    located = locate_corpus(context, corpus_name, benchmark_paths, report)
    if located is None:
        return []
    corpus, root = located
    try:
        manifest = scanned = corpus_mod.scan(corpus, root)
        left_out: dict = {}
        if suite.classes:  # only the suite's classes (after the corpus's label_map)
            _, refused = shared_classes({corpus_name: (manifest, corpus.spec)}, tuple(suite.classes))
            if refused:
                raise ConfigError(f"refused: {refused}")
            manifest, left_out = restrict(manifest, corpus.spec, suite.classes)
        use_groups = corpus.spec.fold_by == "group"
        refuse_unusable(manifest, None, corpus.spec.fold_by)
        folds = make_folds(
            [c.speaker for c in manifest.clips],
            [c.group for c in manifest.clips] if use_groups else None,
            seed=suite.seed,
        )
        if suite.folds == "text-independent":
            folds = text_independent(folds, [c.sentence for c in manifest.clips], seed=suite.seed)
        refuse_unusable(manifest, folds, corpus.spec.fold_by)
    except (SerbenchError, ValueError) as exc:
        skip(report, context.reporter, f"corpus {corpus_name}", str(exc))
        return []
    except Exception as exc:  # a bug in the corpus plugin: name it, keep the run going
        where = traceback.extract_tb(exc.__traceback__)[-1]
        message = (
            f"the corpus plugin ({corpus.plugin.distribution} {corpus.plugin.version}) raised "
            f"{type(exc).__name__}: {exc} at {where.filename}:{where.lineno}; report it to the plugin's authors"
        )
        skip(report, context.reporter, f"corpus {corpus_name}", message)
        return []
    for warning in corpus_mod.suspect_labels(manifest, corpus.spec.fold_by):
        context.reporter.warning(f"warning: {corpus_name}", warning)
    units = []
    for system in suite.systems:
        try:
            unit = _plan_system(context, suite, system, corpus, manifest, folds)
            if suite.classes:
                unit.scanned, unit.left_out = scanned, left_out
        except SerbenchError as exc:
            skip(report, context.reporter, f"{system.name} on {corpus_name}", str(exc))
            continue
        report.resumed += len(unit.keys) - len(unit.todo)
        units.append(unit)
    return units

def _plan_system(context: PlanContext, suite, system, corpus, manifest, folds) -> Unit:
    model = context.registry.model(system.model)
    parts = tuple(context.registry.feature(name) for name in system.features)
    if len(parts) == 1:
        feature = parts[0]
    else:
        from ser_core.blocks import combined_spec

        try:
            feature = Registered("feature", combined_spec(parts), parts[0].plugin)
        except ConfigError as exc:
            raise ConfigError(f"system {system.name!r}: {exc}") from None
    if feature.spec.kind not in model.spec.accepts:
        raise ConfigError(
            f"system {system.name!r}: model {model.name!r} accepts {sorted(model.spec.accepts)} "
            f"features, but {feature.name!r} is a {feature.spec.kind!r} feature"
        )
    settings, overrides = resolve_settings(model, suite, system)
    labels = manifest.labels()
    normalisation = suite.normalisation_for(system)
    protocol = SystemProtocol(
        model=model.name, feature=feature.name, feature_params=dict(feature.spec.params), settings=settings,
        normalisation=normalisation, seed=suite.seed, fold_policy=fold_policy(suite.folds),
    )
    instance = CorpusInstance(
        corpus=corpus.name, version=corpus.spec.version, manifest=manifest.fingerprint(),
        n_clips=len(manifest.clips), labels=tuple(labels), fold_method=folds.method,
        fold_names=tuple(folds.names), fold_assignment=tuple(int(v) for v in folds.assignment),
    )
    keys = [
        CellKey(corpus.name, system.name, protocol.key, instance.key, r, f)
        for r in range(suite.repeats)
        for f in range(len(folds))
    ]
    todo = [k for k in keys if not context.store.done(k)]
    return Unit(corpus, system, model, feature, manifest, folds, protocol, instance, settings, overrides,
                 keys, todo, parts, normalisation)
