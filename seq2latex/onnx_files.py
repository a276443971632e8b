"""Where `seq2latex export --onnx` puts a model directory's graphs, and the names of their state tensors
(shared by the exporter and the runtime, so that the runtime imports neither torch nor onnx)."""

from __future__ import annotations

ONNX_DIR = "onnx"
ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder_step.onnx"
FORCED_FILE = "decoder_forced.onnx"  # teacher-forced scoring of whole sequences (bidirectional rescoring)
SYMBOLS_FILE = "symbols.onnx"
META_FILE = "export.json"
GRID_ROWS = "grid_rows"  # (h,) zeros from the encoder: the token grid's rows (coverage, varying heights)


def kv_names(prefix: str, layers: int) -> list[str]:
    """`{prefix}_k_0`, `{prefix}_v_0`, `{prefix}_k_1`, ...: one key and one value tensor per layer."""
    return [f"{prefix}_{kind}_{i}" for i in range(layers) for kind in ("k", "v")]


def coverage_names(prefix: str, layers: int) -> list[str]:
    """`{prefix}_cov_0`, `{prefix}_cov_1`, ...: the coverage (B, 2H, N) of each layer (cross_coverage)."""
    return [f"{prefix}_cov_{i}" for i in range(layers)]
