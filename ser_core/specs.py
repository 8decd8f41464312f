"""What plugins provide: corpus, feature and model specs, the manifest, the estimator protocol.

These are plain data objects. A corpus plugin registers a :class:`CorpusSpec` whose ``scan`` turns a
directory into a :class:`Manifest`; a feature plugin registers a :class:`FeatureSpec` whose ``extract``
maps one signal to an array; a model plugin registers a :class:`ModelSpec` whose ``create`` returns an
:class:`Estimator` for one fold. Nothing here imports a heavy library.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Protocol, Sequence, TypeGuard

import numpy as np

#: The shared emotion vocabulary: the basic classes most corpora have, in the order boards and
#: tables show them. It orders and displays labels; it does not limit them: each corpus declares its
#: own label set (:attr:`CorpusSpec.labels`), which may hold other classes (EMO-DB's boredom,
#: RAVDESS's calm, ...) and may map them onto this vocabulary (:attr:`CorpusSpec.label_map`).
LABELS: tuple[str, ...] = ("anger", "happiness", "sadness", "fear", "surprise", "disgust", "neutral")


def order_labels(present: "set[str] | list[str]", corpus_order: Sequence[str] = ()) -> list[str]:
    """``present`` labels in display order: the shared vocabulary's first, then the corpus's own in
    the order it declares them, then any other label, sorted."""
    present = set(present)
    shared = [label for label in LABELS if label in present]
    own = [label for label in dict.fromkeys(corpus_order) if label in present and label not in LABELS]
    return shared + own + sorted(present - set(shared) - set(own))


FeatureKind = Literal["functionals", "sequence", "waveform"]
FEATURE_KINDS: tuple[str, ...] = ("functionals", "sequence", "waveform")


@dataclass(frozen=True)
class Clip:
    """One audio clip of a corpus, with everything the protocol needs to know about it."""

    clip_id: str
    path: Path
    speaker: str
    label: str
    group: str | None = None
    gender: str | None = None
    language: str | None = None
    sentence: str | None = None


@dataclass(frozen=True)
class SkippedFile:
    """A file a corpus scan saw and did not turn into a clip, with the reason."""

    path: str
    reason: str


@dataclass
class Manifest:
    """The clips of one corpus as found on disk, plus what the scan skipped and why."""

    corpus: str
    clips: list[Clip]
    root: Path | None = None
    skipped: list[SkippedFile] = field(default_factory=list)
    #: the corpus's declared label order (set by the core from :meth:`CorpusSpec.label_set`)
    label_order: tuple[str, ...] = ()

    def labels(self) -> list[str]:
        """Labels present, in display order (:func:`order_labels`): shared vocabulary first, then
        the corpus's own labels in its declared order, then any other, sorted."""
        return order_labels({clip.label for clip in self.clips}, self.label_order)

    def speakers(self) -> list[str]:
        """Distinct speakers, sorted."""
        return sorted({clip.speaker for clip in self.clips})

    def label_counts(self) -> dict[str, int]:
        """Clips per label, in vocabulary order."""
        counts = Counter(clip.label for clip in self.clips)
        return {label: counts[label] for label in self.labels()}

    def fingerprint(self) -> str:
        """Hash of the corpus content that matters for comparability (ids, speakers, labels, groups).

        File locations are left out, so the same corpus on two machines has the same fingerprint.
        """
        rows = sorted((c.clip_id, c.speaker, c.label, c.group or "") for c in self.clips)
        payload = json.dumps([self.corpus, rows], separators=(",", ":")).encode()
        return hashlib.sha256(payload).hexdigest()[:16]


@dataclass(frozen=True)
class ExpectedContent:
    """What a complete copy of a corpus contains, so a scan can report what is missing or extra."""

    clips_per_label: Mapping[str, int]
    speakers: int
    sample_rate: int

    @property
    def total(self) -> int:
        """Total number of clips expected."""
        return sum(self.clips_per_label.values())


