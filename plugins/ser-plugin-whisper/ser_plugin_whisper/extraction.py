"""Finding, identifying and running a Whisper encoder (imports ctranslate2, transformers, torch when used).

:func:`locate` finds the model's folder (a local directory, ``$SERBENCH_SSL_MODEL_DIR/<name>``, or the
Hugging Face Hub through its cache), :func:`identify` hashes its weights for the cache key, and
:func:`extract` encodes one clip: Whisper's log-mel spectrogram of each 30 s chunk (padded as Whisper
pads), the encoder, then only the frames that cover the clip (:func:`covered_frames`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import multiprocessing
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ser_core import FeatureError, require, require_samples, thread_count

#: One encoder frame spans 320 samples (two 10 ms mel hops at 16 kHz): a shorter clip has no frame.
SAMPLES_PER_FRAME = 320
SAMPLE_RATE = 16_000
#: Threads for extraction (default: 1 in each of the core's worker processes, one per core; the
#: library's own default when extracting in the main process).
THREADS_VARIABLE = "SERBENCH_WHISPER_THREADS"
NEEDED_BY = "the Whisper features (ser-plugin-whisper)"
#: Mel bins of every Whisper model before large-v3 (large-v3 ships a preprocessor_config.json saying 128).
DEFAULT_MELS = 80
WEIGHT_PATTERNS = {"ctranslate2": ("model.bin",), "transformers": ("*.safetensors", "pytorch_model*.bin")}
IDENTITY_FILES = ("config.json", "preprocessor_config.json")
DOWNLOAD_PATTERNS = {
    "ctranslate2": ["config.json", "model.bin", "preprocessor_config.json", "tokenizer.json", "vocabulary.*"],
    "transformers": ["*.json", "*.safetensors"],
}


def _is_path(model: str) -> bool:
    """A local directory (absolute, relative with ``./``, ``~``, or existing) rather than a Hub id."""
    return model.startswith(("/", ".", "~")) or Path(model).expanduser().exists()


def _weight_files(folder: Path, route: str) -> list[Path]:
    return sorted({p for pattern in WEIGHT_PATTERNS[route] for p in folder.glob(pattern) if p.is_file()})


def _check_folder(folder: Path, route: str, what: str) -> Path:
    """``folder`` when it holds a ``route`` model's configuration and weights, else a :class:`FeatureError`."""
    if not folder.is_dir():
        raise FeatureError(f"{what} {folder} is not a directory")
    missing = [] if (folder / "config.json").is_file() else ["config.json"]
    if not _weight_files(folder, route):
        missing.append("model.bin (a CTranslate2 conversion)" if route == "ctranslate2"
                       else "the weights (model.safetensors or pytorch_model.bin)")
    if missing:
        other = (" A transformers copy (model.safetensors) is not a CTranslate2 model: convert it with "
                 "`ct2-transformers-converter --model DIR --output_dir OUT`, or use a `-layers` feature."
                 if route == "ctranslate2" and list(folder.glob("*.safetensors")) else "")
        raise FeatureError(
            f"{what} {folder} is not a complete Whisper model folder for the {route} route: it lacks "
            f"{', '.join(missing)}. Fill it with `hf download MODEL_ID --local-dir DIR` (huggingface_hub's "
            "command-line tool)." + other
        )
    return folder


def _how_to_provide(model: str, local_name: str) -> str:
    from ser_plugin_whisper import MODEL_DIR_VARIABLE

    return (
        f"To provide it: on a machine with internet run `hf download {model} --local-dir DIR/{local_name}` "
        f"(huggingface_hub's command-line tool), copy DIR to this machine and set {MODEL_DIR_VARIABLE}=DIR; "
        "or run once with internet access (the model is downloaded into the Hugging Face cache, HF_HOME), "
        "after which HF_HUB_OFFLINE=1 uses that cache only."
    )


