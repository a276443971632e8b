"""Fixtures of the seq2latex tests: a tiny random model."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from seq2latex.config import DecoderConfig, EncoderConfig, ModelConfig
from seq2latex.model import Seq2Latex


def build_tiny_model(
    kind: str = "transformer",
    seed: int = 0,
    *,
    vocab_size: int = 24,
    bidirectional: bool = False,
    tie_embeddings: bool = False,
    stem: str = "conv",
    cross_coverage: bool = False,
) -> Seq2Latex:
    """A tiny random model in eval mode, with 5 symbol classes. `stem` "resnet" and `cross_coverage`
    build the two options of the recipe study (the refinement's last conv then random, not zero)."""
    torch.manual_seed(seed)
    cfg = ModelConfig(
        encoder=EncoderConfig(embed_dim=32, depth=1, num_heads=2, stem_channels=8, stem=stem, stem_blocks=1),
        decoder=DecoderConfig(
            kind=kind,
            d_model=32,
            num_layers=2,
            num_heads=2,
            ff_dim=64,
            hidden_size=32,
            attn_dim=16,
            dropout=0.0,
            max_len=40,
            tie_embeddings=tie_embeddings,
            cross_coverage=cross_coverage,
            coverage_dim=8,
        ),
        vocab_size=vocab_size,
        num_symbol_classes=5,
        bidirectional=bidirectional,
    )
    model = Seq2Latex(cfg).eval()
    with torch.no_grad():  # sharpen the random model so decoding paths differ and end
        model.decoder.head.weight.mul_(4.0)
        for layer in getattr(model.decoder, "layers", []):
            if layer.refiner is not None:  # a refinement that changes the attention
                torch.nn.init.normal_(layer.refiner.out.weight, std=0.5)
    return model


@pytest.fixture(scope="session")
def tiny_model() -> Callable[..., Seq2Latex]:
    """`build_tiny_model` for the test modules (tests/ is not a package)."""
    return build_tiny_model
