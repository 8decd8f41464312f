"""Cross-corpus evaluation: train on some corpora, test on another, on the classes they share.

A suite chooses its protocol (``protocol = ...``): ``within`` (the runner's speaker-independent
folds), ``cross`` (every ordered pair of the suite's corpora: train on all of A, test on all of B) or
``leave-one-corpus-out`` (train on all corpora but one, test on it). The classes of a cell are those
every corpus involved has after its ``label_map`` (:meth:`~ser_core.specs.CorpusSpec.shared_label`),
or the suite's ``classes`` where every corpus has them; clips of other classes are left out and
counted, and a cell with fewer than two shared classes is refused, with the reason, before any
feature is extracted. Nothing of the test corpus reaches training: the model is fitted on the
training corpora's clips alone, its inner CV (the SVM's C/gamma) is grouped by (corpus, speaker)
within them, class weights come from the training clips, ``fold`` normalisation is fitted on them,
and the optional cap (``cap_per_corpus``) draws a seeded class-stratified subset of each training
corpus. ``speaker`` and ``corpus`` normalisation standardise each speaker, or each corpus, on its own
clips without labels (the test corpus's too, as a within-corpus per-speaker run does). A cell's
corpus instance is the pair (training corpora with their manifest fingerprints, test corpus with
its), named ``A+B>C``, so its results never mix with within-corpus ones; features come from the
same cache as within-corpus runs (extracted on each corpus's full manifest), cells resume, run on
Dask workers when the runner does, and carry the run's provenance.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ser_core import corpus as corpus_mod
from ser_core import features
from ser_core.classes import restrict, shared_classes
from ser_core.plan import locate_corpus
from ser_core.errors import CacheError, ConfigError, SerbenchError
from ser_core.plugins import Registered
from ser_core.protocol import as_rows, cell_seed, standardise
from ser_core.records import CellOutcome, CorpusInstance, SystemProtocol, digest, fold_policy
from ser_core.results import CellKey
from ser_core.specs import Manifest

from ser_core.suites import PROTOCOLS  # noqa: E402  (within, cross, leave-one-corpus-out)

#: Normalisations of the cross-corpus protocols: the within-corpus ones plus per corpus.
CROSS_NORMALISATIONS: tuple[str, ...] = ("speaker", "fold", "corpus", "none")
#: Separates the training corpora from the test corpus in a cross cell's name (``a+b>c``: trained on a and b, tested on c).
ARROW = ">"
MIN_CLASSES = corpus_mod.MIN_CLASSES  # the same bound as within-corpus benchmarks (corpus.benchmark_problems)


def is_cross(name: str) -> bool:
    """Whether a stored corpus name is a cross-corpus cell's (``A+B>C``)."""
    return ARROW in name


def cell_name(train: tuple[str, ...], test: str) -> str:
    """The stored corpus name of a cross-corpus cell: training corpora joined by ``+``, ``>``, test corpus."""
    return "+".join(train) + ARROW + test


def split_name(name: str) -> tuple[tuple[str, ...], str]:
    """``(training corpora, test corpus)`` of a cell name made by :func:`cell_name`."""
    train, test = name.split(ARROW, 1)
    return tuple(train.split("+")), test


def pairs(corpora: tuple[str, ...] | list[str], protocol: str) -> list[tuple[tuple[str, ...], str]]:
    """The ``(training corpora, test corpus)`` cells of a protocol over ``corpora``, in suite order."""
    corpora = list(corpora)
    if protocol == "cross":
        return [((a,), b) for a in corpora for b in corpora if a != b]
    if protocol == "leave-one-corpus-out":
        return [(tuple(c for c in corpora if c != held), held) for held in corpora if len(corpora) > 1]
    raise ValueError(f"unknown cross-corpus protocol {protocol!r}; choose one of {PROTOCOLS[1:]}")


