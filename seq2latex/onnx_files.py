"""Where `seq2latex export --onnx` puts a model directory's graphs (shared by the exporter and the runtime,
so that the runtime imports neither torch nor onnx)."""

from __future__ import annotations

ONNX_DIR = "onnx"
ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder_step.onnx"
FORCED_FILE = "decoder_forced.onnx"  # teacher-forced scoring of whole sequences (bidirectional rescoring)
SYMBOLS_FILE = "symbols.onnx"
META_FILE = "export.json"
GRID_ROWS = "grid_rows"  # (h,) zeros from the encoder: the token grid's rows (coverage, varying heights)
