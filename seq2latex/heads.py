"""Auxiliary heads on the encoder features: symbol classifier and per-class symbol counts."""

from __future__ import annotations

import torch
from torch import nn

COUNT_BIAS_INIT = -8.0  # sigmoid(-8) * ~500 tokens ~ 0.2 initial count per class


def masked_mean(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """features (B, N, D), mask (B, N) bool -> (B, D)."""
    m = mask.to(features.dtype)[..., None]  # (B, N, 1)
    return (features * m).sum(1) / m.sum(1).clamp_min(1.0)


class SymbolClassifierHead(nn.Module):
    """Masked mean pool -> LayerNorm -> Linear: one class per image (single-symbol crops)."""

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(masked_mean(features, mask)))  # (B, C)


class SymbolCountHead(nn.Module):
    """Per-token class densities in [0, 1], summed over real tokens -> per-class counts (B, C)."""

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(
            nn.LayerNorm(dim), nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, num_classes)
        )
        last = self.proj[-1]
        assert isinstance(last, nn.Linear)
        nn.init.constant_(last.bias, COUNT_BIAS_INIT)  # start near zero counts, not N/2 per class

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        density = torch.sigmoid(self.proj(features))  # (B, N, C)
        return (density * mask.to(density.dtype)[..., None]).sum(1)  # (B, C)
