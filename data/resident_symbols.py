"""The symbol task on the training device: packed crops (`data.symbol_crops`) kept as uint8 tensors there, drawn
at random in batches and varied batch-wise (a random affine per crop: scale, rotation, shear, shift), so the
resident path trains the symbol head beside the expressions without a loader or a CPU in the way."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from data.symbol_crops import SymbolCrops


@dataclass(frozen=True)
class SymbolAugmentConfig:
    """Per-crop random affine about the crop's centre; `p` of the crops get one, the others stay as drawn."""

    p: float = 0.9
    scale: tuple[float, float] = (0.8, 1.15)
    rotate_deg: float = 8.0
    shear: float = 0.15
    shift: float = 0.08  # of the crop's side


class ResidentSymbols:
    """Symbol crops on `device`; `batch` draws (float (B, 1, S, S) ink = 1, labels (B,)) with replacement."""

    def __init__(
        self,
        crops: SymbolCrops,
        device: torch.device,
        augment: SymbolAugmentConfig | None = SymbolAugmentConfig(),
    ) -> None:
        if len(crops) == 0:
            raise ValueError("no symbol crops of the model's classes")
        self.images = torch.from_numpy(crops.images).to(device)  # (N, 1, S, S) uint8
        self.labels = torch.from_numpy(crops.labels).to(device)  # (N,) int64
        self.device = device
        self.augment = augment

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batch(self, size: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(len(self), (size,), generator=gen, device=self.device)  # (B,)
        x = self.images[idx].float().div_(255.0)  # (B, 1, S, S)
        if self.augment is not None and self.augment.p > 0:
            x = _affine(x, self.augment, gen)
        return x, self.labels[idx]

    def batches(self, size: int, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        gen = torch.Generator(device=self.device).manual_seed(seed)
        while True:
            yield self.batch(size, gen)


def _affine(x: torch.Tensor, cfg: SymbolAugmentConfig, gen: torch.Generator) -> torch.Tensor:
    b = x.shape[0]

    def u(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(b, generator=gen, device=x.device) * (hi - lo) + lo  # (B,)

    on = torch.rand(b, generator=gen, device=x.device) < cfg.p  # (B,)
    scale = torch.where(on, u(*cfg.scale), torch.ones(b, device=x.device))
    angle = torch.where(on, u(-cfg.rotate_deg, cfg.rotate_deg), torch.zeros(b, device=x.device)) * (
        math.pi / 180
    )
    shear = torch.where(on, u(-cfg.shear, cfg.shear), torch.zeros(b, device=x.device))
    shift = torch.where(
        on[:, None], torch.stack([u(-1, 1), u(-1, 1)], 1) * 2 * cfg.shift, torch.zeros(b, 2, device=x.device)
    )
    cos, sin = torch.cos(angle), torch.sin(angle)
    # output -> input coordinates (affine_grid's convention): the inverse of scale, then rotation and shear
    theta = torch.zeros(b, 2, 3, device=x.device)  # (B, 2, 3)
    theta[:, 0, 0] = cos / scale
    theta[:, 0, 1] = (-sin + shear * cos) / scale
    theta[:, 1, 0] = sin / scale
    theta[:, 1, 1] = (cos + shear * sin) / scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, S, S, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)  # (B, 1, S, S)
