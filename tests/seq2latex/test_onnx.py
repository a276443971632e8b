"""ONNX export and the ONNX Runtime path of the Recognizer: the same tokens as PyTorch.

The shipped model's committed graphs (seq2latex/weights/default/onnx, symbols/onnx) are compared with
the PyTorch runtime on the committed CROHME 2014 fixture images, greedy and beam 3 (with bidirectional
rescoring); a tiny random model is exported afresh and compared on batches of different widths."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from data.batch import pad_arrays
from data.preprocess import preprocess, preprocess_array
from data.symbols import symbol_views, symbol_views_array
from seq2latex.checkpoint import WEIGHTS_FILE, save_model_dir
from seq2latex.decoding import decode, search
from seq2latex.model import Seq2Latex
from seq2latex.onnx_files import DECODER_FILE, ENCODER_FILE, FORCED_FILE, META_FILE, ONNX_DIR, SYMBOLS_FILE
from seq2latex.onnx_runtime import OnnxModel, has_onnx
from seq2latex.recognizer import DEFAULT_MODEL_DIR, RUNTIME_ENV, Recognizer
from tokenizer import LatexTokenizer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SHIPPED_IMAGES = sorted((FIXTURES / "crohme2014_shipped").glob("*.png"))
IMAGES = FIXTURES / "images"
MAX_GRAPH_BYTES = 1 << 20  # the graphs hold no weights (they read model.safetensors)


@pytest.fixture(scope="module")
def runtimes() -> tuple[Recognizer, Recognizer]:
    if not has_onnx(DEFAULT_MODEL_DIR):
        pytest.fail("the shipped model has no onnx/ graphs: run `seq2latex export --onnx --model ...`")
    torch.set_num_threads(1)
    return Recognizer.from_pretrained(runtime="torch"), Recognizer.from_pretrained(runtime="onnx", threads=1)


@pytest.mark.parametrize("beam", [1, 3])
def test_shipped_onnx_reads_the_fixtures_token_for_token(
    runtimes: tuple[Recognizer, Recognizer], beam: int
) -> None:
    pt, ort = runtimes
    assert len(SHIPPED_IMAGES) >= 8
    data = [p.read_bytes() for p in SHIPPED_IMAGES]
    want = pt(data, beam=beam)
    got = ort(data, beam=beam)
    for path, a, b in zip(SHIPPED_IMAGES, want, got, strict=True):
        assert b.tokens == a.tokens, path.name
        assert b.latex == a.latex
        assert b.confidence == pytest.approx(a.confidence, abs=1e-4)
        assert b.token_probs == pytest.approx(a.token_probs, abs=1e-4)
        assert [x for x, _ in b.alternatives] == [x for x, _ in a.alternatives]
    batched = ort(data[:3], beam=beam)  # padded together: the same readings as one at a time
    assert [p.tokens for p in batched] == [p.tokens for p in got[:3]]


def test_shipped_onnx_classifies_symbols_as_torch(runtimes: tuple[Recognizer, Recognizer]) -> None:
    pt, ort = runtimes
    assert ort.symbol_reader is not ort and ort.symbol_reader.has_symbol_classifier
    assert ort.symbol_reader.symbol_temperature == pt.symbol_reader.symbol_temperature
    for path in sorted(IMAGES.glob("*.png")):
        want = pt.symbol_reader.classify_symbol(path.read_bytes())
        got = ort.symbol_reader.classify_symbol(path.read_bytes())
        assert [c for c, _ in got] == [c for c, _ in want]
        assert [p for _, p in got] == pytest.approx([p for _, p in want], abs=1e-4)


def test_shipped_graphs_are_small_and_match_the_weights() -> None:
    files = [DEFAULT_MODEL_DIR / ONNX_DIR / n for n in (ENCODER_FILE, DECODER_FILE, FORCED_FILE)]
    files.append(DEFAULT_MODEL_DIR / "symbols" / ONNX_DIR / SYMBOLS_FILE)
    for f in files:
        assert f.is_file() and f.stat().st_size < MAX_GRAPH_BYTES, f
    OnnxModel(DEFAULT_MODEL_DIR, Recognizer.from_pretrained(runtime="onnx").config)  # sha256 checked


def test_the_preprocessing_without_torch_is_the_same(runtimes: tuple[Recognizer, Recognizer]) -> None:
    pt, _ = runtimes
    for path in sorted(IMAGES.iterdir()):
        if path.suffix not in {".png", ".jpg", ".webp", ".tif", ".gif"}:
            continue
        data = path.read_bytes()
        assert np.array_equal(preprocess_array(data), preprocess(data).numpy()), path.name
        angles = pt.symbol_view_angles
        assert np.array_equal(symbol_views_array(data, 64, angles), symbol_views(data, 64, angles).numpy())


def test_the_runtime_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUNTIME_ENV, "onnx")
    rec = Recognizer.from_pretrained()
    assert rec.runtime == "onnx" and rec.symbol_reader.runtime == "onnx" and rec.model.can_decode
    monkeypatch.setenv(RUNTIME_ENV, "tensorflow")
    with pytest.raises(ValueError, match=RUNTIME_ENV):
        Recognizer.from_pretrained()


# ----------------------------------------------------------------------------- a fresh export


@pytest.fixture
def tiny_model_dir(tmp_path: Path, tiny_model: Callable[..., Seq2Latex]) -> Callable[..., Path]:
    def build(bidirectional: bool = True, kind: str = "transformer", **options: Any) -> Path:
        """options: the tiny model's `stem`, `cross_coverage`; `preprocess_max_height` (> 64: images of
        varying height); `refiner_std`: the coverage refiners' last conv drawn at this scale (strong)."""
        tokenizer = LatexTokenizer.load()
        max_height = options.pop("preprocess_max_height", None)
        refiner_std = options.pop("refiner_std", None)
        model = tiny_model(
            kind, vocab_size=tokenizer.vocab_size, bidirectional=bidirectional, tie_embeddings=True, **options
        )
        if max_height is not None:
            model = Seq2Latex(replace(model.cfg, preprocess_max_height=max_height)).eval()
        if refiner_std is not None:
            torch.manual_seed(5)
            for layer in model.decoder.layers:
                torch.nn.init.normal_(layer.refiner.out.weight, std=refiner_std)
        return save_model_dir(tmp_path / "tiny", model, tokenizer, ["a", "b", "c", "d", "e"], fp16=True)

    return build


