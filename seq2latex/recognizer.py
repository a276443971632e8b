"""Recognizer: a loaded model directory mapping images -> LaTeX predictions (pure, thread-safe).

Two runtimes behind one class: PyTorch (`runtime="torch"`, the default) and ONNX Runtime
(`runtime="onnx"`, or `SEQ2LATEX_RUNTIME=onnx`), which reads the graphs of `seq2latex export --onnx` and
needs neither torch nor timm. Both feed the same search (`seq2latex.decoding.search`).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image

from data.batch import pad_arrays
from data.symbols import SYMBOL_VIEW_ANGLES
from seq2latex import __version__
from seq2latex.calibration import card_temperature
from seq2latex.checkpoint import load_card
from seq2latex.config import ModelConfig, preprocess_config
from seq2latex.confirmation import card_confirm_below
from seq2latex.decoding import DecodeResult, search
from seq2latex.onnx_runtime import OnnxModel, has_onnx, load_meta
from tokenizer import LatexTokenizer

if TYPE_CHECKING:
    import torch

    from seq2latex.model import Seq2Latex

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "weights" / "default"
MAX_INFERENCE_BATCH = 16
MAX_SYMBOL_BATCH = 256  # symbol crops per forward pass (64 x 64 each)
MAX_BEAM = 10
DEFAULT_TOP_K = 5
# a model directory inside a model directory: when present, its symbol head answers for single symbols
# (an expression model whose encoder never trained on symbol crops ships beside one that did)
SYMBOLS_SUBDIR = "symbols"

ImageInput = Image.Image | bytes | np.ndarray
Runtime = Literal["torch", "onnx"]
RUNTIMES: tuple[str, ...] = ("torch", "onnx")
RUNTIME_ENV = "SEQ2LATEX_RUNTIME"


class RuntimeUnavailable(RuntimeError):
    """Neither runtime can read the model here; the message says in one line what to install or set."""


def _installed(*modules: str) -> bool:
    for name in modules:
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


def default_runtime(model_dir: str | Path | None = None) -> Runtime:
    """`SEQ2LATEX_RUNTIME` (torch or onnx) when set; else PyTorch where it is installed, else ONNX Runtime
    where it is installed and the model directory (default: the shipped model) has its graphs (the slim
    install); else `RuntimeUnavailable`, saying what to install or set."""
    value = os.environ.get(RUNTIME_ENV, "").strip().lower()
    if value:
        if value not in RUNTIMES:
            raise ValueError(f"{RUNTIME_ENV} must be one of {', '.join(RUNTIMES)}, not {value!r}")
        return value  # type: ignore[return-value]
    if _installed("torch", "safetensors"):
        return "torch"
    root = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
    if _installed("onnxruntime") and has_onnx(root):
        return "onnx"
    if _installed("onnxruntime"):
        raise RuntimeUnavailable(
            f"PyTorch is not installed and {root} has no ONNX graphs: install PyTorch (pip install -e .) "
            f"or export the graphs on a machine that has it (seq2latex export --onnx --model {root})"
        )
    raise RuntimeUnavailable(
        "neither PyTorch nor ONNX Runtime is installed: pip install -e . (PyTorch), or for the slim "
        "install pip install -r requirements-serve.txt (docs/operators.md)"
    )


def _array(x: Any) -> np.ndarray:
    """A torch tensor (any device) or array-like -> float32 NumPy array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float32)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


class TorchBackend:
    """A `Seq2Latex` on a torch device."""

    runtime: Runtime = "torch"

    def __init__(self, model: Seq2Latex, device: str | torch.device) -> None:
        import torch

        self.model = model.eval()
        self.device = torch.device(device)

    @property
    def has_symbol_head(self) -> bool:
        return self.model.symbol_head is not None

    def decode(self, images: np.ndarray, mask: np.ndarray, beam: int, rescore: bool) -> list[DecodeResult]:
        import torch

        from seq2latex.decoding import decode

        x = torch.from_numpy(images).to(self.device)  # (B, 1, H, W)
        m = torch.from_numpy(mask).to(self.device)  # (B, H, W)
        return decode(self.model, x, m, beam=beam, rescore=rescore)

    def symbol_logits(self, crops: torch.Tensor, num_classes: int) -> torch.Tensor:
        """Crops (N, 1, S, S) -> symbol-head logits (N, C), float32 on the CPU."""
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, crops.shape[0], MAX_SYMBOL_BATCH):
                x = crops[i : i + MAX_SYMBOL_BATCH].to(self.device)  # (n, 1, S, S)
                out.append(self.model.classify_symbols(x).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, num_classes)


