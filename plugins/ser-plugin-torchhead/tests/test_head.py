"""The ssl-head: learns, is deterministic, stops early on held-out training speakers only, uses the
protocol's class weights, and reads the layer layout of SSL features."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core import FeatureError, FeatureSpec, ModelContext
from ser_plugin_torchhead import DEFAULTS, SETTING_TYPES, create
from ser_plugin_torchhead.head import inner_split


def blobs(n_groups: int, layers: int = 3, width: int = 8, per_class: int = 10, seed: int = 0, frames: int = 0):
    """Three classes; only layer 1 carries the class (others are noise). ``frames`` > 0 gives sequences."""
    rng = np.random.default_rng(seed)
    X, y, groups = [], [], []
    for g in range(n_groups):
        for c in range(3):
            for _ in range(per_class):
                shape = (rng.integers(3, frames + 3), layers, width) if frames else (1, layers, width)
                item = rng.normal(0, 1, shape)
                item[:, 1, :] += 3.0 * (np.arange(width) % 3 == c)
                X.append(item.reshape(shape[0], -1)[0] if not frames else item.reshape(shape[0], -1))
                y.append(c)
                groups.append(f"spk{g}")
    return [x.astype(np.float32) for x in X], np.array(y), np.array(groups)


def context(layers: int = 3, kind: str = "functionals", seed: int = 0, **settings) -> ModelContext:
    feature = FeatureSpec("f", kind, extract=lambda s, r: s, params={"layers_kept": layers, "hidden_size": 8})
    merged = {**DEFAULTS, "hidden": 16, "epochs": 30, "patience": 5, "learning_rate": 1e-2, **settings}
    return ModelContext(n_classes=3, feature=feature, settings=merged, seed=seed)


def test_settings_are_declared_and_checked():
    assert set(SETTING_TYPES) == set(DEFAULTS)
    assert SETTING_TYPES["pooling"].problem("max") is not None and SETTING_TYPES["pooling"].problem("mean") is None


@pytest.mark.parametrize("pooling", ["attentive", "mean"])
def test_learns_the_informative_layer_on_utterance_vectors(pooling):
    X, y, groups = blobs(5)
    model = create(context(pooling=pooling))
    model.fit(X, y, groups)
    X_test, y_test, _ = blobs(1, seed=9)
    assert np.mean(model.predict(X_test) == y_test) > 0.9
    weights = model.describe()["layer_weights"]
    assert len(weights) == 3 and abs(sum(weights) - 1) < 1e-3 and int(np.argmax(weights)) == 1
    assert model.parameter_count() == 3 + (9 if pooling == "attentive" else 0) + (8 * 16 + 16) + (16 * 3 + 3)


def test_frame_sequences_with_attentive_pooling():
    X, y, groups = blobs(4, frames=6)
    model = create(context(kind="sequence", epochs=15))
    model.fit(X, y, groups)
    X_test, y_test, _ = blobs(1, seed=5, frames=6)
    assert np.mean(model.predict(X_test) == y_test) > 0.8


def test_deterministic_for_a_seed_and_seed_dependent():
    X, y, groups = blobs(4)
    runs = []
    for seed in (3, 3, 4):
        model = create(context(seed=seed, epochs=8, patience=8))
        model.fit(X, y, groups)
        runs.append((model.predict(X), [p.detach().numpy().copy() for p in model.net.parameters()]))
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][1], runs[1][1])), "same seed, same weights"
    assert not all(np.array_equal(a, b) for a, b in zip(runs[0][1], runs[2][1]))


def test_early_stopping_holds_out_whole_training_speakers():
    groups = np.array([f"spk{g}" for g in range(10) for _ in range(4)])
    held, names = inner_split(groups, 0.2, seed=0)
    assert len(names) == 2 and set(groups[held]) == set(names) and not set(groups[~held]) & set(names)
    assert inner_split(groups, 0.2, seed=0)[1] == names
    assert inner_split(np.array(["a", "a", "b"]), 0.5, 0)[1] in (["a"], ["b"])  # never every group
    X, y, groups = blobs(5)
    model = create(context(epochs=40, patience=3))
    model.fit(X, y, groups)
    info = model.describe()
    assert info["validation"].startswith("1 of 5 training groups held out")
    assert info["epochs_run"] <= 40 and 1 <= info["best_epoch"] <= info["epochs_run"]
    history = info["validation_history"]
    assert len(history) == info["epochs_run"] and info["validation_uar"] == pytest.approx(max(history), abs=1e-4)
    assert history.index(max(history)) + 1 == info["best_epoch"], "the first best epoch's weights are kept"


def test_one_training_group_trains_every_epoch_and_says_so():
    X, y, groups = blobs(1)
    model = create(context(epochs=4))
    model.fit(X, y, groups)
    assert model.describe()["epochs_run"] == 4 and "no validation split" in model.describe()["validation"]


def test_the_loss_uses_the_protocols_class_weights(monkeypatch):
    import ser_plugin_torchhead.head as head

    seen = []
    real = head.class_weights
    monkeypatch.setattr(head, "class_weights", lambda y, n: seen.append(np.bincount(y, minlength=n)) or real(y, n))
    X, y, groups = blobs(3)
    keep = np.flatnonzero((y != 2) | (np.arange(len(y)) % 5 == 0))  # class 2 rare
    model = create(context(epochs=2))
    model.fit([X[i] for i in keep], y[keep], groups[keep])
    assert len(seen) == 1 and seen[0][2] < seen[0][0]


def test_an_inconsistent_layer_layout_is_a_clear_error():
    model = create(context(layers=5))
    with pytest.raises(FeatureError, match="keeps 5 layers, but its items are 24 wide"):
        model.fit(*blobs(2))
