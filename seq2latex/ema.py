"""An exponential moving average of a model's weights (evaluated and saved in place of the raw weights)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class WeightEMA:
    """shadow <- d * shadow + (1 - d) * weight after every optimizer step, with the usual warm-up
    d = min(decay, (1 + step) / (10 + step)) so early averages are not dominated by the random init."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in self._tensors(model).items()}

    @staticmethod
    def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
        return {k: v for k, v in model.state_dict().items() if v.is_floating_point()}

    def decay_at(self, step: int) -> float:
        return min(self.decay, (1.0 + step) / (10.0 + step))

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """shadow <- shadow + (1 - decay_at(step)) * (weight - shadow)."""
        self.update_by(model, 1.0 - self.decay_at(step))

    @torch.no_grad()
    def update_by(self, model: nn.Module, weight: float | torch.Tensor) -> None:
        """shadow <- shadow + weight * (model - shadow): one multi-tensor lerp over all weights; the list of the model's tensors is built once per
        model (its parameters and buffers are updated in place, never replaced), so a step costs a few
        kernel launches and no per-tensor Python work."""
        if getattr(self, "_model_id", None) != id(model):
            current = self._tensors(model)
            self._keys = list(self.shadow)
            self._targets = [self.shadow[k] for k in self._keys]
            self._sources = [current[k].detach() for k in self._keys]
            self._model_id = id(model)
        torch._foreach_lerp_(self._targets, self._sources, weight)  # a tensor weight: CUDA-graph safe

    @contextmanager
    def swapped(self, model: nn.Module) -> Iterator[None]:
        """Within the block the model holds the averaged weights; its own come back afterwards."""
        current = self._tensors(model)
        backup = {k: v.detach().clone() for k, v in current.items()}
        with torch.no_grad():
            for k, v in self.shadow.items():
                current[k].copy_(v)
        try:
            yield
        finally:
            with torch.no_grad():
                for k, v in backup.items():
                    current[k].copy_(v)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.shadow)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        missing = set(self.shadow) - set(state)
        if missing:
            raise KeyError(f"EMA state lacks {sorted(missing)[:3]}")
        for k in self.shadow:
            self.shadow[k].copy_(state[k])