#: Hash algorithms a download may declare (``"md5:<hex>"`` or ``"sha256:<hex>"``), with hex lengths.
HASH_ALGORITHMS: dict[str, int] = {"md5": 32, "sha256": 64}
#: How a downloaded file is turned into corpus files: unpacked as a zip or tar archive, or kept as is.
UNPACK_METHODS: tuple[str, ...] = ("zip", "tar", "none")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a corpus's download, as its publisher serves it.

    ``hash`` is ``"md5:<32 hex digits>"`` or ``"sha256:<64 hex digits>"`` (whichever the publisher
    gives); ``size`` is the size in bytes when published (checked against what the server offers);
    ``unpack`` says how the file becomes corpus files (``zip``, ``tar`` including compressed tars, or
    ``none`` to keep the file as it is); ``into`` is the sub-folder of the corpus directory it is
    unpacked (or placed) into; ``name`` is the file name to save it as (default: the URL's last part).
    """

    url: str
    hash: str
    size: int | None = None
    unpack: Literal["zip", "tar", "none"] = "zip"
    into: str = ""
    name: str = ""

    @property
    def filename(self) -> str:
        """The name the file is saved under."""
        if self.name:
            return self.name
        from urllib.parse import unquote, urlsplit

        return unquote(urlsplit(self.url).path.rstrip("/").rsplit("/", 1)[-1])


@dataclass(frozen=True)
class DownloadSource:
    """A corpus that ``serbench corpus download`` can fetch: its files, verified by their hashes.

    ``accept`` is the licence text a user must accept (with ``--accept-licence``) before a scripted
    download, empty when the licence asks for nothing beyond attribution; ``root`` is the folder,
    inside the directory the files are unpacked into, that holds the corpus as its scan expects;
    ``facts`` says where each URL, size and hash was taken from.
    """

    files: tuple[RemoteFile, ...]
    accept: str = ""
    root: str = ""
    facts: str = ""

    @property
    def size(self) -> int | None:
        """Total bytes to download, when every file's size is known."""
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(sizes)  # type: ignore[misc]


@dataclass(frozen=True)
class ManualSource:
    """A corpus that cannot be fetched by a script: what the user must do to get it.

    ``steps`` are the instructions, in order; ``request`` is where access is requested (a web
    page or an e-mail address), empty when none is needed; ``licence_text`` summarises the terms the
    user agrees to; ``facts`` says where this information comes from.
    """

    steps: tuple[str, ...]
    request: str = ""
    licence_text: str = ""
    facts: str = ""


CorpusSource = DownloadSource | ManualSource


def _relative_problem(what: str, value: str) -> str | None:
    path = Path(value)
    if value and (path.is_absolute() or ".." in path.parts or "\\" in value):
        return f"{what} {value!r} must be a relative path inside the corpus directory, without '..'"
    return None


def source_problems(source: Any) -> list[str]:
    """Every way a corpus's declared ``source`` breaks the contract, one sentence each (empty: valid)."""
    if source is None:
        return []
    if isinstance(source, ManualSource):
        problems = []
        if not source.steps or not all(isinstance(s, str) and s.strip() for s in source.steps):
            problems.append("a manual source needs at least one step, each a non-empty string")
        return problems
    if not isinstance(source, DownloadSource):
        return [f"source must be a DownloadSource or a ManualSource, not {type(source).__name__}"]
    if not source.files:
        return ["a download source needs at least one file"]
    problems = []
    names: set[str] = set()
    for index, item in enumerate(source.files):
        where = f"file {index + 1}"
        if not isinstance(item, RemoteFile):
            problems.append(f"{where} is a {type(item).__name__}, not a RemoteFile")
            continue
        if not item.url.startswith(("https://", "http://")):
            problems.append(f"{where}: URL {item.url!r} is not an http(s) address")
        algorithm, _, digest = item.hash.partition(":")
        if algorithm not in HASH_ALGORITHMS:
            problems.append(
                f"{where}: hash {item.hash!r} must start with one of {', '.join(a + ':' for a in HASH_ALGORITHMS)}"
            )
        elif len(digest) != HASH_ALGORITHMS[algorithm] or any(c not in "0123456789abcdef" for c in digest.lower()):
            problems.append(
                f"{where}: hash {item.hash!r} is not {HASH_ALGORITHMS[algorithm]} hexadecimal digits of {algorithm}"
            )
        if item.size is not None and (isinstance(item.size, bool) or not isinstance(item.size, int) or item.size <= 0):
            problems.append(f"{where}: size {item.size!r} must be a positive number of bytes (or None when unknown)")
        if item.unpack not in UNPACK_METHODS:
            problems.append(f"{where}: unpack {item.unpack!r} must be one of {', '.join(UNPACK_METHODS)}")
        name = item.filename
        if not name or "/" in name or name in (".", ".."):
            problems.append(f"{where}: cannot tell a file name from {item.url!r}; set name=")
        elif name in names:
            problems.append(f"{where}: file name {name!r} is used twice; set distinct name= values")
        names.add(name)
        found = _relative_problem(f"{where}: into", item.into)
        if found:
            problems.append(found)
    found = _relative_problem("root", source.root)
    if found:
        problems.append(found)
    return problems


@dataclass(frozen=True)
class CorpusSpec:
    """A corpus reader.

    ``scan(root)`` reads the corpus from ``root`` (``None`` only when ``needs_path`` is false) and
    returns a :class:`Manifest`; it raises :class:`ser_core.errors.CorpusError` with the offending
    path when the directory cannot be read as this corpus. ``fold_by`` says whether cross-validation
    groups are speakers (the protocol's default) or the manifest's ``group`` column. ``source``
    says where the data comes from: a :class:`DownloadSource` (files with URL, size and hash, fetched
    by ``serbench corpus download``) or a :class:`ManualSource` (licence and steps to follow); ``None``
    when the plugin declares none (generated corpora, the user's own data).

    ``labels`` is the corpus's label set, in the order it is shown after the shared vocabulary's
    labels; a clip with another label is refused. Left empty, it is the labels of ``expected``, or
    the shared vocabulary :data:`LABELS` when the corpus declares no expected content.
    ``label_map`` optionally maps the corpus's own labels onto the shared vocabulary (e.g.
    ``{"excitedness": "happiness"}``) for cross-corpus use; it does not change the corpus's classes.
    ``any_labels`` accepts whatever labels the data holds (for users' own manifests, like ``csv``).
    """

    name: str
    scan: Callable[[Path | None], Manifest]
    description: str = ""
    needs_path: bool = True
    fold_by: Literal["speaker", "group"] = "speaker"
    expected: ExpectedContent | None = None
    version: str = ""
    licence: str = ""
    url: str = ""
    source: CorpusSource | None = None
    labels: tuple[str, ...] = ()
    label_map: Mapping[str, str] = field(default_factory=dict)
    any_labels: bool = False

    def label_set(self) -> tuple[str, ...]:
        """The labels this corpus's clips may have (see the class docstring)."""
        if self.labels:
            return tuple(self.labels)
        if self.expected is not None:
            return tuple(self.expected.clips_per_label)
        return LABELS

    def shared_label(self, label: str) -> str | None:
        """``label`` in the shared vocabulary: itself, its ``label_map`` entry, or ``None``."""
        return label if label in LABELS else self.label_map.get(label)


@dataclass(frozen=True)
class FeatureSpec:
    """A feature extractor.

    ``extract(signal, sample_rate)`` receives 16 kHz mono float32 audio and returns float32 of shape
    ``(dims,)`` for ``functionals``, ``(frames, dims)`` for ``sequence`` and ``(samples,)`` for
    ``waveform``. ``params`` are the settings that change the output (they key the cache);
    ``libraries`` names distributions whose versions change the output (also in the cache key).
    """

    name: str
    kind: FeatureKind
    extract: Callable[[np.ndarray, int], np.ndarray]
    params: Mapping[str, Any] = field(default_factory=dict)
    libraries: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class FeatureBlock:
    """One feature's columns in the items of a system with several features (``features = [...]``).

    The items a model receives are the blocks' functionals concatenated in order: block ``i`` holds
    columns ``start .. start + width - 1``, where ``start`` is the sum of the widths before it.
    """

    name: str
    width: int


def split_blocks(item: np.ndarray, blocks: Sequence[FeatureBlock]) -> list[np.ndarray]:
    """One concatenated functionals item cut into its blocks' parts, in block order."""
    widths = [b.width for b in blocks]
    if item.shape[-1] != sum(widths):
        raise ValueError(f"an item of width {item.shape[-1]} cannot hold blocks of widths {widths} (sum {sum(widths)})")
    return np.split(item, np.cumsum(widths)[:-1], axis=-1)


@dataclass(frozen=True)
class ModelContext:
    """Everything a model needs to build itself for one fold of one repeat.

    ``seed`` is the cell's seed. The runner seeds Python's and NumPy's global generators with it
    before calling ``create``; an estimator that uses another framework (TensorFlow, PyTorch, ...)
    seeds that framework from ``seed`` itself, so the core never needs to know it.

    ``blocks`` describes the items of a system with several features: each feature's name and width,
    in the order they are concatenated (:class:`FeatureBlock`, :func:`split_blocks`); empty for a
    system with one feature. ``feature`` is then a functionals spec named ``"a+b"`` whose ``params``
    hold each block's feature parameters.
    """

    n_classes: int
    feature: FeatureSpec
    settings: Mapping[str, Any]
    seed: int
    blocks: tuple[FeatureBlock, ...] = ()


@dataclass(frozen=True)
class ModelSummary:
    """What ``serbench models info`` prints for a model built for one example item.

    An estimator that can build its network before training offers ``summarise(item) ->
    ModelSummary`` (optional): ``lines`` is a layer-by-layer description, ``output_shape`` the shape of
    its scores for the single item, and the parameter counts.
    """

    lines: tuple[str, ...]
    output_shape: tuple[int, ...]
    total_parameters: int
    trainable_parameters: int


class Estimator(Protocol):
    """One trainable model instance, used for exactly one fold.

    ``X`` is a list of per-clip arrays as the feature produced them (after normalisation);
    ``y`` holds class indices ``0..n_classes-1``; ``groups`` holds each training clip's
    cross-validation group (speaker or session), for models that tune by inner cross-validation.

    Optional: ``predict_scores(X) -> np.ndarray`` of shape ``(len(X), n_classes)``, finite, one
    score per class (larger: more likely; probabilities or decision values), for models that combine
    other models' scores (a late-fusion model). Its row-wise argmax must equal ``predict``'s classes, unless
    the estimator sets the attribute ``scores_match_predict = False`` and documents when they differ
    (e.g. an SVM whose one-vs-one votes tie). ``serbench validate-plugin`` checks all of this
    (:func:`has_scores` tells whether an estimator offers them).
    """

    def fit(self, X: Sequence[np.ndarray], y: np.ndarray, groups: np.ndarray) -> None: ...

    def predict(self, X: Sequence[np.ndarray]) -> np.ndarray: ...

    def parameter_count(self) -> int | None: ...

    def describe(self) -> dict[str, Any]: ...


class ScoringEstimator(Estimator, Protocol):
    """An :class:`Estimator` with the optional ``predict_scores`` (see :class:`Estimator` for the rules).

    ``scores_match_predict`` (an optional attribute, default true) is false for an estimator whose
    scores' argmax may differ from ``predict`` (one-vs-one votes that tie).
    """

    def predict_scores(self, X: Sequence[np.ndarray]) -> np.ndarray: ...


class SummarisingEstimator(Estimator, Protocol):
    """An :class:`Estimator` with the optional ``summarise``, which ``serbench models info`` calls."""

    def summarise(self, item: np.ndarray) -> "ModelSummary": ...


def has_scores(estimator: Any) -> TypeGuard[ScoringEstimator]:
    """Whether ``estimator`` offers the optional ``predict_scores`` (see :class:`ScoringEstimator`)."""
    return callable(getattr(estimator, "predict_scores", None))


_PLURALS = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}
#: The largest integer (in size) a model setting may take when its plugin declares no maximum: a
#: count beyond it (epochs, folds, iterations) is a typing error that would run, or allocate, forever.
MAX_INTEGER_SETTING = 2**31 - 1
_TYPE_WORDS = {bool: "a boolean (true/false)", int: "an integer", float: "a number", str: "a string", list: "a list"}


