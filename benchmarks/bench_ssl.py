"""Throughput of the SSL feature extraction at the real models' sizes, without downloading them.

The pretrained weights cannot be fetched everywhere (CI has no internet), but the compute of an encoder
depends only on its architecture. This script builds WavLM Base+, HuBERT Base and wav2vec 2.0 Base
(and Large with ``--large``) from their published configurations with random weights, saves each to a
temporary folder, and runs ser-plugin-ssl's extraction (the same code the features use, all layers,
mean pooling) on random clips of ``--seconds`` seconds. It prints clips/s and the real-time factor per
model, on the GPU when torch sees one. Timings are estimates of the real models' speed, not of their
loading (downloads are about 380 MB per base model, 1.3 GB for the large one).

    .venv/bin/python benchmarks/bench_ssl.py [--clips 20] [--seconds 3] [--threads N] [--large]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def configs(large: bool) -> dict:
    import transformers

    found = {
        "wavlm-base-plus": transformers.WavLMConfig(),
        "hubert-base": transformers.HubertConfig(),
        "wav2vec2-base": transformers.Wav2Vec2Config(),
    }
    if large:
        found["wav2vec2-large"] = transformers.Wav2Vec2Config(
            hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
            feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True,
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--large", action="store_true", help="also wav2vec 2.0 Large (writes 1.3 GB to /tmp)")
    args = parser.parse_args()
    import torch
    import transformers

    from ser_plugin_ssl.extraction import extract, load

    if args.threads:
        torch.set_num_threads(args.threads)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"device {device}, torch threads {torch.get_num_threads()}, {args.clips} clips of {args.seconds:g} s")
    rng = np.random.default_rng(0)
    clips = [rng.normal(0, 0.1, int(args.seconds * 16_000)).astype(np.float32) for _ in range(args.clips)]
    for name, config in configs(args.large).items():
        with tempfile.TemporaryDirectory() as folder:
            torch.manual_seed(0)
            model = transformers.AutoModel.from_config(config)
            parameters = sum(p.numel() for p in model.parameters())
            model.save_pretrained(folder)
            transformers.Wav2Vec2FeatureExtractor().save_pretrained(folder)
            del model
            options = dict(model=folder, revision="main", local_name=name, layer="all", pooling="mean",
                           chunk_seconds=20.0, batch_chunks=8)
            load.cache_clear()
            extract(clips[0], 16_000, **options)  # load and warm up
            started = time.perf_counter()
            for clip in clips:
                extract(clip, 16_000, **options)
            took = time.perf_counter() - started
            print(f"{name:16s} {parameters / 1e6:6.1f}M parameters  {args.clips / took:7.2f} clips/s  "
                  f"real-time factor {took / (args.clips * args.seconds):.3f}")
            load.cache_clear()


if __name__ == "__main__":
    main()
