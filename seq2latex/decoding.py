"""Batched greedy and beam-search decoding shared by eval, the Recognizer and the API.

Every result carries the token ids (no <sos>/<eos>), the probability of each emitted token, a sequence
confidence (the model's probability of the whole sequence including <eos>) and the alternatives of the
beam (ids, probability), best first. Beam hypotheses are ranked by sum(log p) / length ** length_penalty.

A bidirectional model (`cfg.bidirectional`, trained on right-to-left targets too) also decodes right to
left (`direction="r2l"`: it starts from <eos> and ends at <sos>; ids come back in reading order), and
`bidirectional_decode` rescores the hypotheses of both directions with both directions, as BTTR does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch

from seq2latex.encoder import EncoderOutput
from seq2latex.model import Seq2Latex

MAX_DECODE_LEN = 256  # tokens emitted at most (incl. <eos>); capped by the decoder's max_len
DEFAULT_LENGTH_PENALTY = 1.0


@dataclass
class DecodeResult:
    token_ids: list[int]
    token_probs: list[float]
    confidence: float
    alternatives: list[tuple[list[int], float]] = field(default_factory=list)


Direction = Literal["l2r", "r2l"]


def _ends(model: Seq2Latex, direction: Direction) -> tuple[int, int]:
    """(start token, end token) of a direction: right to left starts with <eos> and ends with <sos>."""
    cfg = model.cfg
    if direction == "l2r":
        return cfg.sos_id, cfg.eos_id
    if direction == "r2l":
        if not cfg.bidirectional:
            raise ValueError("right-to-left decoding needs a model trained bidirectionally")
        return cfg.eos_id, cfg.sos_id
    raise ValueError(f"direction must be 'l2r' or 'r2l', not {direction!r}")


def _forbid_specials(logp: torch.Tensor, model: Seq2Latex, start_id: int | None = None) -> torch.Tensor:
    """<pad> and the start token are never emitted (the others keep the probabilities the model gave)."""
    logp[:, model.cfg.pad_id] = float("-inf")
    logp[:, model.cfg.sos_id if start_id is None else start_id] = float("-inf")
    return logp


def _limit(model: Seq2Latex, max_len: int | None) -> int:
    cap = model.cfg.decoder.max_len - 1
    return min(cap, max_len or MAX_DECODE_LEN)


@torch.inference_mode()
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
    cfg = model.cfg
    start_id, end_id = _ends(model, direction)
    enc = features if features is not None else model.forward_features(images, pixel_mask)
    dec = model.decoder
    state = dec.init_state(enc.features, enc.mask)
    b = images.shape[0]
    tokens = torch.full((b,), start_id, dtype=torch.long, device=images.device)
    finished = torch.zeros(b, dtype=torch.bool, device=images.device)
    ids, lps = [], []
    for _ in range(_limit(model, max_len)):
        logits, state = dec.step(tokens, state)
        logp = _forbid_specials(torch.log_softmax(logits.float(), dim=-1), model, start_id)  # (B, V)
        lp, nxt = logp.max(dim=-1)
        nxt = torch.where(finished, torch.full_like(nxt, cfg.pad_id), nxt)
        ids.append(nxt)
        lps.append(torch.where(finished, torch.zeros_like(lp), lp))
        finished = finished | (nxt == end_id)
        tokens = nxt
        if bool(finished.all()):
            break
    id_mat = torch.stack(ids, dim=1).tolist()  # (B, L)
    lp_mat = torch.stack(lps, dim=1).tolist()  # (B, L)
    results = []
    for row_ids, row_lps in zip(id_mat, lp_mat, strict=True):
        out_ids, out_lps, total = [], [], 0.0
        for t, lp in zip(row_ids, row_lps, strict=True):
            total += lp
            if t == end_id or t == cfg.pad_id:
                break
            out_ids.append(t)
            out_lps.append(lp)
        if direction == "r2l":
            out_ids, out_lps = out_ids[::-1], out_lps[::-1]
        conf = math.exp(total)
        results.append(DecodeResult(out_ids, [math.exp(x) for x in out_lps], conf, [(out_ids, conf)]))
    return results


@torch.inference_mode()
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
    cfg = model.cfg
    start_id, end_id = _ends(model, direction)
    k = max(1, beam)
    enc = features if features is not None else model.forward_features(images, pixel_mask)
    dec = model.decoder
    b = images.shape[0]
    device = images.device
    state = dec.init_state(enc.features, enc.mask)
    state = dec.reorder_state(state, torch.arange(b, device=device).repeat_interleave(k))
    tokens = torch.full((b * k,), start_id, dtype=torch.long, device=device)
    scores = torch.full((b, k), float("-inf"), device=device)
    scores[:, 0] = 0.0
    hist_ids = torch.zeros(b * k, 0, dtype=torch.long, device=device)  # (B*k, t)
    hist_lp = torch.zeros(b * k, 0, device=device)  # (B*k, t)
    finished: list[list[tuple[float, list[int], list[float]]]] = [[] for _ in range(b)]
    done = [False] * b
    steps = _limit(model, max_len)

    def norm(score: float, length: int) -> float:
        return score / max(length, 1) ** length_penalty

    for _ in range(steps):
        logits, state = dec.step(tokens, state)
        logp = _forbid_specials(torch.log_softmax(logits.float(), dim=-1), model, start_id)  # (B*k, V)
        v = logp.shape[-1]
        cand = (scores.reshape(b * k, 1) + logp).reshape(b, k * v)  # (B, k*V)
        n_cand = min(2 * k, k * v)
        top_s, top_i = cand.topk(n_cand, dim=1)
        top_s_l, top_i_l = top_s.tolist(), top_i.tolist()
        new_scores = torch.full((b, k), float("-inf"), device=device)
        new_src = torch.zeros(b, k, dtype=torch.long)
        new_tok = torch.full((b, k), cfg.pad_id, dtype=torch.long)
        for i in range(b):
            if done[i]:
                continue
            j = 0
            for s, flat in zip(top_s_l[i], top_i_l[i], strict=True):
                if s == float("-inf"):
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
        rows = (torch.arange(b)[:, None] * k + new_src).reshape(-1).to(device)  # (B*k,)
        flat_tok = new_tok.reshape(-1).to(device)  # (B*k,)
        tok_lp = logp[rows, flat_tok]  # (B*k,)
        hist_ids = torch.cat([hist_ids[rows], flat_tok[:, None]], dim=1)
        hist_lp = torch.cat([hist_lp[rows], tok_lp[:, None]], dim=1)
        scores = new_scores
        state = dec.reorder_state(state, rows)
        tokens = flat_tok
    for i in range(b):
        if not done[i]:  # ran out of steps: keep the live beams as they are
            for j in range(k):
                s = float(scores[i, j])
                if s > float("-inf"):
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


@torch.inference_mode()
def sequence_logprobs(
    model: Seq2Latex,
    images: torch.Tensor,
    pixel_mask: torch.Tensor | None,
    sequences: list[list[list[int]]],
    direction: Direction = "l2r",
    features: EncoderOutput | None = None,
) -> list[list[list[float]]]:
    """Teacher-forced log p of every token of each candidate of each image, read in `direction`,
    returned in reading order with the end token's log p last. `sequences[i]` are the candidates
    (ids in reading order) of image i."""
    cfg = model.cfg
    start_id, end_id = _ends(model, direction)
    rows = [(i, seq[: cfg.decoder.max_len - 2]) for i, seqs in enumerate(sequences) for seq in seqs]
    out: list[list[list[float]]] = [[] for _ in sequences]
    if not rows:
        return out
    enc = features if features is not None else model.forward_features(images, pixel_mask)
    full = [[start_id, *(seq if direction == "l2r" else seq[::-1]), end_id] for _, seq in rows]
    t = max(len(f) for f in full)
    tokens = torch.full((len(rows), t), cfg.pad_id, dtype=torch.long, device=images.device)  # (R, T)
    for r, f in enumerate(full):
        tokens[r, : len(f)] = torch.tensor(f, device=images.device)
    index = torch.tensor([i for i, _ in rows], device=images.device)  # (R,)
    memory = enc.features.index_select(0, index)  # (R, N, D)
    memory_mask = enc.mask.index_select(0, index)  # (R, N)
    logits = model.decoder(memory, memory_mask, tokens[:, :-1])  # (R, T-1, V)
    logp = torch.log_softmax(logits.float(), dim=-1)  # (R, T-1, V)
    picked = logp.gather(-1, tokens[:, 1:, None])[..., 0].tolist()  # (R, T-1)
    for (i, seq), lps in zip(rows, picked, strict=True):
        body = lps[: len(seq)]
        out[i].append((body if direction == "l2r" else body[::-1]) + [lps[len(seq)]])
    return out


@torch.inference_mode()
def bidirectional_decode(
    model: Seq2Latex,
    images: torch.Tensor,
    pixel_mask: torch.Tensor | None = None,
    beam: int = 5,
    max_len: int | None = None,
    length_penalty: float = DEFAULT_LENGTH_PENALTY,
) -> list[DecodeResult]:
    """Beam search in both directions, then every distinct hypothesis is scored by both directions
    (teacher forced) and ranked by (log p_l2r + log p_r2l) / 2 / (length + 1) ** length_penalty.
    Confidence and token probabilities are those of the left-to-right reading of each hypothesis."""
    enc = model.forward_features(images, pixel_mask)  # once, for both searches and both scorings
    l2r = beam_decode(model, images, pixel_mask, beam, max_len, length_penalty, "l2r", enc)
    r2l = beam_decode(model, images, pixel_mask, beam, max_len, length_penalty, "r2l", enc)
    cands: list[list[list[int]]] = []
    for a, b in zip(l2r, r2l, strict=True):
        seen = dict.fromkeys(tuple(ids) for ids, _ in a.alternatives + b.alternatives)
        cands.append([list(c) for c in seen])
    fwd = sequence_logprobs(model, images, pixel_mask, cands, "l2r", enc)
    bwd = sequence_logprobs(model, images, pixel_mask, cands, "r2l", enc)
    results = []
    for i, seqs in enumerate(cands):
        ranked = sorted(
            (
                ((sum(f) + sum(r)) / 2.0 / (len(seq) + 1) ** length_penalty, seq, f)
                for seq, f, r in zip(seqs, fwd[i], bwd[i], strict=True)
            ),
            key=lambda h: h[0],
            reverse=True,
        )[: max(1, beam)]
        _, best, best_lps = ranked[0]
        results.append(
            DecodeResult(
                token_ids=best,
                token_probs=[math.exp(x) for x in best_lps[:-1]],
                confidence=math.exp(sum(best_lps)),
                alternatives=[(seq, math.exp(sum(f))) for _, seq, f in ranked],
            )
        )
    return results


def decode(
    model: Seq2Latex,
    images: torch.Tensor,
    pixel_mask: torch.Tensor | None = None,
    beam: int = 1,
    max_len: int | None = None,
    length_penalty: float = DEFAULT_LENGTH_PENALTY,
    rescore: bool = True,
) -> list[DecodeResult]:
    """Greedy for beam <= 1, beam search otherwise; with a bidirectional model and `rescore`, the beam
    hypotheses of both directions are rescored with both (`bidirectional_decode`)."""
    if beam <= 1:
        return greedy_decode(model, images, pixel_mask, max_len)
    if rescore and model.cfg.bidirectional:
        return bidirectional_decode(model, images, pixel_mask, beam, max_len, length_penalty)
    return beam_decode(model, images, pixel_mask, beam, max_len, length_penalty)
