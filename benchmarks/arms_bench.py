"""Parameters and CPU training-step time of the recipe study's model arms (prints JSON).

For configs/gpu.yaml (the arms' base) and each model arm of configs/arms/ (randomly initialised; speed
does not depend on the weights), built with the shipped vocabulary and symbol classes: the parameters
(total, encoder, its convolutional stem, decoder), and the CPU time of one teacher-forced training step
(forward and backward, no optimiser) of a batch of `--batch` images `--height` px high and `--width` px
wide with `--tokens` tokens per caption (+ <sos>/<eos>; both directions when the config is
bidirectional), median over `--repeats` steps after one warm-up, on `--threads` threads. And the time
to read one such image at batch 1 on one thread, as greedy decoding does (the encoder once, then one
decoder step per token of a `--tokens` caption and its <eos>), median of `--read-repeats`: with PyTorch
and with the ONNX graphs `seq2latex export --onnx` writes (the model saved in fp16 to a temporary
directory and exported), the two runtimes the service has.

    flock /tmp/seq2latex-cpu.lock nice -n 5 python benchmarks/arms_bench.py > docs/arms.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {
    "base (gpu.yaml)": "configs/gpu.yaml",
    "backbone": "configs/arms/backbone.yaml",
    "coverage": "configs/arms/coverage.yaml",
    "width": "configs/arms/width.yaml",
    "width + backbone + coverage": "configs/arms/combined.yaml",
}
SHIPPED_VOCAB = 114
SHIPPED_SYMBOL_CLASSES = 101


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _step_seconds(model: Any, batch: int, height: int, width: int, tokens: int, repeats: int) -> float:
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(batch, 1, height, width, generator=g) > 0.85).float()  # (B, 1, H, W)
    mask = torch.ones(batch, height, width, dtype=torch.bool)  # (B, H, W)
    targets = torch.randint(3, SHIPPED_VOCAB, (batch, tokens + 2), generator=g)  # (B, T)
    targets[:, 0], targets[:, -1] = model.cfg.sos_id, model.cfg.eos_id
    model.train()
    times = []
    for _ in range(repeats + 1):
        model.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        model.compute_losses(images, targets, mask).loss.backward()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def _read_ms(start: Any, tokens: int, repeats: int) -> float:
    """Median ms of `start()` (the encoder, returning a StepDecoder) and `tokens` + 1 decoder steps."""
    import numpy as np

    from seq2latex.decoding import stepwise_teacher_forced

    feed = np.random.default_rng(0).integers(3, SHIPPED_VOCAB, (1, tokens + 2))  # (1, T): T - 1 steps
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        stepwise_teacher_forced(start(), np.array([0]), feed)
        times.append(1000.0 * (time.perf_counter() - t0))
    return statistics.median(times[1:])


def _reading(model: Any, args: argparse.Namespace) -> dict[str, float]:
    """Batch-1 reading time (ms) of one image with PyTorch and with the exported ONNX graphs."""
    import tempfile

    from data.symbols import CROHME_SYMBOL_CLASSES
    from seq2latex.checkpoint import load_model_dir, save_model_dir
    from seq2latex.decoding import TorchSteps
    from seq2latex.onnx_export import export_onnx
    from seq2latex.onnx_runtime import OnnxModel
    from tokenizer import LatexTokenizer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(1)
    images = (torch.rand(1, 1, args.height, args.width, generator=g) > 0.85).float()  # (1, 1, H, W)
    mask = torch.ones(1, args.height, args.width, dtype=torch.bool)  # (1, H, W)
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = save_model_dir(Path(tmp), model, LatexTokenizer.load(), list(CROHME_SYMBOL_CLASSES), fp16=True)
        fp16, _, cfg, _ = load_model_dir(root)  # the weights the service reads

        def torch_steps() -> TorchSteps:
            return TorchSteps(fp16, fp16.forward_features(images, mask))

        with torch.inference_mode():
            out["read_ms_torch"] = round(_read_ms(torch_steps, args.tokens, args.read_repeats), 1)
        export_onnx(root, symbols=False)
        graphs = OnnxModel(root, cfg, threads=1)

        def onnx_steps() -> Any:
            return graphs.steps(images.numpy(), mask.numpy())

        out["read_ms_onnx"] = round(_read_ms(onnx_steps, args.tokens, args.read_repeats), 1)
    torch.set_num_threads(threads)
    return out


def measure(path: str, args: argparse.Namespace) -> dict[str, Any]:
    from seq2latex.config import load_yaml_configs, to_dict
    from seq2latex.model import Seq2Latex

    cfg, _ = load_yaml_configs(REPO / path)
    cfg = replace(cfg, vocab_size=SHIPPED_VOCAB, num_symbol_classes=SHIPPED_SYMBOL_CLASSES)
    torch.manual_seed(0)
    model = Seq2Latex(cfg)
    seconds = _step_seconds(model, args.batch, args.height, args.width, args.tokens, args.repeats)
    return {
        "config": path,
        "params": _count(model),
        "params_encoder": _count(model.encoder),
        "params_stem": _count(model.encoder.vit.patch_embed.proj),
        "params_decoder": _count(model.decoder),
        "train_step_s": round(seconds, 3),
        "samples_per_s": round(args.batch / seconds, 1),
        **_reading(model, args),
        "encoder": to_dict(cfg.encoder),
        "decoder": to_dict(cfg.decoder),
        "bidirectional": cfg.bidirectional,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--width", type=int, default=256, help="every image of the batch (no padding)")
    p.add_argument("--tokens", type=int, default=16, help="caption tokens (the train mean is 15.5)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--read-repeats", type=int, default=20)
    p.add_argument("--only", nargs="*", default=None, help="arm names to measure (default: all)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    arms = {name: path for name, path in CONFIGS.items() if not args.only or name in args.only}
    report = {
        "what": "one teacher-forced training step (forward + backward, no optimiser), random weights; "
        "reading one image at batch 1 on one thread (encoder + tokens + 1 decoder steps), torch and ONNX",
        "batch": args.batch,
        "height": args.height,
        "width": args.width,
        "tokens": args.tokens,
        "threads": args.threads,
        "repeats": args.repeats,
        "vocab_size": SHIPPED_VOCAB,
        "num_symbol_classes": SHIPPED_SYMBOL_CLASSES,
        "machine": f"{platform.machine()} CPU, {args.threads} threads, torch {torch.__version__}",
        "arms": {name: measure(path, args) for name, path in arms.items()},
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
