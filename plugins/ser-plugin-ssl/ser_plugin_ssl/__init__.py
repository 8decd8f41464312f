"""serbench features from pretrained self-supervised speech models (``transformers`` on PyTorch).

Registered features, each the hidden states of one pretrained encoder for 16 kHz audio:

| feature | model id | layers | output |
|---|---|---|---|
| ``wavlm-base-plus`` | ``microsoft/wavlm-base-plus`` | all 13 | utterance mean, ``(13 * 768,)`` |
| ``hubert-base`` | ``facebook/hubert-base-ls960`` | all 13 | utterance mean, ``(13 * 768,)`` |
| ``wav2vec2-base`` | ``facebook/wav2vec2-base`` | all 13 | utterance mean, ``(13 * 768,)`` |
| ``wav2vec2-large`` | ``facebook/wav2vec2-large-lv60`` | all 25 | utterance mean, ``(25 * 1024,)`` |
| ``<name>-frames`` | the same | the last | the frame sequence, ``(frames, dims)`` (20 ms frames) |

"All layers" are the CNN encoder's projected output (layer 0) and every transformer layer, kept side by
side (layer-major) so a model can learn a weighted sum of them (SUPERB style); the feature's
``params["layers_kept"]`` says how many, and ``params["hidden_size"]`` how wide each is.

Where the weights come from (checked in this order, when a table's cache key is first needed):

1. ``SERBENCH_SSL_MODEL_DIR``: a directory holding one local copy per model, in a sub-folder named
   after the feature's model (``wavlm-base-plus``, ``hubert-base``, ``wav2vec2-base``,
   ``wav2vec2-large``), as ``huggingface-cli download MODEL_ID --local-dir DIR/NAME`` writes it. This is
   the route for a cluster without internet: download on a machine with internet, copy the folder.
2. Otherwise the model id on the Hugging Face Hub, downloaded once into the Hugging Face cache
   (``HF_HOME``); with ``HF_HUB_OFFLINE=1`` only that cache is used.

A missing model is one error naming both routes. Both routes end in the same loading code
(``AutoModel.from_pretrained`` on the local folder). The cache key of a table holds the model id, its
revision, and a SHA-256 of the weights and configuration files (so a different copy of the weights
gives a different table, and the same weights in another folder the same table); the same values are
stored with every result.

Long clips are cut into chunks of ``chunk_seconds`` (default 20 s) so memory stays bounded; equal
chunks run as one batch under ``torch.inference_mode``, on the GPU when there is one. Another layer,
pooling or model is a feature of your own: :func:`ssl_feature` builds its spec (see README.md).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterator

from ser_core import FeatureSpec, hookimpl

#: Environment variable naming a directory of local model copies, one sub-folder per model.
MODEL_DIR_VARIABLE = "SERBENCH_SSL_MODEL_DIR"
#: Clips longer than this are processed in chunks of this length (seconds).
CHUNK_SECONDS = 20.0
#: Distributions whose versions change the features.
LIBRARIES = ("torch", "transformers")

#: name -> (model id on the Hugging Face Hub, description)
MODELS: dict[str, tuple[str, str]] = {
    "wavlm-base-plus": ("microsoft/wavlm-base-plus", "WavLM Base+ (94M parameters, 94k h of English speech)"),
    "hubert-base": ("facebook/hubert-base-ls960", "HuBERT Base (95M parameters, LibriSpeech 960 h)"),
    "wav2vec2-base": ("facebook/wav2vec2-base", "wav2vec 2.0 Base (95M parameters, LibriSpeech 960 h)"),
    "wav2vec2-large": ("facebook/wav2vec2-large-lv60", "wav2vec 2.0 Large (317M parameters, Libri-Light 60k h)"),
}


class ModelParams(Mapping):
    """A feature's parameters, completed with its weights' identity on first use.

    The declared part (model, revision, layer, pooling, chunking) is known at registration; the weights'
    SHA-256, the number of layers kept and their width need the model files, which may have to be
    downloaded, so they are resolved only when the parameters are first read (when the core computes a
    table's cache key, before any clip is extracted), never when plugins are listed. Pickles as the
    resolved plain dict.
    """

    def __init__(self, declared: Mapping[str, Any], local_name: str):
        self._declared = dict(declared)
        self._local_name = local_name
        self._resolved: dict[str, Any] | None = None

    def _full(self) -> dict[str, Any]:
        if self._resolved is None:
            from ser_plugin_ssl.extraction import identify

            self._resolved = {**self._declared, **identify(self._declared, self._local_name)}
        return self._resolved

    def __getitem__(self, key: str) -> Any:
        return self._full()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._full())

    def __len__(self) -> int:
        return len(self._full())

    def __reduce__(self):
        return dict, (self._full(),)

    def __repr__(self) -> str:
        state = self._resolved if self._resolved is not None else {**self._declared, "weights": "(not yet resolved)"}
        return f"ModelParams({state!r})"


def ssl_feature(
    name: str,
    model: str,
    *,
    revision: str = "main",
    layer: int | str = "all",
    pooling: str = "mean",
    chunk_seconds: float = CHUNK_SECONDS,
    batch_chunks: int = 8,
    local_name: str | None = None,
    description: str = "",
) -> FeatureSpec:
    """The spec of a feature taken from a pretrained encoder's hidden states.

    :param model: a Hugging Face model id (``microsoft/wavlm-base-plus``) or a local directory holding
        ``config.json``, ``preprocessor_config.json`` and the weights (``model.safetensors`` or
        ``pytorch_model.bin``), as ``save_pretrained`` or ``huggingface-cli download --local-dir``
        writes them.
    :param revision: the Hub revision (branch, tag or commit); ignored for a local directory.
    :param layer: ``"all"`` (every hidden state, layer-major: a model learns their weighted sum) or the
        index of one hidden state (0 = the CNN encoder's projected output, ``n`` = transformer layer n;
        negative indices count from the last).
    :param pooling: ``"mean"`` (one vector per clip, kind ``functionals``) or ``"frames"`` (the frame
        sequence, kind ``sequence``).
    :param chunk_seconds: clips longer than this are cut into chunks of this length (the last one
        shorter), each encoded on its own; bounds memory for long clips.
    :param batch_chunks: how many equal-length chunks are encoded in one batch.
    :param local_name: the sub-folder of ``$SERBENCH_SSL_MODEL_DIR`` holding a local copy (default: ``name``).
    """
    if pooling not in ("mean", "frames"):
        raise ValueError(f"pooling must be 'mean' or 'frames', not {pooling!r}")
    if not (layer == "all" or isinstance(layer, int) and not isinstance(layer, bool)):
        raise ValueError(f"layer must be 'all' or an integer, not {layer!r}")
    if chunk_seconds < 1.0:
        raise ValueError(f"chunk_seconds must be at least 1 second, not {chunk_seconds!r}")
    if batch_chunks < 1:
        raise ValueError(f"batch_chunks must be at least 1, not {batch_chunks!r}")
    declared = {
        "model": str(model),
        "revision": revision,
        "layer": layer,
        "pooling": pooling,
        "chunk_seconds": float(chunk_seconds),
    }
    extract = functools.partial(
        extraction_entry,
        model=str(model),
        revision=revision,
        local_name=local_name or name,
        layer=layer,
        pooling=pooling,
        chunk_seconds=float(chunk_seconds),
        batch_chunks=int(batch_chunks),
    )
    return FeatureSpec(
        name=name,
        kind="functionals" if pooling == "mean" else "sequence",
        extract=extract,
        params=ModelParams(declared, local_name or name),
        libraries=LIBRARIES,
        description=description,
    )


def extraction_entry(signal, sample_rate: int, **options) -> Any:
    """Module-level entry point (picklable for worker processes); imports torch only when called."""
    from ser_plugin_ssl.extraction import extract

    return extract(signal, sample_rate, **options)


def feature_specs() -> list[FeatureSpec]:
    """The features this plugin registers: every model with all layers mean-pooled, and its last
    layer's frame sequence."""
    specs = []
    for name, (model_id, words) in MODELS.items():
        specs.append(ssl_feature(name, model_id, description=f"{words}: every layer, utterance mean"))
        specs.append(
            ssl_feature(
                f"{name}-frames", model_id, layer=-1, pooling="frames", local_name=name,
                description=f"{words}: last layer, frame sequence (50 frames/s)",
            )
        )
    return specs


def model_dir() -> Path | None:
    """``$SERBENCH_SSL_MODEL_DIR`` as a path, or ``None`` when unset."""
    value = os.environ.get(MODEL_DIR_VARIABLE, "").strip()
    return Path(value).expanduser() if value else None


@hookimpl
def register_features(register):
    for spec in feature_specs():
        register(spec)
