"""The typed batch every training and evaluation loop consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass
class Batch:
    """A padded batch of expression images and their token targets.

    Images follow `data.preprocess`: float32 in [0, 1], ink = 1, background = 0,
    padded with 0 on the right/bottom to the widest image of the batch.
    """

    images: torch.Tensor  # (B, 1, H, W) float32
    pixel_mask: torch.Tensor  # (B, H, W) bool, True where the pixel is image (not padding)
    tokens: torch.Tensor  # (B, T) int64: <sos> ... <eos> then <pad>
    token_mask: torch.Tensor  # (B, T) bool, True for real tokens (incl. <sos>/<eos>)
    symbol_counts: torch.Tensor | None = None  # (B, C) float32 per-class symbol counts, or None
    names: list[str] = field(default_factory=list)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=non_blocking)

        return Batch(
            images=self.images.to(device, non_blocking=non_blocking),
            pixel_mask=self.pixel_mask.to(device, non_blocking=non_blocking),
            tokens=self.tokens.to(device, non_blocking=non_blocking),
            token_mask=self.token_mask.to(device, non_blocking=non_blocking),
            symbol_counts=move(self.symbol_counts),
            names=list(self.names),
        )

    def __len__(self) -> int:
        return self.images.shape[0]


def pad_images(tensors: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """[(1, H, W_i)] -> images (B, 1, H, W_max) zero-padded on the right, pixel mask (B, H, W_max)."""
    import torch

    arrays = [t.detach().to("cpu", torch.float32).numpy() for t in tensors]  # a view where already CPU fp32
    images, mask = pad_arrays(arrays)  # (B, 1, H, W), (B, H, W)
    return torch.from_numpy(images), torch.from_numpy(mask)


def pad_arrays(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """[(1, H, W_i)] -> images (B, 1, H, W_max) float32 zero-padded on the right, mask (B, H, W_max); no torch."""
    h = max(a.shape[-2] for a in arrays)
    w = max(a.shape[-1] for a in arrays)
    images = np.zeros((len(arrays), 1, h, w), dtype=np.float32)  # (B, 1, H, W)
    mask = np.zeros((len(arrays), h, w), dtype=bool)  # (B, H, W)
    for i, a in enumerate(arrays):
        images[i, :, : a.shape[-2], : a.shape[-1]] = a
        mask[i, : a.shape[-2], : a.shape[-1]] = True
    return images, mask
