"""Finding, identifying and running a pretrained encoder (imports torch and transformers when used).

:func:`locate` finds the model's folder (a local directory, ``$SERBENCH_SSL_MODEL_DIR/<name>``, or the
Hugging Face Hub through its cache), :func:`identify` hashes its weights for the cache key, and
:func:`extract` encodes one clip. Every route ends in the same ``from_pretrained(folder)``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ser_core import FeatureError, require, require_samples, thread_count

#: The encoders' first convolution spans 400 samples (25 ms): shorter clips give no frame.
MIN_SAMPLES = 400
#: Files whose content identifies a model (configuration and weights).
WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")
IDENTITY_FILES = ("config.json", "preprocessor_config.json")
#: Threads torch uses for extraction (default: 1 in each of the core's worker processes, one per core;
#: torch's own default when extracting in the main process).
THREADS_VARIABLE = "SERBENCH_TORCH_THREADS"
NEEDED_BY = "the self-supervised speech features (ser-plugin-ssl)"


def _is_path(model: str) -> bool:
    """A local directory (absolute, relative with ``./``, ``~``, or existing) rather than a Hub id."""
    return model.startswith(("/", ".", "~")) or Path(model).expanduser().exists()


def _weight_files(folder: Path) -> list[Path]:
    return sorted({p for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern) if p.is_file()})


def _check_folder(folder: Path, what: str) -> Path:
    """``folder`` when it holds a model's configuration and weights, else a :class:`FeatureError`."""
    if not folder.is_dir():
        raise FeatureError(f"{what} {folder} is not a directory")
    missing = [name for name in ("config.json", "preprocessor_config.json") if not (folder / name).is_file()]
    if not _weight_files(folder):
        missing.append("the weights (model.safetensors or pytorch_model.bin)")
    if missing:
        raise FeatureError(
            f"{what} {folder} is not a complete model folder: it lacks {', '.join(missing)}. Fill it with "
            "`hf download MODEL_ID --local-dir DIR` (huggingface_hub's command-line tool) or a model's "
            "save_pretrained() of the model and its feature extractor."
        )
    return folder


def _how_to_provide(model: str, local_name: str) -> str:
    from ser_plugin_ssl import MODEL_DIR_VARIABLE

    return (
        f"To provide it: on a machine with internet run `hf download {model} --local-dir DIR/{local_name}` "
        f"(huggingface_hub's command-line tool), copy DIR to this machine and set {MODEL_DIR_VARIABLE}=DIR; "
        "or run once with internet access (the model is downloaded into the Hugging Face cache, HF_HOME), "
        "after which HF_HUB_OFFLINE=1 uses that cache only."
    )


def locate(model: str, revision: str, local_name: str, *, cached_only: bool = False) -> Path:
    """The folder holding ``model``'s files, downloading them from the Hub when needed.

    :param model: a local directory or a Hub model id.
    :param local_name: the sub-folder of ``$SERBENCH_SSL_MODEL_DIR`` to use when that is set.
    :param cached_only: try the Hugging Face cache before the network (worker processes: the parent
        has resolved the model already).
    :raises FeatureError: the model is nowhere to be found, naming how to provide a local copy.
    """
    from ser_plugin_ssl import MODEL_DIR_VARIABLE, model_dir

    if _is_path(model):
        path = Path(model).expanduser()
        if not path.exists():
            raise FeatureError(f"the model directory {path} does not exist. {_how_to_provide('MODEL_ID', local_name)}")
        return _check_folder(path, "the model directory")
    base = model_dir()
    if base is not None:
        folder = base / local_name
        if not folder.exists():
            raise FeatureError(
                f"{MODEL_DIR_VARIABLE} is {base}, which has no folder {local_name!r} for the model {model!r}. "
                f"Run `hf download {model} --local-dir {folder}` on a machine with internet and copy it "
                f"there, or unset {MODEL_DIR_VARIABLE} to download it from the Hugging Face Hub."
            )
        return _check_folder(folder, f"the local copy of {model!r} ({MODEL_DIR_VARIABLE})")
    hub = require("huggingface_hub", install="ser-plugin-ssl", needed_by=NEEDED_BY)
    attempts = [True, False] if cached_only else [False]
    error: Exception | None = None
    for local_only in attempts:
        try:
            folder = Path(
                hub.snapshot_download(
                    model, revision=revision, allow_patterns=["*.json", "*.safetensors"], local_files_only=local_only
                )
            )
            if not _weight_files(folder):  # older repositories hold only PyTorch pickles
                folder = Path(
                    hub.snapshot_download(
                        model, revision=revision, allow_patterns=["pytorch_model*.bin"], local_files_only=local_only
                    )
                )
            return _check_folder(folder, f"the download of {model!r}")
        except FeatureError:
            raise
        except Exception as exc:  # offline, unknown id, revision not found, disk full: one message
            error = exc
    reason = " ".join(str(error).split()).rstrip(".")
    raise FeatureError(
        f"cannot get the pretrained model {model!r} (revision {revision!r}) from the Hugging Face Hub: "
        f"{type(error).__name__}: {reason}. " + _how_to_provide(model, local_name)
    )


