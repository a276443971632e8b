"""Export a model directory's graphs to ONNX: `<model dir>/onnx/{encoder,decoder_step,symbols}.onnx`.

- `encoder.onnx`: images (B, 1, H, W) float32 in [0, 1] (ink = 1), pixel_mask (B, H, W) bool ->
  mem_mask (B, N) bool and the cross-attention keys and values of every decoder layer l, mem_k_l /
  mem_v_l (B, heads, N, head_dim): computed once per image, not at every step. H is the model's
  `img_height`, or any height for a model that keeps the expression's height (`preprocess_max_height`).
- `decoder_step.onnx`: one step of the Transformer decoder with a KV cache: tokens (B,) int64,
  position (1,) int64, mem_mask, mem_k_l / mem_v_l and past_k_l / past_v_l (B, heads, t, head_dim) of
  every layer -> logp (B, V) float32 (log-softmax of the logits, as `seq2latex.decoding` reads them) and
  present_k_l / present_v_l (B, heads, t + 1, head_dim). One tensor per layer (not stacked): no copy of
  the caches inside the graph. The same graph reads both directions of a bidirectional model (the
  direction is only the start token). A model with `cross_coverage` also takes past_cov_l (B, 2 heads,
  N), the attention summed over the steps so far, and returns present_cov_l; if its images vary in
  height, the encoder also returns grid_rows (h,), which both decoder graphs take (the coverage maps'
  grid is h × N / h).
- `decoder_forced.onnx`: the decoder over whole sequences at once (causal, teacher forced): tokens (R, T)
  int64, mem_mask, mem_k_l / mem_v_l -> logp (R, T-1), the log p of tokens[:, 1:] given their prefix: how
  the bidirectional rescoring scores every hypothesis in both directions in one pass (as PyTorch does).
- `symbols.onnx`: symbol crops (N, 1, S, S) -> symbol-head logits (N, C), for the model that answers
  single symbols (the `symbols/` sub-model when one ships, else a model with a symbol head).

The count head is a training-only auxiliary loss: nothing at inference reads it, so it is not exported.

Size: the graphs store no copy of the weights. Each weight is an fp16 initializer whose data is a byte
range of the directory's own `model.safetensors` (ONNX external data), followed by a Cast to float32
(and a Transpose where the exporter folded one into the weight), so the graphs compute in fp32 like the
PyTorch path, on exactly its weights. What no safetensors tensor holds (folded constants such as the
position table) stays inside the graph. `export.json` records the safetensors' SHA-256; the runtime
refuses graphs whose weights file has changed since (export again). ONNX Runtime reads external data
only from inside the folder it is told (`seq2latex.onnx_runtime` loads the graphs from bytes with the
model directory as that folder).
"""

from __future__ import annotations

import hashlib
import json
import struct
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from seq2latex.checkpoint import WEIGHTS_FILE
from seq2latex.config import preprocess_config
from seq2latex.decoders import TransformerDecoder
from seq2latex.encoder import sincos_2d
from seq2latex.model import Seq2Latex
from seq2latex.onnx_files import (
    DECODER_FILE,
    ENCODER_FILE,
    FORCED_FILE,
    GRID_ROWS,
    META_FILE,
    ONNX_DIR,
    SYMBOLS_FILE,
    coverage_names,
    kv_names,
)
from seq2latex.onnx_runtime import open_session

OPSET = 18
MIN_FP16_ELEMENTS = 16  # smaller initializers (shapes, scalars) stay as they are


