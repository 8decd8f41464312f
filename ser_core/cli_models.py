"""``serbench models``: layer summaries and parameter counts of model plugins.

``serbench models info NAME --feature F --classes C`` resolves the model and the feature from the
installed plugins, runs the feature once on 5 s of quiet seeded noise (16 kHz) to learn the item's
shape - so variable-length features are shown for a 5 s clip: about 500 frames, or 80,000 samples -
builds the model for that width (time stays ``None`` in the summary: the models accept any length),
runs one forward pass on that item and prints the layer summary with total, trainable and
non-trainable parameter counts. Models that only exist after training (the SVM) say so.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ser_core.cli_common import console, friendly_errors
from ser_core.errors import ConfigError, FeatureError

models_app = typer.Typer(help="Inspect model plugins.", no_args_is_help=True)

#: length of the representative clip the feature is run on
EXAMPLE_SECONDS = 5.0
SAMPLE_RATE = 16_000


@models_app.command("info")
@friendly_errors
def info(
    name: Annotated[str, typer.Argument(help="Model name (see `serbench list`).")],
    feature: Annotated[str, typer.Option("--feature", "-f", help="Feature the model is built for.")],
    classes: Annotated[int, typer.Option("--classes", "-C", min=2, help="Number of classes.")] = 4,
) -> None:
    """Print a model's layer summary and parameter count for one feature and number of classes."""
    import numpy as np

    from ser_core.plugins import load_registry
    from ser_core.specs import ModelContext

    registry = load_registry()
    model = registry.model(name)
    feat = registry.feature(feature)
    if feat.spec.kind not in model.spec.accepts:
        raise ConfigError(
            f"model {name!r} accepts {sorted(model.spec.accepts)} features, but {feature!r} is a "
            f"{feat.spec.kind!r} feature; pick a feature of an accepted kind (see `serbench list`)."
        )
    estimator = model.spec.create(ModelContext(classes, feat.spec, dict(model.spec.defaults), seed=0))
    build_model = getattr(estimator, "build_model", None)
    if build_model is None:
        raise ConfigError(
            f"model {name!r} ({model.plugin.distribution}) has no network to summarise before training; "
            "its size is recorded with each result (parameter_count)."
        )
    signal = 0.01 * np.random.default_rng(0).standard_normal(int(EXAMPLE_SECONDS * SAMPLE_RATE))
    try:
        item = np.asarray(feat.spec.extract(signal.astype(np.float32), SAMPLE_RATE), dtype=np.float32)
    except Exception as exc:
        raise FeatureError(
            f"feature {feature!r} ({feat.plugin.distribution}) failed on {EXAMPLE_SECONDS:g} s of noise: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    steps = item.reshape(-1, 1) if item.ndim == 1 else item
    network = build_model(steps.shape[1])
    network.summary(line_length=80, print_fn=lambda line, **_: print(line))
    scores = estimator.predict_scores([item])
    trainable = sum(int(np.prod(w.shape)) for w in network.trainable_weights)
    total = int(network.count_params())
    console.print(
        f"{name} on {feature} ({feat.spec.kind}, one {EXAMPLE_SECONDS:g} s item of shape {tuple(item.shape)}), "
        f"{classes} classes: forward pass -> {tuple(scores.shape)}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"parameters: total {total:,}  trainable {trainable:,}  non-trainable {total - trainable:,}  "
        f"({total / 1e6:.2f}M)",
        highlight=False,
    )
