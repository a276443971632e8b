"""ViT encoder (timm) with a convolutional stem (or a residual backbone) and 2-D sinusoidal positions for
any image width."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from timm.layers import LayerNorm2d
from timm.models.resnet import BasicBlock
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from seq2latex.config import EncoderConfig

SINCOS_TEMPERATURE = 10000.0


@dataclass
class EncoderOutput:
    features: torch.Tensor  # (B, N, D), N = h * w, row-major over the token grid
    mask: torch.Tensor  # (B, N) bool, True = real image token (False = padding)
    grid: tuple[int, int]  # (h, w)


def _stem_norm(kind: str, channels: int) -> nn.Module:
    if kind == "layer":
        return LayerNorm2d(channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown stem_norm {kind!r} (expected layer, batch or none)")


# The norm classes as timm's blocks take them (called with the channels, device and dtype).
_NORM_LAYERS: dict[str, type[nn.Module]] = {
    "layer": LayerNorm2d,
    "batch": nn.BatchNorm2d,
    "none": nn.Identity,
}


class ConvStem(nn.Module):
    """log2(stride) 3x3 stride-2 conv + channel LayerNorm + GELU blocks, then a 1x1 projection to `dim`.

    Per-position channel norm (not BatchNorm): statistics never mix images or include padding, so a
    batch-padded image gives the same features as the image alone.
    """

    def __init__(self, in_chans: int, dim: int, stride: int, channels: int, norm: str = "layer") -> None:
        super().__init__()
        n = int(math.log2(stride))
        if 2**n != stride or n < 1:
            raise ValueError(f"conv stem needs a power-of-two patch size >= 2, got {stride}")
        layers: list[nn.Module] = []
        c_in = in_chans
        for i in range(n):
            c_out = min(channels * 2**i, dim)
            layers += [
                nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
                _stem_norm(norm, c_out),
                nn.GELU(),
            ]
            c_in = c_out
        layers.append(nn.Conv2d(c_in, dim, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, D, H/p, W/p)


class ResNetStem(nn.Module):
    """A convolutional backbone in place of the patch projection (timm's hybrid-ViT layout).

    A 3x3 stride-2 conv to `channels`, then log2(stride) - 1 stages of `blocks` timm ResNet BasicBlocks;
    the first block of each stage halves the resolution (average-pool + 1x1 conv shortcut) and doubles
    the channels.
    A 1x1 projection to `dim` closes it: (B, 1, H, W) -> (B, D, H/stride, W/stride). The norm is
    per position (LayerNorm2d by default, as in `ConvStem`): no statistic mixes images or padding. The
    last norm of every block starts at zero, so each block starts as its shortcut.
    """

    def __init__(
        self, in_chans: int, dim: int, stride: int, channels: int, blocks: int, norm: str = "layer"
    ) -> None:
        super().__init__()
        n = int(math.log2(stride))
        if 2**n != stride or n < 2:
            raise ValueError(f"resnet stem needs a power-of-two patch size >= 4, got {stride}")
        if blocks < 1:
            raise ValueError(f"resnet stem needs stem_blocks >= 1, got {blocks}")

        norm_layer = _NORM_LAYERS.get(norm)
        if norm_layer is None:
            raise ValueError(f"unknown stem_norm {norm!r} (expected layer, batch or none)")
        layers: list[nn.Module] = [
            nn.Conv2d(in_chans, channels, 3, stride=2, padding=1, bias=False),
            norm_layer(channels),
            nn.ReLU(inplace=True),
        ]
        c_in = channels
        for i in range(1, n):
            c_out = channels * 2**i
            # ResNet-D shortcut (average pool, then 1x1 conv), not a 1x1 stride-2 conv: in torch 2.14 the
            # latter's CPU backward corrupts the heap on the channels-last maps LayerNorm2d returns.
            shortcut = nn.Sequential(
                nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False),
                nn.Conv2d(c_in, c_out, 1, bias=False),
                norm_layer(c_out),
            )
            layers.append(BasicBlock(c_in, c_out, stride=2, downsample=shortcut, norm_layer=norm_layer))
            layers += [BasicBlock(c_out, c_out, norm_layer=norm_layer) for _ in range(blocks - 1)]
            c_in = c_out
        for block in layers:
            if isinstance(block, BasicBlock) and norm != "none":
                nn.init.zeros_(block.bn2.weight)  # type: ignore[arg-type]
        layers.append(nn.Conv2d(c_in, dim, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, D, H/p, W/p)


def sincos_2d(h: int, w: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Fixed 2-D sinusoidal position table (h, w, dim): half the channels for y, half for x."""
    if dim % 4:
        raise ValueError(f"embed_dim must be divisible by 4, got {dim}")
    quarter = dim // 4
    omega = torch.arange(quarter, device=device, dtype=torch.float32) / quarter
    omega = 1.0 / SINCOS_TEMPERATURE**omega  # (dim/4,)
    ys = torch.arange(h, device=device, dtype=torch.float32)[:, None] * omega[None]  # (h, dim/4)
    xs = torch.arange(w, device=device, dtype=torch.float32)[:, None] * omega[None]  # (w, dim/4)
    y_emb = torch.cat([ys.sin(), ys.cos()], dim=1)[:, None, :].expand(h, w, dim // 2)  # (h, w, dim/2)
    x_emb = torch.cat([xs.sin(), xs.cos()], dim=1)[None, :, :].expand(h, w, dim // 2)  # (h, w, dim/2)
    return torch.cat([y_emb, x_emb], dim=-1).to(dtype)  # (h, w, dim)


class ViTEncoder(nn.Module):
    """timm VisionTransformer on 1-channel images of fixed height and any width."""

    def __init__(self, cfg: EncoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if cfg.img_height % cfg.patch_size:
            raise ValueError("img_height must be a multiple of patch_size")
        self.vit = VisionTransformer(
            img_size=(cfg.img_height, cfg.base_width),
            patch_size=cfg.patch_size,
            in_chans=1,
            num_classes=0,
            global_pool="",
            class_token=False,
            pos_embed="none",
            dynamic_img_size=True,
            dynamic_img_pad=True,
            embed_dim=cfg.embed_dim,
            depth=cfg.depth,
            num_heads=cfg.num_heads,
            mlp_ratio=cfg.mlp_ratio,
            drop_rate=cfg.drop_rate,
            drop_path_rate=cfg.drop_path_rate,
        )
        if cfg.stem == "resnet":
            if not cfg.conv_stem:
                raise ValueError("stem 'resnet' replaces the conv stem: it needs conv_stem true")
            self.vit.patch_embed.proj = ResNetStem(
                1, cfg.embed_dim, cfg.patch_size, cfg.stem_channels, cfg.stem_blocks, cfg.stem_norm
            )
        elif cfg.stem != "conv":
            raise ValueError(f"unknown stem {cfg.stem!r} (expected conv or resnet)")
        elif cfg.conv_stem:
            self.vit.patch_embed.proj = ConvStem(
                1, cfg.embed_dim, cfg.patch_size, cfg.stem_channels, cfg.stem_norm
            )
        self.embed_dim = cfg.embed_dim

    def token_mask(self, pixel_mask: torch.Tensor) -> torch.Tensor:
        """(B, H, W) pixel mask -> (B, h, w) token mask: a token is real if any of its pixels is."""
        p = self.cfg.patch_size
        m = pixel_mask[:, None].float()  # (B, 1, H, W)
        pad_h = (-m.shape[-2]) % p
        pad_w = (-m.shape[-1]) % p
        m = F.pad(m, (0, pad_w, 0, pad_h))
        return F.max_pool2d(m, kernel_size=p, stride=p)[:, 0] > 0  # (B, h, w)

    def forward_features(self, images: torch.Tensor, pixel_mask: torch.Tensor | None = None) -> EncoderOutput:
        """images (B, 1, H, W) in [0, 1] (ink = 1) -> features (B, N, D), token mask (B, N), grid."""
        vit = self.vit
        x = vit.patch_embed(images * 2.0 - 1.0)  # (B, h, w, D)
        b, h, w, d = x.shape
        x = x + sincos_2d(h, w, d, x.device, x.dtype)[None]
        x = x.reshape(b, h * w, d)  # (B, N, D)
        if pixel_mask is None:
            mask = torch.ones(b, h * w, dtype=torch.bool, device=x.device)
        else:
            mask = self.token_mask(pixel_mask).reshape(b, h * w)  # (B, N)
            mask[:, 0] = True  # never a fully masked row
        x = vit.norm_pre(vit.patch_drop(vit.pos_drop(x)))
        attn_mask = None
        # Skipping an all-true mask is a host check: free on the CPU, a stream stall on a GPU, where
        # the mask is always passed (the result is the same either way).
        if pixel_mask is not None and (mask.device.type != "cpu" or not bool(mask.all())):
            attn_mask = mask[:, None, None, :]  # (B, 1, 1, N) bool, True = attend
        for blk in vit.blocks:
            x = blk(x, attn_mask=attn_mask)
        x = vit.norm(x)
        return EncoderOutput(features=x, mask=mask, grid=(h, w))

    def forward(self, images: torch.Tensor, pixel_mask: torch.Tensor | None = None) -> EncoderOutput:
        return self.forward_features(images, pixel_mask)