def weights_hash(folder: Path) -> str:
    """SHA-256 over the names and contents of the configuration and weight files of ``folder``."""
    digest = hashlib.sha256()
    files = [folder / name for name in IDENTITY_FILES if (folder / name).is_file()] + _weight_files(folder)
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def identify(declared: Mapping[str, Any], local_name: str) -> dict[str, Any]:
    """What the declared parameters leave open: the weights' hash, the layers kept and their width.

    :raises FeatureError: the model cannot be found, or ``layer`` is outside its hidden states.
    """
    folder = locate(declared["model"], declared["revision"], local_name)
    config = json.loads((folder / "config.json").read_text())
    try:
        n_states = int(config["num_hidden_layers"]) + 1
        width = int(config["hidden_size"])
    except (KeyError, TypeError, ValueError):
        raise FeatureError(f"{folder / 'config.json'} gives no num_hidden_layers and hidden_size: not a speech encoder") from None
    layer = declared["layer"]
    if layer != "all" and not -n_states <= layer < n_states:
        raise FeatureError(
            f"layer {layer} is outside the {n_states} hidden states of {declared['model']!r} (0 to {n_states - 1})"
        )
    return {
        "weights": "sha256:" + weights_hash(folder),
        "layers_kept": n_states if layer == "all" else 1,
        "hidden_size": width,
    }


@functools.lru_cache(maxsize=2)
def load(folder: str) -> tuple[Any, Any, Any]:
    """The encoder (in evaluation mode, on the GPU when there is one), its feature extractor, its device."""
    torch = require("torch", install="ser-plugin-ssl", needed_by=NEEDED_BY)
    transformers = require("transformers", install="ser-plugin-ssl", needed_by=NEEDED_BY)
    transformers.logging.set_verbosity_error()  # unused pretraining heads are expected, not news
    transformers.logging.disable_progress_bar()
    threads = thread_count(THREADS_VARIABLE)
    if threads:
        torch.set_num_threads(threads)
    elif multiprocessing.parent_process() is not None:  # one of the core's extraction workers (one per core)
        torch.set_num_threads(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        model = transformers.AutoModel.from_pretrained(folder).to(device).eval()
        processor = transformers.AutoFeatureExtractor.from_pretrained(folder)
    except Exception as exc:
        raise FeatureError(f"cannot load the model in {folder}: {type(exc).__name__}: {exc}") from None
    return model, processor, device


def chunk_bounds(n_samples: int, chunk: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of consecutive chunks of at most ``chunk`` samples covering ``n_samples``; a
    tail shorter than :data:`MIN_SAMPLES` joins the chunk before it."""
    bounds = [(start, min(start + chunk, n_samples)) for start in range(0, n_samples, chunk)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < MIN_SAMPLES:
        bounds[-2:] = [(bounds[-2][0], n_samples)]
    return bounds


def extract(
    signal: np.ndarray,
    sample_rate: int,
    *,
    model: str,
    revision: str,
    local_name: str,
    layer: int | str,
    pooling: str,
    chunk_seconds: float,
    batch_chunks: int,
) -> np.ndarray:
    """One clip's hidden states: ``(layers * dims,)`` for mean pooling, ``(frames, layers * dims)`` for
    frames; layers are side by side (layer-major) when every layer is kept."""
    require_samples(signal, MIN_SAMPLES, local_name, sample_rate)
    torch = require("torch", install="ser-plugin-ssl", needed_by=NEEDED_BY)
    net, processor, device = load(str(locate(model, revision, local_name, cached_only=True)))
    values = processor(signal, sampling_rate=sample_rate, return_tensors="np").input_values[0].astype(np.float32)
    bounds = chunk_bounds(len(values), int(round(chunk_seconds * sample_rate)))
    encoded: list[np.ndarray | None] = [None] * len(bounds)
    by_length: dict[int, list[int]] = {}
    for index, (start, stop) in enumerate(bounds):
        by_length.setdefault(stop - start, []).append(index)
    for indices in by_length.values():  # equal-length chunks batch without padding
        for first in range(0, len(indices), batch_chunks):
            batch = indices[first : first + batch_chunks]
            inputs = torch.from_numpy(np.stack([values[slice(*bounds[i])] for i in batch])).to(device)
            with torch.inference_mode():
                states = net(inputs, output_hidden_states=True).hidden_states
            chosen = states if layer == "all" else (states[layer],)
            stacked = torch.stack(chosen, dim=1).float().cpu().numpy()  # (batch, layers, frames, dims)
            for row, index in enumerate(batch):
                encoded[index] = stacked[row]
    frames = np.concatenate(encoded, axis=1)  # (layers, frames, dims): chunks joined in time
    if pooling == "mean":
        return frames.mean(axis=1).reshape(-1)
    return frames.transpose(1, 0, 2).reshape(frames.shape[1], -1)