def capped(labels: np.ndarray, cap: int | None, seed: int) -> np.ndarray:
    """Indices of at most ``cap`` clips, drawn per class in proportion to its share (seeded); all
    indices when there is no cap or the corpus is within it."""
    n = len(labels)
    if cap is None or n <= cap:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    chosen = []
    classes, counts = np.unique(labels, return_counts=True)
    quota = np.floor(counts / n * cap).astype(int)
    for i in np.argsort(-(counts / n * cap - quota))[: cap - quota.sum()]:  # largest remainders
        quota[i] += 1
    for cls, want in zip(classes, quota):
        members = np.flatnonzero(labels == cls)
        chosen.append(rng.choice(members, size=min(want, len(members)), replace=False))
    return np.sort(np.concatenate(chosen))


@dataclass
class CorpusData:
    """One corpus of a cross-corpus run: its registration, full manifest (which keys the feature
    cache) and where it was read from."""

    corpus: Registered
    manifest: Manifest


@dataclass
class CrossUnit:
    """One (cell, system) of a cross-corpus suite: its classes, records and missing repeats."""

    train: tuple[str, ...]
    test: str
    system: Any
    model: Registered
    feature: Registered
    parts: tuple[Registered, ...]
    classes: list[str]
    protocol: SystemProtocol
    instance: CorpusInstance
    settings: dict
    overrides: dict
    normalisation: str
    keys: list[CellKey]
    todo: list[CellKey]
    record: dict = field(default_factory=dict)  # the pair, for the cell's details

    @property
    def name(self) -> str:
        return cell_name(self.train, self.test)


def check_normalisation(suite) -> None:
    """Refuse a normalisation the suite's protocol cannot use (``corpus`` is cross-corpus only)."""
    for system in suite.systems:
        mode = suite.normalisation_for(system)
        if suite.protocol == "within" and mode == "corpus":
            raise ConfigError(f"suite {suite.name!r}: normalisation 'corpus' (of system {system.name!r} or the "
                              "suite) needs protocol 'cross' or 'leave-one-corpus-out'")


def scan_corpora(runner, suite, benchmark_paths, report) -> dict[str, CorpusData]:
    """Every corpus of the suite that can be read, scanned once; the others reported as the runner does."""
    found = {}
    for name in suite.corpora:
        located = locate_corpus(runner.plan_context(), name, benchmark_paths, report)
        if located is None:
            continue
        corpus, root = located
        try:
            manifest = corpus_mod.scan(corpus, root)
        except Exception as exc:
            runner._skip(report, f"corpus {name}", str(exc))
            continue
        found[name] = CorpusData(corpus, manifest)
    return found


def plan(runner, suite, benchmark_paths, report) -> tuple[list[CrossUnit], dict[str, CorpusData]]:
    """The cross-corpus cells of ``suite`` and their missing repeats; refused cells are reported in
    ``report.skipped`` with the reason, before any work."""
    from ser_core.plan import resolve_settings

    check_normalisation(suite)
    data = scan_corpora(runner, suite, benchmark_paths, report)
    units = []
    for train, test in pairs(suite.corpora, suite.protocol):
        involved = [c for c in (*train, test) if c in data]
        train = tuple(c for c in train if c in data)
        if test not in data or not train:
            continue  # the missing corpus is reported already
        name = cell_name(train, test)
        classes, refused = shared_classes({c: (data[c].manifest, data[c].corpus.spec) for c in involved},
                                          tuple(suite.classes))
        if refused:
            report.skipped.append((name, f"refused: {refused}"))
            runner.reporter.warning(f"refused {name}", refused)
            continue
        record = pair_record(data, train, test, classes, suite.cap)
        for system in suite.systems:
            try:
                units.append(_unit(runner, suite, system, train, test, classes, record, resolve_settings))
            except SerbenchError as exc:
                runner._skip(report, f"{system.name} on {name}", str(exc))
                continue
            report.resumed += len(units[-1].keys) - len(units[-1].todo)
    return units, data