def random_images(widths: list[int], seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.random((1, 64, w)) > 0.8).astype(np.float32) for w in widths]


@pytest.mark.parametrize(("beam", "stem"), [(1, "conv"), (3, "conv"), (3, "resnet")])
def test_a_fresh_export_decodes_as_torch(beam: int, stem: str, tiny_model_dir: Callable[..., Path]) -> None:
    from seq2latex.checkpoint import load_model_dir
    from seq2latex.onnx_export import export_onnx

    root = tiny_model_dir(stem=stem)  # "resnet": the residual backbone before the ViT blocks
    written = export_onnx(root)
    assert set(written) == {ENCODER_FILE, DECODER_FILE, FORCED_FILE, SYMBOLS_FILE}
    assert all(n < MAX_GRAPH_BYTES for n in written.values())
    model, _, cfg, _ = load_model_dir(root)
    onnx_model = OnnxModel(root, cfg, threads=1)
    images, mask = pad_arrays(random_images([64, 160, 96, 32]))
    want = decode(model, torch.from_numpy(images), torch.from_numpy(mask), beam=beam, max_len=20)
    got = search(onnx_model.steps(images, mask), beam=beam, max_len=20)
    assert [r.token_ids for r in got] == [r.token_ids for r in want]
    assert [[ids for ids, _ in r.alternatives] for r in got] == [
        [ids for ids, _ in r.alternatives] for r in want
    ]
    for a, b in zip(got, want, strict=True):
        assert a.confidence == pytest.approx(b.confidence, rel=1e-3, abs=1e-6)
    crops = torch.rand(3, 1, 64, 64)
    logits = onnx_model.symbol_logits(crops.numpy())
    with torch.no_grad():
        assert np.allclose(logits, model.classify_symbols(crops).numpy(), atol=1e-4)


def test_graphs_refuse_weights_they_were_not_exported_against(
    tmp_path: Path, tiny_model_dir: Callable[..., Path]
) -> None:
    from seq2latex.onnx_export import export_onnx

    root = tiny_model_dir()
    export_onnx(root)
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    data = bytearray((copy / WEIGHTS_FILE).read_bytes())
    data[-1] ^= 0x01  # the last fp16 value changes (1.0 -> 1.0039)
    (copy / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="export --onnx"):
        Recognizer.from_pretrained(copy, runtime="onnx")