class EncoderGraph(nn.Module):
    """`ViTEncoder.forward_features` with the mask always applied, then the cross-attention K/V of every
    decoder layer. (The CPU path skips an all-true mask; attending with it gives the same result.)"""

    def __init__(self, model: Seq2Latex) -> None:
        super().__init__()
        self.encoder = model.encoder
        self.decoder = model.decoder
        self.grid_rows = needs_grid_rows(model)

    def features(
        self, images: torch.Tensor, pixel_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        vit = self.encoder.vit
        x = vit.patch_embed(images * 2.0 - 1.0)  # (B, h, w, D)
        b, h, w, d = x.shape
        x = x + sincos_2d(h, w, d, x.device, x.dtype)[None]
        rows = torch.zeros_like(x[0, :, 0, 0], dtype=torch.float32)  # (h,): the token grid's rows
        x = x.reshape(b, h * w, d)  # (B, N, D)
        mask = self.encoder.token_mask(pixel_mask).reshape(b, h * w)  # (B, N)
        first = torch.ones_like(mask[:, :1])  # (B, 1): never a fully masked row
        mask = torch.cat([first, mask[:, 1:]], dim=1)  # (B, N)
        x = vit.norm_pre(x)
        attn_mask = mask[:, None, None, :]  # (B, 1, 1, N) bool, True = attend
        for blk in vit.blocks:
            x = blk(x, attn_mask=attn_mask)
        return vit.norm(x), mask, rows

    def forward(self, images: torch.Tensor, pixel_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        memory, mask, rows = self.features(images, pixel_mask)
        kv = [t for layer in self.decoder.layers for t in layer.cross_attn.project_kv(memory)]
        # mem_mask (B, N), then k, v (B, H, N, dh) of each layer, then (coverage, varying heights) grid_rows
        return (mask, *kv, *([rows] if self.grid_rows else []))


def needs_grid_rows(model: Seq2Latex) -> bool:
    """Whether the decoder graphs need the token grid's height from the encoder (`grid_rows`): a
    coverage decoder of a model whose images vary in height (else the height is fixed)."""
    return model.cfg.decoder.cross_coverage and model.decoder.grid_height <= 0


def _token_grid(
    decoder: TransformerDecoder, mem_mask: torch.Tensor, rows: tuple[torch.Tensor, ...]
) -> tuple[Any, Any] | None:
    """The coverage maps' grid (h, N / h), traced: h is fixed or the length of `grid_rows`, the width
    follows N."""
    if not decoder.cfg.cross_coverage:
        return None
    h = rows[0].shape[0] if rows else decoder.grid_height
    return h, mem_mask.shape[1] // h


class DecoderStepGraph(nn.Module):
    """`TransformerDecoder.step` with the state as tensors: the position is an input, the caches are
    stacked over the layers; with `cross_coverage` the coverage of every layer is one more state tensor."""

    def __init__(self, decoder: TransformerDecoder) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(
        self, tokens: torch.Tensor, position: torch.Tensor, mem_mask: torch.Tensor, *kv: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """kv: mem_k_0, mem_v_0, mem_k_1, ... then past_k_0, past_v_0, past_k_1, ... (B, H, *, dh), then
        (cross_coverage) past_cov_0, past_cov_1, ... (B, 2H, N) and (varying heights) grid_rows (h,)."""
        dec = self.decoder
        n = len(dec.layers)
        mem, past = kv[: 2 * n], kv[2 * n : 4 * n]
        cov = kv[4 * n : 5 * n] if dec.cfg.cross_coverage else ()
        grid = _token_grid(dec, mem_mask, kv[5 * n :])
        pos = dec.pos.index_select(0, position)  # (1, D)
        x = (dec.embed(tokens) * dec.scale + pos)[:, None, :]  # (B, 1, D)
        mask = mem_mask[:, None, None, :]  # (B, 1, 1, N)
        present: list[torch.Tensor] = []
        covered: list[torch.Tensor] = []
        below = None
        for i, layer in enumerate(dec.layers):
            cache = (past[2 * i], past[2 * i + 1])
            coverage = cov[i] if cov else None
            x, (k, v), align = layer(
                x,
                (mem[2 * i], mem[2 * i + 1]),
                mask,
                self_kv=cache,
                below=below,
                coverage=coverage,
                grid=grid,
            )
            present += [k, v]  # (B, H, t + 1, dh)
            if align is not None and coverage is not None:
                covered.append(coverage + align.sources[:, :, 0])  # (B, 2H, N)
                below = align.refined
        logits = dec.head(dec.norm(x[:, 0]))  # (B, V)
        # logp (B, V), present k, v per layer, present_cov per layer
        return (F.log_softmax(logits.float(), dim=-1), *present, *covered)


class DecoderForcedGraph(nn.Module):
    """`TransformerDecoder.forward` on the cross-attention K/V, returning the log p of each next token."""

    def __init__(self, decoder: TransformerDecoder) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, tokens: torch.Tensor, mem_mask: torch.Tensor, *mem: torch.Tensor) -> torch.Tensor:
        """mem: mem_k_0, mem_v_0, mem_k_1, ... (R, H, N, dh), then (coverage, varying heights) grid_rows."""
        dec = self.decoder
        t = tokens.shape[1] - 1
        x = dec.embed(tokens[:, :-1]) * dec.scale + dec.pos[:t]  # (R, T-1, D)
        mask = mem_mask[:, None, None, :]  # (R, 1, 1, N)
        grid, below = _token_grid(dec, mem_mask, mem[2 * len(dec.layers) :]), None
        for i, layer in enumerate(dec.layers):  # causal self-attention
            x, _, align = layer(x, (mem[2 * i], mem[2 * i + 1]), mask, below=below, grid=grid)
            below = None if align is None else align.refined
        logp = F.log_softmax(dec.head(dec.norm(x)).float(), dim=-1)  # (R, T-1, V)
        return logp.gather(-1, tokens[:, 1:, None])[..., 0]  # (R, T-1)


class SymbolGraph(nn.Module):
    """`Seq2Latex.classify_symbols` on unpadded crops (every token is real)."""

    def __init__(self, model: Seq2Latex) -> None:
        super().__init__()
        self.encoder = EncoderGraph(model)
        head = model.symbol_head
        assert head is not None
        self.head = head

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        pixel_mask = torch.ones_like(crops[:, 0], dtype=torch.bool)  # (N, S, S)
        memory, mask, _ = self.encoder.features(crops, pixel_mask)
        return self.head(memory, mask)  # (N, C)


# ----------------------------------------------------------------------------- weights by reference

WeightIndex = dict[tuple[tuple[int, ...], bytes], tuple[int, int]]


def safetensors_index(path: Path) -> WeightIndex:
    """(shape, SHA-256 of the bytes) -> (byte offset, length) of every fp16 tensor of a safetensors file
    (8-byte little-endian header length, JSON header, then the data)."""
    raw = path.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    base = 8 + header_len
    index: WeightIndex = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] != "F16":
            continue
        start, end = meta["data_offsets"]
        key = (tuple(meta["shape"]), hashlib.sha256(raw[base + start : base + end]).digest())
        index.setdefault(key, (base + start, end - start))
    return index


def _key(arr: np.ndarray) -> tuple[tuple[int, ...], bytes]:
    return tuple(arr.shape), hashlib.sha256(np.ascontiguousarray(arr).tobytes()).digest()


def _external(name: str, half: np.ndarray, where: tuple[int, int]) -> TensorProto:
    t = TensorProto()
    t.name = name
    t.data_type = TensorProto.FLOAT16
    t.dims.extend(half.shape)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", WEIGHTS_FILE), ("offset", str(where[0])), ("length", str(where[1]))):
        entry = t.external_data.add()
        entry.key, entry.value = k, v
    return t


def _link_weights(model: onnx.ModelProto, index: WeightIndex) -> dict[str, int]:
    """Replace float32 initializers that are a safetensors tensor (or its transpose) in fp16 by a
    reference to its bytes + Cast (+ Transpose); others that are exact in fp16 are stored as fp16 + Cast.
    Returns counts: linked, transposed, inline_fp16, kept."""
    graph = model.graph
    kept, nodes = [], []
    counts = {"linked": 0, "transposed": 0, "inline_fp16": 0, "kept": 0}
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        half = arr.astype(np.float16) if init.data_type == TensorProto.FLOAT else None
        if half is None or arr.size < MIN_FP16_ELEMENTS or not np.array_equal(half.astype(np.float32), arr):
            kept.append(init)
            counts["kept"] += 1
            continue
        stored = f"{init.name}__fp16"
        if _key(half) in index:
            kept.append(_external(stored, half, index[_key(half)]))
            nodes.append(helper.make_node("Cast", [stored], [init.name], to=TensorProto.FLOAT))
            counts["linked"] += 1
        elif half.ndim == 2 and _key(half.T) in index:  # a weight the exporter transposed
            kept.append(_external(stored, half.T, index[_key(half.T)]))
            nodes.append(helper.make_node("Cast", [stored], [f"{stored}__f32"], to=TensorProto.FLOAT))
            nodes.append(helper.make_node("Transpose", [f"{stored}__f32"], [init.name], perm=[1, 0]))
            counts["transposed"] += 1
        else:
            kept.append(numpy_helper.from_array(half, stored))
            nodes.append(helper.make_node("Cast", [stored], [init.name], to=TensorProto.FLOAT))
            counts["inline_fp16"] += 1
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes += list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return counts


def _torch_export(
    module: nn.Module, args: tuple[torch.Tensor, ...], path: Path, names: dict[str, Any]
) -> None:
    """The TorchScript-based exporter (`dynamo=False`): it keeps the batch, the image width and the cache
    length dynamic through `dynamic_axes`, and needs no onnxscript."""
    torch.onnx.export(
        module.eval(),
        args,
        str(path),
        input_names=names["inputs"],
        output_names=names["outputs"],
        dynamic_axes=names["dynamic"],
        opset_version=OPSET,
        do_constant_folding=True,
        dynamo=False,
    )


def _export(
    module: nn.Module, args: tuple[torch.Tensor, ...], path: Path, names: dict[str, Any], index: WeightIndex
) -> dict[str, int]:
    """Export `module`, check the graph, point its weights at model.safetensors and open it once in
    onnxruntime. Returns the initializer counts of `_link_weights`."""
    with warnings.catch_warnings():  # the legacy exporter's deprecation and tracer notes
        warnings.simplefilter("ignore")
        _torch_export(module, args, path, names)
    graph = onnx.load(str(path))
    onnx.checker.check_model(graph)
    counts = _link_weights(graph, index)
    onnx.save(graph, str(path))
    open_session(path, threads=1, model_dir=path.parent.parent)  # the linked graph opens (reads its weights)
    return counts


def _dummy_images(model: Seq2Latex, batch: int, width: int, tall: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of the model's height (`tall`: twice it, so that no step of the trace fixes the height)."""
    h = model.cfg.encoder.img_height * (2 if tall else 1)
    images = torch.rand(batch, 1, h, width)  # (B, 1, H, W)
    mask = torch.ones(batch, h, width, dtype=torch.bool)  # (B, H, W)
    mask[0, :, width // 2 :] = False
    return images, mask


def _kv_axes(names: list[str], batch: str, length: str) -> dict[str, dict[int, str]]:
    return {n: {0: batch, 2: length} for n in names}  # (B, H, length, dh)


def export_encoder(model: Seq2Latex, path: Path, index: WeightIndex) -> dict[str, int]:
    mem = kv_names("mem", len(model.decoder.layers))
    # symbol-preserving input scale: the height is an axis of its own; else fixed, as before
    tall = preprocess_config(model.cfg).variable_height
    rows = [GRID_ROWS] if needs_grid_rows(model) else []
    names = {
        "inputs": ["images", "pixel_mask"],
        "outputs": ["mem_mask", *mem, *rows],
        "dynamic": {
            "images": {0: "batch", 2: "height", 3: "width"} if tall else {0: "batch", 3: "width"},
            "pixel_mask": {0: "batch", 1: "height", 2: "width"} if tall else {0: "batch", 2: "width"},
            "mem_mask": {0: "batch", 1: "tokens"},
            **_kv_axes(mem, "batch", "tokens"),
            **{name: {0: "grid_rows"} for name in rows},
        },
    }
    return _export(EncoderGraph(model), _dummy_images(model, 2, 128, tall), path, names, index)


def _dummy_kv(dec: TransformerDecoder, rows: int, length: int) -> list[torch.Tensor]:
    a = dec.layers[0].self_attn
    return [torch.randn(rows, a.heads, length, a.head_dim) for _ in range(2 * len(dec.layers))]


def _dummy_grid(model: Seq2Latex) -> tuple[int, list[torch.Tensor]]:
    """Memory tokens of the dummy decoder inputs (whole rows of the token grid: the coverage maps need
    them), and the dummy `grid_rows` where the graphs take it (rows unlike a 64-px image's)."""
    dec = model.decoder
    if not dec.cfg.cross_coverage:
        return 32, []
    if dec.grid_height > 0:
        return 4 * dec.grid_height, []
    rows = 2 * model.cfg.encoder.img_height // model.cfg.encoder.patch_size
    return 4 * rows, [torch.zeros(rows)]


def export_decoder_step(model: Seq2Latex, path: Path, index: WeightIndex) -> dict[str, int]:
    dec = model.decoder
    if not isinstance(dec, TransformerDecoder):
        raise ValueError("ONNX export supports the Transformer decoder only (this model has a GRU decoder)")
    (n, rows), b, t = _dummy_grid(model), 2, 3
    layers = len(dec.layers)
    covered = dec.cfg.cross_coverage
    coverage = [torch.rand(b, 2 * dec.cfg.num_heads, n) for _ in range(layers if covered else 0)]
    tokens = torch.tensor([model.cfg.sos_id, model.cfg.eos_id])
    args = (
        tokens,
        torch.tensor([t]),
        torch.ones(b, n, dtype=torch.bool),
        *_dummy_kv(dec, b, n),
        *_dummy_kv(dec, b, t),
        *coverage,
        *rows,
    )
    mem, past, present = kv_names("mem", layers), kv_names("past", layers), kv_names("present", layers)
    cov_in = coverage_names("past", layers) if covered else []
    cov_out = coverage_names("present", layers) if covered else []
    names = {
        "inputs": ["tokens", "position", "mem_mask", *mem, *past, *cov_in, *([GRID_ROWS] if rows else [])],
        "outputs": ["logp", *present, *cov_out],
        "dynamic": {
            "tokens": {0: "batch"},
            "mem_mask": {0: "batch", 1: "tokens"},
            "logp": {0: "batch"},
            **_kv_axes(mem, "batch", "tokens"),
            **_kv_axes(past, "batch", "past"),
            **_kv_axes(present, "batch", "present"),
            **{name: {0: "batch", 2: "tokens"} for name in cov_in + cov_out},  # (B, 2H, N)
            **({GRID_ROWS: {0: "grid_rows"}} if rows else {}),
        },
    }
    return _export(DecoderStepGraph(dec), args, path, names, index)


def export_decoder_forced(model: Seq2Latex, path: Path, index: WeightIndex) -> dict[str, int]:
    dec = model.decoder
    assert isinstance(dec, TransformerDecoder)
    (n, rows), r, t = _dummy_grid(model), 3, 7
    tokens = torch.randint(3, model.cfg.vocab_size, (r, t))
    tokens[:, 0] = model.cfg.sos_id
    args = (tokens, torch.ones(r, n, dtype=torch.bool), *_dummy_kv(dec, r, n), *rows)
    mem = kv_names("mem", len(dec.layers))
    names = {
        "inputs": ["tokens", "mem_mask", *mem, *([GRID_ROWS] if rows else [])],
        "outputs": ["logp"],
        "dynamic": {
            "tokens": {0: "rows", 1: "length"},
            "mem_mask": {0: "rows", 1: "tokens"},
            "logp": {0: "rows", 1: "steps"},
            **_kv_axes(mem, "rows", "tokens"),
            **({GRID_ROWS: {0: "grid_rows"}} if rows else {}),
        },
    }
    return _export(DecoderForcedGraph(dec), args, path, names, index)


def export_symbols(model: Seq2Latex, path: Path, index: WeightIndex) -> dict[str, int]:
    s = model.cfg.symbol_size
    names = {
        "inputs": ["crops"],
        "outputs": ["logits"],
        "dynamic": {"crops": {0: "batch"}, "logits": {0: "batch"}},
    }
    return _export(SymbolGraph(model), (torch.rand(2, 1, s, s),), path, names, index)


def export_onnx(model_dir: Path, decoder: bool = True, symbols: bool = True) -> dict[str, int]:
    """Write `model_dir/onnx/`: the encoder and decoder step (`decoder`), and `symbols.onnx` when
    `symbols` and the model has a symbol head. Returns {file: size in bytes}."""
    from seq2latex.calibration import weights_sha256
    from seq2latex.checkpoint import load_model_dir

    model, _, _, _ = load_model_dir(model_dir)
    if decoder and not isinstance(model.decoder, TransformerDecoder):
        raise ValueError("ONNX export supports the Transformer decoder only (this model has a GRU decoder)")
    index = safetensors_index(model_dir / WEIGHTS_FILE)
    out = model_dir / ONNX_DIR
    out.mkdir(exist_ok=True)
    weights: dict[str, dict[str, int]] = {}
    with torch.no_grad():
        if decoder:
            weights[ENCODER_FILE] = export_encoder(model, out / ENCODER_FILE, index)
            weights[DECODER_FILE] = export_decoder_step(model, out / DECODER_FILE, index)
            weights[FORCED_FILE] = export_decoder_forced(model, out / FORCED_FILE, index)
        if symbols and model.symbol_head is not None:
            weights[SYMBOLS_FILE] = export_symbols(model, out / SYMBOLS_FILE, index)
    written = {name: (out / name).stat().st_size for name in weights}
    meta = {
        "opset": OPSET,
        "torch": torch.__version__,
        "weights": f"fp16 byte ranges of ../{WEIGHTS_FILE} (ONNX external data), fp32 compute",
        "weights_sha256": weights_sha256(model_dir),
        "files": written,
        "initializers": weights,
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return written


def export_model_tree(root: Path, symbols_subdir: str = "symbols") -> dict[str, dict[str, int]]:
    """A model directory and, when it ships one, its `symbols/` sub-model: the root gets the encoder and
    decoder step, and symbols.onnx only when no sub-model answers for symbols; the sub-model (a symbol
    reader) gets symbols.onnx only, so that no encoder is stored twice."""
    sub = root / symbols_subdir
    has_sub = (sub / "config.json").is_file()
    out = {str(root): export_onnx(root, decoder=True, symbols=not has_sub)}
    if has_sub:
        out[str(sub)] = export_onnx(sub, decoder=False, symbols=True)
    return out
