"""Two decoders with one interface: a pre-LN Transformer (KV cache) and a GRU with Bahdanau attention.

Interface (both):
- `forward(memory, memory_mask, tokens_in, sampling_prob=0.0) -> logits (B, T, V)`: training; with
  `sampling_prob > 0` some inputs are replaced by the model's own greedy predictions (scheduled
  sampling: per step for the GRU, two-pass for the Transformer).
- `init_state(memory, memory_mask) -> state`, `step(tokens (B,), state) -> (logits (B, V), state)`,
  `reorder_state(state, index) -> state`: incremental decoding used by `seq2latex.decoding`.
- `forward` and `init_state` also take `grid=(h, w)`, the encoder's token grid (`EncoderOutput.grid`):
  the Transformer's cross-attention coverage (`cross_coverage`) reads the attention as maps over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

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


class AttentionRefiner(nn.Module):
    """Attention refinement from the coverage (the idea of CoMER's ARM, our own code).

    coverage (B, C, T, N): per step t the sum of the alignments of the steps before t, C maps (this
    layer's plain attention and the layer below's refined attention, each per head) over the token
    grid (h, w), N = h * w row-major -> refinement (B, H, T, N), subtracted from the attention logits.
    Each map goes through a `kernel` conv to `channels`, ReLU and a 1x1 conv to one map per head; the
    last conv starts at zero, so a new model starts as the plain decoder. Padding tokens are never
    attended, so their coverage is zero, as the conv's zero border: a padded image is refined as alone.
    """

    def __init__(self, heads: int, channels: int, kernel: int) -> None:
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"coverage_kernel must be odd and positive, got {kernel}")
        self.heads = heads
        self.conv = nn.Conv2d(2 * heads, channels, kernel, padding=kernel // 2)
        self.out = nn.Conv2d(channels, heads, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.grad_checkpointing = False  # `TransformerDecoder.set_grad_checkpointing`

    def _maps(self, maps: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.conv(maps)))  # (B*T, H, h, w)

    def forward(self, coverage: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        b, c, t, n = coverage.shape
        h, w = grid
        if h * w != n:
            raise ValueError(f"token grid {grid} does not hold the {n} memory tokens")
        maps = coverage.transpose(1, 2).reshape(b * t, c, h, w)  # (B*T, C, h, w)
        if self.grad_checkpointing and torch.is_grad_enabled():
            # recomputed in the backward pass: the `channels` hidden maps of every step and position
            # are the largest activations of a training step; only the input maps are kept
            r = checkpoint(self._maps, maps, use_reentrant=False)
        else:
            r = self._maps(maps)
        return r.reshape(b, t, self.heads, n).transpose(1, 2)  # (B, H, T, N)


@dataclass
class Alignment:
    """What a coverage layer passes on: its refined attention (the next layer's coverage reads it) and
    this step's coverage sources (B, 2H, T, N) (the step-by-step state adds them up)."""

    refined: torch.Tensor  # (B, H, T, N)
    sources: torch.Tensor  # (B, 2H, T, N)


def exclusive_cumsum(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Sum of the entries before each index along `dim` (zero at the first)."""
    total = x.cumsum(dim)
    first = torch.zeros_like(x.narrow(dim, 0, 1))
    return torch.cat([first, total.narrow(dim, 0, x.shape[dim] - 1)], dim=dim)


class TransformerDecoderLayer(nn.Module):
    """Pre-LN: x + SelfAttn(LN x) -> + CrossAttn(LN x, memory) -> + FFN(LN x).

    With `cross_coverage` the cross-attention logits are refined from past alignments
    (`AttentionRefiner`): teacher forced, the coverage of all steps at once (an exclusive cumulative
    sum over the steps); step by step, from the coverage the decoder state carries."""

    def __init__(self, cfg: DecoderConfig, memory_dim: int) -> None:
        super().__init__()
        d = cfg.d_model
        self.norm1 = nn.LayerNorm(d)
        self.self_attn = MultiHeadAttention(d, cfg.num_heads, d, cfg.dropout)
        self.norm2 = nn.LayerNorm(d)
        self.cross_attn = MultiHeadAttention(d, cfg.num_heads, memory_dim, cfg.dropout)
        self.refiner = (
            AttentionRefiner(cfg.num_heads, cfg.coverage_dim, cfg.coverage_kernel)
            if cfg.cross_coverage
            else None
        )
        self.norm3 = nn.LayerNorm(d)
        self.ff = nn.Sequential(
            nn.Linear(d, cfg.ff_dim), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.ff_dim, d)
        )
        self.drop = nn.Dropout(cfg.dropout)

    def _covered_attention(
        self,
        x: torch.Tensor,
        mem_kv: tuple[torch.Tensor, torch.Tensor],
        mem_mask: torch.Tensor,
        below: torch.Tensor | None,
        coverage: torch.Tensor | None,
        grid: tuple[int, int],
    ) -> tuple[torch.Tensor, Alignment]:
        """Cross-attention with refined logits. below: the layer below's refined attention (B, H, T, N),
        None in the first layer (zeros); coverage: the state's (B, 2H, N) step by step, None teacher
        forced (computed from this pass)."""
        a, refiner = self.cross_attn, self.refiner
        assert refiner is not None
        k, v = mem_kv  # (B, H, N, dh)
        q = a.split(a.q(x))  # (B, H, T, dh)
        logits = (q @ k.transpose(-1, -2)) * a.head_dim**-0.5  # (B, H, T, N)
        logits = logits.masked_fill(~mem_mask, float("-inf"))
        plain = logits.softmax(-1)  # (B, H, T, N)
        sources = torch.cat(
            [plain, torch.zeros_like(plain) if below is None else below], dim=1
        )  # (B, 2H, T, N)
        if coverage is None:  # teacher forced: the sums of all steps at once (in fp32 under autocast)
            past = exclusive_cumsum(sources.float(), dim=2).to(sources.dtype)  # (B, 2H, T, N)
        else:
            past = coverage[:, :, None, :]  # (B, 2H, 1, N)
        refined = (logits - refiner(past, grid)).softmax(-1)  # (B, H, T, N); padding stays at -inf
        attn = F.dropout(refined, p=a.dropout, training=self.training)
        out = attn @ v  # (B, H, T, dh)
        b, _, t, _ = out.shape
        return a.out(out.transpose(1, 2).reshape(b, t, -1)), Alignment(refined, sources)

    def forward(
        self,
        x: torch.Tensor,
        mem_kv: tuple[torch.Tensor, torch.Tensor],
        mem_mask: torch.Tensor,
        self_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
        below: torch.Tensor | None = None,
        coverage: torch.Tensor | None = None,
        grid: tuple[int, int] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], Alignment | None]:
        """Full sequence (self_kv None, causal) or incremental (x is (B, 1, D), self_kv = cache).

        below / coverage / grid: the coverage inputs (`_covered_attention`), read only with
        `cross_coverage`; the third output is then this layer's `Alignment` (else None)."""
        h = self.norm1(x)
        k, v = self.self_attn.project_kv(h)  # (B, H, t, dh)
        if self_kv is not None:
            k = torch.cat([self_kv[0], k], dim=2)
            v = torch.cat([self_kv[1], v], dim=2)
            x = x + self.drop(self.self_attn.attend(h, k, v))
        else:
            x = x + self.drop(self.self_attn.attend(h, k, v, causal=True))
        align = None
        if self.refiner is None:
            x = x + self.drop(self.cross_attn.attend(self.norm2(x), mem_kv[0], mem_kv[1], mask=mem_mask))
        else:
            if grid is None:
                raise ValueError("cross_coverage needs the token grid (grid=(h, w))")
            out, align = self._covered_attention(self.norm2(x), mem_kv, mem_mask, below, coverage, grid)
            x = x + self.drop(out)
        x = x + self.drop(self.ff(self.norm3(x)))
        return x, (k, v), align


@dataclass
class TransformerState:
    mem_kv: list[tuple[torch.Tensor, torch.Tensor]]  # per layer (B, H, N, dh)
    mem_mask: torch.Tensor  # (B, 1, 1, N) bool
    self_kv: list[tuple[torch.Tensor, torch.Tensor]] | None  # per layer (B, H, t, dh)
    position: int
    # cross_coverage: per layer the coverage sources summed over the steps so far (B, 2H, N), and the grid
    coverage: list[torch.Tensor] | None = None
    grid: tuple[int, int] | None = None


class TransformerDecoder(nn.Module):
    """Pre-LN Transformer decoder with a KV cache; `cross_coverage` refines its cross-attention.

    grid_height: the token rows of every image when the model reads fixed-height images (0 = not
    fixed): with it, a caller that passes no `grid` still gets the coverage maps right."""

    def __init__(self, cfg: DecoderConfig, vocab_size: int, memory_dim: int, grid_height: int = 0) -> None:
        super().__init__()
        self.cfg = cfg
        self.grid_height = grid_height
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

    def _grid(self, memory: torch.Tensor, grid: tuple[int, int] | None) -> tuple[int, int] | None:
        """The token grid the coverage maps are drawn on (None without cross_coverage)."""
        if not self.cfg.cross_coverage:
            return None
        n = memory.shape[1]
        if grid is not None:
            return int(grid[0]), int(grid[1])
        if self.grid_height > 0 and n % self.grid_height == 0:
            return self.grid_height, n // self.grid_height
        raise ValueError(
            "cross_coverage needs the token grid of images of varying height: pass grid=enc.grid"
        )

    def _memory(
        self, memory: torch.Tensor, memory_mask: torch.Tensor, grid: tuple[int, int] | None = None
    ) -> TransformerState:
        mem_kv = [layer.cross_attn.project_kv(memory) for layer in self.layers]
        grid = self._grid(memory, grid)
        coverage = None
        if grid is not None:
            b, n = memory_mask.shape
            coverage = [memory.new_zeros(b, 2 * self.cfg.num_heads, n) for _ in self.layers]
        return TransformerState(
            mem_kv, memory_mask[:, None, None, :], None, 0, coverage, grid
        )  # (B, 1, 1, N)

    def _teacher_forced(self, state: TransformerState, tokens_in: torch.Tensor) -> torch.Tensor:
        x = self._embed(tokens_in, 0)
        below = None
        for layer, kv in zip(self.layers, state.mem_kv, strict=True):
            x, _, align = layer(x, kv, state.mem_mask, below=below, grid=state.grid)
            below = None if align is None else align.refined
        return self.head(self.norm(x))  # (B, T, V)

    def forward(
        self,
        memory: torch.Tensor,
        memory_mask: torch.Tensor,
        tokens_in: torch.Tensor,
        sampling_prob: float | torch.Tensor = 0.0,
        grid: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        state = self._memory(memory, memory_mask, grid)
        if _sampling(sampling_prob):
            with torch.no_grad():
                first = self._teacher_forced(state, tokens_in)  # pass 1: teacher forced, no gradient
            tokens_in = mix_inputs(tokens_in, first.argmax(-1), sampling_prob)
        return self._teacher_forced(state, tokens_in)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Training memory for compute (as timm's models): the coverage refiners' hidden maps are
        recomputed in the backward pass instead of kept. The same gradients; nothing else changes."""
        for layer in self.layers:
            if layer.refiner is not None:
                layer.refiner.grad_checkpointing = enable

    def init_state(
        self, memory: torch.Tensor, memory_mask: torch.Tensor, grid: tuple[int, int] | None = None
    ) -> TransformerState:
        return self._memory(memory, memory_mask, grid)

    def step(self, tokens: torch.Tensor, state: TransformerState) -> tuple[torch.Tensor, TransformerState]:
        x = self._embed(tokens[:, None], state.position)  # (B, 1, D)
        new_kv = []
        coverage: list[torch.Tensor] | None = None if state.coverage is None else []
        below = None
        for i, (layer, kv) in enumerate(zip(self.layers, state.mem_kv, strict=True)):
            past = _empty_kv(x, layer) if state.self_kv is None else state.self_kv[i]
            cov = None if state.coverage is None else state.coverage[i]
            x, cache, align = layer(
                x, kv, state.mem_mask, self_kv=past, below=below, coverage=cov, grid=state.grid
            )
            new_kv.append(cache)
            if coverage is not None and cov is not None and align is not None:
                coverage.append(cov + align.sources[:, :, 0])  # (B, 2H, N)
                below = align.refined
        logits = self.head(self.norm(x[:, 0]))  # (B, V)
        new = TransformerState(state.mem_kv, state.mem_mask, new_kv, state.position + 1, coverage, state.grid)
        return logits, new

    def reorder_state(self, state: TransformerState, index: torch.Tensor) -> TransformerState:
        def sel(kv: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
            return kv[0].index_select(0, index), kv[1].index_select(0, index)

        return TransformerState(
            [sel(kv) for kv in state.mem_kv],
            state.mem_mask.index_select(0, index),
            None if state.self_kv is None else [sel(kv) for kv in state.self_kv],
            state.position,
            None if state.coverage is None else [c.index_select(0, index) for c in state.coverage],
            state.grid,
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
        if cfg.cross_coverage:
            raise ValueError("cross_coverage is for the Transformer decoder (the GRU's is `coverage`)")
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

    def init_state(
        self, memory: torch.Tensor, memory_mask: torch.Tensor, grid: tuple[int, int] | None = None
    ) -> GRUState:
        """`grid` is not read (the interface of both decoders)."""
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
        grid: tuple[int, int] | None = None,
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


def build_decoder(cfg: DecoderConfig, vocab_size: int, memory_dim: int, grid_height: int = 0) -> Decoder:
    """grid_height: token rows of every image when they are of one height (0 = varying)."""
    if cfg.kind == "transformer":
        return TransformerDecoder(cfg, vocab_size, memory_dim, grid_height)
    if cfg.kind == "gru":
        return GRUDecoder(cfg, vocab_size, memory_dim)
    raise ValueError(f"unknown decoder kind {cfg.kind!r} (expected 'transformer' or 'gru')")