def pair_record(data: Mapping[str, CorpusData], train, test, classes, cap) -> dict:
    """What a cell was computed on: each corpus with its version, manifest fingerprint, clips used and
    left out (per original label), the shared classes and the cap per training corpus."""

    def side(name: str) -> dict:
        entry = data[name]
        restricted, left_out = restrict(entry.manifest, entry.corpus.spec, classes)
        return {"corpus": name, "version": entry.corpus.spec.version, "manifest": entry.manifest.fingerprint(),
                "clips": len(restricted.clips), "left_out": left_out,
                "speakers": len({c.speaker for c in restricted.clips})}

    return {"train": [side(c) for c in train], "test": side(test), "classes": list(classes),
            "cap_per_corpus": cap}


def _unit(runner, suite, system, train, test, classes, record, resolve_settings) -> CrossUnit:
    model = runner.registry.model(system.model)
    parts = tuple(runner.registry.feature(n) for n in system.features)
    if len(parts) == 1:
        feature = parts[0]
    else:
        from ser_core.blocks import combined_spec

        feature = Registered("feature", combined_spec(parts), parts[0].plugin)
    if feature.spec.kind not in model.spec.accepts:
        raise ConfigError(f"system {system.name!r}: model {model.name!r} accepts {sorted(model.spec.accepts)} "
                          f"features, but {feature.name!r} is a {feature.spec.kind!r} feature")
    settings, overrides = resolve_settings(model, suite, system)
    normalisation = suite.normalisation_for(system)
    if normalisation not in CROSS_NORMALISATIONS:
        raise ConfigError(f"system {system.name!r}: normalisation {normalisation!r}; cross-corpus cells use one "
                          f"of {', '.join(CROSS_NORMALISATIONS)}")
    policy = {**fold_policy(), "protocol": suite.protocol, "cap_per_corpus": suite.cap}
    protocol = SystemProtocol(model=model.name, feature=feature.name, feature_params=dict(feature.spec.params),
                              settings=settings, normalisation=normalisation, seed=suite.seed, fold_policy=policy)
    name = cell_name(train, test)
    fingerprint = digest({"train": [(s["corpus"], s["version"], s["manifest"]) for s in record["train"]],
                          "test": (record["test"]["corpus"], record["test"]["version"], record["test"]["manifest"]),
                          "classes": record["classes"], "cap_per_corpus": record["cap_per_corpus"]})
    instance = CorpusInstance(corpus=name, version=record["test"]["version"], manifest=fingerprint,
                              n_clips=record["test"]["clips"], labels=tuple(classes), fold_method=suite.protocol,
                              fold_names=(test,), fold_assignment=())
    keys = [CellKey(name, system.name, protocol.key, instance.key, r, 0) for r in range(suite.repeats)]
    todo = [k for k in keys if not runner.store.done(k)]
    return CrossUnit(train, test, system, model, feature, parts, list(classes), protocol, instance, settings,
                     overrides, normalisation, keys, todo, record)


def _table(runner, manifest: Manifest, unit: CrossUnit, tables: dict):
    """The feature table of one corpus for a unit's feature(s), extracted once (cached) and reused."""
    key = (manifest.corpus, unit.feature.name)
    if key not in tables:
        if len(unit.parts) > 1:
            from ser_core.blocks import extract_combined

            tables[key] = extract_combined(manifest, unit.parts, workers=runner.workers)
        else:
            runner.reporter.stage(f"{manifest.corpus}: extracting {unit.feature.name}", len(manifest.clips))
            tables[key] = (features.extract(manifest, unit.feature, workers=runner.workers,
                                            on_progress=runner.reporter.advance), ())
    return tables[key]


