"""Two decoders with one interface: a pre-LN Transformer (KV cache) and a GRU with Bahdanau attention.

Interface (both):
- `forward(memory, memory_mask, tokens_in, sampling_prob=0.0) -> logits (B, T, V)`: training; with
  `sampling_prob > 0` some inputs are replaced by the model's own greedy predictions (scheduled
  sampling: per step for the GRU, two-pass for the Transformer).
- `init_state(memory, memory_mask) -> state`, `step(tokens (B,), state) -> (logits (B, V), state)`,
  `reorder_state(state, index) -> state`: incremental decoding used by `seq2latex.decoding`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seq2latex.config import DecoderConfig

POS_TEMPERATURE = 10000.0


def sinusoid_1d(length: int, dim: int) -> torch.Tensor:
    """(length, dim) fixed sinusoidal positions."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]  # (L, 1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(POS_TEMPERATURE) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)
    return table


def _sampling(prob: float | torch.Tensor) -> bool:
    """Scheduled sampling on? A tensor probability (a CUDA-graphed step) always takes the sampling path,
    whatever its value, so that the graph holds it: deciding would be a host sync."""
    return isinstance(prob, torch.Tensor) or prob > 0.0


def mix_inputs(
    gold_in: torch.Tensor, predicted_next: torch.Tensor, prob: float | torch.Tensor
) -> torch.Tensor:
    """Replace gold input t (t >= 1) by the prediction made at t - 1 with probability `prob`.

    gold_in (B, T) starts with <sos>; predicted_next (B, T) is the argmax at each position.
    """
    shifted = torch.cat([gold_in[:, :1], predicted_next[:, :-1]], dim=1)  # (B, T)
    take = torch.rand(gold_in.shape, device=gold_in.device) < prob  # (B, T)
    take[:, 0] = False
    return torch.where(take, shifted, gold_in)


# ----------------------------------------------------------------------------- Transformer


