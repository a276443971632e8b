"""`seq2latex solve`: typed LaTeX, the case-table bench, and the errors a user sees (photos: test_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seq2latex.cli import main
from seq2latex.solver import shutdown, warm_up
from seq2latex.solver.cases import load_cases

CASES = load_cases()


@pytest.fixture(scope="module", autouse=True)
def _workers():
    warm_up()
    yield
    shutdown()


def test_cli_solve(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "--latex", "x^2=1"]) == 0
    out = capsys.readouterr().out
    assert "x = -1 \\vee x = 1" in out and "Two real solutions" in out
    assert main(["solve", "--latex", "x^2=1", "--json", "--lang", "nl"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["message"] == "Twee reële oplossingen"
    assert main(["solve", "--latex", ""]) == 1
    assert main(["solve", "no-such-photo.png"]) == 2
    assert "no-such-photo.png" in capsys.readouterr().err


def test_cli_bench(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = tmp_path / "cases.json"
    table.write_text(
        json.dumps(CASES[:5] + [{"latex": "x = 1", "kind": "equation", "solutions": [{"x": "2"}]}])
    )
    assert main(["solve", "--bench", "--cases", str(table)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cases"] == 6 and data["passed"] == 5 and data["failed"] == ["x = 1"]
    assert 0 < data["median_ms"] <= data["p99_ms"]


def test_cli_solve_takes_latex_as_the_argument(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "x^2=1"]) == 0
    assert "x = -1 \\vee x = 1" in capsys.readouterr().out
    assert main(["solve", "\\frac{x}{2}=3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["solutions"] == [{"x": "6"}]
    assert main(["solve", "photo.jpg"]) == 2  # a missing photo stays a missing file
    assert "photo.jpg" in capsys.readouterr().err


def test_cli_solve_without_input_names_every_form(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve"]) == 2
    err = capsys.readouterr().err
    assert "IMAGE" in err and "--latex" in err and "--bench" in err


def test_typed_latex_loads_neither_torch_nor_the_model() -> None:
    """`seq2latex solve 'x^2=1'` once took 4-5 s: every sub-command's module, torch and all, was imported."""
    import subprocess
    import sys

    code = (
        "import sys; from seq2latex.cli import main; rc = main(['solve', 'x^2=1']); "
        "print(rc, 'torch' in sys.modules, 'seq2latex.recognizer' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.splitlines()[-1] == "0 False False", out.stdout + out.stderr
    assert "x = -1 \\vee x = 1" in out.stdout


def test_cli_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "3x + 2 = x - 4", "--steps"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ["x = -3", "One real solution"]
    assert lines[2].startswith("3x + 2 = x - 4") and lines[-1] == "x = -3    Divide both sides by 2"
    assert main(["solve", "--latex", "x=\\frac{1}{4}", "--steps", "--lang", "nl"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("Al opgelost")
    assert main(["solve", "--latex", "x^2-5x+6=0", "--steps", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"][-1]["latex"] == "x = 2 \\vee x = 3"