def locate(route: str, model: str, local_name: str, *, cached_only: bool = False) -> Path:
    """The folder holding ``model``'s files, downloading them from the Hub when needed.

    :param route: ``"ctranslate2"`` or ``"transformers"`` (which files make a complete folder).
    :param model: a local directory or a Hub model id.
    :param local_name: the sub-folder of ``$SERBENCH_SSL_MODEL_DIR`` to use when that is set.
    :param cached_only: try the Hugging Face cache before the network (worker processes: the parent
        has resolved the model already).
    :raises FeatureError: the model is nowhere to be found, naming how to provide a local copy.
    """
    from ser_plugin_whisper import MODEL_DIR_VARIABLE, model_dir

    if _is_path(model):
        path = Path(model).expanduser()
        if not path.exists():
            raise FeatureError(f"the model directory {path} does not exist. {_how_to_provide('MODEL_ID', local_name)}")
        return _check_folder(path, route, "the model directory")
    base = model_dir()
    if base is not None:
        folder = base / local_name
        if not folder.exists():
            raise FeatureError(
                f"{MODEL_DIR_VARIABLE} is {base}, which has no folder {local_name!r} for the model {model!r}. "
                f"Run `hf download {model} --local-dir {folder}` on a machine with internet and copy it "
                f"there, or unset {MODEL_DIR_VARIABLE} to download it from the Hugging Face Hub."
            )
        return _check_folder(folder, route, f"the local copy of {model!r} ({MODEL_DIR_VARIABLE})")
    hub = require("huggingface_hub", install="ser-plugin-whisper", needed_by=NEEDED_BY)
    attempts = [True, False] if cached_only else [False]
    error: Exception | None = None
    for local_only in attempts:
        try:
            folder = Path(hub.snapshot_download(model, allow_patterns=DOWNLOAD_PATTERNS[route], local_files_only=local_only))
            return _check_folder(folder, route, f"the download of {model!r}")
        except FeatureError:
            raise
        except Exception as exc:  # offline, unknown id, disk full: one message
            error = exc
    reason = " ".join(str(error).split()).rstrip(".")
    raise FeatureError(
        f"cannot get the Whisper model {model!r} from the Hugging Face Hub: {type(error).__name__}: {reason}. "
        + _how_to_provide(model, local_name)
    )


def weights_hash(folder: Path, route: str) -> str:
    """SHA-256 over the names and contents of the configuration and weight files of ``folder``."""
    digest = hashlib.sha256()
    files = [folder / name for name in IDENTITY_FILES if (folder / name).is_file()] + _weight_files(folder, route)
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FeatureError(f"cannot read {path}: {exc}") from None


def mel_bins(folder: Path, route: str) -> int:
    """The mel bins the model reads: its ``preprocessor_config.json`` (``feature_size``), else (transformers)
    its ``config.json`` (``num_mel_bins``), else Whisper's 80."""
    if (folder / "preprocessor_config.json").is_file():
        return int(_read_json(folder / "preprocessor_config.json").get("feature_size", DEFAULT_MELS))
    if route == "transformers":
        return int(_read_json(folder / "config.json").get("num_mel_bins", DEFAULT_MELS))
    return DEFAULT_MELS


def identify(declared: Mapping[str, Any], local_name: str) -> dict[str, Any]:
    """What the declared parameters leave open: the weights' hash, the mel bins, the layers kept (and,
    for transformers, their width).

    :raises FeatureError: the model cannot be found, or ``layer`` is outside its hidden states.
    """
    route = declared["route"]
    folder = locate(route, declared["model"], local_name)
    found: dict[str, Any] = {"weights": "sha256:" + weights_hash(folder, route), "n_mels": mel_bins(folder, route)}
    if route == "ctranslate2":
        found["layers_kept"] = 1
        return found
    config = _read_json(folder / "config.json")
    try:
        n_states = int(config["encoder_layers"]) + 1
        width = int(config["d_model"])
    except (KeyError, TypeError, ValueError):
        raise FeatureError(f"{folder / 'config.json'} gives no encoder_layers and d_model: not a Whisper model") from None
    layer = declared["layer"]
    if layer != "all" and not -n_states <= layer < n_states:
        raise FeatureError(f"layer {layer} is outside the {n_states} hidden states of {declared['model']!r} (0 to {n_states - 1})")
    found.update(layers_kept=n_states if layer == "all" else 1, hidden_size=width)
    return found


def _threads() -> int | None:
    value = thread_count(THREADS_VARIABLE)
    if value:
        return value
    if multiprocessing.parent_process() is not None:  # one of the core's extraction workers (one per core)
        return 1
    return None


@functools.lru_cache(maxsize=2)
def feature_extractor(folder: str, n_mels: int) -> Any:
    """Whisper's own log-mel front end (transformers' ``WhisperFeatureExtractor``) for ``n_mels`` bins."""
    transformers = require("transformers", install="ser-plugin-whisper", needed_by=NEEDED_BY)
    if (Path(folder) / "preprocessor_config.json").is_file():
        return transformers.WhisperFeatureExtractor.from_pretrained(folder)
    return transformers.WhisperFeatureExtractor(feature_size=n_mels)


@functools.lru_cache(maxsize=2)
def load_ctranslate2(folder: str, compute_type: str) -> Any:
    """The CTranslate2 Whisper model in ``folder`` (on the GPU when CTranslate2 sees one)."""
    ctranslate2 = require("ctranslate2", install="ser-plugin-whisper", needed_by=NEEDED_BY)
    device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    threads = _threads()
    try:
        return ctranslate2.models.Whisper(folder, device=device, compute_type=compute_type, intra_threads=threads or 0)
    except Exception as exc:
        raise FeatureError(f"cannot load the CTranslate2 Whisper model in {folder}: {type(exc).__name__}: {exc}") from None


