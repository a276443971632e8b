"""Model directories (HF-style, for inference) and atomic training checkpoints (for exact resume).

Model directory:
    config.json         ModelConfig
    model.safetensors   weights (fp32 or fp16)
    tokenizer.json      the LatexTokenizer
    symbols.json        symbol class list (may be empty)
    card.json           optional: name, version, metrics, training data, ...
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seq2latex.config import ModelConfig, from_dict, to_dict

# torch, safetensors' torch API and the model are imported by the functions that need them: the card and
# the file names serve the ONNX runtime (`seq2latex.onnx_runtime`), which runs without torch
if TYPE_CHECKING:
    import torch

    from seq2latex.model import Seq2Latex
    from tokenizer import LatexTokenizer

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
SYMBOLS_FILE = "symbols.json"
CARD_FILE = "card.json"
FORMAT_VERSION = 1


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_json(path: Path, obj: Any) -> None:
    _atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def save_model_dir(
    path: str | Path,
    model: Seq2Latex,
    tokenizer: LatexTokenizer,
    classes: list[str] | None = None,
    card: dict[str, Any] | None = None,
    fp16: bool = False,
) -> Path:
    """Write a loadable model directory (files replaced atomically one by one)."""
    from safetensors.torch import save_file

    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    state = {}
    for k, v in model.state_dict().items():
        t = v.detach().to("cpu")
        if fp16 and t.is_floating_point():
            t = t.half()
        state[k] = t.contiguous()
    # tied weights share storage; safetensors refuses shared tensors, so clone them
    state = {k: v.clone() for k, v in state.items()}
    _write_json(out / CONFIG_FILE, {"format_version": FORMAT_VERSION, "model": to_dict(model.cfg)})
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".model.", suffix=".tmp")
    os.close(fd)
    try:
        save_file(state, tmp, metadata={"format": "pt"})
        os.replace(tmp, out / WEIGHTS_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    tok_tmp = out / f".{TOKENIZER_FILE}.tmp"
    tokenizer.save(tok_tmp)
    os.replace(tok_tmp, out / TOKENIZER_FILE)
    _write_json(out / SYMBOLS_FILE, list(classes or []))
    if card is not None:
        _write_json(out / CARD_FILE, card)
    return out


def load_model_dir(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[Seq2Latex, LatexTokenizer, ModelConfig, list[str]]:
    """Load a model directory -> (model in eval mode, tokenizer, config, symbol classes)."""
    from safetensors.torch import load_file

    from seq2latex.model import Seq2Latex
    from tokenizer import LatexTokenizer

    root = Path(path)
    if not (root / CONFIG_FILE).is_file() or not (root / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"{root} is not a model directory (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    raw = json.loads((root / CONFIG_FILE).read_text())
    cfg = from_dict(ModelConfig, raw["model"])
    model = Seq2Latex(cfg)
    state = load_file(str(root / WEIGHTS_FILE))
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    model.load_state_dict(state)
    model.to(device).eval()
    tokenizer = LatexTokenizer.load(root / TOKENIZER_FILE)
    classes: list[str] = []
    if (root / SYMBOLS_FILE).is_file():
        classes = list(json.loads((root / SYMBOLS_FILE).read_text()))
    return model, tokenizer, cfg, classes


def load_card(path: str | Path) -> dict[str, Any]:
    p = Path(path) / CARD_FILE
    return json.loads(p.read_text()) if p.is_file() else {}


def save_card(path: str | Path, card: dict[str, Any]) -> None:
    """Replace a model directory's card.json atomically (the other files are left as they are)."""
    root = Path(path)
    if not (root / CONFIG_FILE).is_file():
        raise FileNotFoundError(f"{root} is not a model directory (no {CONFIG_FILE})")
    _write_json(root / CARD_FILE, card)


def save_training_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """torch.save to a temp file in the same folder, then os.replace: never a half-written file."""
    import torch

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_training_checkpoint(path: str | Path) -> dict[str, Any]:
    import torch

    return torch.load(Path(path), map_location="cpu", weights_only=False)