@dataclass(frozen=True)
class Setting:
    """The type and range one model setting accepts; a suite is checked against it before it runs.

    ``type`` is ``bool``, ``int``, ``float`` (ints are accepted), ``str`` or ``list`` (a TOML array,
    whose elements must be of ``items`` and lie in the range); ``minimum``/``maximum`` bound numbers
    (inclusive); ``choices`` lists the allowed values; ``optional`` also allows ``None``. An integer
    setting without a ``maximum`` is still refused beyond :data:`MAX_INTEGER_SETTING` (in size).
    """

    type: type
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    items: type | None = None
    optional: bool = False

    @staticmethod
    def of_default(value: Any) -> "Setting | None":
        """The setting implied by a default value (its type, no range); ``None`` when nothing can be said."""
        if isinstance(value, bool):
            return Setting(bool)
        if isinstance(value, int):
            return Setting(int)
        if isinstance(value, float):
            return Setting(float)
        if isinstance(value, str):
            return Setting(str)
        if isinstance(value, (list, tuple)) and value:
            inner = Setting.of_default(value[0])
            if inner is not None and inner.type is not list and all(inner.problem(v) is None for v in value):
                return Setting(list, items=inner.type)
            return Setting(list)
        return None

    def expected(self) -> str:
        """What the setting accepts, in words: e.g. "an integer >= 2"."""
        if self.type is list and self.items is not None:
            words = f"a list of {_PLURALS.get(self.items, self.items.__name__)}"
        else:
            words = _TYPE_WORDS.get(self.type, self.type.__name__)
        if self.minimum is not None and self.maximum is not None:
            words += f" from {self.minimum:g} to {self.maximum:g}"
        elif self.minimum is not None:
            words += f" >= {self.minimum:g}"
        elif self.maximum is not None:
            words += f" <= {self.maximum:g}"
        if self.choices is not None:
            words += f", one of {', '.join(map(repr, self.choices))}"
        if self.optional:
            words += " (or omitted)"
        return words

    def _scalar_problem(self, value: Any, kind: type) -> str | None:
        if isinstance(value, bool) and kind is not bool:
            return "a boolean"
        ok = {
            bool: isinstance(value, bool),
            int: isinstance(value, int),
            float: isinstance(value, (int, float)),
            str: isinstance(value, str),
        }.get(kind, isinstance(value, kind))
        if not ok:
            return f"{type(value).__name__} {value!r}"
        if kind in (int, float):
            if value != value:  # NaN
                return "NaN"
            if value in (float("inf"), float("-inf")):  # TOML's inf: no training setting means it
                return f"{value!r}, not a finite number"
            if self.minimum is not None and value < self.minimum or self.maximum is not None and value > self.maximum:
                return f"{value!r}, out of range"
            if kind is int and isinstance(value, int) and self.maximum is None and abs(value) > MAX_INTEGER_SETTING:
                return f"{value!r}, beyond the limit of {MAX_INTEGER_SETTING} for integer settings"
        if self.choices is not None and value not in self.choices:
            return f"{value!r}, not an allowed value"
        return None

    def problem(self, value: Any) -> str | None:
        """``None`` when ``value`` is acceptable, else what is wrong with it (e.g. "str 'two'")."""
        if value is None and self.optional:
            return None
        if self.type is list:
            if not isinstance(value, (list, tuple)) or not value:
                return f"{type(value).__name__} {value!r}" if not isinstance(value, (list, tuple)) else "an empty list"
            if self.items is not None:
                for index, item in enumerate(value):
                    found = self._scalar_problem(item, self.items)
                    if found:
                        return f"element {index} is {found}"
            return None
        return self._scalar_problem(value, self.type)


