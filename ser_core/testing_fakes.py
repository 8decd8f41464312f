"""Fakes for tests: a feature, a model and corpora that exercise the whole pipeline in milliseconds.

Like llm's ``MockModel`` or mteb's mock tasks, these let the core's tests (and a plugin's, when it
needs *another* part to run against) drive ``serbench`` end to end without any real plugin:

- feature ``fake-stats`` (:func:`fake_stats`): four functionals of the signal (log RMS energy,
  spectral centroid in kHz, zero-crossing rate, log duration); numpy only, deterministic.
- model ``fake-centroid`` (:class:`FakeCentroid`): a nearest-centroid classifier on standardised
  features, with ``parameter_count`` and ``describe``; deterministic, no library beyond numpy.
- corpora: the core's own ``synthetic`` corpus (always registered) and :class:`ManifestCorpus`, a
  corpus plugin object that scans to a given :class:`~ser_core.specs.Manifest` (no files needed).

The fakes are **opt-in**: this module is a plugin (its hook implementations are module-level), but
no entry point names it, so a user's ``serbench list`` never shows them. Tests register them
in-process (``load_registry([("fakes", ser_core.testing_fakes)])`` or the ``serbench_fakes``
fixture), and subprocess ``serbench`` runs find them through :func:`write_fakes_distribution`, which
writes an installed-looking distribution whose entry point is this module (put its folder on
``PYTHONPATH``). Everything here is public through :mod:`ser_core.api.testing`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_core.hookspecs import hookimpl
from ser_core.specs import CorpusSpec, FeatureSpec, Manifest, ModelContext, ModelSpec

FAKE_FEATURE = "fake-stats"
FAKE_MODEL = "fake-centroid"
#: The system a fake suite runs: ``fake-centroid`` on ``fake-stats``.
FAKE_SYSTEM = "fake-centroid-stats"
#: The distribution :func:`write_fakes_distribution` writes, and the entry-point (plugin) name.
FAKES_DISTRIBUTION = "serbench-test-fakes"
FAKES_PLUGIN = "fakes"


def fake_stats(signal: np.ndarray, rate: int) -> np.ndarray:
    """Four functionals of a clip: log RMS, spectral centroid (kHz), zero-crossing rate, log seconds."""
    signal = np.asarray(signal, dtype=np.float64)
    spectrum = np.abs(np.fft.rfft(signal))
    freqs = np.fft.rfftfreq(len(signal), 1 / rate)
    centroid = (spectrum * freqs).sum() / (spectrum.sum() + 1e-9) / 1000.0
    crossings = np.mean(np.abs(np.diff(np.signbit(signal).astype(np.int8)))) if len(signal) > 1 else 0.0
    return np.array([np.log(np.sqrt(np.mean(signal ** 2)) + 1e-9), centroid, crossings,
                     np.log(len(signal) / rate + 1e-9)], dtype=np.float32)


class FakeCentroid:
    """Nearest centroid on features standardised with the training set's mean and spread.

    Deterministic (no seed is needed), fits in microseconds, and scores well above chance on the
    synthetic corpus, so a test can tell a working pipeline from a broken one.
    """

    def __init__(self, context: ModelContext | None = None):
        self.context = context
        self.centroids: np.ndarray | None = None
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None

    def fit(self, X, y, groups) -> None:
        """Store the class centroids of the standardised training features."""
        X = np.stack(X).astype(np.float64)
        y = np.asarray(y)
        self.mean = X.mean(axis=0)
        self.scale = X.std(axis=0) + 1e-9
        Z = (X - self.mean) / self.scale
        self.centroids = np.stack([Z[y == c].mean(axis=0) if np.any(y == c) else np.full(Z.shape[1], np.inf)
                                   for c in range(int(y.max()) + 1)])

    def predict(self, X) -> np.ndarray:
        """The class whose centroid is nearest each clip."""
        Z = (np.stack(X).astype(np.float64) - self.mean) / self.scale
        return np.argmin(((Z[:, None] - self.centroids[None]) ** 2).sum(-1), axis=1)

    def parameter_count(self) -> int:
        """Centroids plus the standardisation's mean and scale."""
        return int(self.centroids.size + self.mean.size + self.scale.size)

    def describe(self) -> dict:
        """What a result records about the fitted model."""
        return {"classifier": "nearest centroid", "classes": int(self.centroids.shape[0])}


class ManifestCorpus:
    """A corpus plugin object registering one corpus (``tiny`` by default) that scans to ``manifest``."""

    def __init__(self, manifest: Manifest, name: str = "tiny"):
        self.manifest = manifest
        self.name = name

    @hookimpl
    def register_corpora(self, register):
        register(CorpusSpec(self.name, scan=lambda root: self.manifest, needs_path=False))


@hookimpl
def register_features(register):
    register(FeatureSpec(FAKE_FEATURE, "functionals", extract=fake_stats,
                         description="test fake: four signal statistics (numpy)"))


@hookimpl
def register_models(register):
    register(ModelSpec(FAKE_MODEL, create=FakeCentroid, accepts=frozenset({"functionals"}),
                       description="test fake: nearest centroid on standardised features"))


def fake_suite_toml(corpora: tuple[str, ...] = ("synthetic",), suite: str = "fake", repeats: int = 1) -> str:
    """A benchmarks file defining system :data:`FAKE_SYSTEM` and a suite running it on ``corpora``."""
    names = ", ".join(f'"{c}"' for c in corpora)
    return (f'[systems.{FAKE_SYSTEM}]\nmodel = "{FAKE_MODEL}"\nfeature = "{FAKE_FEATURE}"\n\n'
            f'[suites.{suite}]\ncorpora = [{names}]\nsystems = ["{FAKE_SYSTEM}"]\nrepeats = {repeats}\n')


def write_fakes_distribution(root: Path) -> Path:
    """Write, under ``root``, an installed-looking distribution whose ``serbench`` entry point is this
    module; with ``root`` on ``sys.path`` or ``PYTHONPATH``, ``serbench`` lists and runs the fakes."""
    root = Path(root)
    info = root / f"{FAKES_DISTRIBUTION.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {FAKES_DISTRIBUTION}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[serbench]\n{FAKES_PLUGIN} = ser_core.testing_fakes\n")
    return root


def fakes_environment(root: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of ``env`` (default: this process's) whose ``PYTHONPATH`` starts with the fakes'
    distribution written under ``root``: a ``serbench`` subprocess run with it has the fakes."""
    import os

    site = write_fakes_distribution(root)
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return env
