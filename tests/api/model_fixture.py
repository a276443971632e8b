"""A tiny model directory for the service tests, trained for a few seconds to memorise the fixture images.

Built with the model library's own code (`Seq2Latex.compute_losses`, `save_model_dir`), so the service
is tested against a real model directory. Also runnable by hand (for the load benchmark):

    python tests/api/model_fixture.py /tmp/fixture-model
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from PIL import Image, ImageOps

from data.batch import pad_images
from data.preprocess import PreprocessConfig, preprocess
from seq2latex.checkpoint import save_model_dir
from seq2latex.config import DecoderConfig, EncoderConfig, ModelConfig
from seq2latex.decoding import greedy_decode
from seq2latex.model import Seq2Latex
from tokenizer import LatexTokenizer

IMAGES = Path(__file__).resolve().parents[1] / "fixtures" / "images"
# training images -> caption stem. The EXIF photo is learnt upright (its Orientation tag applied here),
# so the service reads it right only if it applies the tag too.
TRAIN_FILES = {
    "x2_minus_4_photo_exif.jpg": "x2_minus_4",
    "x2_minus_4.png": "x2_minus_4",
    "2x_plus_1.png": "2x_plus_1",
    "z3_plus_z.png": "z3_plus_z",
    "15_div_5.png": "15_div_5",
    "2x_plus_1_photo.webp": "2x_plus_1",
    "2x_plus_1_scan.tif": "2x_plus_1",
    "z3_plus_z_scan.bmp": "z3_plus_z",
    "15_div_5.gif": "15_div_5",
}
SYMBOL_CLASSES = ["x", "z", "2", "3", "4", "5", "+", "-", "=", "\\div"]
MAX_STEPS = 600
CHECK_BELOW_LOSS = 0.05  # from this loss on, check every CHECK_EVERY steps whether all images are read right
CHECK_EVERY = 10
SEED = 0


def captions() -> dict[str, str]:
    return json.loads((IMAGES / "captions.json").read_text())


def tiny_config(vocab_size: int, pad_id: int, sos_id: int, eos_id: int) -> ModelConfig:
    return ModelConfig(
        encoder=EncoderConfig(embed_dim=64, depth=1, num_heads=2, stem_channels=8, mlp_ratio=2.0),
        decoder=DecoderConfig(
            kind="transformer", d_model=64, num_layers=1, num_heads=2, ff_dim=128, dropout=0.0
        ),
        vocab_size=vocab_size,
        num_symbol_classes=len(SYMBOL_CLASSES),
        pad_id=pad_id,
        sos_id=sos_id,
        eos_id=eos_id,
    )


def build_fixture_model(out: Path, max_steps: int = MAX_STEPS) -> dict[str, float]:
    """Train the tiny model on the fixture images until greedy decoding reproduces every caption."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic and fast enough; restored afterwards
    try:
        return _build(out, max_steps)
    finally:
        torch.set_num_threads(threads)


def _build(out: Path, max_steps: int) -> dict[str, float]:
    torch.manual_seed(SEED)
    tok = LatexTokenizer.load()
    cfg = tiny_config(tok.vocab_size, tok.pad_id, tok.sos_id, tok.eos_id)
    model = Seq2Latex(cfg)
    caps = captions()
    pcfg = PreprocessConfig(height=cfg.preprocess_height, max_width=cfg.preprocess_max_width)
    tensors = [preprocess(ImageOps.exif_transpose(Image.open(IMAGES / f)), pcfg) for f in TRAIN_FILES]
    images, mask = pad_images(tensors)  # (B, 1, H, W), (B, H, W)
    ids = [tok.encode(caps[stem]) for stem in TRAIN_FILES.values()]
    targets = torch.full((len(ids), max(len(x) for x in ids)), tok.pad_id, dtype=torch.long)  # (B, T)
    for i, x in enumerate(ids):
        targets[i, : len(x)] = torch.tensor(x)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    start = time.perf_counter()
    model.train()
    loss = float("inf")
    step = 0
    learnt = False
    for step in range(1, max_steps + 1):  # noqa: B007
        losses = model.compute_losses(images, targets, mask)
        opt.zero_grad()
        losses.loss.backward()
        opt.step()
        loss = float(losses.loss.detach())
        if loss < CHECK_BELOW_LOSS and step % CHECK_EVERY == 0:
            model.eval()
            decoded = greedy_decode(model, images, mask)
            learnt = all(
                tok.decode(r.token_ids) == caps[stem]
                for r, stem in zip(decoded, TRAIN_FILES.values(), strict=True)
            )
            model.train()
            if learnt:
                break
    model.eval()
    card = {
        "name": "fixture-tiny",
        "version": "0.0.1",
        "training_data": "4 CROHME images in tests/fixtures/images (memorised; a test model only)",
        "metrics": {"train_loss": round(loss, 4), "steps": step},
    }
    save_model_dir(out, model, tok, classes=SYMBOL_CLASSES, card=card)
    return {
        "loss": loss,
        "steps": float(step),
        "learnt": float(learnt),
        "seconds": time.perf_counter() - start,
    }


if __name__ == "__main__":
    torch.set_num_threads(1)
    print(json.dumps(build_fixture_model(Path(sys.argv[1]))))