@dataclass(frozen=True)
class ModelSpec:
    """A model architecture.

    ``create(context)`` returns a fresh :class:`Estimator`. ``accepts`` lists the feature kinds the
    model can consume; ``defaults`` are its training settings, which a benchmark entry may override
    (the settings actually used are recorded with every result). ``setting_types`` declares the
    type and range of settings (:class:`Setting`); a setting without a declaration must have its
    default's type. Every suite is checked against them before any work starts.

    ``resolve(settings)``, when given, turns the settings asked for into the settings that will be
    used, before the system's protocol (its board column) is fixed: e.g. a precision of ``"auto"``
    becomes the precision this machine will train in, so results computed differently never share
    a column. It must be a picklable module-level function and return a new dict.

    ``accelerator``: the model trains on a GPU when there is one (deep-learning models). Each of its
    cells runs in a fresh Python process by default (``serbench run --cell-process``), so its result
    does not depend on what the process ran before; on workers that declare GPUs it asks for one GPU,
    and GPU memory is never held across cells.
    """

    name: str
    create: Callable[[ModelContext], Estimator]
    accepts: frozenset[str]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    setting_types: Mapping[str, Setting] = field(default_factory=dict)
    resolve: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    accelerator: bool = False

    def resolved_settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """The settings that will be used for ``settings`` (``resolve`` applied when the model has one)."""
        return dict(settings) if self.resolve is None else dict(self.resolve(dict(settings)))

    def setting_problems(self, settings: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        """``(setting, what was given, what is expected)`` for every unacceptable value in ``settings``."""
        problems = []
        for name, value in settings.items():
            declared = self.setting_types.get(name) or Setting.of_default(self.defaults.get(name))
            if declared is None:
                continue
            found = declared.problem(value)
            if found is not None:
                problems.append((name, found, declared.expected()))
        return problems