@functools.lru_cache(maxsize=2)
def load_transformers(folder: str) -> tuple[Any, Any]:
    """The Whisper encoder of the transformers model in ``folder`` (evaluation mode) and its device."""
    torch = require("torch", install="ser-plugin-whisper", needed_by=NEEDED_BY)
    transformers = require("transformers", install="ser-plugin-whisper", needed_by=NEEDED_BY)
    transformers.logging.set_verbosity_error()  # the unused decoder weights are expected, not news
    transformers.logging.disable_progress_bar()
    threads = _threads()
    if threads:
        torch.set_num_threads(threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        encoder = transformers.WhisperModel.from_pretrained(folder).get_encoder().to(device).eval()
    except Exception as exc:
        raise FeatureError(f"cannot load the transformers Whisper model in {folder}: {type(exc).__name__}: {exc}") from None
    return encoder, device


def covered_frames(n_samples: int) -> int:
    """Encoder frames covering ``n_samples`` of 16 kHz audio (one per 320 samples, the last partial one
    included), at most the window's 1,500."""
    return min(1500, max(1, math.ceil(n_samples / SAMPLES_PER_FRAME)))


def chunk_bounds(n_samples: int, window: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of consecutive chunks of at most ``window`` samples (Whisper's 30 s) covering
    ``n_samples``; each is encoded on its own, padded to the window as Whisper pads."""
    return [(start, min(start + window, n_samples)) for start in range(0, n_samples, window)]


def pool(frames: np.ndarray, pooling: str) -> np.ndarray:
    """``frames`` ``(layers, frames, dims)`` pooled over time: ``(layers * dims,)`` for ``mean``,
    ``(2 * layers * dims,)`` for ``meanstd`` (all means, then all standard deviations), or the frames
    ``(frames, layers * dims)``."""
    if pooling == "mean":
        return frames.mean(axis=1).reshape(-1)
    if pooling == "meanstd":
        return np.concatenate([frames.mean(axis=1).reshape(-1), frames.std(axis=1).reshape(-1)])
    return frames.transpose(1, 0, 2).reshape(frames.shape[1], -1)


def extract(
    signal: np.ndarray,
    sample_rate: int,
    *,
    route: str,
    model: str,
    local_name: str,
    layer: int | str,
    pooling: str,
    compute_type: str,
    batch_chunks: int,
) -> np.ndarray:
    """One clip's encoder states, pooled as ``pooling`` says (see :func:`pool`); only the frames that
    cover the clip enter, chunk by chunk for clips over 30 s."""
    require_samples(signal, SAMPLES_PER_FRAME, local_name, sample_rate)
    if sample_rate != SAMPLE_RATE:
        raise FeatureError(f"Whisper features need {SAMPLE_RATE} Hz audio, not {sample_rate} Hz")
    folder = locate(route, model, local_name, cached_only=True)
    n_mels = mel_bins(folder, route)
    front = feature_extractor(str(folder), n_mels)
    window = int(front.n_samples)  # 30 s
    bounds = chunk_bounds(len(signal), window)
    signal = np.asarray(signal, dtype=np.float32)
    encoded: list[np.ndarray] = []
    for first in range(0, len(bounds), batch_chunks):
        batch = bounds[first : first + batch_chunks]
        mels = front([signal[a:b] for a, b in batch], sampling_rate=SAMPLE_RATE, return_tensors="np").input_features
        mels = np.ascontiguousarray(mels, dtype=np.float32)  # (batch, n_mels, 3000): each padded to 30 s
        states = _encode(route, folder, mels, layer, compute_type)  # (batch, layers, 1500, dims)
        for row, (a, b) in enumerate(batch):
            encoded.append(states[row][:, : covered_frames(b - a)])
    return pool(np.concatenate(encoded, axis=1), pooling).astype(np.float32)


def _encode(route: str, folder: Path, mels: np.ndarray, layer: int | str, compute_type: str) -> np.ndarray:
    """Encoder states ``(batch, layers, frames, dims)`` of log-mel input ``(batch, n_mels, frames)``."""
    if route == "ctranslate2":
        net = load_ctranslate2(str(folder), compute_type)
        if net.n_mels != mels.shape[1]:
            raise FeatureError(f"the model in {folder} reads {net.n_mels} mel bins, but its folder says {mels.shape[1]}")
        ctranslate2 = require("ctranslate2", install="ser-plugin-whisper", needed_by=NEEDED_BY)
        output = net.encode(ctranslate2.StorageView.from_array(mels), to_cpu=True)
        return np.array(output, dtype=np.float32)[:, None]
    torch = require("torch", install="ser-plugin-whisper", needed_by=NEEDED_BY)
    encoder, device = load_transformers(str(folder))
    with torch.inference_mode():
        states = encoder(torch.from_numpy(mels).to(device), output_hidden_states=True).hidden_states
    chosen = states if layer == "all" else (states[layer],)
    return torch.stack(chosen, dim=1).float().cpu().numpy()
