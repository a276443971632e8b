"""The slim serving install: with `SEQ2LATEX_RUNTIME=onnx` the service starts and answers without torch.

The app runs in a subprocess whose `sys.meta_path` makes `import torch` (and timm, transformers,
torchvision) raise ImportError, as in a venv installed from requirements-serve.txt; its answers are
compared with the PyTorch runtime's in this process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from seq2latex.onnx_runtime import has_onnx
from seq2latex.recognizer import DEFAULT_MODEL_DIR, Recognizer

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "tests" / "fixtures" / "images"
BLOCKED = ("torch", "timm", "transformers", "torchvision")

SCRIPT = r"""
import base64, json, sys

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed (blocked by the test)")
        return None

sys.meta_path.insert(0, NoTorch())
from fastapi.testclient import TestClient
from api.app import create_app
from api.settings import Settings

image = base64.b64encode(open(sys.argv[1], "rb").read()).decode()
symbol = open(sys.argv[2], "rb").read()
out = {}
with TestClient(create_app(Settings(warmup=False, torch_threads=1))) as client:
    r = client.post("/recognize", json={"image": image, "beam": 3})
    out["recognize"] = [r.status_code, r.json()]
    r = client.post("/solve", json={"image": image, "beam": 1})
    out["solve"] = [r.status_code, r.json()]
    r = client.post("/solve", json={"latex": "x^2=1"})
    out["solve_latex"] = [r.status_code, r.json()]
    r = client.post("/symbol", files={"file": ("s.png", symbol, "image/png")})
    out["symbol"] = [r.status_code, r.json()]
    r = client.get("/")
    out["demo"] = [r.status_code, "<html" in r.text.lower()]
    out["runtime"] = client.app.state.recognizer.runtime
out["torch_loaded"] = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print("RESULT " + json.dumps(out))
""".replace("BLOCKED", repr(BLOCKED))


def _symbol_image(tmp_path: Path) -> Path:
    from PIL import Image, ImageDraw

    im = Image.new("L", (64, 64), 255)
    ImageDraw.Draw(im).line([(12, 12), (52, 52)], fill=0, width=4)
    ImageDraw.Draw(im).line([(52, 12), (12, 52)], fill=0, width=4)
    path = tmp_path / "x.png"
    im.save(path)
    return path


def test_the_service_answers_without_torch(tmp_path: Path) -> None:
    """No secret needed: without torch and without SEQ2LATEX_RUNTIME the shipped graphs are used."""
    assert has_onnx(DEFAULT_MODEL_DIR), "the shipped model has no onnx/ graphs (seq2latex export --onnx)"
    image = IMAGES / "2x_plus_1.png"
    symbol = _symbol_image(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "SEQ2LATEX_RUNTIME"} | {"PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(image), str(symbol)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert proc.returncode == 0 and line, proc.stderr[-3000:]
    out = json.loads(line[-1][len("RESULT ") :])
    assert out["torch_loaded"] == []
    assert out["runtime"] == "onnx"

    torch_rec = Recognizer.from_pretrained(runtime="torch")
    data = image.read_bytes()
    status, body = out["recognize"]
    assert status == 200, body
    expected = torch_rec(data, beam=3)[0]
    assert body["latex"] == expected.latex
    assert [t["token"] for t in body["tokens"]] == expected.tokens
    assert body["confidence"] == pytest.approx(expected.confidence, abs=1e-4)

    status, body = out["solve"]
    assert status == 200, body
    assert body["latex"] == torch_rec(data, beam=1)[0].latex
    status, body = out["solve_latex"]
    assert status == 200 and body["solution"], body

    status, body = out["symbol"]
    assert status == 200, body
    want = torch_rec.symbol_reader.classify_symbol(symbol.read_bytes())
    got = [(p["label"], p["probability"]) for p in body["predictions"]]
    assert [label for label, _ in got] == [label for label, _ in want]
    assert [p for _, p in got] == pytest.approx([p for _, p in want], abs=1e-4)

    assert out["demo"] == [200, True]


CLI = r"""
import sys

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed (blocked by the test)")
        return None

sys.meta_path.insert(0, NoTorch())
from seq2latex.cli import main
sys.exit(main(sys.argv[1:]))
""".replace("BLOCKED", repr(BLOCKED + ("safetensors",)))


def _cli_without_torch(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SEQ2LATEX_RUNTIME"} | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_cli_reads_without_torch_or_says_in_one_line_what_is_missing(tmp_path: Path) -> None:
    photo = str(IMAGES / "2x_plus_1.png")
    proc = _cli_without_torch("recognize", photo, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (
        json.loads(proc.stdout)["latex"]
        == Recognizer.from_pretrained(runtime="torch")(Path(photo).read_bytes(), beam=3)[0].latex
    )
    # a model directory without graphs: no traceback, one line that says what to install or export
    bare = tmp_path / "bare"
    shutil.copytree(DEFAULT_MODEL_DIR, bare, ignore=shutil.ignore_patterns("onnx", "symbols"))
    for command in (["recognize", photo], ["solve", photo], ["serve", "--port", "1"]):
        proc = _cli_without_torch(*command, "--model", str(bare))
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "PyTorch is not installed" in lines[0] and "seq2latex export --onnx" in lines[0]