def assemble(corpora: Mapping[str, CorpusData], tables: Mapping[str, Any], train, test, classes, kind: str,
             normalisation: str, cap: int | None, seed: int):
    """The data of one cell as :class:`ser_core.cell.Prepared`: the training corpora's clips (fold
    1; speakers and groups prefixed with their corpus, so the inner CV groups by speaker within each
    training corpus) then the test corpus's (fold 0), labels as indices of ``classes``, normalised
    per speaker or per corpus when asked (per fold happens in the cell). Returns ``(data, facts)``:
    facts say, per corpus, how many clips were used, capped away, and had no features."""
    from ser_core.cell import Prepared

    items, y, clip_ids, speakers, groups, fold_of = [], [], [], [], [], []
    facts: dict[str, dict] = {}
    for index, name in enumerate((*train, test)):
        is_test = index == len(train)
        entry = corpora[name]
        restricted, _ = restrict(entry.manifest, entry.corpus.spec, classes)
        table = tables[name]
        row_of = {cid: i for i, cid in enumerate(table.clip_ids)}
        clips = [c for c in restricted.clips if c.clip_id in row_of]
        missing = [[c.clip_id, table.failures.get(c.clip_id, "no features")] for c in restricted.clips
                   if c.clip_id not in row_of]
        corpus_items = [as_rows(table.items[row_of[c.clip_id]], kind) for c in clips]
        corpus_y = np.array([classes.index(c.label) for c in clips], dtype=np.int64)
        corpus_speakers = [c.speaker for c in clips]
        if normalisation == "speaker":
            corpus_items = standardise(corpus_items, corpus_speakers, np.ones(len(clips), bool), "speaker")
        elif normalisation == "corpus":
            corpus_items = standardise(corpus_items, corpus_speakers, np.ones(len(clips), bool), "fold")
        chosen = np.arange(len(clips)) if is_test else capped(corpus_y, cap, seed + 7919 * (index + 1))
        facts[name] = {"role": "test" if is_test else "train", "clips": int(len(chosen)),
                       "capped_away": int(len(clips) - len(chosen)), "no_features": missing}
        for i in chosen:
            clip = clips[i]
            items.append(corpus_items[i])
            y.append(corpus_y[i])
            if is_test:
                clip_ids.append(clip.clip_id)
                speakers.append(clip.speaker)
                groups.append(clip.group or clip.speaker)
            else:
                clip_ids.append(f"{name}/{clip.clip_id}")
                speakers.append(f"{name}/{clip.speaker}")
                groups.append(f"{name}/{clip.group or clip.speaker}")
            fold_of.append(0 if is_test else 1)
    data = Prepared(items=items, y=np.array(y, dtype=np.int64), clip_ids=clip_ids, speakers=np.array(speakers),
                    groups=np.array(groups), fold_of=np.array(fold_of, dtype=np.int64))
    return data, facts


def _task(suite, unit: CrossUnit, key: CellKey, blocks):
    from ser_core.cell import CellTask

    source = unit.model.plugin
    plugin = (f"model {unit.model.name!r} (in-process plugin {source.name!r})" if source.distribution.startswith("(")
              else f"model {unit.model.name!r} ({source.distribution} {source.version})")
    return CellTask(key=key, create=unit.model.spec.create, feature=unit.feature.spec, settings=unit.settings,
                    n_classes=len(unit.classes), normalisation=unit.normalisation,
                    seed=cell_seed(suite.seed, key.repeat, 0), plugin=plugin, blocks=blocks)


