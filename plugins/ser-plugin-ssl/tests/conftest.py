"""Tiny speech encoders with random weights, saved as local model folders (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest

#: Small enough to run in milliseconds: 16 wide, 2 transformer layers, a 3-layer CNN whose stride (320
#: samples, 50 frames/s) is the real encoders'.
TINY = dict(
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=32,
    conv_dim=(8, 8, 8),
    conv_kernel=(10, 8, 8),
    conv_stride=(5, 8, 8),
    num_conv_pos_embeddings=8,
    num_conv_pos_embedding_groups=2,
    vocab_size=8,
)


def save_tiny(kind: str, folder: Path, seed: int = 0, normalize: bool = False) -> Path:
    """A randomly initialised ``kind`` (wavlm, hubert, wav2vec2) encoder and its feature extractor in ``folder``."""
    import torch
    import transformers

    config = {
        "wavlm": transformers.WavLMConfig,
        "hubert": transformers.HubertConfig,
        "wav2vec2": transformers.Wav2Vec2Config,
    }[kind](**TINY)
    torch.manual_seed(seed)
    model = transformers.AutoModel.from_config(config)
    model.save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(do_normalize=normalize, return_attention_mask=False).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """A ``SERBENCH_SSL_MODEL_DIR``-style directory: tiny encoders named as the registered features."""
    root = tmp_path_factory.mktemp("ssl-models")
    save_tiny("wavlm", root / "wavlm-base-plus", seed=0)
    save_tiny("hubert", root / "hubert-base", seed=1)
    save_tiny("wav2vec2", root / "wav2vec2-base", seed=2, normalize=True)
    return root


@pytest.fixture(scope="session")
def make_tiny():
    """:func:`save_tiny`, for tests that need other weights."""
    return save_tiny


@pytest.fixture(autouse=True)
def one_torch_thread(monkeypatch):
    """Tiny tensors: extra threads only add synchronisation (and CI machines are shared)."""
    monkeypatch.setenv("SERBENCH_TORCH_THREADS", "1")
