"""The training step as CUDA graphs (`train.cuda_graphs`): one graph per batch shape (the resident
path's buckets), replayed instead of launching the step's few thousand kernels one by one from Python.

A graph holds the whole optimizer step: forward under bf16 autocast, backward, gradient clipping, the
fused AdamW update and the EMA update. Everything a step changes lives in tensors the graphs share:
the weights, the gradients (allocated once, zeroed inside the graph, never set to None), the
optimizer's state and step count (`capturable`), the learning rate (a tensor the scheduler fills), the
scheduled-sampling probability and the EMA weight (tensors filled before each replay). A batch is
copied into the graph's static inputs; its losses come back in the graph's static outputs. Graphs
share one memory pool: each keeps nothing alive between replays but its outputs, and they run one at
a time on one stream.

Before its capture, each shape trains eagerly for `WARMUP_STEPS` real steps on a side stream (the
libraries' workspaces, the optimizer state). Randomness (dropout, scheduled sampling, drop path) comes
from the default CUDA generator, which graphs advance on every replay. The device augmentation stays
outside the graphs (its own seeded generator, for exact resume). The CPU path never comes here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

WARMUP_STEPS = 3


@dataclass
class _Graph:
    graph: Any  # torch.cuda.CUDAGraph
    images: torch.Tensor
    pixel_mask: torch.Tensor
    tokens: torch.Tensor
    counts: torch.Tensor | None
    loss: torch.Tensor
    ce: torch.Tensor
    aux: torch.Tensor


class GraphedStep:
    """`step(batch, sampling_prob, ema_weight) -> (loss, ce, aux)` by CUDA graph replay."""

    def __init__(
        self,
        model: nn.Module,
        step_module: nn.Module,
        optimizer: torch.optim.Optimizer,
        ema: Any,
        aux_weight: float,
        label_smoothing: float,
        grad_clip: float,
        device: torch.device,
    ) -> None:
        if device.type != "cuda":
            raise ValueError("cuda_graphs needs a CUDA device")
        for group in optimizer.param_groups:
            if not isinstance(group["lr"], torch.Tensor) or not group.get("capturable"):
                raise ValueError("cuda_graphs needs a capturable optimizer with a tensor learning rate")
        self.model = model
        self.step_module = step_module
        self.optimizer = optimizer
        self.ema = ema
        self.aux_weight = aux_weight
        self.label_smoothing = label_smoothing
        self.grad_clip = grad_clip
        self.device = device
        self.params = [p for p in model.parameters() if p.requires_grad]
        for p in self.params:  # static gradients: every graph accumulates into the same tensors
            p.grad = torch.zeros_like(p)
        self.sampling_prob = torch.zeros((), device=device)
        self.ema_weight = torch.zeros((), device=device)
        self.graphs: dict[tuple[Any, ...], _Graph] = {}
        self.pool: Any = None

    def _body(self, g: _Graph | Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        for p in self.params:
            p.grad.zero_()
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, cache_enabled=False):
            loss, ce, aux, _ = self.step_module(
                g.images,
                g.tokens,
                g.pixel_mask,
                g.counts,
                self.sampling_prob,
                self.aux_weight,
                self.label_smoothing,
            )
        loss.backward()
        if self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip, foreach=True)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update_by(self.model, self.ema_weight)
        return loss.detach(), ce.detach(), aux.detach()

    def _capture(self, batch: Any) -> _Graph:
        static = _Graph(
            graph=torch.cuda.CUDAGraph(),
            images=batch.images.clone(),
            pixel_mask=batch.pixel_mask.clone(),
            tokens=batch.tokens.clone(),
            counts=None if batch.symbol_counts is None else batch.symbol_counts.clone(),
            loss=torch.empty(()),  # the captured step's outputs replace these
            ce=torch.empty(()),
            aux=torch.empty(()),
        )
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):  # real steps on this batch, eagerly
                self._body(static)
        torch.cuda.current_stream(self.device).wait_stream(side)
        with torch.cuda.graph(static.graph, pool=self.pool):
            static.loss, static.ce, static.aux = self._body(static)
        if self.pool is None:
            self.pool = static.graph.pool()
        return static

    def __call__(
        self, batch: Any, sampling_prob: float, ema_weight: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        key = (
            tuple(batch.images.shape),
            tuple(batch.pixel_mask.shape),
            tuple(batch.tokens.shape),
            batch.symbol_counts is None,
        )
        self.sampling_prob.fill_(sampling_prob)
        self.ema_weight.fill_(ema_weight)
        g = self.graphs.get(key)
        if g is None:
            g = self.graphs[key] = self._capture(batch)
        else:
            g.images.copy_(batch.images, non_blocking=True)
            g.pixel_mask.copy_(batch.pixel_mask, non_blocking=True)
            g.tokens.copy_(batch.tokens, non_blocking=True)
            if g.counts is not None:
                g.counts.copy_(batch.symbol_counts, non_blocking=True)
        g.graph.replay()
        return g.loss.clone(), g.ce.clone(), g.aux.clone()


def make_optimizer(
    groups: list[dict[str, Any]], lr: float, device: torch.device, graphs: bool
) -> torch.optim.Optimizer:
    """AdamW as the trainer uses it: fused on CUDA (capturable with a tensor learning rate when the
    step is graphed), multi-tensor on the CPU."""
    cuda = device.type == "cuda"
    return torch.optim.AdamW(
        groups,
        lr=torch.tensor(lr, device=device) if graphs else lr,
        betas=(0.9, 0.98),
        fused=True if cuda else None,  # one kernel for all tensors on CUDA
        foreach=None if cuda else True,  # multi-tensor ops on the CPU
        capturable=graphs,
    )