def test_inference_writes_no_files(tmp_path: Path, tiny_model_dir: Callable[..., Path]) -> None:
    from seq2latex.onnx_export import export_onnx

    root = tiny_model_dir()
    export_onnx(root)
    before = sorted((p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    rec = Recognizer.from_pretrained(root, runtime="onnx", threads=1)
    rec(random_images([96])[0][0], beam=2)
    rec.classify_symbol((IMAGES / "2x_plus_1.png").read_bytes())
    assert sorted((p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*")) == before
    assert (root / ONNX_DIR / META_FILE).is_file()


def test_a_gru_decoder_is_not_exported(tiny_model_dir: Callable[..., Path]) -> None:
    from seq2latex.onnx_export import export_onnx

    with pytest.raises(ValueError, match="Transformer"):
        export_onnx(tiny_model_dir(bidirectional=False, kind="gru"))


def assert_reads_as_torch(
    model: Seq2Latex, onnx_model: OnnxModel, images: np.ndarray, mask: np.ndarray, beam: int, tokens: np.ndarray,
    rows: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """The graphs read the batch as PyTorch does: the same tokens and confidences, and the same log p of
    the given `tokens` (read from image `rows`) through the forced graph and step by step. -> torch's."""
    from seq2latex.decoding import TorchSteps, stepwise_teacher_forced

    want = decode(model, torch.from_numpy(images), torch.from_numpy(mask), beam=beam, max_len=20)
    steps = onnx_model.steps(images, mask)
    got = search(steps, beam=beam, max_len=20)
    assert [r.token_ids for r in got] == [r.token_ids for r in want]
    for a, b in zip(got, want, strict=True):
        assert a.confidence == pytest.approx(b.confidence, rel=1e-3, abs=1e-6)
    with torch.inference_mode():
        enc = model.forward_features(torch.from_numpy(images), torch.from_numpy(mask))
        torch_logp = TorchSteps(model, enc).teacher_forced(rows, tokens)
    assert np.allclose(steps.teacher_forced(rows, tokens), torch_logp, atol=2e-3)
    assert np.allclose(stepwise_teacher_forced(steps, rows, tokens), torch_logp, atol=2e-3)
    return torch_logp


@pytest.mark.parametrize("beam", [1, 3])
def test_a_coverage_decoder_decodes_as_torch(beam: int, tiny_model_dir: Callable[..., Path]) -> None:
    """The coverage of every layer travels as decoder state (reordered with the beam); the forced graph
    refines as the teacher-forced decoder does (the bidirectional rescoring of beam 3 reads it)."""
    from seq2latex.checkpoint import load_model_dir
    from seq2latex.decoding import TorchSteps
    from seq2latex.onnx_export import export_onnx

    root = tiny_model_dir(cross_coverage=True, refiner_std=3.0)
    export_onnx(root)
    model, _, cfg, _ = load_model_dir(root)
    onnx_model = OnnxModel(root, cfg, threads=1)
    assert len(onnx_model.coverage_names) == cfg.decoder.num_layers
    images, mask = pad_arrays(random_images([64, 160, 96, 40], seed=2))
    # the log p of 16 given tokens, each image read twice
    rng = np.random.default_rng(beam)
    rows = np.array([0, 1, 2, 3, 3, 2, 1, 0])
    tokens = rng.integers(3, cfg.vocab_size, (len(rows), 17))
    tokens[:, 0] = cfg.sos_id
    torch_logp = assert_reads_as_torch(model, onnx_model, images, mask, beam, tokens, rows)
    with torch.inference_mode():
        for layer in model.decoder.layers:  # the same model without its refinement
            torch.nn.init.zeros_(layer.refiner.out.weight)
        plain = TorchSteps(model, model.forward_features(torch.from_numpy(images), torch.from_numpy(mask)))
        plain_logp = plain.teacher_forced(rows, tokens)
    assert np.abs(plain_logp - torch_logp).max() > 0.02  # the coverage changes it (10x the tolerance)


@pytest.mark.parametrize("coverage", [False, True])
def test_a_model_of_varying_height_decodes_as_torch_at_every_height(
    coverage: bool, tiny_model_dir: Callable[..., Path]
) -> None:
    """Symbol-preserving input (the scale arm): the encoder graph's height is an axis of its own; with
    coverage the encoder hands the decoder graphs the token grid's rows (`grid_rows`)."""
    from seq2latex.checkpoint import load_model_dir
    from seq2latex.onnx_export import export_onnx

    options = {"cross_coverage": True, "refiner_std": 3.0} if coverage else {}
    root = tiny_model_dir(preprocess_max_height=128, **options)
    export_onnx(root)
    model, _, cfg, _ = load_model_dir(root)
    onnx_model = OnnxModel(root, cfg, threads=1)
    assert onnx_model.grid_rows == coverage
    rng = np.random.default_rng(4)
    rows = np.array([0, 1, 2, 2])
    tokens = rng.integers(3, cfg.vocab_size, (len(rows), 13))
    tokens[:, 0] = cfg.sos_id
    for height in (64, 96, 128):
        images, mask = pad_arrays(
            [(rng.random((1, height, w)) > 0.8).astype(np.float32) for w in (64, 160, 96)]
        )
        assert_reads_as_torch(model, onnx_model, images, mask, 3, tokens, rows)


def test_without_the_forced_graph_rescoring_steps_through_the_sequences(
    tiny_model_dir: Callable[..., Path],
) -> None:
    from seq2latex.onnx_export import export_onnx

    root = tiny_model_dir()
    export_onnx(root)
    images, mask = pad_arrays(random_images([64, 128], seed=3))
    with_forced = search(
        OnnxModel(root, Recognizer.from_pretrained(root, runtime="onnx").config).steps(images, mask), 3, 20
    )
    (root / ONNX_DIR / FORCED_FILE).unlink()
    model = OnnxModel(root, Recognizer.from_pretrained(root, runtime="onnx").config)
    assert model.forced is None
    stepwise = search(model.steps(images, mask), 3, 20)
    assert [r.token_ids for r in stepwise] == [r.token_ids for r in with_forced]
    for a, b in zip(stepwise, with_forced, strict=True):
        assert a.confidence == pytest.approx(b.confidence, rel=1e-4)
