"""PyTorch vs ONNX Runtime on CROHME 2014 test images: the same tokens? how fast, side by side?

For N offline images of the CROHME 2014 test set (spread evenly over their sorted names), both runtimes
of the shipped model (`Recognizer.from_pretrained(runtime="torch" | "onnx")`) read each image at batch 1
on one thread, greedy and at beam 3 (the demo page's; with the bidirectional rescoring of the shipped
model). Each image is preprocessed once, outside the timing (the same NumPy path serves both runtimes);
the latency is `recognize_tensors` (encoder + search), timed per image. Prints JSON: token parity per
beam, the images that differ, the exact-match count of each runtime against the captions, and the p50 /
p90 / mean latency of each runtime.

    python benchmarks/onnx_parity.py --count 100 --json runs/onnx_parity.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

OFFLINE_DIR = Path(os.environ.get("SEQ2LATEX_CROHME", REPO.parent / "shared" / "crohme")) / "offline" / "2014"
BEAMS = (1, 3)


def read_captions(offline_dir: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (offline_dir / "caption.txt").read_text(encoding="utf-8").splitlines():
        name, _, latex = line.partition("\t")
        if latex.strip():
            out[name.strip()] = " ".join(latex.split())
    return out


def pick(names: list[str], count: int) -> list[str]:
    """`count` names spread evenly over the sorted list."""
    names = sorted(names)
    if count >= len(names):
        return names
    idx = np.linspace(0, len(names) - 1, count).round().astype(int)
    return [names[i] for i in idx]


def latency(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p90_ms": round(float(np.percentile(ms, 90)), 2),
        "mean_ms": round(float(ms.mean()), 2),
    }


def run(count: int, offline_dir: Path, model: Path | None) -> dict[str, Any]:
    import torch

    from data.preprocess import preprocess_array
    from seq2latex.config import preprocess_config
    from seq2latex.recognizer import Recognizer

    torch.set_num_threads(1)
    runtimes = {
        "torch": Recognizer.from_pretrained(model, runtime="torch"),
        "onnx": Recognizer.from_pretrained(model, runtime="onnx", threads=1),
    }
    captions = read_captions(offline_dir)
    names = pick([n for n in captions if (offline_dir / "img" / f"{n}.png").is_file()], count)
    cfg = preprocess_config(runtimes["torch"].config)
    inputs = [preprocess_array((offline_dir / "img" / f"{n}.png").read_bytes(), cfg) for n in names]
    out: dict[str, Any] = {
        "images": len(names),
        "source": str(offline_dir),
        "threads": 1,
        "batch": 1,
        "model": runtimes["torch"].card.get("version"),
    }
    for beam in BEAMS:
        times: dict[str, list[float]] = {k: [] for k in runtimes}
        tokens: dict[str, list[list[str]]] = {k: [] for k in runtimes}
        for x in inputs:
            for kind, rec in runtimes.items():  # alternate, so that load on the machine hits both alike
                arg = torch.from_numpy(x) if kind == "torch" else x
                start = time.perf_counter()
                pred = rec.recognize_tensors([arg], beam=beam)[0]
                times[kind].append(time.perf_counter() - start)
                tokens[kind].append(pred.tokens)
        differ = [n for n, a, b in zip(names, tokens["torch"], tokens["onnx"], strict=True) if a != b]
        exact = {
            k: sum(" ".join(t) == captions[n] for n, t in zip(names, v, strict=True))
            for k, v in tokens.items()
        }
        out[f"beam{beam}"] = {
            "same_tokens": len(names) - len(differ),
            "differ": differ,
            "exact_match": exact,
            "latency": {k: latency(v) for k, v in times.items()},
            "onnx_speedup_p50": round(float(np.median(times["torch"]) / np.median(times["onnx"])), 2),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=100, help="images of the CROHME 2014 test set [100]")
    p.add_argument("--offline", type=Path, default=OFFLINE_DIR, help="CROHME offline/2014 folder")
    p.add_argument("--model", type=Path, default=None, help="model directory with onnx/ [the shipped one]")
    p.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = p.parse_args(argv)
    if not (args.offline / "caption.txt").is_file():
        print(f"error: no CROHME 2014 offline images at {args.offline}", file=sys.stderr)
        return 2
    result = run(args.count, args.offline, args.model)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
