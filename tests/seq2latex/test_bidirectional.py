"""Bidirectional training targets and decoding: right-to-left targets, R2L greedy/beam, BTTR rescoring."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import pytest
import torch

from data.batch import pad_images
from seq2latex.decoding import beam_decode, bidirectional_decode, decode, greedy_decode, sequence_logprobs
from seq2latex.model import Seq2Latex, reverse_targets

PAD, SOS, EOS = 0, 1, 2


def images(widths: list[int], seed: int = 1) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(1, 64, w, generator=g) > 0.8).float() for w in widths]


def test_reverse_targets_round_trips_and_swaps_the_end_tokens() -> None:
    g = torch.Generator().manual_seed(0)
    rows = []
    for n in (0, 1, 3, 9):
        body = torch.randint(3, 20, (n,), generator=g).tolist()
        rows.append([SOS, *body, EOS] + [PAD] * (9 - n))
    t = torch.tensor(rows)  # (4, 11)
    r = reverse_targets(t, PAD)
    for row, rev in zip(t.tolist(), r.tolist(), strict=True):
        n = sum(x != PAD for x in row)
        assert rev[:n] == row[:n][::-1] and rev[n:] == row[n:]  # <eos> y_T ... y_1 <sos>, padding kept
        assert rev[0] == EOS and rev[n - 1] == SOS
    assert torch.equal(reverse_targets(r, PAD), t)


def test_bidirectional_loss_reads_both_directions_through_one_encoder_pass(
    tiny_model: Callable[..., Seq2Latex],
) -> None:
    model = tiny_model(bidirectional=True).train()
    x, mask = pad_images(images([64, 96]))
    targets = torch.tensor([[SOS, 5, 6, 7, EOS], [SOS, 8, EOS, PAD, PAD]])
    out = model.compute_losses(x, targets, mask)
    assert out.logits.shape == (4, 4, model.cfg.vocab_size)  # L2R rows, then R2L rows
    uni = Seq2Latex(replace(model.cfg, bidirectional=False)).train()
    uni.load_state_dict(model.state_dict())
    torch.manual_seed(0)
    a = model.compute_losses(x, targets, mask).logits[:2]
    torch.manual_seed(0)
    b = uni.compute_losses(x, targets, mask).logits
    torch.testing.assert_close(a, b)  # the left-to-right half is the plain model's


def test_right_to_left_needs_a_bidirectional_model(tiny_model: Callable[..., Seq2Latex]) -> None:
    x, mask = pad_images(images([64]))
    with pytest.raises(ValueError, match="bidirectionally"):
        greedy_decode(tiny_model("transformer"), x, mask, direction="r2l")


@pytest.mark.parametrize("kind", ["transformer", "gru"])
def test_r2l_greedy_is_in_reading_order_and_scores_itself(
    kind: str, tiny_model: Callable[..., Seq2Latex]
) -> None:
    model = tiny_model(kind, bidirectional=True)
    x, mask = pad_images(images([64, 128, 96]))
    r2l = greedy_decode(model, x, mask, max_len=12, direction="r2l")
    beam1 = beam_decode(model, x, mask, beam=1, max_len=12, direction="r2l")
    lps = sequence_logprobs(model, x, mask, [[r.token_ids] for r in r2l], "r2l")
    ended = 0
    for r, b, (lp,) in zip(r2l, beam1, lps, strict=True):
        assert b.token_ids == r.token_ids
        if len(r.token_ids) < 11:
            ended += 1  # it ended with <sos>: teacher forcing the reversed ids gives the same p
            assert math.isclose(sum(lp), math.log(r.confidence), rel_tol=1e-4, abs_tol=1e-4)
            for p, q in zip(r.token_probs, lp[:-1], strict=True):
                assert math.isclose(p, math.exp(q), rel_tol=1e-4, abs_tol=1e-6)
        assert SOS not in r.token_ids and EOS not in r.token_ids
    assert ended > 0


def test_rescoring_ranks_by_both_directions(tiny_model: Callable[..., Seq2Latex]) -> None:
    model = tiny_model(bidirectional=True)
    x, mask = pad_images(images([64, 128]))
    out = bidirectional_decode(model, x, mask, beam=3, max_len=10)
    assert decode(model, x, mask, beam=3, max_len=10)[0].token_ids == out[0].token_ids  # the default path
    plain = decode(model, x, mask, beam=3, max_len=10, rescore=False)
    assert [r.alternatives for r in plain] == [r.alternatives for r in beam_decode(model, x, mask, 3, 10)]
    for i, r in enumerate(out):
        seqs = [ids for ids, _ in r.alternatives]
        fwd = sequence_logprobs(model, x[i : i + 1], mask[i : i + 1], [seqs], "l2r")[0]
        bwd = sequence_logprobs(model, x[i : i + 1], mask[i : i + 1], [seqs], "r2l")[0]
        # ranked by the probability both directions give each hypothesis, which is its score and, for the
        # first, the confidence: the order a reader sees is the order of the scores shown
        both = [math.exp((sum(f) + sum(b)) / 2) for f, b in zip(fwd, bwd, strict=True)]
        assert both == sorted(both, reverse=True)
        assert [p for _, p in r.alternatives] == pytest.approx(both, rel=1e-4)
        assert math.isclose(r.confidence, both[0], rel_tol=1e-4)
        assert len(r.token_probs) == len(r.token_ids)
