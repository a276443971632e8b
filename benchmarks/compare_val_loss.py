"""Two models on crohme_val, expression by expression (prints JSON): teacher-forced loss and greedy ExpRate
of each, and the paired bootstrap of their difference — how large a gap the 223 validation expressions
can show by chance (the evaluation's noise; a second training seed shows the training's).

    python benchmarks/compare_val_loss.py runs/augcheck/pil/validations/step_3200 \\
        runs/augcheck/device/validations/step_3200 --data ../shared/crohme [--seed-arm runs/.../step_3200]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

BOOTSTRAP = 10_000


def per_expression(model_dir: Path, data: Path, split: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(summed token loss, token count) per validation expression, and the greedy ExpRate."""
    from data.records import discover_sources, read_source
    from data.splits import load_split, partition
    from seq2latex.checkpoint import load_model_dir
    from seq2latex.config import preprocess_config
    from seq2latex.training.validation import greedy_validation, make_val_items

    model, tok, cfg, _ = load_model_dir(model_dir)
    sources = {s.name: s for s in discover_sources(data)}
    _, records = partition(read_source(sources["offline/train"]).records, load_split(split))
    items = make_val_items(records, tok, preprocess_config(cfg))
    sums, counts = [], []
    with torch.inference_mode():
        for it in items:
            enc = model.forward_features(it.image[None])
            tokens = it.tokens[None]  # (1, T)
            logits = model.decoder(enc.features, enc.mask, tokens[:, :-1], grid=enc.grid)  # (1, T-1, V)
            sums.append(float(F.cross_entropy(logits[0], tokens[0, 1:], reduction="sum")))
            counts.append(tokens.shape[1] - 1)
    exprate = greedy_validation(
        model, items, torch.device("cpu"), tok.id_to_token, tok.pad_id, with_loss=False
    )
    return np.asarray(sums), np.asarray(counts, dtype=np.float64), float(exprate["metric"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--split", default="crohme_val")
    p.add_argument(
        "--seed-arm", type=Path, default=None, help="a's recipe with another seed (training noise)"
    )
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    torch.manual_seed(0)
    runs = {"a": args.a, "b": args.b} | ({"a_seed": args.seed_arm} if args.seed_arm else {})
    res = {k: per_expression(v, args.data, args.split) for k, v in runs.items()}
    rng = np.random.default_rng(0)
    n = len(res["a"][0])
    idx = rng.integers(0, n, size=(BOOTSTRAP, n))

    def loss(k: str, rows: Any = slice(None)) -> Any:
        s, c, _ = res[k]
        return s[rows].sum(-1) / c[rows].sum(-1)

    report: dict[str, Any] = {"split": args.split, "n": n, "bootstrap": BOOTSTRAP}
    for k, v in runs.items():
        report[k] = {"model": str(v), "val_loss": round(float(loss(k)), 4), "exprate": round(res[k][2], 2)}
    diff = loss("b", idx) - loss("a", idx)
    report["b_minus_a"] = {
        "val_loss": round(float(loss("b") - loss("a")), 4),
        "ci95": [round(float(x), 4) for x in np.percentile(diff, [2.5, 97.5])],
    }
    if "a_seed" in res:
        report["a_seed_minus_a"] = {"val_loss": round(float(loss("a_seed") - loss("a")), 4)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