class OnnxBackend:
    """The exported graphs in onnxruntime sessions (`seq2latex.onnx_runtime`)."""

    runtime: Runtime = "onnx"

    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        self.device = "cpu"

    @property
    def has_symbol_head(self) -> bool:
        return self.model.has_symbol_head

    def decode(self, images: np.ndarray, mask: np.ndarray, beam: int, rescore: bool) -> list[DecodeResult]:
        steps = self.model.steps(images, mask)
        return search(steps, beam=beam, rescore=rescore)

    def symbol_logits(self, crops: Any, num_classes: int) -> np.ndarray:
        """Crops (N, 1, S, S) -> symbol-head logits (N, C), float32."""
        x = _array(crops)
        out = [
            self.model.symbol_logits(x[i : i + MAX_SYMBOL_BATCH]) for i in range(0, len(x), MAX_SYMBOL_BATCH)
        ]
        return np.concatenate(out) if out else np.zeros((0, num_classes), dtype=np.float32)


def symbol_model_dir(root: Path) -> Path:
    """The model directory whose symbol head reads single symbols: `root/symbols` if it holds a model,
    else `root` itself."""
    sub = root / SYMBOLS_SUBDIR
    return sub if (sub / "config.json").is_file() else root


@dataclass
class Prediction:
    """One reading. `alternatives` are distinct LaTeX, most probable first (the first is `latex`, its
    probability `confidence`); `beam` is the width it was decoded with."""

    latex: str
    confidence: float
    tokens: list[str]
    token_probs: list[float]
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    beam: int = 1


