"""Which model fits a 15-minute GPU window? The arithmetic, measured where it can be (prints JSON).

For each candidate model config (randomly initialised; speed does not depend on the weights):
- parameters;
- FLOPs per training sample: torch's FlopCounterMode over a real training step (forward with
  scheduled sampling, backward) on a few samples of every bucket of the window's resident data,
  averaged with the buckets' sizes (padding included: what the GPU computes);
- operator calls per training step (torch.profiler on the CPU, top-level aten ops: roughly the
  kernel launches of one step on a GPU, before any compilation);
- CPU latency at batch 1 on this machine, 2 threads and 1: the encoder on a real crohme_val image of
  median width plus `--tokens` greedy decoder steps (a random model does not stop by itself, so the
  decoded length is fixed at the median caption length), p50 over `--repeats` runs;
and from them, for an assumed achieved throughput on the H200 (`--tflops`, bf16) and launch cost
(`--launch-us` per operator call), the samples/s to expect and the epochs of CROHME train that fit the
window's training minutes (`--train-minutes`).

    python benchmarks/window_model_choice.py --data ../shared/crohme [--tflops 100] [--launch-us 6]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

CANDIDATES: dict[str, dict[str, Any]] = {
    "cpu_small (shipped 0.5.0)": {
        "encoder": {"embed_dim": 128, "depth": 3, "num_heads": 4, "patch_size": 8, "stem_channels": 32},
        "decoder": {"kind": "transformer", "d_model": 128, "num_layers": 2, "num_heads": 4, "ff_dim": 512},
    },
    "gpu 192x6 / 3x192 (2026-12-04 window)": {
        "encoder": {"embed_dim": 192, "depth": 6, "num_heads": 6, "patch_size": 8, "stem_channels": 32},
        "decoder": {"kind": "transformer", "d_model": 192, "num_layers": 3, "num_heads": 6, "ff_dim": 768},
    },
    "gpu 256x6 / 3x256": {
        "encoder": {"embed_dim": 256, "depth": 6, "num_heads": 8, "patch_size": 8, "stem_channels": 32},
        "decoder": {"kind": "transformer", "d_model": 256, "num_layers": 3, "num_heads": 8, "ff_dim": 1024},
    },
    "gpu 256x8 / 3x256": {
        "encoder": {"embed_dim": 256, "depth": 8, "num_heads": 8, "patch_size": 8, "stem_channels": 32},
        "decoder": {"kind": "transformer", "d_model": 256, "num_layers": 3, "num_heads": 8, "ff_dim": 1024},
    },
}
TRAIN_EXPRESSIONS = 8363  # CROHME train minus the crohme_val writers, <= 100 tokens (the window's set)


def _trainer(data: Path, model: dict[str, Any], batch: int, tmp: Path) -> Any:
    from seq2latex.config import load_yaml_configs
    from seq2latex.training import RunOptions, Trainer

    base_model, base_train = load_yaml_configs(Path(__file__).resolve().parents[1] / "configs" / "gpu.yaml")
    enc = replace(base_model.encoder, **model["encoder"])
    dec = replace(base_model.decoder, **model["decoder"])
    # the window's buckets (all training images, each bucket at least a batch), one validation item
    train = replace(base_train, batch_size=batch, limit_val=1, preprocess_workers=2)

    with contextlib.redirect_stdout(sys.stderr):
        trainer = Trainer(
            replace(base_model, encoder=enc, decoder=dec), train, RunOptions(data=data, out=tmp, device="cpu")
        )
        trainer.build_data()
    return trainer


def _step_counts(trainer: Any, p: float, batch: int = 8) -> tuple[float, int]:
    """(FLOPs per training sample, averaged over the buckets as `seq2latex bench train` does; operator
    calls of one step on the largest bucket)."""
    from torch.profiler import ProfilerActivity, profile

    from seq2latex.training.bench import flops_per_sample

    data = trainer.build_data()
    res, gen = data.resident, torch.Generator().manual_seed(0)
    largest = max(range(len(res.buckets)), key=lambda b: len(res.buckets[b]))
    step_batch = res.batch(largest, torch.arange(batch), data.device_augment, gen)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer.train_step(step_batch, p)
    calls = sum(
        1
        for e in prof.events()
        if e.name.startswith("aten::") and (e.cpu_parent is None or not e.cpu_parent.name.startswith("aten::"))
    )  # outermost aten calls, forward and backward (autograd's nodes are not aten ops)
    return flops_per_sample(trainer, p, batch), calls


def _latency(model: Any, image: torch.Tensor, tokens: int, repeats: int) -> float:
    model.eval()
    times = []
    with torch.inference_mode():
        for _ in range(repeats + 2):
            t0 = time.perf_counter()
            enc = model.forward_features(image)
            state = model.decoder.init_state(enc.features, enc.mask)
            tok = torch.full((1,), model.cfg.sos_id, dtype=torch.long)
            for _ in range(tokens):
                logits, state = model.decoder.step(tok, state)
                tok = logits.argmax(-1)
            times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times[2:])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--batch", type=int, default=256, help="the window's batch (FLOPs and calls per step)")
    p.add_argument("--tflops", type=float, default=100.0, help="assumed achieved bf16 TFLOP/s on the H200")
    p.add_argument(
        "--launch-us", type=float, default=6.0, help="assumed cost of one operator call on the GPU"
    )
    p.add_argument("--train-minutes", type=float, default=7.6, help="training minutes of one window")
    p.add_argument(
        "--tokens", type=int, default=0, help="decoded tokens for the latency (0 = median caption)"
    )
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)

    from data.records import discover_sources, read_source
    from data.splits import load_split, partition
    from seq2latex.config import preprocess_config
    from seq2latex.sampling import sampling_probability
    from seq2latex.training.validation import make_val_items
    from tokenizer import LatexTokenizer

    sources = {s.name: s for s in discover_sources(args.data)}
    _, val = partition(read_source(sources["offline/train"]).records, load_split("crohme_val"))
    report: dict[str, Any] = {
        "batch": args.batch,
        "assumed_tflops": args.tflops,
        "assumed_launch_us": args.launch_us,
        "train_minutes": args.train_minutes,
        "train_expressions": TRAIN_EXPRESSIONS,
        "candidates": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in CANDIDATES.items():
            trainer = _trainer(args.data, spec, args.batch, Path(tmp) / "t")
            cfg = trainer.cfg
            prob = sampling_probability(cfg.sampling, cfg.sampling.warmup_steps + cfg.sampling.ramp_steps)
            torch.set_num_threads(2)
            flops, calls = _step_counts(trainer, prob)
            items = make_val_items(val, LatexTokenizer.load(), preprocess_config(trainer.model_cfg))
            widths = sorted(items, key=lambda it: it.image.shape[-1])
            image = widths[len(widths) // 2].image[None]  # (1, 1, H, W) median width
            tokens = args.tokens or int(statistics.median(len(it.reference) for it in items)) + 1
            lat = {}
            for threads in (2, 1):
                torch.set_num_threads(threads)
                lat[threads] = _latency(trainer.model, image, tokens, args.repeats)
            step_s = max(flops * args.batch / (args.tflops * 1e12), calls * args.launch_us * 1e-6)
            rate = args.batch / step_s
            report["candidates"][name] = {
                "parameters": trainer.n_params,
                "gflops_per_sample": round(flops / 1e9, 3),
                "op_calls_per_step": calls,
                "cpu_p50_ms_2_threads": round(lat[2], 1),
                "cpu_p50_ms_1_thread": round(lat[1], 1),
                "latency_image_width": int(image.shape[-1]),
                "latency_tokens": tokens,
                "expected_samples_per_s": round(rate),
                "expected_bound": "compute"
                if flops * args.batch / (args.tflops * 1e12) >= calls * args.launch_us * 1e-6
                else "launches",
                "expected_epochs": round(rate * 60 * args.train_minutes / TRAIN_EXPRESSIONS, 1),
            }
            print(name, report["candidates"][name], file=sys.stderr, flush=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
