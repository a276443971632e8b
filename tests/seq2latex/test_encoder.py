"""The encoder's residual backbone (`EncoderConfig.stem = "resnet"`): the token grid of the patch size,
blocks that start as their shortcut, gradient into its first conv, and refusals of what cannot be built.
(The default conv stem is checked by the shipped model's tests and tests/seq2latex/test_decoding.py.)"""

from __future__ import annotations

import pytest
import torch
from timm.models.resnet import BasicBlock

from data.batch import pad_images
from seq2latex.config import DecoderConfig, EncoderConfig, ModelConfig
from seq2latex.encoder import ResNetStem, ViTEncoder
from seq2latex.model import Seq2Latex


def _encoder(**kw: object) -> ViTEncoder:
    torch.manual_seed(0)
    cfg = {"embed_dim": 32, "depth": 1, "num_heads": 2, "stem_channels": 8, "stem": "resnet", **kw}
    return ViTEncoder(EncoderConfig(**cfg))  # type: ignore[arg-type]


@pytest.mark.parametrize(("patch", "stages"), [(8, 2), (16, 3)])
def test_the_backbone_strides_to_the_patch_size(patch: int, stages: int) -> None:
    enc = _encoder(patch_size=patch, stem_blocks=2)
    stem = enc.vit.patch_embed.proj
    assert isinstance(stem, ResNetStem)
    blocks = [m for m in stem.net if isinstance(m, BasicBlock)]
    assert len(blocks) == 2 * stages
    assert [b.conv2.out_channels for b in blocks[::2]] == [8 * 2**i for i in range(1, stages + 1)]
    assert all(not b.bn2.weight.detach().any() for b in blocks)  # each block starts as its shortcut
    x, mask = pad_images([torch.rand(1, 64, 200), torch.rand(1, 64, 90)])
    out = enc.forward_features(x, mask)
    h, w = 64 // patch, -(-200 // patch)
    assert out.grid == (h, w) and out.features.shape == (2, h * w, 32)
    assert out.mask[0].all() and out.mask[1].reshape(h, w)[:, -(-90 // patch) :].logical_not().all()


def test_gradient_reaches_the_first_conv_of_the_backbone() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(
        encoder=EncoderConfig(
            embed_dim=32, depth=1, num_heads=2, stem_channels=8, stem="resnet", stem_blocks=1
        ),
        decoder=DecoderConfig(d_model=32, num_layers=1, num_heads=2, ff_dim=64, max_len=20),
        vocab_size=20,
    )
    model = Seq2Latex(cfg).train()
    x, mask = pad_images([(torch.rand(1, 64, 128) > 0.8).float()])
    model.compute_losses(x, torch.tensor([[1, 5, 6, 2]]), mask).loss.backward()
    first = model.encoder.vit.patch_embed.proj.net[0]
    assert isinstance(first, torch.nn.Conv2d) and first.weight.grad is not None
    assert first.weight.grad.abs().sum() > 0


def test_the_backbone_trains_at_the_widths_of_the_data() -> None:
    """Forward and backward at widths whose stride-2 maps are odd or even (a 1x1 stride-2 shortcut conv
    crashed the process here at 176 px in torch 2.14's CPU backward)."""
    stem = _encoder(stem_blocks=1).vit.patch_embed.proj
    for w in (64, 96, 100, 176, 224, 333):
        y = stem(torch.rand(2, 1, 64, w))  # (2, D, 8, ceil(w / 8))
        assert y.shape == (2, 32, 8, -(-w // 8))
        y.sum().backward()


def test_what_cannot_be_built_is_refused() -> None:
    with pytest.raises(ValueError, match="patch size >= 4"):
        _encoder(patch_size=2)
    with pytest.raises(ValueError, match="stem_blocks"):
        _encoder(stem_blocks=0)
    with pytest.raises(ValueError, match="conv_stem"):
        _encoder(conv_stem=False)
    with pytest.raises(ValueError, match="unknown stem"):
        _encoder(stem="dense")
