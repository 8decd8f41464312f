"""``serbench models``: layer summaries and parameter counts of model plugins.

``serbench models info NAME --feature F --classes C`` resolves the model and the feature from the
installed plugins, runs the feature once on 5 s of quiet seeded noise (16 kHz) to learn the item's
shape - so variable-length features are shown for a 5 s clip: about 500 frames, or 80,000 samples -
and asks the model's estimator to summarise itself for that item (the optional
``summarise(item) -> ModelSummary`` of the estimator contract: the Keras models build the network,
run one forward pass and describe their layers). It prints the layer summary with total, trainable
and non-trainable parameter counts. Models that only exist after training (the SVM) say so.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ser_core.audio import SAMPLE_RATE
from ser_core.cli_common import console, friendly_errors
from ser_core.errors import ConfigError, FeatureError

models_app = typer.Typer(help="Inspect model plugins.", no_args_is_help=True)

#: length of the representative clip the feature is run on
EXAMPLE_SECONDS = 5.0


@models_app.command("info")
@friendly_errors
def info(
    name: Annotated[str, typer.Argument(help="Model name (see `serbench list`).")],
    feature: Annotated[str, typer.Option("--feature", "-f", help="Feature the model is built for.")],
    classes: Annotated[int, typer.Option("--classes", "-C", min=2, max=100, help="Number of classes (2 to 100).")] = 4,
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
    summarise = getattr(estimator, "summarise", None)
    if summarise is None:
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
    summary = summarise(item)
    for line in summary.lines:
        print(line)
    total, trainable = summary.total_parameters, summary.trainable_parameters
    console.print(
        f"{name} on {feature} ({feat.spec.kind}, one {EXAMPLE_SECONDS:g} s item of shape {tuple(item.shape)}), "
        f"{classes} classes: forward pass -> {tuple(summary.output_shape)}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"parameters: total {total:,}  trainable {trainable:,}  non-trainable {total - trainable:,}  "
        f"({total / 1e6:.2f}M)",
        highlight=False,
    )
