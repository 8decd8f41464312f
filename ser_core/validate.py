"""Plugin conformance checks (``serbench validate-plugin NAME``), run on generated data.

For every corpus, feature and model a plugin registers, the checks exercise the contract the core
relies on: a corpus declares a label set its expected content keeps to and a valid data source
(files with an http(s) URL, an MD5 or SHA-256 hash and a known unpack method, or manual steps), and
reports a missing directory as a :class:`~ser_core.errors.CorpusError` (or, when it needs no directory, scans into a valid manifest);
a feature extracts finite arrays of its declared kind from synthetic speech, in a worker process,
deterministically and with one width for every clip; a model's factory pickles (so folds can run
in worker processes) and the estimator it creates fits and predicts labels in range on small
random data of an accepted kind, reporting a parameter count and a JSON-serialisable description;
a model that offers the optional ``predict_scores`` returns one finite score per class whose argmax is
its prediction (unless it declares otherwise, ``scores_match_predict = False``). A model's checks run
in a fresh Python process, so a model that ends its process (``sys.exit``, ``os._exit``) or never
returns (:data:`MODEL_CHECK_SECONDS`) fails a check instead of ending the validator with its own
exit status; so do a feature's (:data:`FEATURE_CHECK_SECONDS`), so an extractor that hangs on a clip
fails a check instead of holding the validator forever.
"""

from __future__ import annotations

import json
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ser_core import corpus as corpus_mod
from ser_core import features
from ser_core.errors import CorpusError, UnknownNameError
from ser_core.plugins import Registered, Registry
from ser_core.specs import (FEATURE_KINDS, LABELS, DownloadSource, FeatureSpec, ManualSource, ModelContext, has_scores,
                            source_problems)

#: Settings that shorten training when a model declares them (validation checks the contract, not accuracy).
QUICK_SETTINGS = {"epochs": 1}


@dataclass(frozen=True)
class Check:
    """One conformance check: what was checked, on which registered thing, and how it went."""

    subject: str
    check: str
    passed: bool
    detail: str = ""


def _run(subject: str, name: str, check: Callable[[], str | None]) -> Check:
    try:
        return Check(subject, name, True, check() or "")
    except Exception as exc:  # a failing plugin is the finding, not a crash of the validator
        return Check(subject, name, False, f"{type(exc).__name__}: {exc}")
    except SystemExit as exc:  # sys.exit in a plugin: a finding too, never the validator's exit status
        status = 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
        return Check(subject, name, False, f"the plugin ended its process (sys.exit, exit status {status}); "
                                           "a plugin must raise an exception instead")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def check_corpus(corpus: Registered, workdir: Path) -> Iterator[Check]:
    """Labels of the expected content, and scan behaviour without the corpus's data."""
    spec, subject = corpus.spec, f"corpus {corpus.name}"

    def labels() -> str:
        declared = spec.label_set()
        _require(len(declared) >= 2 and all(isinstance(x, str) and x for x in declared),
                 f"the label set must name at least two classes: {declared!r}")
        bad_map = {k: v for k, v in spec.label_map.items() if k not in declared or v not in LABELS}
        _require(not bad_map, f"label_map must map the corpus's labels onto the shared vocabulary: {bad_map}")
        own = [label for label in declared if label not in LABELS]
        if spec.expected is None:
            return f"{len(declared)} labels ({len(own)} outside the shared vocabulary); no expected content declared"
        unknown = sorted(set(spec.expected.clips_per_label) - set(declared))
        _require(not unknown, f"expected content has labels outside the corpus's label set: {unknown}")
        _require(spec.expected.total > 0 and spec.expected.speakers > 0, "expected content is empty")
        return f"{len(declared)} labels; {spec.expected.total} clips, {spec.expected.speakers} speakers expected"

    yield _run(subject, "label set and expected content", labels)

    def source() -> str:
        found = source_problems(spec.source)
        _require(not found, "; ".join(found))
        if isinstance(spec.source, DownloadSource):
            hashes = sorted({f.hash.partition(":")[0] for f in spec.source.files})
            terms = ", licence to accept" if spec.source.accept else ""
            return f"download: {len(spec.source.files)} files, {'/'.join(hashes)} hashes{terms}"
        if isinstance(spec.source, ManualSource):
            return f"manual: {len(spec.source.steps)} steps" + (f", request at {spec.source.request}" if spec.source.request else "")
        return "no source declared (corpus list shows it as your own files)"

    yield _run(subject, "declared data source is valid", source)
    if spec.needs_path:

        def missing() -> str:
            absent = workdir / "no-such-corpus"
            try:
                spec.scan(absent)
            except CorpusError as exc:
                _require(str(absent) in str(exc), f"the message does not name the path: {exc}")
                return "CorpusError naming the path"
            raise AssertionError("scanning a missing directory did not raise CorpusError")

        yield _run(subject, "a missing directory is a clear CorpusError", missing)
    else:

        def scans() -> str:
            manifest = spec.scan(None)
            corpus_mod.validate(manifest, fold_by=spec.fold_by)
            return f"{len(manifest.clips)} clips, {len(manifest.speakers())} speakers"

        yield _run(subject, "scans into a valid manifest", scans)


