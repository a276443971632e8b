"""Coverage in the Transformer decoder's cross-attention (`DecoderConfig.cross_coverage`): the state
carries the coverage through beam reordering, every training path runs, the refinement changes the
attention, and a tiny model with it learns real CROHME fixture images."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from data.batch import pad_images
from data.preprocess import preprocess
from seq2latex.config import DecoderConfig, EncoderConfig, ModelConfig
from seq2latex.decoders import exclusive_cumsum
from seq2latex.model import Seq2Latex
from tokenizer import LatexTokenizer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "crohme" / "offline" / "train"
VOCAB = 24


def images(widths: list[int], seed: int = 1) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(1, 64, w, generator=g) > 0.8).float() for w in widths]


def test_exclusive_cumsum_sums_the_steps_before() -> None:
    x = torch.arange(1.0, 7.0).reshape(1, 2, 3)  # [[1, 2, 3], [4, 5, 6]]
    assert exclusive_cumsum(x, dim=2).tolist() == [[[0.0, 1.0, 3.0], [0.0, 4.0, 9.0]]]
    assert exclusive_cumsum(x, dim=1).tolist() == [[[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]]


def test_reordered_states_carry_their_coverage(tiny_model: Callable[..., Seq2Latex]) -> None:
    """Steps, a beam-style reorder (rows duplicated and swapped), more steps: each row's logits are the
    teacher-forced logits of the image and prefix it now holds."""
    model = tiny_model(cross_coverage=True, seed=2)
    x, mask = pad_images(images([96, 160], seed=4))
    tokens = torch.randint(3, VOCAB, (2, 8))
    tokens[:, 0] = 1
    index = torch.tensor([1, 0, 1])
    with torch.no_grad():
        enc = model.forward_features(x, mask)
        dec = model.decoder
        state = dec.init_state(enc.features, enc.mask, grid=enc.grid)
        for t in range(4):
            _, state = dec.step(tokens[:, t], state)
        state = dec.reorder_state(state, index)
        rows = tokens.index_select(0, index)  # (3, 8)
        steps = []
        for t in range(4, 8):
            logits, state = dec.step(rows[:, t], state)
            steps.append(logits)
        memory, memory_mask = enc.features.index_select(0, index), enc.mask.index_select(0, index)
        full = dec(memory, memory_mask, rows, grid=enc.grid)  # (3, 8, V)
    torch.testing.assert_close(torch.stack(steps, 1), full[:, 4:], atol=1e-4, rtol=1e-4)


def test_the_refinement_changes_the_attention_and_starts_at_zero(
    tiny_model: Callable[..., Seq2Latex],
) -> None:
    model = tiny_model(cross_coverage=True, seed=1)
    plain = tiny_model(seed=1)  # the same seed: the same weights but the refiners'
    x, mask = pad_images(images([128, 64]))
    tokens = torch.randint(3, VOCAB, (2, 7))
    tokens[:, 0] = 1
    with torch.no_grad():
        enc = model.forward_features(x, mask)
        refined = model.decoder(enc.features, enc.mask, tokens, grid=enc.grid)
        assert not torch.allclose(refined, plain.decoder(enc.features, enc.mask, tokens), atol=1e-3)
        fresh = Seq2Latex(model.cfg).eval()  # as built: the refinement's last conv is zero
        fresh.load_state_dict(plain.state_dict(), strict=False)
        want = plain.decoder(enc.features, enc.mask, tokens)
        torch.testing.assert_close(fresh.decoder(enc.features, enc.mask, tokens, grid=enc.grid), want)


def test_training_paths_reach_the_refiner(tiny_model: Callable[..., Seq2Latex]) -> None:
    """Scheduled sampling (two passes) on a bidirectional model: finite loss, gradient in every refiner."""
    model = tiny_model(cross_coverage=True, bidirectional=True).train()
    x, mask = pad_images(images([64, 128]))
    targets = torch.tensor([[1, 5, 6, 7, 2, 0], [1, 8, 2, 0, 0, 0]])
    out = model.compute_losses(x, targets, mask, sampling_prob=0.5)
    assert out.logits.shape == (4, 5, VOCAB) and torch.isfinite(out.loss)
    out.loss.backward()
    for layer in model.decoder.layers:
        assert layer.refiner.conv.weight.grad.abs().sum() > 0
        assert layer.refiner.out.weight.grad.abs().sum() > 0


def test_grad_checkpointing_keeps_the_gradients_and_less_memory(tiny_model: Callable[..., Seq2Latex]) -> None:
    """The refiners' hidden maps are recomputed in the backward pass: the same loss and gradients, fewer
    bytes kept for it."""
    x, mask = pad_images(images([64, 128]))
    targets = torch.tensor([[1, 5, 6, 7, 2, 0], [1, 8, 2, 0, 0, 0]])
    runs = []
    for checkpointing in (False, True):
        model = tiny_model(cross_coverage=True, bidirectional=True).train()
        model.decoder.set_grad_checkpointing(checkpointing)
        kept: dict[int, int] = {}

        def keep(t: torch.Tensor, kept: dict[int, int] = kept) -> torch.Tensor:
            kept[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        torch.manual_seed(0)  # the same scheduled-sampling draws
        with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
            loss = model.compute_losses(x, targets, mask, sampling_prob=0.5).loss
        loss.backward()
        runs.append((loss.detach(), {k: p.grad for k, p in model.named_parameters()}, sum(kept.values())))
    (loss, grads, kept_plain), (loss_ck, grads_ck, kept_ck) = runs
    torch.testing.assert_close(loss_ck, loss)
    for k, g in grads.items():
        torch.testing.assert_close(grads_ck[k], g, msg=k)
    assert kept_ck < kept_plain


def test_the_grid_comes_from_the_call_or_the_fixed_height(tiny_model: Callable[..., Seq2Latex]) -> None:
    model = tiny_model(cross_coverage=True)
    x, mask = pad_images(images([96, 200]))
    tokens = torch.tensor([[1, 5, 6, 7]])
    with torch.no_grad():
        enc = model.forward_features(x[:1], mask[:1])
        given = model.decoder(enc.features, enc.mask, tokens, grid=enc.grid)
        torch.testing.assert_close(model.decoder(enc.features, enc.mask, tokens), given)  # 64 px: 8 rows
        varying = Seq2Latex(replace(model.cfg, preprocess_max_height=192))
        with pytest.raises(ValueError, match="grid"):
            varying.decoder(enc.features, enc.mask, tokens)
        with pytest.raises(ValueError, match="grid"):
            model.decoder(enc.features, enc.mask, tokens, grid=(3, 5))
    with pytest.raises(ValueError, match="Transformer"):
        Seq2Latex(replace(model.cfg, decoder=replace(model.cfg.decoder, kind="gru")))


def test_a_tiny_model_with_coverage_learns_the_fixtures() -> None:
    """Teacher-forced training on 8 real CROHME training images: the loss falls to a fraction."""
    tokenizer = LatexTokenizer.load()
    rows = [line.split("\t", 1) for line in (FIXTURES / "caption.txt").read_text().splitlines() if line]
    rows = [r for r in rows if len(r[1].split()) <= 8][:8]
    assert len(rows) == 8
    x, mask = pad_images([preprocess((FIXTURES / "img" / f"{name}.png").read_bytes()) for name, _ in rows])
    seqs = [torch.tensor(tokenizer.encode(latex)) for _, latex in rows]
    targets = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=tokenizer.pad_id)
    torch.manual_seed(0)
    cfg = ModelConfig(
        encoder=EncoderConfig(embed_dim=48, depth=1, num_heads=2, stem_channels=8),
        decoder=DecoderConfig(
            d_model=48, num_layers=2, num_heads=2, ff_dim=96, dropout=0.0, cross_coverage=True, coverage_dim=8
        ),
        vocab_size=tokenizer.vocab_size,
        pad_id=tokenizer.pad_id,
        sos_id=tokenizer.sos_id,
        eos_id=tokenizer.eos_id,
    )
    model = Seq2Latex(cfg).train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = model.compute_losses(x, targets, mask).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0], losses[::5]
    assert any(p.abs().sum() > 0 for layer in model.decoder.layers for p in layer.refiner.out.parameters())
