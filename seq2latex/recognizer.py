"""Recognizer: a loaded model directory mapping images -> LaTeX predictions (pure, thread-safe)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from data.batch import pad_images
from data.symbols import SYMBOL_VIEW_ANGLES, symbol_tensor, symbol_views
from seq2latex import __version__
from seq2latex.calibration import card_temperature
from seq2latex.checkpoint import load_card, load_model_dir
from seq2latex.config import ModelConfig, preprocess_config
from seq2latex.decoding import DEFAULT_LENGTH_PENALTY, decode
from seq2latex.model import Seq2Latex
from tokenizer import LatexTokenizer

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "weights" / "default"
MAX_INFERENCE_BATCH = 16
MAX_SYMBOL_BATCH = 256  # symbol crops per forward pass (64 x 64 each)
MAX_BEAM = 10
DEFAULT_TOP_K = 5
# a model directory inside a model directory: when present, its symbol head answers for single symbols
# (an expression model whose encoder never trained on symbol crops ships beside one that did)
SYMBOLS_SUBDIR = "symbols"

ImageInput = Image.Image | bytes | np.ndarray


def symbol_model_dir(root: Path) -> Path:
    """The model directory whose symbol head reads single symbols: `root/symbols` if it holds a model,
    else `root` itself."""
    sub = root / SYMBOLS_SUBDIR
    return sub if (sub / "config.json").is_file() else root


@dataclass
class Prediction:
    latex: str
    confidence: float
    tokens: list[str]
    token_probs: list[float]
    alternatives: list[tuple[str, float]] = field(default_factory=list)


class Recognizer:
    """Load with `Recognizer.from_pretrained(dir)`; call with a list of images."""

    def __init__(
        self,
        model: Seq2Latex,
        tokenizer: LatexTokenizer,
        config: ModelConfig,
        classes: list[str],
        card: dict[str, Any] | None = None,
        device: str | torch.device = "cpu",
        symbol_temperature: float | None = None,
        symbol_view_angles: Sequence[float] = SYMBOL_VIEW_ANGLES,
        symbols: Recognizer | None = None,
    ) -> None:
        self.model = model.eval()
        self._symbols = symbols
        self.tokenizer = tokenizer
        self.config = config
        self.classes = classes
        self.card: dict[str, Any] = dict(card or {})
        self.device = torch.device(device)
        # test-time views of a symbol: the crop, then turned by each angle (data.symbols.symbol_views)
        self.symbol_view_angles = tuple(float(a) for a in symbol_view_angles)
        # softmax temperature of the symbol head (seq2latex.calibration); default: the card's, else 1
        if symbol_temperature is None:
            symbol_temperature = card_temperature(self.card, views=self.symbol_views_per_image)
        if not symbol_temperature > 0:
            raise ValueError(f"symbol_temperature must be > 0, got {symbol_temperature}")
        self.symbol_temperature = float(symbol_temperature)

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path | None = None,
        device: str | torch.device = "cpu",
        symbol_view_angles: Sequence[float] = SYMBOL_VIEW_ANGLES,
    ) -> Recognizer:
        """Load a model directory (None = the shipped default model); `symbol_view_angles=()` makes
        the symbol classifier read each symbol once, as models before 0.4 did."""
        root = Path(path) if path is not None else DEFAULT_MODEL_DIR
        if not (root / "config.json").is_file():
            where = "the shipped default model" if path is None else "model directory"
            raise FileNotFoundError(f"{where} not found at {root} (expected config.json, model.safetensors)")
        model, tok, cfg, classes = load_model_dir(root, device)
        card = load_card(root)
        card.setdefault("name", root.name)
        card.setdefault("version", __version__)
        # the card's temperature only if fitted on these weights and views (else 1.0, with a warning)
        views = 1 + len(symbol_view_angles)
        sub = symbol_model_dir(root)
        symbols = cls.from_pretrained(sub, device, symbol_view_angles) if sub != root else None
        return cls(
            model,
            tok,
            cfg,
            classes,
            card,
            device,
            symbol_temperature=card_temperature(card, root, views=views),
            symbol_view_angles=symbol_view_angles,
            symbols=symbols,
        )

    @property
    def symbol_reader(self) -> Recognizer:
        """The recognizer whose symbol head classifies single symbols (`/symbol`, `eval-symbols`): this
        one, or the model in the directory's `symbols/` sub-directory when it ships one."""
        return self._symbols if self._symbols is not None else self

    @property
    def symbol_views_per_image(self) -> int:
        return 1 + len(self.symbol_view_angles)

    # ------------------------------------------------------------------ preprocessing

    def preprocess(self, image: ImageInput) -> torch.Tensor:
        """Any supported image -> (1, H, W) float tensor (ink = 1) via `data.preprocess`."""
        from data.preprocess import preprocess

        return preprocess(image, preprocess_config(self.config))

    def symbol_tensor(self, image: ImageInput) -> torch.Tensor:
        """One symbol image -> (1, S, S) tensor, the same path as `data.symbols.SymbolDataset` crops."""
        return symbol_tensor(image, self.config.symbol_size)

    def symbol_views(self, image: ImageInput) -> torch.Tensor:
        """One symbol image -> its test-time views (V, 1, S, S); view 0 is `symbol_tensor(image)`."""
        return symbol_views(image, self.config.symbol_size, self.symbol_view_angles)

    # ------------------------------------------------------------------ inference

    def recognize_tensors(
        self, tensors: list[torch.Tensor], beam: int = 1, rescore: bool = True
    ) -> list[Prediction]:
        """Preprocessed (1, H, W) tensors -> predictions, batched. With beam > 1 a bidirectional
        model rescores its hypotheses with both reading directions unless `rescore` is False."""
        beam = max(1, min(int(beam), MAX_BEAM))
        out: list[Prediction] = []
        with torch.inference_mode():
            for i in range(0, len(tensors), MAX_INFERENCE_BATCH):
                images, mask = pad_images(tensors[i : i + MAX_INFERENCE_BATCH])
                results = decode(
                    self.model,
                    images.to(self.device),
                    mask.to(self.device),
                    beam=beam,
                    length_penalty=DEFAULT_LENGTH_PENALTY,
                    rescore=rescore,
                )
                for r in results:
                    tokens = [self.tokenizer.id_to_token(t) for t in r.token_ids]
                    out.append(
                        Prediction(
                            latex=self.tokenizer.decode(r.token_ids),
                            confidence=float(r.confidence),
                            tokens=tokens,
                            token_probs=[float(p) for p in r.token_probs],
                            alternatives=[
                                (self.tokenizer.decode(ids), float(p)) for ids, p in r.alternatives
                            ],
                        )
                    )
        return out

    def __call__(
        self, images: list[ImageInput] | ImageInput, beam: int = 1, rescore: bool = True
    ) -> list[Prediction]:
        """Image(s) (PIL, encoded bytes or arrays) -> one Prediction each."""
        if not isinstance(images, list):
            images = [images]
        return self.recognize_tensors([self.preprocess(im) for im in images], beam=beam, rescore=rescore)

    def symbol_logits(self, crops: torch.Tensor) -> torch.Tensor:
        """`symbol_tensor` crops (N, 1, S, S) -> raw symbol-head logits (N, C), float32 on the CPU."""
        if self.model.symbol_head is None or not self.classes:
            raise RuntimeError("this model has no symbol classifier")
        out = []
        with torch.inference_mode():
            for i in range(0, crops.shape[0], MAX_SYMBOL_BATCH):
                x = crops[i : i + MAX_SYMBOL_BATCH].to(self.device)
                out.append(self.model.classify_symbols(x).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, len(self.classes))

    def symbol_scores(self, views: torch.Tensor) -> torch.Tensor:
        """Views (N, V, 1, S, S) -> (N, C): the mean over the V views of the head's log-probabilities
        (for V = 1, logits up to a per-row constant, which no softmax sees)."""
        n, v = views.shape[:2]
        flat = views.reshape(n * v, *views.shape[2:])  # (N*V, 1, S, S)
        logp = torch.log_softmax(self.symbol_logits(flat), dim=-1)  # (N*V, C)
        return logp.reshape(n, v, -1).mean(dim=1)  # (N, C)

    def symbol_probabilities(self, views: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        """Views (N, V, 1, S, S) -> softmax(scores / T) (N, C); T = `symbol_temperature` unless given."""
        t = self.symbol_temperature if temperature is None else float(temperature)
        return torch.softmax(self.symbol_scores(views) / t, dim=-1)

    def classify_symbol(
        self, image: ImageInput, k: int = DEFAULT_TOP_K, temperature: float | None = None
    ) -> list[tuple[str, float]]:
        """One handwritten symbol -> top-k (class, calibrated probability) from the symbol head."""
        if self.model.symbol_head is None or not self.classes:
            raise RuntimeError("this model has no symbol classifier")
        probs = self.symbol_probabilities(self.symbol_views(image)[None], temperature)[0]  # (C,)
        top = probs.topk(min(k, probs.numel()))
        return [
            (self.classes[i], float(p))
            for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        ]