def run(runner, suite, benchmark_paths=None):
    """Compute every missing cell of a cross-corpus ``suite`` (``Runner.run`` calls this)."""
    from ser_core.events import RunReport

    report = RunReport()
    units, corpora = plan(runner, suite, benchmark_paths or {}, report)
    jobs = []  # (unit, task, data, details)
    tables: dict = {}
    for unit in units:
        if not unit.todo:
            continue
        try:
            per_corpus = {c: _table(runner, corpora[c].manifest, unit, tables) for c in (*unit.train, unit.test)}
        except CacheError:
            raise
        except SerbenchError as exc:
            runner._skip(report, f"{unit.system.name} on {unit.name}", str(exc))
            continue
        blocks = next(iter(per_corpus.values()))[1]
        for key in unit.todo:
            task = _task(suite, unit, key, blocks)
            data, facts = assemble(corpora, {c: t for c, (t, _) in per_corpus.items()}, unit.train, unit.test,
                                   unit.classes, unit.feature.spec.kind, unit.normalisation, suite.cap, task.seed)
            details = {
                "overrides": unit.overrides, "description": unit.system.description, "cross": unit.record,
                "corpora": facts, "feature_cache_keys": {c: t.cache_key for c, (t, _) in per_corpus.items()},
                "excluded_clips": facts[unit.test]["no_features"],
                "plugins": runner.registry.versions(*(corpora[c].corpus for c in (*unit.train, unit.test)),
                                                    *(unit.parts or (unit.feature,)), unit.model),
                "fold_name": unit.test,
                "seeds": {"suite": suite.seed, "repeat": key.repeat, "cell": task.seed},
                **runner._process_details(runner.in_fresh_process(unit.model)),
            }
            jobs.append((unit, task, data, details))
    if not jobs:
        return report
    runner.reporter.stage(f"{suite.name}: cross-corpus cells", len(jobs))
    for unit, task, outcome, details in _compute(runner, jobs):
        _store(runner, suite, unit, task, outcome, details, report)
        runner.reporter.cell_result(task.key, outcome)
        runner.reporter.advance(1)
    return report


def _store(runner, suite, unit: CrossUnit, task, outcome: CellOutcome, details: dict, report) -> None:
    key = task.key
    runner.store.write(key, outcome, protocol=unit.protocol, instance=unit.instance, seed=task.seed,
                       details=details, run_id=runner._run_id(suite))
    if not outcome.ok:
        report.failed.append((key, outcome.error))
        runner.reporter.failure(f"failed {key.corpus} / {key.system} repeat {key.repeat}", outcome.error or "")
        return
    report.computed += 1


def _compute(runner, jobs):
    """Yield ``(unit, task, outcome, details)`` for every job: in this process, or on Dask workers
    when the runner is distributed (results come back here, where they are stored one by one)."""
    from ser_core.executor import DaskExecutor, compute_alone

    def fresh(details) -> bool:
        return details["cell_process"] == "fresh"

    if not runner.distributed:
        for unit, task, data, details in jobs:
            yield unit, task, compute_alone(task, data, fresh(details), runner.cell_time_limit), details
        return
    from ser_core.waiting import RunStopped, Watch

    executor = DaskExecutor(workers=runner.workers, scheduler=runner.scheduler, config=runner.executor_config,
                            waits=runner.waits)
    runner.executor = executor
    try:
        executor.start()
        client = executor.client
        futures = {}
        for unit, task, data, details in jobs:
            k = task.key
            future = client.submit(compute_alone, task, data, fresh(details), runner.cell_time_limit, key=(f"cross-{k.corpus}-{k.system}", k.repeat, k.instance),
                                   pure=False)
            futures[future] = (unit, task, details)
        try:
            pending = Watch(client, list(futures), runner.waits, address=executor.address)  # bounded waits
            for future in pending:
                unit, task, details = futures.pop(future)
                try:
                    outcome = pending.result(future)
                except RunStopped:  # no workers, or a silent scheduler: not this cell's fault
                    raise
                except Exception as exc:
                    outcome = CellOutcome.failure(f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=4), 0.0)
                yield unit, task, outcome, details
                future.release()
        except BaseException:
            executor.cancel(futures)
            raise
    finally:
        runner.executor = None
        executor.close()


def plan_rows(runner, suite, benchmark_paths=None):
    """``Runner.plan`` of a cross-corpus suite: one :class:`ser_core.plan.PlanRow` per (cell, system)."""
    from ser_core.events import RunReport
    from ser_core.plan import PlanRow

    report = RunReport()
    units, _ = plan(runner, suite, benchmark_paths or {}, report)
    rows = []
    for unit in units:
        walls = [c.wall_time for c in runner.store.cells(unit.name, unit.system.name) if c.status == "ok"]
        mean = float(np.mean(walls)) if walls else None
        missing = len(unit.todo)
        rows.append(PlanRow(unit.name, unit.system.name, len(unit.keys), len(unit.keys) - missing, missing,
                            None if mean is None else mean * missing, mean))
    return rows, report
