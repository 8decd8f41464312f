"""serbench model ``ssl-head``: a small PyTorch classifier for self-supervised speech features.

It reads ``L`` stacked layers of width ``D`` from each item (``params["layers_kept"]`` and
``params["hidden_size"]`` of an ``ser-plugin-ssl`` feature; any other feature is one layer of its own
width): ``(L * D,)`` utterance vectors or ``(frames, L * D)`` frame sequences. The network is

1. a learned, softmax-normalised weight per layer (SUPERB style; absent when ``L`` is 1),
2. pooling over frames: ``mean`` or ``attentive`` (one learned score per frame, softmax over the
   clip's valid frames); utterance vectors are one frame,
3. one hidden layer (``hidden`` units, ReLU, dropout) and a linear output over the classes.

Training: Adam, cross-entropy weighted by the protocol's class weights (``ser_core.class_weights``
on the training labels), mini-batches in a seeded shuffle. Early stopping watches the UAR on an
inner validation split of the *training* speakers (or CV groups): ``validation_fraction`` of them,
drawn with the cell's seed, are held out; training stops after ``patience`` epochs without a better
validation UAR and the best epoch's weights are kept. The test fold is never seen. With fewer than
two training groups there is no validation split and training runs for ``epochs`` epochs (the
estimator's description says so). Seeded from the cell's seed; deterministic on the CPU
(``torch.use_deterministic_algorithms``). Trains on the GPU when there is one. No Keras or
TensorFlow is imported.
"""

from __future__ import annotations

from ser_core import ModelSpec, Setting, hookimpl

DEFAULTS = {
    "hidden": 256,
    "pooling": "attentive",
    "dropout": 0.2,
    "learning_rate": 1e-3,
    "weight_decay": 1e-4,
    "batch_size": 32,
    "epochs": 100,
    "patience": 10,
    "validation_fraction": 0.2,
}
SETTING_TYPES = {
    "hidden": Setting(int, minimum=1, maximum=65_536),
    "pooling": Setting(str, choices=("mean", "attentive")),
    "dropout": Setting(float, minimum=0.0, maximum=0.9),
    "learning_rate": Setting(float, minimum=1e-8, maximum=1.0),
    "weight_decay": Setting(float, minimum=0.0),
    "batch_size": Setting(int, minimum=1, maximum=65_536),
    "epochs": Setting(int, minimum=1, maximum=10_000),
    "patience": Setting(int, minimum=1, maximum=10_000),
    "validation_fraction": Setting(float, minimum=0.05, maximum=0.5),
}


def create(context):
    """A fresh head for one fold (torch is imported here, in the process that trains)."""
    from ser_plugin_torchhead.head import HeadEstimator

    return HeadEstimator(context)


@hookimpl
def register_models(register):
    register(
        ModelSpec(
            name="ssl-head",
            create=create,
            accepts=frozenset({"functionals", "sequence"}),
            defaults=DEFAULTS,
            setting_types=SETTING_TYPES,
            accelerator=True,
            description="PyTorch head for SSL features: learned layer weights, attentive/mean pooling, one hidden layer",
        )
    )
