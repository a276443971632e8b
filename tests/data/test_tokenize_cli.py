"""`seq2latex tokenize`, run as a user would (its checks: tokenizer/check.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seq2latex.cli", "tokenize", *args], capture_output=True, text=True, check=False
    )


def test_prints_normal_form() -> None:
    res = _cli("\\frac12 + x^2")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "\\frac { 1 } { 2 } + x ^ { 2 }"


def test_broken_latex_is_a_clear_error() -> None:
    res = _cli("{x")
    assert res.returncode == 1
    assert "missing '}'" in res.stderr


def test_check_caption_file(tmp_path: Path) -> None:
    cap = tmp_path / "caption.txt"
    cap.write_text("a\tx ^ { 2 }\nb\t\\omega + 1\nc\t{ x\n")
    res = _cli("--check", str(tmp_path))
    report = json.loads(res.stdout)
    assert res.returncode == 1
    assert report["expressions"] == 3
    assert report["failures"] == 1 and report["failure_examples"][0]["name"] == "c"
    assert report["unknown"] == {"\\omega": 1}


def test_check_inkml_folder(fixtures_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "ok.inkml").write_text(
        '<ink xmlns="http://www.w3.org/2003/InkML"><annotation type="truth">$x^2$</annotation>'
        '<trace id="0">0 0, 1 1</trace></ink>'
    )
    (tmp_path / "empty.inkml").write_bytes(b"")
    report = json.loads(_cli("--check", str(tmp_path)).stdout)
    assert report["expressions"] == 2
    assert report["failures"] == 1 and report["failure_examples"][0]["name"] == "empty.inkml"
    assert report["unk_tokens"] == 0