#: The longest the feature checks of one feature (two extractions of a few short clips) may take (seconds).
FEATURE_CHECK_SECONDS = 900


def check_feature(feature: Registered, manifest) -> list[Check]:
    """The feature checks (:func:`feature_checks`), in a fresh Python process when the feature can be sent
    to one, stopped after :data:`FEATURE_CHECK_SECONDS`: an extractor that never returns, or ends its
    process, is a failed check, not a validator that hangs or exits with the plugin's status."""
    from ser_core.executor import run_in_fresh_process

    subject = f"feature {feature.name}"
    try:
        call = pickle.dumps((_feature_checks, (feature, manifest)), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return list(feature_checks(feature, manifest))  # extraction in workers reports what cannot be sent
    status, value = run_in_fresh_process(call, time_limit=FEATURE_CHECK_SECONDS)
    if status == "ok":
        return value
    if status == "time limit":
        return [Check(subject, "extracts within the time limit", False,
                      f"extracting {len(manifest.clips)} short generated clips (twice) did not finish in "
                      f"{FEATURE_CHECK_SECONDS} s; its processes were stopped")]
    if status == "ended":
        code, tail = value
        how = (f"was killed by signal {-code}" if code < 0 else f"ended its process (exit status {code})")
        return [Check(subject, "extracts without ending its process", False,
                      f"the feature's plugin {how}; a plugin must raise an exception, never call sys.exit or "
                      "os._exit" + (f". Its last output: {tail}" if tail else ""))]
    return list(feature_checks(feature, manifest))  # a new process cannot import it: check it here


def _feature_checks(feature: Registered, manifest) -> list[Check]:
    return list(feature_checks(feature, manifest))


def feature_checks(feature: Registered, manifest) -> Iterator[Check]:
    """Extraction in a worker process on synthetic speech: kind, finiteness, width, determinism."""
    spec, subject = feature.spec, f"feature {feature.name}"
    def known_kind() -> str:
        _require(spec.kind in FEATURE_KINDS, f"kind {spec.kind!r}; use one of {FEATURE_KINDS}")
        return spec.kind

    yield _run(subject, "declares a known kind", known_kind)
    tables = []

    def extracts() -> str:
        table = features.extract(manifest, feature, workers=1, use_cache=False)
        _require(not table.failures, f"failed clips: {dict(list(table.failures.items())[:2])}")
        tables.append(table)
        shapes = sorted({item.shape for item in table.items})
        return f"{len(table)} clips, shapes {shapes[:3]}{' ...' if len(shapes) > 3 else ''}"

    yield _run(subject, "extracts finite arrays of its kind in a worker process", extracts)
    if tables:

        def deterministic() -> str:
            again = features.extract(manifest, feature, workers=1, use_cache=False)
            same = all(np.array_equal(a, b) for a, b in zip(tables[0].items, again.items))
            _require(same, "two extractions of the same clips differ")
            return "identical on a second extraction"

        yield _run(subject, "is deterministic", deterministic)


def _random_items(kind: str, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    if kind == "functionals":
        return [rng.normal(size=16).astype(np.float32) for _ in range(n)]
    if kind == "sequence":
        return [rng.normal(size=(int(rng.integers(80, 160)), 40)).astype(np.float32) for _ in range(n)]
    return [rng.normal(scale=0.1, size=int(rng.integers(8000, 16000))).astype(np.float32) for _ in range(n)]


#: The longest the model checks of one model may take in their own process (seconds).
MODEL_CHECK_SECONDS = 900


def check_model(model: Registered) -> list[Check]:
    """The model checks (:func:`model_checks`), run in a fresh Python process when the model can be
    sent to one, so that a model that ends its process (``os._exit``) or never returns is reported as
    a failed check instead of ending or hanging the validator."""
    from ser_core.executor import run_in_fresh_process

    subject = f"model {model.name}"
    try:
        call = pickle.dumps((_model_checks, (model.name, model.spec)), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return list(model_checks(model.name, model.spec))  # its own check reports the unpicklable factory
    status, value = run_in_fresh_process(call, time_limit=MODEL_CHECK_SECONDS)
    if status == "ok":
        return value
    pickled = Check(subject, "factory pickles (folds can run in worker processes)", True, "ok")
    if status == "time limit":
        return [pickled, Check(subject, "fits and predicts within the time limit", False,
                      f"the model checks did not finish in {MODEL_CHECK_SECONDS} s on 24 small items; its process "
                      "was stopped")]
    if status == "ended":
        code, tail = value
        how = (f"was killed by signal {-code}" if code < 0 else f"ended its process (exit status {code})")
        return [pickled, Check(subject, "fits and predicts without ending its process", False,
                      f"the model's plugin {how} during fit or predict; a plugin must raise an exception, never "
                      "call sys.exit or os._exit" + (f". Its last output: {tail}" if tail else ""))]
    return list(model_checks(model.name, model.spec))  # a new process cannot import it: check it here


def _model_checks(name: str, spec) -> list[Check]:
    return list(model_checks(name, spec))


def model_checks(name: str, spec) -> Iterator[Check]:
    """Picklable factory; fit/predict on small random data of each accepted kind."""
    subject = f"model {name}"
    def pickles() -> str:
        pickle.loads(pickle.dumps(spec.create))
        return "ok"

    yield _run(subject, "factory pickles (folds can run in worker processes)", pickles)
    for kind in sorted(spec.accepts):
        if kind not in FEATURE_KINDS:
            yield Check(subject, f"accepts {kind!r}", False, f"unknown feature kind; use one of {FEATURE_KINDS}")
            continue

        def fits(kind: str = kind) -> str:
            rng = np.random.default_rng(0)
            X = _random_items(kind, 24, rng)
            y = np.arange(24) % 3
            groups = np.array([f"s{i % 4}" for i in range(24)])
            settings = {**spec.defaults, **{k: v for k, v in QUICK_SETTINGS.items() if k in spec.defaults}}
            feature = FeatureSpec(f"validate-{kind}", kind, extract=lambda signal, rate: signal)
            estimator = spec.create(ModelContext(3, feature, settings, seed=0))
            estimator.fit(X[:18], y[:18], groups[:18])
            predicted = np.asarray(estimator.predict(X[18:]))
            _require(predicted.shape == (6,), f"predict returned shape {predicted.shape}, expected (6,)")
            _require(np.isin(predicted, [0, 1, 2]).all(), f"predictions outside 0..2: {predicted}")
            count = estimator.parameter_count()
            _require(count is None or (isinstance(count, int) and count > 0), f"parameter_count {count!r}")
            json.dumps(estimator.describe(), default=str)
            fitted.append((estimator, X[18:], predicted))
            return f"{count} parameters" if count is not None else "no parameter count"

        fitted: list = []
        yield _run(subject, f"fits and predicts on {kind} data", fits)
        if fitted and has_scores(fitted[0][0]):
            yield _run(subject, f"predict_scores on {kind} data", lambda: check_scores(*fitted[0], n_classes=3))


def check_scores(estimator, X, predicted: np.ndarray, n_classes: int) -> str:
    """The optional ``predict_scores`` contract (:class:`ser_core.specs.Estimator`): shape
    ``(len(X), n_classes)``, finite, and a row-wise argmax equal to ``predict`` unless the estimator
    declares ``scores_match_predict = False``. Returns what was found; raises on a breach."""
    scores = np.asarray(estimator.predict_scores(X))
    _require(scores.shape == (len(X), n_classes),
             f"predict_scores returned shape {scores.shape}, expected ({len(X)}, {n_classes}): one score per class")
    _require(scores.dtype.kind in "fiu", f"predict_scores returned {scores.dtype} values, expected numbers")
    _require(bool(np.isfinite(scores).all()), f"predict_scores returned {np.count_nonzero(~np.isfinite(scores))} non-finite values")
    agree = int(np.sum(scores.argmax(axis=1) == np.asarray(predicted)))
    if getattr(estimator, "scores_match_predict", True):
        _require(agree == len(X), f"the argmax of predict_scores differs from predict on {len(X) - agree} of {len(X)} "
                 "items; make them agree or set scores_match_predict = False and document when they differ")
        return f"shape {scores.shape}, finite, argmax equals predict"
    return f"shape {scores.shape}, finite; argmax equals predict on {agree} of {len(X)} (declared scores_match_predict = False)"


def validate_plugin(registry: Registry, name: str) -> list[Check]:
    """Run every check for everything plugin ``name`` registered (a plugin name or a registered name)."""
    plugin = next((p for p in registry.plugins if p.name == name), None)
    if plugin is None:
        owners = [r.plugin for table in registry.items.values() for r in table.values() if r.name == name]
        plugin = owners[0] if owners else None
    if plugin is None:  # the distribution `serbench list` shows (pip's name), when it holds one plugin
        holding = sorted((p for p in registry.plugins if p.distribution == name), key=lambda p: p.name)
        if len(holding) > 1:
            raise UnknownNameError(f"distribution {name!r} holds the plugins {', '.join(p.name for p in holding)}; "
                                   "validate one of them by name")
        plugin = holding[0] if holding else None
    if plugin is None:
        known = sorted(p.name for p in registry.plugins)
        raise UnknownNameError(f"no plugin or registered name {name!r}; installed plugins: {', '.join(known)}")
    checks = [Check(f"plugin {plugin.name}", "loads and registers", plugin.status == "ok", "; ".join(plugin.errors)
                    or f"{plugin.distribution} {plugin.version}")]
    owned = [r for table in registry.items.values() for r in table.values() if r.plugin is plugin]
    if not owned:
        checks.append(Check(f"plugin {plugin.name}", "registers something", False, "no corpus, feature or model"))
    with tempfile.TemporaryDirectory(prefix="serbench-validate-") as tmp:
        workdir = Path(tmp)
        manifest = None
        for item in owned:
            if item.kind == "corpus":
                checks += check_corpus(item, workdir)
            elif item.kind == "feature":
                if manifest is None:
                    from ser_core.synthetic import SyntheticConfig, generate

                    config = SyntheticConfig(speakers=2, clips_per_class=1, min_seconds=0.6, max_seconds=1.4)
                    manifest = generate(config, workdir / "synthetic")
                checks += check_feature(item, manifest)
            else:
                checks += check_model(item)
    return checks