class MultiHeadAttention(nn.Module):
    def __init__(self, dim: int, heads: int, kv_dim: int, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError("d_model must be divisible by num_heads")
        self.heads = heads
        self.head_dim = dim // heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(kv_dim, dim)
        self.v = nn.Linear(kv_dim, dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = dropout

    def split(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.reshape(b, n, self.heads, self.head_dim).transpose(1, 2)  # (B, H, N, dh)

    def project_kv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.split(self.k(x)), self.split(self.v(x))

    def attend(
        self,
        x: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        mask: torch.Tensor | None = None,
        causal: bool = False,
    ) -> torch.Tensor:
        q = self.split(self.q(x))  # (B, H, T, dh)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0, is_causal=causal
        )  # (B, H, T, dh)
        b, _, t, _ = out.shape
        return self.out(out.transpose(1, 2).reshape(b, t, -1))  # (B, T, D)


class TransformerDecoderLayer(nn.Module):
    """Pre-LN: x + SelfAttn(LN x) -> + CrossAttn(LN x, memory) -> + FFN(LN x)."""

    def __init__(self, cfg: DecoderConfig, memory_dim: int) -> None:
        super().__init__()
        d = cfg.d_model
        self.norm1 = nn.LayerNorm(d)
        self.self_attn = MultiHeadAttention(d, cfg.num_heads, d, cfg.dropout)
        self.norm2 = nn.LayerNorm(d)
        self.cross_attn = MultiHeadAttention(d, cfg.num_heads, memory_dim, cfg.dropout)
        self.norm3 = nn.LayerNorm(d)
        self.ff = nn.Sequential(
            nn.Linear(d, cfg.ff_dim), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.ff_dim, d)
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(
        self,
        x: torch.Tensor,
        mem_kv: tuple[torch.Tensor, torch.Tensor],
        mem_mask: torch.Tensor,
        self_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Full sequence (self_kv None, causal) or incremental (x is (B, 1, D), self_kv = cache)."""
        h = self.norm1(x)
        k, v = self.self_attn.project_kv(h)  # (B, H, t, dh)
        if self_kv is not None:
            k = torch.cat([self_kv[0], k], dim=2)
            v = torch.cat([self_kv[1], v], dim=2)
            x = x + self.drop(self.self_attn.attend(h, k, v))
        else:
            x = x + self.drop(self.self_attn.attend(h, k, v, causal=True))
        x = x + self.drop(self.cross_attn.attend(self.norm2(x), mem_kv[0], mem_kv[1], mask=mem_mask))
        x = x + self.drop(self.ff(self.norm3(x)))
        return x, (k, v)


@dataclass
class TransformerState:
    mem_kv: list[tuple[torch.Tensor, torch.Tensor]]  # per layer (B, H, N, dh)
    mem_mask: torch.Tensor  # (B, 1, 1, N) bool
    self_kv: list[tuple[torch.Tensor, torch.Tensor]] | None  # per layer (B, H, t, dh)
    position: int


class TransformerDecoder(nn.Module):
    def __init__(self, cfg: DecoderConfig, vocab_size: int, memory_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(vocab_size, cfg.d_model)
        nn.init.normal_(self.embed.weight, std=cfg.d_model**-0.5)  # unit scale after * sqrt(d)
        self.register_buffer("pos", sinusoid_1d(cfg.max_len, cfg.d_model), persistent=False)
        self.layers = nn.ModuleList(TransformerDecoderLayer(cfg, memory_dim) for _ in range(cfg.num_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, vocab_size)
        if cfg.tie_embeddings:
            self.head.weight = self.embed.weight
        self.drop = nn.Dropout(cfg.dropout)
        self.scale = math.sqrt(cfg.d_model)

    def _embed(self, tokens: torch.Tensor, offset: int) -> torch.Tensor:
        t = tokens.shape[1]
        if offset + t > self.cfg.max_len:
            raise ValueError(f"sequence longer than max_len={self.cfg.max_len}")
        return self.drop(self.embed(tokens) * self.scale + self.pos[offset : offset + t])  # (B, T, D)

    def _memory(self, memory: torch.Tensor, memory_mask: torch.Tensor) -> TransformerState:
        mem_kv = [layer.cross_attn.project_kv(memory) for layer in self.layers]
        return TransformerState(mem_kv, memory_mask[:, None, None, :], None, 0)  # mask (B, 1, 1, N)

    def _teacher_forced(self, state: TransformerState, tokens_in: torch.Tensor) -> torch.Tensor:
        x = self._embed(tokens_in, 0)
        for layer, kv in zip(self.layers, state.mem_kv, strict=True):
            x, _ = layer(x, kv, state.mem_mask)
        return self.head(self.norm(x))  # (B, T, V)

    def forward(
        self,
        memory: torch.Tensor,
        memory_mask: torch.Tensor,
        tokens_in: torch.Tensor,
        sampling_prob: float | torch.Tensor = 0.0,
    ) -> torch.Tensor:
        state = self._memory(memory, memory_mask)
        if _sampling(sampling_prob):
            with torch.no_grad():
                first = self._teacher_forced(state, tokens_in)  # pass 1: teacher forced, no gradient
            tokens_in = mix_inputs(tokens_in, first.argmax(-1), sampling_prob)
        return self._teacher_forced(state, tokens_in)

    def init_state(self, memory: torch.Tensor, memory_mask: torch.Tensor) -> TransformerState:
        return self._memory(memory, memory_mask)

    def step(self, tokens: torch.Tensor, state: TransformerState) -> tuple[torch.Tensor, TransformerState]:
        x = self._embed(tokens[:, None], state.position)  # (B, 1, D)
        new_kv = []
        for i, (layer, kv) in enumerate(zip(self.layers, state.mem_kv, strict=True)):
            past = None if state.self_kv is None else state.self_kv[i]
            if past is None:
                x, cache = layer(x, kv, state.mem_mask, self_kv=_empty_kv(x, layer))
            else:
                x, cache = layer(x, kv, state.mem_mask, self_kv=past)
            new_kv.append(cache)
        logits = self.head(self.norm(x[:, 0]))  # (B, V)
        return logits, TransformerState(state.mem_kv, state.mem_mask, new_kv, state.position + 1)

    def reorder_state(self, state: TransformerState, index: torch.Tensor) -> TransformerState:
        def sel(kv: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
            return kv[0].index_select(0, index), kv[1].index_select(0, index)

        return TransformerState(
            [sel(kv) for kv in state.mem_kv],
            state.mem_mask.index_select(0, index),
            None if state.self_kv is None else [sel(kv) for kv in state.self_kv],
            state.position,
        )


def _empty_kv(x: torch.Tensor, layer: TransformerDecoderLayer) -> tuple[torch.Tensor, torch.Tensor]:
    a = layer.self_attn
    empty = x.new_zeros(x.shape[0], a.heads, 0, a.head_dim)  # (B, H, 0, dh)
    return empty, empty


# ----------------------------------------------------------------------------- GRU


@dataclass
class GRUState:
    memory: torch.Tensor  # (B, N, Dm)
    mem_proj: torch.Tensor  # (B, N, A)
    mem_mask: torch.Tensor  # (B, N) bool
    hidden: torch.Tensor  # (B, Hd)
    context: torch.Tensor  # (B, Dm)
    coverage: torch.Tensor  # (B, N)


class GRUDecoder(nn.Module):
    """GRU decoder with additive (Bahdanau) attention over the encoder tokens, optional coverage."""

    def __init__(self, cfg: DecoderConfig, vocab_size: int, memory_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        e, hd, a = cfg.d_model, cfg.hidden_size, cfg.attn_dim
        self.embed = nn.Embedding(vocab_size, e)
        self.init_h = nn.Linear(memory_dim, hd)
        self.mem_proj = nn.Linear(memory_dim, a)
        self.hid_proj = nn.Linear(hd, a, bias=False)
        self.cov_proj = nn.Linear(1, a, bias=False) if cfg.coverage else None
        self.energy = nn.Linear(a, 1, bias=False)
        self.cell = nn.GRUCell(e + memory_dim, hd)
        self.out = nn.Linear(hd + memory_dim + e, hd)
        self.head = nn.Linear(hd, vocab_size)
        self.drop = nn.Dropout(cfg.dropout)

    def init_state(self, memory: torch.Tensor, memory_mask: torch.Tensor) -> GRUState:
        m = memory_mask.to(memory.dtype)[..., None]  # (B, N, 1)
        mean = (memory * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, Dm)
        b, n, dm = memory.shape
        return GRUState(
            memory=memory,
            mem_proj=self.mem_proj(memory),
            mem_mask=memory_mask,
            hidden=torch.tanh(self.init_h(mean)),
            context=memory.new_zeros(b, dm),
            coverage=memory.new_zeros(b, n),
        )

    def step(self, tokens: torch.Tensor, state: GRUState) -> tuple[torch.Tensor, GRUState]:
        emb = self.drop(self.embed(tokens))  # (B, E)
        hidden = self.cell(torch.cat([emb, state.context], dim=-1), state.hidden)  # (B, Hd)
        energy = state.mem_proj + self.hid_proj(hidden)[:, None, :]  # (B, N, A)
        if self.cov_proj is not None:
            energy = energy + self.cov_proj(state.coverage[..., None])  # (B, N, A)
        scores = self.energy(torch.tanh(energy))[..., 0]  # (B, N)
        scores = scores.masked_fill(~state.mem_mask, float("-inf"))
        alpha = torch.softmax(scores, dim=-1)  # (B, N)
        context = torch.bmm(alpha[:, None, :], state.memory)[:, 0]  # (B, Dm)
        feat = torch.tanh(self.out(self.drop(torch.cat([hidden, context, emb], dim=-1))))  # (B, Hd)
        logits = self.head(self.drop(feat))  # (B, V)
        new = GRUState(state.memory, state.mem_proj, state.mem_mask, hidden, context, state.coverage + alpha)
        return logits, new

    def forward(
        self,
        memory: torch.Tensor,
        memory_mask: torch.Tensor,
        tokens_in: torch.Tensor,
        sampling_prob: float = 0.0,
    ) -> torch.Tensor:
        state = self.init_state(memory, memory_mask)
        outputs = []
        prev_pred: torch.Tensor | None = None
        for t in range(tokens_in.shape[1]):
            inp = tokens_in[:, t]
            if _sampling(sampling_prob) and prev_pred is not None:
                take = torch.rand(inp.shape, device=inp.device) < sampling_prob  # (B,)
                inp = torch.where(take, prev_pred, inp)
            logits, state = self.step(inp, state)
            outputs.append(logits)
            prev_pred = logits.detach().argmax(-1)
        return torch.stack(outputs, dim=1)  # (B, T, V)

    def reorder_state(self, state: GRUState, index: torch.Tensor) -> GRUState:
        return GRUState(*(t.index_select(0, index) for t in vars(state).values()))


Decoder = TransformerDecoder | GRUDecoder


def build_decoder(cfg: DecoderConfig, vocab_size: int, memory_dim: int) -> Decoder:
    if cfg.kind == "transformer":
        return TransformerDecoder(cfg, vocab_size, memory_dim)
    if cfg.kind == "gru":
        return GRUDecoder(cfg, vocab_size, memory_dim)
    raise ValueError(f"unknown decoder kind {cfg.kind!r} (expected 'transformer' or 'gru')")
