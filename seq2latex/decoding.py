"""Batched greedy and beam-search decoding shared by eval, the Recognizer and the API.

Every result carries the token ids (no <sos>/<eos>), the probability of each emitted token, a sequence
confidence (the model's probability of the whole sequence including <eos>) and the alternatives of the
beam (ids, probability), best first. Beam hypotheses are ranked by sum(log p) / length ** length_penalty
(DEFAULT_LENGTH_PENALTY, 1: per token). The bidirectional search ranks by probability (penalty 0,
RESCORED_LENGTH_PENALTY), so that its alternatives come sorted by the probability they show and the
best one's is the confidence (on crohme_val at beam 3 the same 51.12 % as per-token ranking; the plain
beam reads 49.33 % per token against 48.43 % by probability, so it keeps ranking per token).

A bidirectional model (`cfg.bidirectional`, trained on right-to-left targets too) also decodes right to
left (`direction="r2l"`: it starts from <eos> and ends at <sos>; ids come back in reading order), and
`bidirectional_decode` rescores the hypotheses of both directions with both directions, as BTTR does.

The search is written once, in NumPy, against `StepDecoder`: a decoder started on a batch of encoded
images that gives the log-probabilities of the next token. `TorchSteps` drives a `Seq2Latex` (the
functions taking a model below); `seq2latex.onnx_runtime.OnnxSteps` drives the exported ONNX graphs.
This module imports torch only when a torch model is decoded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch

    from seq2latex.config import ModelConfig
    from seq2latex.encoder import EncoderOutput
    from seq2latex.model import Seq2Latex

MAX_DECODE_LEN = 256  # tokens emitted at most (incl. <eos>); capped by the decoder's max_len
DEFAULT_LENGTH_PENALTY = 1.0  # plain beam: rank by log p per token
RESCORED_LENGTH_PENALTY = 0.0  # bidirectional search: rank by probability (see above)
NEG_INF = float("-inf")

R = TypeVar("R")


@dataclass
class DecodeResult:
    token_ids: list[int]
    token_probs: list[float]
    confidence: float
    alternatives: list[tuple[list[int], float]] = field(default_factory=list)


Direction = Literal["l2r", "r2l"]


@dataclass(frozen=True)
class Vocabulary:
    """What the search needs to know of a model: its special ids, length cap and directions."""

    sos_id: int
    eos_id: int
    pad_id: int
    max_len: int  # the decoder's position table
    bidirectional: bool

    @classmethod
    def of(cls, cfg: ModelConfig) -> Vocabulary:
        return cls(cfg.sos_id, cfg.eos_id, cfg.pad_id, cfg.decoder.max_len, cfg.bidirectional)

    def ends(self, direction: Direction) -> tuple[int, int]:
        """(start token, end token): right to left starts with <eos> and ends with <sos>."""
        if direction == "l2r":
            return self.sos_id, self.eos_id
        if direction == "r2l":
            if not self.bidirectional:
                raise ValueError("right-to-left decoding needs a model trained bidirectionally")
            return self.eos_id, self.sos_id
        raise ValueError(f"direction must be 'l2r' or 'r2l', not {direction!r}")

    def limit(self, max_len: int | None) -> int:
        return min(self.max_len - 1, max_len or MAX_DECODE_LEN)


class StepDecoder(Protocol):
    """A decoder started on `batch` encoded images. States are opaque to the search."""

    vocab: Vocabulary
    batch: int

    def start(self, rows: np.ndarray) -> Any:
        """The initial state of one decoding row per entry of `rows` (int64 indices of images)."""
        ...

    def step(self, tokens: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        """tokens (R,) int64 -> log-probabilities of the next token (R, V) float32 (a fresh array), state."""
        ...

    def reorder(self, state: Any, index: np.ndarray) -> Any:
        """The state of rows `index` (R',) of `state`."""
        ...

    def teacher_forced(self, rows: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """tokens (R, T) read from image rows[r] -> log p of tokens[:, 1:] given their prefix (R, T-1)."""
        ...


def stepwise_teacher_forced(dec: StepDecoder, rows: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """`StepDecoder.teacher_forced` by feeding the tokens one step at a time (for decoders that have
    only a step)."""
    state = dec.start(rows)
    picked = []
    for t in range(tokens.shape[1] - 1):
        logp, state = dec.step(tokens[:, t], state)  # (R, V)
        picked.append(np.take_along_axis(logp, tokens[:, t + 1, None], axis=1)[:, 0])  # (R,)
    return np.stack(picked, axis=1)  # (R, T-1)


def _forbid_specials(logp: np.ndarray, vocab: Vocabulary, start_id: int) -> np.ndarray:
    """<pad> and the start token are never emitted (the others keep the probabilities the model gave)."""
    logp[:, vocab.pad_id] = NEG_INF
    logp[:, start_id] = NEG_INF
    return logp


def _topk(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(B, M) -> the k largest of each row (B, k) and their indices, largest first."""
    idx = np.argsort(-values, axis=1, kind="stable")[:, :k]  # (B, k)
    return np.take_along_axis(values, idx, axis=1), idx


# ----------------------------------------------------------------------------- the search


def greedy_search(
    dec: StepDecoder, max_len: int | None = None, direction: Direction = "l2r"
) -> list[DecodeResult]:
    """One DecodeResult per encoded image (argmax at every step)."""
    vocab = dec.vocab
    start_id, end_id = vocab.ends(direction)
    b = dec.batch
    state = dec.start(np.arange(b))
    tokens = np.full(b, start_id, dtype=np.int64)
    finished = np.zeros(b, dtype=bool)
    ids, lps = [], []
    for _ in range(vocab.limit(max_len)):
        logp, state = dec.step(tokens, state)
        logp = _forbid_specials(logp, vocab, start_id)  # (B, V)
        nxt = logp.argmax(axis=-1)  # (B,)
        lp = logp[np.arange(b), nxt]  # (B,)
        nxt = np.where(finished, vocab.pad_id, nxt)
        ids.append(nxt)
        lps.append(np.where(finished, np.float32(0.0), lp))
        finished = finished | (nxt == end_id)
        tokens = nxt.astype(np.int64)
        if bool(finished.all()):
            break
    id_mat = np.stack(ids, axis=1).tolist()  # (B, L)
    lp_mat = np.stack(lps, axis=1).tolist()  # (B, L)
    results = []
    for row_ids, row_lps in zip(id_mat, lp_mat, strict=True):
        out_ids, out_lps, total = [], [], 0.0
        for t, lp in zip(row_ids, row_lps, strict=True):
            total += lp
            if t == end_id or t == vocab.pad_id:
                break
            out_ids.append(t)
            out_lps.append(lp)
        if direction == "r2l":
            out_ids, out_lps = out_ids[::-1], out_lps[::-1]
        conf = math.exp(total)
        results.append(DecodeResult(out_ids, [math.exp(x) for x in out_lps], conf, [(out_ids, conf)]))
    return results


def beam_search(
    dec: StepDecoder,
    beam: int = 5,
    max_len: int | None = None,
    length_penalty: float = DEFAULT_LENGTH_PENALTY,
    direction: Direction = "l2r",
) -> list[DecodeResult]:
    """Batched beam search of width `beam`; k = 1 gives the greedy result."""
    vocab = dec.vocab
    start_id, end_id = vocab.ends(direction)
    k = max(1, beam)
    b = dec.batch
    state = dec.start(np.repeat(np.arange(b), k))
    tokens = np.full(b * k, start_id, dtype=np.int64)
    scores = np.full((b, k), NEG_INF, dtype=np.float32)
    scores[:, 0] = 0.0
    hist_ids = np.zeros((b * k, 0), dtype=np.int64)  # (B*k, t)
    hist_lp = np.zeros((b * k, 0), dtype=np.float32)  # (B*k, t)
    finished: list[list[tuple[float, list[int], list[float]]]] = [[] for _ in range(b)]
    done = [False] * b

    def norm(score: float, length: int) -> float:
        return score / max(length, 1) ** length_penalty

    for _ in range(vocab.limit(max_len)):
        logp, state = dec.step(tokens, state)
        logp = _forbid_specials(logp, vocab, start_id)  # (B*k, V)
        v = logp.shape[-1]
        cand = (scores.reshape(b * k, 1) + logp).reshape(b, k * v)  # (B, k*V)
        top_s, top_i = _topk(cand, min(2 * k, k * v))
        top_s_l, top_i_l = top_s.tolist(), top_i.tolist()
        new_scores = np.full((b, k), NEG_INF, dtype=np.float32)
        new_src = np.zeros((b, k), dtype=np.int64)
        new_tok = np.full((b, k), vocab.pad_id, dtype=np.int64)
        for i in range(b):
            if done[i]:
                continue
            j = 0
            for s, flat in zip(top_s_l[i], top_i_l[i], strict=True):
                if s == NEG_INF:
                    break
                src, tok = divmod(flat, v)
                row = i * k + src
                if tok == end_id:
                    seq_lps = hist_lp[row].tolist() + [float(logp[row, tok])]
                    finished[i].append((norm(s, len(seq_lps)), hist_ids[row].tolist(), seq_lps))
                else:
                    new_scores[i, j] = s
                    new_src[i, j] = src
                    new_tok[i, j] = tok
                    j += 1
                if j == k:
                    break
            if len(finished[i]) >= k:
                done[i] = True
        if all(done):
            break
        rows = (np.arange(b)[:, None] * k + new_src).reshape(-1)  # (B*k,)
        flat_tok = new_tok.reshape(-1)  # (B*k,)
        tok_lp = logp[rows, flat_tok]  # (B*k,)
        hist_ids = np.concatenate([hist_ids[rows], flat_tok[:, None]], axis=1)
        hist_lp = np.concatenate([hist_lp[rows], tok_lp[:, None]], axis=1)
        scores = new_scores
        state = dec.reorder(state, rows)
        tokens = flat_tok
    for i in range(b):
        if not done[i]:  # ran out of steps: keep the live beams as they are
            for j in range(k):
                s = float(scores[i, j])
                if s > NEG_INF:
                    row = i * k + j
                    seq_lps = hist_lp[row].tolist()
                    finished[i].append((norm(s, len(seq_lps)), hist_ids[row].tolist(), seq_lps))
    results = []
    for i in range(b):
        hyps = sorted(finished[i], key=lambda h: h[0], reverse=True)[:k]
        if direction == "r2l":  # back to reading order (the end token's log p stays last)
            hyps = [(sc, ids[::-1], lps[: len(ids)][::-1] + lps[len(ids) :]) for sc, ids, lps in hyps]
        _, best_ids, best_lps = hyps[0]
        n_tok = len(best_ids)
        results.append(
            DecodeResult(
                token_ids=best_ids,
                token_probs=[math.exp(x) for x in best_lps[:n_tok]],
                confidence=math.exp(sum(best_lps)),
                alternatives=[(ids, math.exp(sum(lps))) for _, ids, lps in hyps],
            )
        )
    return results


def score_sequences(
    dec: StepDecoder, sequences: list[list[list[int]]], direction: Direction = "l2r"
) -> list[list[list[float]]]:
    """Teacher-forced log p of every token of each candidate of each image, read in `direction`,
    returned in reading order with the end token's log p last. `sequences[i]` are the candidates
    (ids in reading order) of image i."""
    vocab = dec.vocab
    start_id, end_id = vocab.ends(direction)
    rows = [(i, seq[: vocab.max_len - 2]) for i, seqs in enumerate(sequences) for seq in seqs]
    out: list[list[list[float]]] = [[] for _ in sequences]
    if not rows:
        return out
    full = [[start_id, *(seq if direction == "l2r" else seq[::-1]), end_id] for _, seq in rows]
    t = max(len(f) for f in full)
    tokens = np.full((len(rows), t), vocab.pad_id, dtype=np.int64)  # (R, T)
    for r, f in enumerate(full):
        tokens[r, : len(f)] = f
    index = np.array([i for i, _ in rows], dtype=np.int64)  # (R,)
    picked = dec.teacher_forced(index, tokens).tolist()  # (R, T-1)
    for (i, seq), lps in zip(rows, picked, strict=True):
        body = lps[: len(seq)]
        out[i].append((body if direction == "l2r" else body[::-1]) + [lps[len(seq)]])
    return out


def bidirectional_search(
    dec: StepDecoder,
    beam: int = 5,
    max_len: int | None = None,
    length_penalty: float = RESCORED_LENGTH_PENALTY,
) -> list[DecodeResult]:
    """Beam search in both directions, then every distinct hypothesis is scored by both directions
    (teacher forced) and ranked by (log p_l2r + log p_r2l) / 2 / (length + 1) ** length_penalty. The
    probability of a hypothesis (its score among the alternatives, and the confidence of the best) is
    that of both readings, exp((log p_l2r + log p_r2l) / 2); the token probabilities are those of the
    left-to-right reading."""
    l2r = beam_search(dec, beam, max_len, length_penalty, "l2r")
    r2l = beam_search(dec, beam, max_len, length_penalty, "r2l")
    cands: list[list[list[int]]] = []
    for a, b in zip(l2r, r2l, strict=True):
        seen = dict.fromkeys(tuple(ids) for ids, _ in a.alternatives + b.alternatives)
        cands.append([list(c) for c in seen])
    fwd = score_sequences(dec, cands, "l2r")
    bwd = score_sequences(dec, cands, "r2l")
    results = []
    for i, seqs in enumerate(cands):
        ranked = sorted(
            (
                (
                    (sum(f) + sum(r)) / 2.0 / (len(seq) + 1) ** length_penalty,
                    seq,
                    f,
                    math.exp((sum(f) + sum(r)) / 2.0),
                )
                for seq, f, r in zip(seqs, fwd[i], bwd[i], strict=True)
            ),
            key=lambda h: h[0],
            reverse=True,
        )[: max(1, beam)]
        _, best, best_lps, best_p = ranked[0]
        results.append(
            DecodeResult(
                token_ids=best,
                token_probs=[math.exp(x) for x in best_lps[:-1]],
                confidence=best_p,
                alternatives=[(seq, p) for _, seq, _, p in ranked],
            )
        )
    return results


def search(
    dec: StepDecoder,
    beam: int = 1,
    max_len: int | None = None,
    length_penalty: float | None = None,
    rescore: bool = True,
) -> list[DecodeResult]:
    """Greedy for beam <= 1, beam search otherwise; with a bidirectional model and `rescore`, the beam
    hypotheses of both directions are rescored with both (`bidirectional_search`)."""
    if beam <= 1:
        return greedy_search(dec, max_len)
    if rescore and dec.vocab.bidirectional:
        lp = RESCORED_LENGTH_PENALTY if length_penalty is None else length_penalty
        return bidirectional_search(dec, beam, max_len, lp)
    return beam_search(
        dec, beam, max_len, DEFAULT_LENGTH_PENALTY if length_penalty is None else length_penalty
    )


# ----------------------------------------------------------------------------- PyTorch


class TorchSteps:
    """`StepDecoder` of a `Seq2Latex` on the encoder output of a batch (call it under inference_mode)."""

    def __init__(self, model: Seq2Latex, enc: EncoderOutput) -> None:
        self.model = model
        self.enc = enc
        self.vocab = Vocabulary.of(model.cfg)
        self.batch = int(enc.features.shape[0])
        self.device = enc.features.device

    def _index(self, rows: np.ndarray) -> torch.Tensor:
        import torch

        return torch.from_numpy(np.ascontiguousarray(rows, dtype=np.int64)).to(self.device)

    def start(self, rows: np.ndarray) -> Any:
        dec = self.model.decoder
        state = dec.init_state(self.enc.features, self.enc.mask, grid=self.enc.grid)
        if np.array_equal(rows, np.arange(self.batch)):
            return state
        return dec.reorder_state(state, self._index(rows))

    def step(self, tokens: np.ndarray, state: Any) -> tuple[np.ndarray, Any]:
        import torch

        logits, state = self.model.decoder.step(self._index(tokens), state)
        logp = torch.log_softmax(logits.float(), dim=-1)  # (R, V)
        return logp.cpu().numpy(), state

    def reorder(self, state: Any, index: np.ndarray) -> Any:
        return self.model.decoder.reorder_state(state, self._index(index))

    def teacher_forced(self, rows: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """One causal pass of the decoder over the whole sequences."""
        import torch

        index, toks = self._index(rows), self._index(tokens)  # (R,), (R, T)
        memory = self.enc.features.index_select(0, index)  # (R, N, D)
        memory_mask = self.enc.mask.index_select(0, index)  # (R, N)
        logits = self.model.decoder(memory, memory_mask, toks[:, :-1], grid=self.enc.grid)  # (R, T-1, V)
        logp = torch.log_softmax(logits.float(), dim=-1)  # (R, T-1, V)
        return logp.gather(-1, toks[:, 1:, None])[..., 0].cpu().numpy()  # (R, T-1)


def _torch_search(
    run: Callable[..., R],
    model: Seq2Latex,
    images: torch.Tensor,
    pixel_mask: torch.Tensor | None,
    features: EncoderOutput | None,
    *args: Any,
) -> R:
    """`run(TorchSteps of the batch, *args)` under inference_mode (`features` as greedy_decode)."""
    import torch

    with torch.inference_mode():
        enc = features if features is not None else model.forward_features(images, pixel_mask)
        return run(TorchSteps(model, enc), *args)


def greedy_decode(
    model: Seq2Latex,
    images: torch.Tensor,
    pixel_mask: torch.Tensor | None = None,
    max_len: int | None = None,
    direction: Direction = "l2r",
    features: EncoderOutput | None = None,
) -> list[DecodeResult]:
    """images (B, 1, H, W) -> one DecodeResult per image (argmax at every step). `features`: the
    images' encoder output when the caller has it already (the encoder is not run again)."""
    Vocabulary.of(model.cfg).ends(direction)  # an unknown direction fails before the encoder runs
    return _torch_search(greedy_search, model, images, pixel_mask, features, max_len, direction)


def beam_decode(
    model: Seq2Latex,
    images: torch.Tensor,
    pixel_mask: torch.Tensor | None = None,
    beam: int = 5,
    max_len: int | None = None,
    length_penalty: float = DEFAULT_LENGTH_PENALTY,
    direction: Direction = "l2r",
    features: EncoderOutput | None = None,
) -> list[DecodeResult]:
    """Batched beam search of width `beam`; k = 1 gives the greedy result (`features` as greedy_decode)."""
    Vocabulary.of(model.cfg).ends(direction)
    return _torch_search(
        beam_search, model, images, pixel_mask, features, beam, max_len, length_penalty, direction
    )


def sequence_logprobs(
    model: Seq2Latex,
    images: torch.Tensor,
    pixel_mask: torch.Tensor | None,
    sequences: list[list[list[int]]],
    direction: Direction = "l2r",
    features: EncoderOutput | None = None,
) -> list[list[list[float]]]:
    """`score_sequences` of a torch model (see there)."""
    Vocabulary.of(model.cfg).ends(direction)
    if not any(sequences):
        return [[] for _ in sequences]
    return _torch_search(score_sequences, model, images, pixel_mask, features, sequences, direction)


def bidirectional_decode(
    model: Seq2Latex,
    images: torch.Tensor,
    pixel_mask: torch.Tensor | None = None,
    beam: int = 5,
    max_len: int | None = None,
    length_penalty: float = RESCORED_LENGTH_PENALTY,
) -> list[DecodeResult]:
    """`bidirectional_search` of a torch model (the encoder runs once, for both searches and scorings)."""
    return _torch_search(bidirectional_search, model, images, pixel_mask, None, beam, max_len, length_penalty)


def decode(
    model: Seq2Latex,
    images: torch.Tensor,
    pixel_mask: torch.Tensor | None = None,
    beam: int = 1,
    max_len: int | None = None,
    length_penalty: float | None = None,
    rescore: bool = True,
) -> list[DecodeResult]:
    """`search` of a torch model: greedy for beam <= 1, beam search otherwise, rescored with both
    directions for a bidirectional model unless `rescore` is False."""
    return _torch_search(search, model, images, pixel_mask, None, beam, max_len, length_penalty, rescore)