class Recognizer:
    """Load with `Recognizer.from_pretrained(dir)`; call with a list of images.

    `model` is a `Seq2Latex` (the PyTorch runtime) or an `OnnxModel` (ONNX Runtime)."""

    def __init__(
        self,
        model: Seq2Latex | OnnxModel,
        tokenizer: LatexTokenizer,
        config: ModelConfig,
        classes: list[str],
        card: dict[str, Any] | None = None,
        device: str | torch.device = "cpu",
        symbol_temperature: float | None = None,
        symbol_view_angles: Sequence[float] = SYMBOL_VIEW_ANGLES,
        symbols: Recognizer | None = None,
    ) -> None:
        self.backend = OnnxBackend(model) if isinstance(model, OnnxModel) else TorchBackend(model, device)
        self.model = self.backend.model
        self._symbols = symbols
        self.tokenizer = tokenizer
        self.config = config
        self.classes = classes
        self.card: dict[str, Any] = dict(card or {})
        self.device = self.backend.device
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
        runtime: Runtime | None = None,
        threads: int | None = None,
    ) -> Recognizer:
        """Load a model directory (None = the shipped default model); `symbol_view_angles=()` makes
        the symbol classifier read each symbol once, as models before 0.4 did. `runtime`: "torch" or
        "onnx" (default: `SEQ2LATEX_RUNTIME`, else torch); `threads`: intra-op threads of each ONNX
        Runtime session (None: onnxruntime's default; the torch runtime uses torch's global setting)."""
        root = Path(path) if path is not None else DEFAULT_MODEL_DIR
        runtime = runtime or default_runtime(root)
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
        if not (root / "config.json").is_file():
            where = "the shipped default model" if path is None else "model directory"
            raise FileNotFoundError(f"{where} not found at {root} (expected config.json, model.safetensors)")
        model: Seq2Latex | OnnxModel
        if runtime == "onnx":
            cfg, tok, classes = load_meta(root)
            model = OnnxModel(root, cfg, threads=threads or 0)
        else:
            from seq2latex.checkpoint import load_model_dir

            model, tok, cfg, classes = load_model_dir(root, device)
        card = load_card(root)
        card.setdefault("name", root.name)
        card.setdefault("version", __version__)
        # the card's temperature only if fitted on these weights and views (else 1.0, with a warning)
        views = 1 + len(symbol_view_angles)
        sub = symbol_model_dir(root)
        symbols = (
            cls.from_pretrained(sub, device, symbol_view_angles, runtime, threads) if sub != root else None
        )
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
    def runtime(self) -> Runtime:
        return self.backend.runtime

    @property
    def symbol_reader(self) -> Recognizer:
        """The recognizer whose symbol head classifies single symbols (`/symbol`, `eval-symbols`): this
        one, or the model in the directory's `symbols/` sub-directory when it ships one."""
        return self._symbols if self._symbols is not None else self

    @property
    def has_symbol_classifier(self) -> bool:
        """Whether this model can classify single symbols (a symbol head and its class list)."""
        return self.backend.has_symbol_head and bool(self.classes)

    @property
    def symbol_views_per_image(self) -> int:
        return 1 + len(self.symbol_view_angles)

    # ------------------------------------------------------------------ preprocessing
    # The torch runtime returns tensors (as it always has), the ONNX runtime NumPy arrays of the same
    # values (data.preprocess / data.symbols compute both in NumPy).

    def preprocess(self, image: ImageInput, *, info: dict | None = None, line: int | None = None) -> Any:
        """Any supported image -> (1, H, W) float32 (ink = 1) via `data.preprocess`; `info` receives what the
        photo path saw (the sheet, the writing's box, its lines), `line` picks a line of writing (1 = top)."""
        from data.preprocess import preprocess, preprocess_array

        fn = preprocess_array if self.runtime == "onnx" else preprocess
        return fn(image, preprocess_config(self.config), info=info, line=line)

    def symbol_tensor(self, image: ImageInput) -> Any:
        """One symbol image -> (1, S, S), the same path as `data.symbols.SymbolDataset` crops."""
        from data.symbols import symbol_array, symbol_tensor

        fn = symbol_array if self.runtime == "onnx" else symbol_tensor
        return fn(image, self.config.symbol_size)

    def symbol_views(self, image: ImageInput) -> Any:
        """One symbol image -> its test-time views (V, 1, S, S); view 0 is `symbol_tensor(image)`."""
        from data.symbols import symbol_views, symbol_views_array

        fn = symbol_views_array if self.runtime == "onnx" else symbol_views
        return fn(image, self.config.symbol_size, self.symbol_view_angles)

    # ------------------------------------------------------------------ inference

    def recognize_tensors(self, tensors: list[Any], beam: int = 1, rescore: bool = True) -> list[Prediction]:
        """Preprocessed (1, H, W) tensors or arrays -> predictions, batched. With beam > 1 a bidirectional
        model rescores its hypotheses with both reading directions unless `rescore` is False."""
        beam = max(1, min(int(beam), MAX_BEAM))
        out: list[Prediction] = []
        for i in range(0, len(tensors), MAX_INFERENCE_BATCH):
            images, mask = pad_arrays([_array(t) for t in tensors[i : i + MAX_INFERENCE_BATCH]])
            out.extend(self._prediction(r, beam) for r in self.backend.decode(images, mask, beam, rescore))
        return out

    def _prediction(self, r: DecodeResult, beam: int) -> Prediction:
        """A decoder result as the reader sees it: hypotheses whose token sequences differ but read as the
        same LaTeX (the lenient decode repairs a missing brace) are one alternative, at the probability of
        the likeliest; the reading first, then the others by probability. A bidirectional model's rescored
        beam ranks by that probability, so its alternatives are sorted by score with the reading's score
        the confidence; a plain beam ranks per token, so its reading may be a little less probable than
        an alternative (`seq2latex.decoding`)."""
        latex = self.tokenizer.decode(r.token_ids)
        alternatives: dict[str, float] = {latex: float(r.confidence)}
        for ids, p in sorted(r.alternatives, key=lambda a: -a[1]):
            text = self.tokenizer.decode(ids)
            alternatives[text] = max(alternatives.get(text, 0.0), float(p))
        ranked = sorted(alternatives.items(), key=lambda a: (a[0] != latex, -a[1]))  # the reading first
        return Prediction(
            latex=latex,
            confidence=alternatives[latex],
            tokens=[self.tokenizer.id_to_token(t) for t in r.token_ids],
            token_probs=[float(p) for p in r.token_probs],
            alternatives=ranked,
            beam=beam,
        )

    def confirm_below(self, beam: int = 1) -> float:
        """The confidence below which a reading decoded at `beam` is more likely wrong than right (the
        card's fit for that beam width, `seq2latex.confirmation`)."""
        return card_confirm_below(self.card, beam)

    def needs_confirmation(self, prediction: Prediction) -> bool:
        """Whether a reading should be confirmed by its writer before it is trusted."""
        return prediction.confidence < self.confirm_below(prediction.beam)

    def __call__(
        self, images: list[ImageInput] | ImageInput, beam: int = 1, rescore: bool = True
    ) -> list[Prediction]:
        """Image(s) (PIL, encoded bytes or arrays) -> one Prediction each."""
        if not isinstance(images, list):
            images = [images]
        return self.recognize_tensors([self.preprocess(im) for im in images], beam=beam, rescore=rescore)

    def _check_symbols(self) -> None:
        if not self.has_symbol_classifier:
            raise RuntimeError("this model has no symbol classifier")

    def symbol_logits(self, crops: Any) -> Any:
        """`symbol_tensor` crops (N, 1, S, S) -> raw symbol-head logits (N, C), float32 on the CPU (a
        tensor on the torch runtime, an array on ONNX Runtime)."""
        self._check_symbols()
        return self.backend.symbol_logits(crops, len(self.classes))

    def symbol_scores(self, views: Any) -> Any:
        """Views (N, V, 1, S, S) -> (N, C): the mean over the V views of the head's log-probabilities
        (for V = 1, logits up to a per-row constant, which no softmax sees)."""
        n, v = views.shape[:2]
        flat = views.reshape(n * v, *views.shape[2:])  # (N*V, 1, S, S)
        if self.runtime == "onnx":
            logp = _log_softmax(self.symbol_logits(flat))  # (N*V, C)
            return logp.reshape(n, v, -1).mean(axis=1)  # (N, C)
        import torch

        logp_t = torch.log_softmax(self.symbol_logits(flat), dim=-1)  # (N*V, C)
        return logp_t.reshape(n, v, -1).mean(dim=1)  # (N, C)

    def symbol_probabilities(self, views: Any, temperature: float | None = None) -> Any:
        """Views (N, V, 1, S, S) -> softmax(scores / T) (N, C); T = `symbol_temperature` unless given."""
        t = self.symbol_temperature if temperature is None else float(temperature)
        if self.runtime == "onnx":
            return np.exp(_log_softmax(self.symbol_scores(views) / t))
        import torch

        return torch.softmax(self.symbol_scores(views) / t, dim=-1)

    def classify_symbol(
        self, image: ImageInput, k: int = DEFAULT_TOP_K, temperature: float | None = None
    ) -> list[tuple[str, float]]:
        """One handwritten symbol -> top-k (class, calibrated probability) from the symbol head of
        `symbol_reader` (the `symbols/` sub-model where the directory ships one), as `/symbol` answers."""
        if self._symbols is not None:
            return self._symbols.classify_symbol(image, k, temperature)
        self._check_symbols()
        probs = _array(self.symbol_probabilities(self.symbol_views(image)[None], temperature)[0])  # (C,)
        top = np.argsort(-probs, kind="stable")[: min(k, probs.size)]
        return [(self.classes[int(i)], float(probs[i])) for i in top]
