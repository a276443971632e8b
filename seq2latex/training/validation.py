"""Validation of a model during training, and the batched greedy evaluation of a GPU window.

Images are preprocessed once (`make_val_items`); each validation decodes them greedily in batches of
similar width (the batch order fixed and shuffled, so a time-boxed validation that stops early still
covers narrow and wide expressions alike) and, optionally, computes the teacher-forced loss.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from data.batch import pad_images
from seq2latex.decoding import greedy_decode
from seq2latex.evaluation import by_length, score
from seq2latex.model import Seq2Latex

VAL_BATCH = 32  # default batch of the validation decoder
BATCH_ORDER_SEED = 1234  # the fixed shuffle of the validation batches


@dataclass
class ValItem:
    image: torch.Tensor  # (1, H, W)
    tokens: torch.Tensor  # (T,) <sos> ... <eos>
    reference: list[str]


def make_val_items(records: Sequence[Any], tokenizer: Any, preprocess_cfg: Any) -> list[ValItem]:
    """Preprocessed validation images with their targets (no augmentation): `ExpressionDataset`'s
    items, the training path's own reading of a record."""
    from data.datasets import ExpressionDataset

    dataset = ExpressionDataset(records, tokenizer, preprocess_cfg)
    items = (dataset[i] for i in range(len(records)))
    return [ValItem(it.image, it.tokens, r.latex.split()) for it, r in zip(items, records, strict=True)]


def _batches(items: Sequence[ValItem], batch_size: int) -> list[list[int]]:
    order = sorted(range(len(items)), key=lambda i: (items[i].image.shape[-2], items[i].image.shape[-1]))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    random.Random(BATCH_ORDER_SEED).shuffle(batches)
    return batches


@torch.no_grad()
def greedy_validation(
    model: Seq2Latex,
    items: Sequence[ValItem],
    device: torch.device,
    id_to_token: Callable[[int], str],
    pad_id: int,
    autocast: Callable[[], Any] | None = None,
    batch_size: int = VAL_BATCH,
    with_loss: bool = True,
    max_seconds: float = 0.0,
    lengths: bool = False,
) -> dict[str, Any]:
    """Greedy ExpRate (percent; `metric`), le1, le2, teacher-forced `loss` (with_loss) and `n`, the
    items decoded (fewer than len(items) when `max_seconds` > 0 ran out); `by_length` with `lengths`."""
    t0 = time.monotonic()
    refs, preds = [], []
    loss_sum, loss_n = torch.zeros((), device=device), torch.zeros((), device=device)
    for idx in _batches(items, batch_size):
        if max_seconds and refs and time.monotonic() - t0 > max_seconds:
            break
        images, mask = pad_images([items[j].image for j in idx])
        images, mask = images.to(device), mask.to(device)
        with autocast() if autocast is not None else contextlib.nullcontext():
            enc = model.forward_features(images, mask)  # once, for the loss and the decoding
            results = greedy_decode(model, images, mask, features=enc)
            if with_loss:  # left-to-right teacher-forced loss (no R2L rows, no sampling)
                tokens = torch.nn.utils.rnn.pad_sequence(
                    [items[j].tokens for j in idx], batch_first=True, padding_value=pad_id
                ).to(device)  # (B, T)
                logits = model.decoder(
                    enc.features, enc.mask, tokens[:, :-1], grid=enc.grid
                ).float()  # (B, T-1, V)
                loss_sum += F.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]),  # (B*(T-1), V)
                    tokens[:, 1:].reshape(-1),  # (B*(T-1),)
                    ignore_index=pad_id,
                    reduction="sum",
                )
                loss_n += (tokens[:, 1:] != pad_id).sum()
        for j, r in zip(idx, results, strict=True):
            refs.append(items[j].reference)
            preds.append([id_to_token(t) for t in r.token_ids])
    m = score(refs, preds)
    out: dict[str, Any] = {
        "metric": float(m["exprate"]),
        "le1": float(m["le1"]),
        "le2": float(m["le2"]),
        "n": len(refs),
        "seconds": round(time.monotonic() - t0, 2),
    }
    if with_loss:
        out["loss"] = float(loss_sum) / max(1.0, float(loss_n))
    if lengths:
        out["by_length"] = by_length(refs, preds)
    return out


@torch.no_grad()
def symbol_accuracy(
    model: Seq2Latex,
    crops: Sequence[tuple[torch.Tensor, int]],
    device: torch.device,
    autocast: Callable[[], Any] | None = None,
    batch_size: int = VAL_BATCH,
) -> float:
    """Top-1 accuracy (percent) of the symbol head on (crop (1, S, S), class) pairs."""
    correct = 0
    for i in range(0, len(crops), batch_size):
        chunk = crops[i : i + batch_size]
        x = torch.stack([c[0] for c in chunk]).to(device)  # (B, 1, S, S)
        y = torch.tensor([c[1] for c in chunk], device=device)
        with autocast() if autocast is not None else contextlib.nullcontext():
            pred = model.classify_symbols(x).argmax(-1)
        correct += int((pred == y).sum())
    return 100.0 * correct / max(1, len(crops))
