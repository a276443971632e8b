"""The CUDA-graphed training step (seq2latex/training/graphs.py): what it relies on runs here (a tensor
sampling probability, the EMA by a tensor weight, the option ignored on the CPU); the graphs themselves
are checked against the eager step on a GPU (skipped without one)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from data.batch import Batch
from seq2latex.ema import WeightEMA
from seq2latex.model import Seq2Latex
from seq2latex.training.graphs import GraphedStep, make_optimizer


def _targets(b: int, t: int, vocab: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(3, vocab, (b, t), generator=g)
    tokens[:, 0] = 1  # <sos>
    tokens[:, -1] = 2  # <eos>
    tokens[0, t // 2 :] = 0  # a shorter row, padded
    tokens[0, t // 2 - 1] = 2
    return tokens


def test_a_tensor_sampling_probability_of_zero_reads_as_teacher_forcing(
    tiny_model: Callable[..., Seq2Latex],
) -> None:
    model = tiny_model()
    images = torch.rand(2, 1, 64, 96)
    tokens = _targets(2, 9, 24, 0)
    with torch.no_grad():
        forced = model.compute_losses(images, tokens, sampling_prob=0.0).logits
        graphed = model.compute_losses(images, tokens, sampling_prob=torch.tensor(0.0)).logits
        mixed = model.compute_losses(images, tokens, sampling_prob=torch.tensor(1.0)).logits
    torch.testing.assert_close(graphed, forced)
    assert not torch.allclose(mixed, forced)  # the tensor path does sample when asked to


def test_ema_by_a_tensor_weight_is_the_stepwise_update(tiny_model: Callable[..., Seq2Latex]) -> None:
    model = tiny_model()
    a, b = WeightEMA(model, 0.99), WeightEMA(model, 0.99)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    a.update(model, step=7)
    b.update_by(model, torch.tensor(1.0 - b.decay_at(7)))
    for k in a.shadow:
        torch.testing.assert_close(a.shadow[k], b.shadow[k])


def test_graphs_need_cuda(tiny_model: Callable[..., Seq2Latex]) -> None:
    model = tiny_model()
    opt = make_optimizer([{"params": list(model.parameters())}], 1e-3, torch.device("cpu"), graphs=False)
    with pytest.raises(ValueError, match="CUDA"):
        GraphedStep(model, model, opt, None, 0.0, 0.0, 1.0, torch.device("cpu"))


class _Step(torch.nn.Module):
    def __init__(self, model: Seq2Latex) -> None:
        super().__init__()
        self.model = model

    def forward(self, images, tokens, pixel_mask, counts, p, aux_w, ls):  # type: ignore[no-untyped-def]
        out = self.model.compute_losses(images, tokens, pixel_mask, p, counts, aux_w, ls)
        return out.loss, out.ce, out.count, out.ce.new_zeros(())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
def test_graphed_steps_train_as_the_eager_steps_do_across_shapes(
    tiny_model: Callable[..., Seq2Latex],
) -> None:
    dev = torch.device("cuda")
    shapes = [(4, 64, 96, 9), (4, 64, 160, 13)]  # two buckets, replayed in an order unlike the capture's
    batches = []
    for i, (b, h, w, t) in enumerate(shapes * 3):
        g = torch.Generator().manual_seed(i)
        images = torch.rand(b, 1, h, w, generator=g)
        batches.append(
            Batch(
                images=images,
                pixel_mask=torch.ones(b, h, w, dtype=torch.bool),
                tokens=_targets(b, t, 24, i),
                token_mask=torch.ones(b, t, dtype=torch.bool),
                symbol_counts=None,
            ).to(dev)
        )
    order = [0, 1, 2, 3, 5, 4]

    def run(graphed: bool) -> tuple[list[float], dict[str, torch.Tensor]]:
        model = tiny_model().to(dev).train()
        opt = make_optimizer([{"params": list(model.parameters())}], 1e-3, dev, graphs=graphed)
        ema = WeightEMA(model, 0.9)
        step = _Step(model)
        losses = []
        if graphed:
            fn = GraphedStep(model, step, opt, ema, 0.0, 0.0, 1.0, dev)
            # the warm-up trains too: give the eager run the same steps
            for k, i in enumerate(order):
                loss, _, _ = fn(batches[i], 0.0, 1.0 - ema.decay_at(k))
                losses.append(float(loss))
        else:
            for k, i in enumerate(order):
                reps = 1 + (3 if i in (0, 1) else 0)  # each shape's first batch: 3 warm-up steps + the step
                for _ in range(reps):
                    opt.zero_grad(set_to_none=True)
                    with torch.autocast("cuda", dtype=torch.bfloat16):
                        loss, _, _, _ = step(batches[i].images, batches[i].tokens, batches[i].pixel_mask,
                                             None, 0.0, 0.0, 0.0)  # fmt: skip
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True)
                    opt.step()
                    ema.update(model, k)
                losses.append(float(loss))
        return losses, {k: v.detach().clone() for k, v in model.state_dict().items()}

    eager_losses, eager_state = run(False)
    graph_losses, graph_state = run(True)
    assert graph_losses == pytest.approx(eager_losses, rel=2e-2, abs=2e-2)
    for k in eager_state:
        torch.testing.assert_close(graph_state[k], eager_state[k], atol=5e-3, rtol=5e-2, msg=k)
