"""Seq2Latex: ViT encoder + (Transformer | GRU) decoder + auxiliary symbol heads."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seq2latex.config import ModelConfig
from seq2latex.decoders import build_decoder
from seq2latex.encoder import EncoderOutput, ViTEncoder
from seq2latex.heads import SymbolClassifierHead, SymbolCountHead


def reverse_targets(targets: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Left-to-right targets <sos> y_1 ... y_T <eos> <pad>... -> right-to-left <eos> y_T ... y_1 <sos> <pad>...

    (B, T) -> (B, T). The same function maps right-to-left back to left-to-right: applied twice it is
    the identity. Rows keep their padding at the end. The decoder then starts right-to-left rows with
    <eos> and ends them with <sos>, so one vocabulary and one decoder serve both directions.
    """
    b, t = targets.shape
    lengths = (targets != pad_id).sum(dim=1)  # (B,) incl. both end tokens
    pos = torch.arange(t, device=targets.device)[None, :].expand(b, t)  # (B, T)
    src = (lengths[:, None] - 1 - pos).clamp(min=0)  # (B, T): position read from, reversed
    out = targets.gather(1, src)  # (B, T): the row reversed, so <eos> leads and <sos> closes it
    return torch.where(pos < lengths[:, None], out, targets.new_full((), pad_id))


@dataclass
class LossOutput:
    logits: torch.Tensor  # (B, T-1, V)
    loss: torch.Tensor  # total: ce + aux_weight * count
    ce: torch.Tensor
    count: torch.Tensor  # 0 when no counts were given


class Seq2Latex(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = ViTEncoder(cfg.encoder)
        fixed_height = cfg.preprocess_max_height <= cfg.preprocess_height  # every image as high as img_height
        grid_height = cfg.encoder.img_height // cfg.encoder.patch_size if fixed_height else 0
        self.decoder = build_decoder(cfg.decoder, cfg.vocab_size, cfg.encoder.embed_dim, grid_height)
        self.symbol_head: SymbolClassifierHead | None = None
        self.count_head: SymbolCountHead | None = None
        if cfg.num_symbol_classes > 0:
            self.symbol_head = SymbolClassifierHead(cfg.encoder.embed_dim, cfg.num_symbol_classes)
            self.count_head = SymbolCountHead(cfg.encoder.embed_dim, cfg.num_symbol_classes)

    def forward_features(self, images: torch.Tensor, pixel_mask: torch.Tensor | None = None) -> EncoderOutput:
        return self.encoder.forward_features(images, pixel_mask)

    def compute_losses(
        self,
        images: torch.Tensor,
        targets: torch.Tensor,
        pixel_mask: torch.Tensor | None = None,
        sampling_prob: float = 0.0,
        symbol_counts: torch.Tensor | None = None,
        aux_weight: float = 0.0,
        label_smoothing: float = 0.0,
    ) -> LossOutput:
        """targets (B, T): <sos> ... <eos> <pad>...; predicts targets[:, 1:] from targets[:, :-1].

        With `cfg.bidirectional` the decoder also reads the right-to-left targets of the same images
        (the encoder runs once): logits are then (2B, T-1, V), left-to-right rows first.
        """
        enc = self.forward_features(images, pixel_mask)
        memory, memory_mask = enc.features, enc.mask
        if self.cfg.bidirectional:
            r2l = reverse_targets(targets, self.cfg.pad_id)
            targets = torch.cat([targets, r2l], dim=0)  # (2B, T)
            memory = torch.cat([memory, memory], dim=0)  # (2B, N, D)
            memory_mask = torch.cat([memory_mask, memory_mask], dim=0)  # (2B, N)
        tokens_in, labels = targets[:, :-1], targets[:, 1:]
        logits = self.decoder(
            memory, memory_mask, tokens_in, sampling_prob=sampling_prob, grid=enc.grid
        )  # (B', T-1, V)
        ce = F.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]),  # (B*(T-1), V)
            labels.reshape(-1),  # (B*(T-1),)
            ignore_index=self.cfg.pad_id,
            label_smoothing=label_smoothing,
        )
        count = ce.new_zeros(())
        if symbol_counts is not None and self.count_head is not None and aux_weight > 0:
            pred = self.count_head(enc.features, enc.mask).float()
            count = F.smooth_l1_loss(pred, symbol_counts.float())
        return LossOutput(logits=logits, loss=ce + aux_weight * count, ce=ce, count=count)

    def forward(
        self,
        images: torch.Tensor,
        targets: torch.Tensor,
        pixel_mask: torch.Tensor | None = None,
        sampling_prob: float = 0.0,
        symbol_counts: torch.Tensor | None = None,
        aux_weight: float = 0.0,
        label_smoothing: float = 0.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (logits (B, T-1, V), loss)."""
        out = self.compute_losses(
            images, targets, pixel_mask, sampling_prob, symbol_counts, aux_weight, label_smoothing
        )
        return out.logits, out.loss

    def classify_symbols(self, images: torch.Tensor, pixel_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Single-symbol crops (B, 1, H, W) -> class logits (B, C)."""
        if self.symbol_head is None:
            raise RuntimeError("this model has no symbol classifier head (num_symbol_classes = 0)")
        enc = self.forward_features(images, pixel_mask)
        return self.symbol_head(enc.features, enc.mask)
