"""`seq2latex check FILE|-`: LaTeX lines from a file or stdin, or a photo of the lines; exit 0 when every step
holds, 1 at a wrong step, 2 for input that cannot be checked."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from seq2latex.cli import build_parser, main


def test_a_file_of_lines_is_checked_in_dutch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "working.txt"
    work.write_text("3(x-2)=9\n3x-2=9\n\nx=11/3\n", encoding="utf-8")  # a blank line is skipped
    assert main(["check", str(work), "--lang", "nl"]) == 1
    out = capsys.readouterr().out
    assert "WRONG  3x-2=9" in out and "linkerkant" in out and "eerste foute regel: 2" in out
    assert main(["check", str(work), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["first_wrong_line"] == 1 and [s["verdict"] for s in data["steps"]] == [
        "not_equivalent",
        "equivalent",
    ]


def test_stdin_and_a_chain_that_holds(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("x^2=9\nx=3 \\vee x=-3\n"))
    assert main(["check", "-"]) == 0
    assert "all steps hold" in capsys.readouterr().out


def test_what_cannot_be_checked_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("x=1\n"))
    assert main(["check", "-", "--lang", "nl"]) == 2
    assert "minstens 2 regels" in capsys.readouterr().err
    assert main(["check", str(tmp_path / "missing.txt")]) == 2
    assert "missing.txt" in capsys.readouterr().err


def test_check_is_a_listed_command() -> None:
    assert "check" in build_parser().format_help()


def test_a_photo_of_two_lines_is_read_and_checked(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    from data.inkml import read_inkml
    from data.photo_render import PageConfig, page_photo
    from data.render import render_strokes

    inkml = Path(__file__).resolve().parents[1] / "fixtures" / "crohme" / "inkml"
    names = ["train/expressmatch/70_Frank.inkml", "test2014/RIT_2014_97.inkml"]
    inks = [render_strokes(read_inkml(inkml / name).strokes, 200, 5.0) for name in names]
    photo = page_photo(
        inks, np.random.default_rng([7, 0]), PageConfig(desk="dark", p_pen=0.0, line_gap=(2.0, 2.5))
    )
    path = tmp_path / "working.jpg"
    photo.image.save(path, quality=85)
    assert main(["check", str(path), "--model", str(model_dir), "--json"]) in (0, 1)
    data = json.loads(capsys.readouterr().out)
    assert len(data["lines"]) == 2 and all(line["confidence"] is not None for line in data["lines"])
    assert len(data["steps"]) == 1
