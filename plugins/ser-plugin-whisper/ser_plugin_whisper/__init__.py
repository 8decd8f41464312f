"""serbench features from the encoder of OpenAI's Whisper, through CTranslate2 or transformers.

Whisper's encoder reads 30 s of log-mel spectrogram (80 mel bins, 128 for large-v3) and gives 1,500
frames (50 per second). A clip shorter than 30 s is padded with silence, as Whisper itself does; only
the frames that cover the clip (``ceil(samples / 320)``) are kept, never those of the padding. A clip
longer than 30 s is cut into 30 s chunks, each encoded on its own, and their covered frames joined.

Two routes, one family of features:

| feature | route | layers | output per clip |
|---|---|---|---|
| ``whisper-<size>`` | CTranslate2 (faster-whisper model) | the last | mean over covered frames, ``(dims,)`` |
| ``whisper-<size>-meanstd`` | CTranslate2 | the last | mean and standard deviation, ``(2 * dims,)`` |
| ``whisper-<size>-frames`` | CTranslate2 | the last | covered frames, ``(frames, dims)`` (kind sequence) |
| ``whisper-<size>-layers`` | transformers (``openai/whisper-<size>``) | every hidden state | mean over covered frames, ``(layers * dims,)`` |

Registered sizes: :data:`SIZES`. Any other converted or transformers Whisper model is a feature of
your own through :func:`whisper_feature`.

Where the weights come from (checked in this order, when a table's cache key is first needed):

1. A local directory given as the model.
2. ``SERBENCH_SSL_MODEL_DIR`` (shared with ser-plugin-ssl): a directory holding one sub-folder per
   model, named after the feature without its pooling suffix: ``whisper-tiny.en`` holds a CTranslate2
   conversion (``model.bin``, ``config.json``), ``whisper-tiny.en-transformers`` a transformers copy
   (``config.json``, ``model.safetensors``, ``preprocessor_config.json``).
3. The Hugging Face Hub (``Systran/faster-whisper-<size>`` for CTranslate2, ``openai/whisper-<size>``
   for transformers), downloaded once into the Hugging Face cache; ``HF_HUB_OFFLINE=1`` uses that cache only.

The cache key of a table holds the route, model id, layer, pooling, the mel bins, the compute type and a
SHA-256 over the configuration and weight files, so a different copy of the weights gives a new table.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterator

from ser_core import FeatureSpec, hookimpl

#: Environment variable naming a directory of local model copies (shared with ser-plugin-ssl).
MODEL_DIR_VARIABLE = "SERBENCH_SSL_MODEL_DIR"
#: Whisper's window: every chunk is padded (or cut) to this many seconds.
WINDOW_SECONDS = 30.0
#: Encoder frames per second (mel hop 10 ms, then the second convolution's stride 2).
FRAMES_PER_SECOND = 50
POOLINGS = ("mean", "meanstd", "frames")
ROUTES = ("ctranslate2", "transformers")
LIBRARIES = {"ctranslate2": ("ctranslate2", "transformers"), "transformers": ("torch", "transformers")}

#: size -> description; each gets the four features of the module docstring.
SIZES: dict[str, str] = {
    "tiny.en": "Whisper tiny.en (39M parameters, English, 384 wide, 4 encoder layers)",
    "base.en": "Whisper base.en (74M parameters, English, 512 wide, 6 encoder layers)",
    "small.en": "Whisper small.en (244M parameters, English, 768 wide, 12 encoder layers)",
    "large-v3": "Whisper large-v3 (1.55B parameters, multilingual, 1280 wide, 32 encoder layers, 128 mel bins)",
}


def hub_id(size: str, route: str) -> str:
    """The Hugging Face Hub id of a Whisper size for a route."""
    return f"Systran/faster-whisper-{size}" if route == "ctranslate2" else f"openai/whisper-{size}"


class WhisperParams(Mapping):
    """A feature's parameters, completed with its weights' identity on first read.

    The declared part is known at registration; the weights' SHA-256 and the mel bins need the model
    files (perhaps a download), so they are resolved when the parameters are first read (when the core
    computes a table's cache key), never when plugins are listed. Pickles as the resolved plain dict.
    """

    def __init__(self, declared: Mapping[str, Any], local_name: str):
        self._declared = dict(declared)
        self._local_name = local_name
        self._resolved: dict[str, Any] | None = None

    def _full(self) -> dict[str, Any]:
        if self._resolved is None:
            from ser_plugin_whisper.extraction import identify

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
        return f"WhisperParams({state!r})"


def whisper_feature(
    name: str,
    model: str,
    *,
    route: str = "ctranslate2",
    layer: int | str = -1,
    pooling: str = "mean",
    compute_type: str = "float32",
    batch_chunks: int = 4,
    local_name: str | None = None,
    description: str = "",
) -> FeatureSpec:
    """The spec of a feature taken from a Whisper encoder.

    :param model: a Hub id (``Systran/faster-whisper-tiny.en`` for CTranslate2, ``openai/whisper-tiny.en``
        for transformers) or a local directory holding the model.
    :param route: ``"ctranslate2"`` (a CTranslate2 conversion: ``model.bin``, ``config.json``; the last
        layer only) or ``"transformers"`` (``WhisperModel`` weights; any hidden state).
    :param layer: ``-1`` (the last layer; the only choice for CTranslate2), ``"all"`` (every hidden
        state, layer-major: the convolutional front end's output then each transformer layer; a model
        such as ``ssl-head`` learns their weighted sum) or an index into the hidden states (transformers).
    :param pooling: ``"mean"`` or ``"meanstd"`` over the covered frames (kind ``functionals``), or
        ``"frames"`` (kind ``sequence``).
    :param compute_type: CTranslate2's compute type (``float32`` default; ``int8`` is faster, approximate).
    :param batch_chunks: how many 30 s chunks of a long clip are encoded in one batch.
    :param local_name: the sub-folder of ``$SERBENCH_SSL_MODEL_DIR`` holding a local copy (default: ``name``).
    """
    if route not in ROUTES:
        raise ValueError(f"route must be one of {ROUTES}, not {route!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
    if not (layer == "all" or isinstance(layer, int) and not isinstance(layer, bool)):
        raise ValueError(f"layer must be 'all' or an integer, not {layer!r}")
    if route == "ctranslate2" and layer != -1:
        raise ValueError("CTranslate2's Whisper.encode() gives the last layer only: use layer=-1, or route='transformers'")
    if batch_chunks < 1:
        raise ValueError(f"batch_chunks must be at least 1, not {batch_chunks!r}")
    declared = {
        "route": route,
        "model": str(model),
        "layer": layer,
        "pooling": pooling,
        "window_seconds": WINDOW_SECONDS,
        "frames": "covered (ceil(samples / 320)), padding excluded",
    }
    if route == "ctranslate2":
        declared["compute_type"] = compute_type
    extract = functools.partial(
        extraction_entry,
        route=route,
        model=str(model),
        local_name=local_name or name,
        layer=layer,
        pooling=pooling,
        compute_type=compute_type,
        batch_chunks=int(batch_chunks),
    )
    return FeatureSpec(
        name=name,
        kind="sequence" if pooling == "frames" else "functionals",
        extract=extract,
        params=WhisperParams(declared, local_name or name),
        libraries=LIBRARIES[route],
        description=description,
    )


def extraction_entry(signal, sample_rate: int, **options) -> Any:
    """Module-level entry point (picklable for worker processes); imports the heavy libraries only when called."""
    from ser_plugin_whisper.extraction import extract

    return extract(signal, sample_rate, **options)


def feature_specs() -> list[FeatureSpec]:
    """The features this plugin registers: four per size of :data:`SIZES`."""
    specs = []
    for size, words in SIZES.items():
        base = f"whisper-{size}"
        ct2 = hub_id(size, "ctranslate2")
        specs.append(whisper_feature(base, ct2, description=f"{words}: last encoder layer, mean over the clip's frames (CTranslate2)"))
        specs.append(
            whisper_feature(f"{base}-meanstd", ct2, pooling="meanstd", local_name=base,
                            description=f"{words}: last encoder layer, mean and standard deviation over the clip's frames (CTranslate2)")
        )
        specs.append(
            whisper_feature(f"{base}-frames", ct2, pooling="frames", local_name=base,
                            description=f"{words}: last encoder layer, the clip's frames, 50 per second (CTranslate2)")
        )
        specs.append(
            whisper_feature(f"{base}-layers", hub_id(size, "transformers"), route="transformers", layer="all",
                            local_name=f"{base}-transformers",
                            description=f"{words}: every encoder hidden state, mean over the clip's frames (transformers)")
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
