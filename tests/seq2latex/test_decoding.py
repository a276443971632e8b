"""Encoder/decoder shapes, KV cache and padding invariance, greedy vs beam."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from data.batch import pad_images
from seq2latex.decoding import beam_decode, decode, greedy_decode
from seq2latex.model import Seq2Latex

VOCAB = 24
# The decoders, and the recipe study's model options (a residual backbone; coverage in the cross-attention).
VARIANTS = {
    "transformer": {"kind": "transformer"},
    "gru": {"kind": "gru"},
    "coverage": {"kind": "transformer", "cross_coverage": True},
    "resnet": {"kind": "transformer", "stem": "resnet"},
}


def images(widths: list[int], seed: int = 1) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(1, 64, w, generator=g) > 0.8).float() for w in widths]


@pytest.mark.parametrize("kind", ["transformer", "gru"])
def test_forward_shapes_and_loss(kind: str, tiny_model: Callable[..., Seq2Latex]) -> None:
    model = tiny_model(kind).train()
    x, mask = pad_images(images([64, 128]))
    targets = torch.tensor([[1, 5, 6, 7, 2, 0], [1, 8, 2, 0, 0, 0]])
    logits, loss = model(x, targets, mask, sampling_prob=0.5, symbol_counts=torch.ones(2, 5), aux_weight=0.1)
    assert logits.shape == (2, 5, VOCAB)
    assert torch.isfinite(loss)
    loss.backward()
    assert model.encoder.vit.patch_embed.proj.net[0].weight.grad.abs().sum() > 0  # gradient reaches the stem
    enc = model.forward_features(x, mask)
    assert enc.features.shape == (2, 8 * 16, 32) and enc.grid == (8, 16)
    assert enc.mask[0, :8].all() and not enc.mask[0].all()  # first image is half padding


@pytest.mark.parametrize("variant", ["transformer", "gru", "coverage"])
def test_incremental_step_matches_full_forward(variant: str, tiny_model: Callable[..., Seq2Latex]) -> None:
    model = tiny_model(**VARIANTS[variant])
    x, mask = pad_images(images([96, 160]))
    tokens = torch.randint(3, VOCAB, (2, 9))
    tokens[:, 0] = 1
    with torch.no_grad():
        enc = model.forward_features(x, mask)
        full = model.decoder(enc.features, enc.mask, tokens, grid=enc.grid)
        state = model.decoder.init_state(enc.features, enc.mask, grid=enc.grid)
        steps = []
        for t in range(tokens.shape[1]):
            logits, state = model.decoder.step(tokens[:, t], state)
            steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("variant", VARIANTS)
def test_padding_does_not_change_the_prediction(variant: str, tiny_model: Callable[..., Seq2Latex]) -> None:
    model = tiny_model(**VARIANTS[variant])
    ims = images([64, 320])
    alone = greedy_decode(model, *pad_images(ims[:1]))[0]
    batched = greedy_decode(model, *pad_images(ims))[0]
    assert alone.token_ids == batched.token_ids
    assert alone.confidence == pytest.approx(batched.confidence, rel=1e-3)


@pytest.mark.parametrize("variant", VARIANTS)
def test_beam_one_equals_greedy(variant: str, tiny_model: Callable[..., Seq2Latex]) -> None:
    model = tiny_model(**VARIANTS[variant], seed=3)
    x, mask = pad_images(images([48, 96, 144, 208, 256], seed=7))
    greedy = greedy_decode(model, x, mask)
    beam1 = beam_decode(model, x, mask, beam=1)
    assert [g.token_ids for g in greedy] == [b.token_ids for b in beam1]
    for g, b in zip(greedy, beam1, strict=True):
        assert g.confidence == pytest.approx(b.confidence, rel=1e-4)
        assert g.token_probs == pytest.approx(b.token_probs, rel=1e-4)
    assert len({tuple(g.token_ids) for g in greedy}) > 1  # the random model is not degenerate


@pytest.mark.parametrize("kind", ["transformer", "gru"])
def test_beam_results_are_consistent(kind: str, tiny_model: Callable[..., Seq2Latex]) -> None:
    model = tiny_model(kind, seed=5)
    x, mask = pad_images(images([64, 128, 192], seed=2))
    results = decode(model, x, mask, beam=4, max_len=30)
    for r in results:
        assert 1 <= len(r.alternatives) <= 4
        assert r.alternatives[0][0] == r.token_ids
        assert 0.0 < r.confidence <= 1.0
        assert len(r.token_probs) == len(r.token_ids)
        assert all(0.0 < p <= 1.0 for p in r.token_probs)
        assert len({tuple(ids) for ids, _ in r.alternatives}) == len(r.alternatives)  # distinct
        assert model.cfg.eos_id not in r.token_ids and model.cfg.sos_id not in r.token_ids


def test_sequence_confidence_is_product_of_token_probs(tiny_model: Callable[..., Seq2Latex]) -> None:
    model = tiny_model("transformer", seed=11)
    x, mask = pad_images(images([128], seed=4))
    r = greedy_decode(model, x, mask)[0]
    prod = 1.0
    for p in r.token_probs:
        prod *= p
    assert r.confidence <= prod + 1e-9  # times P(<eos>) <= 1
