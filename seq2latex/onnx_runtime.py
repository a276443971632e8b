"""The ONNX Runtime backend of the `Recognizer`: the graphs of `seq2latex.onnx_export`, no torch.

`OnnxModel(model_dir)` opens `model_dir/onnx/*.onnx` in onnxruntime sessions (CPU, `threads` intra-op
threads each); `steps(images, mask)` runs the encoder and returns an `OnnxSteps`, the
`seq2latex.decoding.StepDecoder` that the one search (greedy, beam, bidirectional rescoring) drives;
`symbol_logits(crops)` runs `symbols.onnx`. Nothing is written to disk (no optimized-model file).

The graphs read their weights from the directory's `model.safetensors` (ONNX external data, see
`seq2latex.onnx_export`): they are loaded from bytes with the model directory as the folder onnxruntime
may read external data from, after checking that the weights are those they were exported against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seq2latex.checkpoint import CONFIG_FILE, SYMBOLS_FILE, TOKENIZER_FILE
from seq2latex.config import ModelConfig, from_dict
from seq2latex.decoding import Vocabulary, stepwise_teacher_forced
from seq2latex.onnx_files import (
    DECODER_FILE,
    ENCODER_FILE,
    FORCED_FILE,
    GRID_ROWS,
    META_FILE,
    ONNX_DIR,
    coverage_names,
    kv_names,
)
from seq2latex.onnx_files import SYMBOLS_FILE as SYMBOLS_ONNX_FILE

PROVIDERS = ["CPUExecutionProvider"]


def has_onnx(model_dir: Path) -> bool:
    """Whether the directory has exported graphs (`seq2latex export --onnx`)."""
    d = model_dir / ONNX_DIR
    return (d / ENCODER_FILE).is_file() or (d / SYMBOLS_ONNX_FILE).is_file()


def load_meta(model_dir: Path) -> tuple[ModelConfig, Any, list[str]]:
    """(config, tokenizer, symbol classes) of a model directory, read without torch."""
    from tokenizer import LatexTokenizer

    raw = json.loads((model_dir / CONFIG_FILE).read_text())
    cfg = from_dict(ModelConfig, raw["model"])
    tok = LatexTokenizer.load(model_dir / TOKENIZER_FILE)
    classes: list[str] = []
    if (model_dir / SYMBOLS_FILE).is_file():
        classes = list(json.loads((model_dir / SYMBOLS_FILE).read_text()))
    return cfg, tok, classes


def check_weights(model_dir: Path) -> None:
    """Raise unless `model.safetensors` is the file the graphs were exported against (they read byte
    ranges of it: another file would give garbage, not an error)."""
    from seq2latex.calibration import weights_sha256

    meta_path = model_dir / ONNX_DIR / META_FILE
    expected = json.loads(meta_path.read_text()).get("weights_sha256") if meta_path.is_file() else None
    if not expected or weights_sha256(model_dir) != expected:
        raise RuntimeError(
            f"{model_dir}: the ONNX graphs were exported against other weights (or have no {META_FILE}); "
            f"run `seq2latex export --onnx --model {model_dir}` again"
        )


def open_session(path: Path, threads: int, model_dir: Path) -> Any:
    """An onnxruntime session of one graph; `threads` intra-op threads (0: onnxruntime's default)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads > 0:
        opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3  # errors only
    # external data (the weights) is read relative to, and only from within, the model directory
    folder = str(model_dir.resolve())
    opts.add_session_config_entry("session.model_external_initializers_file_folder_path", folder)
    return ort.InferenceSession(path.read_bytes(), sess_options=opts, providers=PROVIDERS)


@dataclass
class OnnxState:
    images: np.ndarray  # (R,) int64: the image each row reads
    mem: list[np.ndarray]  # mem_k_0, mem_v_0, ... (R, H, N, dh) float32: cross-attention K/V per layer
    mem_mask: np.ndarray  # (R, N) bool
    past: list[np.ndarray]  # past_k_0, past_v_0, ... (R, H, t, dh): the self-attention cache per layer
    position: int
    coverage: list[np.ndarray]  # past_cov_0, ... (R, 2H, N) per layer (cross_coverage; else empty)


class OnnxSteps:
    """`StepDecoder` over the encoder outputs of one batch (the cross-attention K/V of every layer)."""

    def __init__(
        self, model: OnnxModel, mem_mask: np.ndarray, mem: list[np.ndarray], grid: dict[str, np.ndarray]
    ) -> None:
        self.model = model
        self.vocab = model.vocab
        self.batch = int(mem_mask.shape[0])
        self.mem_mask, self.mem = mem_mask, mem
        self.grid = grid  # {"grid_rows": (h,)} for the decoder graphs that take it, else empty

    def start(self, rows: np.ndarray) -> OnnxState:
        rows = np.asarray(rows, dtype=np.int64)
        _, heads, _, head_dim = self.mem[0].shape
        empty = np.zeros((len(rows), heads, 0, head_dim), dtype=np.float32)  # (R, H, 0, dh)
        mem = [m[rows] for m in self.mem]  # (R, H, N, dh) each
        n = self.mem_mask.shape[1]
        coverage = [np.zeros((len(rows), 2 * heads, n), dtype=np.float32) for _ in self.model.coverage_names]
        return OnnxState(rows, mem, self.mem_mask[rows], [empty] * len(mem), 0, coverage)

    def step(self, tokens: np.ndarray, state: OnnxState) -> tuple[np.ndarray, OnnxState]:
        if state.position >= self.vocab.max_len:
            raise ValueError(f"sequence longer than max_len={self.vocab.max_len}")
        feeds = {
            "tokens": np.ascontiguousarray(tokens, dtype=np.int64),
            "position": np.array([state.position], dtype=np.int64),
            "mem_mask": state.mem_mask,
            **dict(zip(self.model.mem_names, state.mem, strict=True)),
            **dict(zip(self.model.past_names, state.past, strict=True)),
            **dict(zip(self.model.coverage_names, state.coverage, strict=True)),
            **self.grid,
        }
        logp, *present = self.model.decoder.run(None, feeds)
        past, coverage = present[: len(state.past)], present[len(state.past) :]
        return logp, OnnxState(state.images, state.mem, state.mem_mask, past, state.position + 1, coverage)

    def reorder(self, state: OnnxState, index: np.ndarray) -> OnnxState:
        images = state.images[index]
        if np.array_equal(images, state.images):  # each row still reads its image (a beam's reordering)
            mem, mem_mask = state.mem, state.mem_mask
        else:
            mem, mem_mask = [m[index] for m in state.mem], state.mem_mask[index]
        past, coverage = [p[index] for p in state.past], [c[index] for c in state.coverage]
        return OnnxState(images, mem, mem_mask, past, state.position, coverage)

    def teacher_forced(self, rows: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """One causal pass of `decoder_forced.onnx` (step by step when a directory lacks it)."""
        if self.model.forced is None:
            return stepwise_teacher_forced(self, rows, tokens)
        feeds = {
            "tokens": np.ascontiguousarray(tokens, dtype=np.int64),
            "mem_mask": self.mem_mask[rows],
            **{name: m[rows] for name, m in zip(self.model.mem_names, self.mem, strict=True)},
            **self.grid,
        }
        (logp,) = self.model.forced.run(None, feeds)
        return logp


class OnnxModel:
    """The exported graphs of one model directory, in onnxruntime sessions."""

    def __init__(self, model_dir: Path, config: ModelConfig, threads: int = 0) -> None:
        root = Path(model_dir)
        d = root / ONNX_DIR
        if not has_onnx(root):
            raise FileNotFoundError(
                f"{d} has no ONNX graphs; run `seq2latex export --onnx --model {root}` first"
            )
        check_weights(root)
        self.config = config
        self.vocab = Vocabulary.of(config)
        self.threads = max(0, int(threads))

        def open_graph(name: str) -> Any:
            return open_session(d / name, self.threads, root) if (d / name).is_file() else None

        self.encoder = open_graph(ENCODER_FILE)
        self.decoder = open_graph(DECODER_FILE)
        self.forced = open_graph(FORCED_FILE)
        layers = config.decoder.num_layers
        self.mem_names, self.past_names = kv_names("mem", layers), kv_names("past", layers)
        outputs = set() if self.encoder is None else {o.name for o in self.encoder.get_outputs()}
        self.grid_rows = GRID_ROWS in outputs  # the encoder hands the decoder graphs the grid's rows
        self.coverage_names = coverage_names("past", layers) if config.decoder.cross_coverage else []
        self.symbols = open_graph(SYMBOLS_ONNX_FILE)

    @property
    def can_decode(self) -> bool:
        return self.encoder is not None and self.decoder is not None

    @property
    def has_symbol_head(self) -> bool:
        return self.symbols is not None

    def steps(self, images: np.ndarray, pixel_mask: np.ndarray) -> OnnxSteps:
        """images (B, 1, H, W) float32, pixel_mask (B, H, W) bool -> the decoder started on them."""
        if not self.can_decode:
            raise RuntimeError("this model directory has no exported encoder and decoder (symbols only)")
        feeds = {"images": np.ascontiguousarray(images, dtype=np.float32), "pixel_mask": pixel_mask}
        mem_mask, *mem = self.encoder.run(None, feeds)
        grid = {GRID_ROWS: mem.pop()} if self.grid_rows else {}
        return OnnxSteps(self, mem_mask, mem, grid)

    def symbol_logits(self, crops: np.ndarray) -> np.ndarray:
        """crops (N, 1, S, S) float32 -> symbol-head logits (N, C) float32."""
        if self.symbols is None:
            raise RuntimeError("this model has no symbol classifier")
        (logits,) = self.symbols.run(None, {"crops": np.ascontiguousarray(crops, dtype=np.float32)})
        return logits
