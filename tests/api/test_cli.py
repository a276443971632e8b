"""`seq2latex recognize` / `serve` argument handling and the `solve IMAGE` hook, on the fixture model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.local import recognize_image_latex
from seq2latex.cli import build_parser, main


def test_commands_are_registered() -> None:
    text = build_parser().format_help()
    assert "serve" in text and "recognize" in text


def test_recognize_prints_latex(
    model_dir: Path, images_dir: Path, captions: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    files = [images_dir / "x2_minus_4_photo_exif.jpg", images_dir / "15_div_5.gif"]
    assert main(["recognize", *map(str, files), "--model", str(model_dir)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[1] for line in lines] == [captions["x2_minus_4"], captions["15_div_5"]]


def test_recognize_json_beam_and_errors(
    model_dir: Path,
    images_dir: Path,
    captions: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    args = ["recognize", str(images_dir / "z3_plus_z_scan.bmp"), str(bad), str(tmp_path / "missing.png")]
    assert main([*args, "--model", str(model_dir), "--beam", "3", "--json"]) == 1  # some failed
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert rows[0]["latex"] == captions["z3_plus_z"] and len(rows[0]["alternatives"]) >= 2
    assert "supported format" in rows[1]["error"]
    assert "error" in rows[2]


def test_missing_model_is_a_clear_error(
    tmp_path: Path, images_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-model"
    assert main(["recognize", str(images_dir / "x2_minus_4.png"), "--model", str(missing)]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["serve", "--model", str(missing), "--port", "1"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["recognize", str(images_dir / "x2_minus_4.png"), "--beam", "0"]) == 2


def test_solve_image_hook(
    model_dir: Path, images_dir: Path, captions: dict[str, str], tmp_path: Path
) -> None:
    assert recognize_image_latex(images_dir / "2x_plus_1_photo.webp", model_dir) == captions["2x_plus_1"]
    (tmp_path / "x.png").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        recognize_image_latex(tmp_path / "x.png", model_dir)


def test_solve_image_end_to_end(
    model_dir: Path, images_dir: Path, captions: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    photo = images_dir / "x2_minus_4_photo_exif.jpg"
    assert main(["solve", str(photo), "--model", str(model_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)  # one JSON object: what was read, then the solution
    assert result["recognized"]["latex"] == captions["x2_minus_4"]
    assert sorted(s["x"] for s in result["solutions"]) == ["-2", "2"]
    assert main(["solve", str(images_dir / "missing.png"), "--model", str(model_dir)]) == 2


def test_the_cli_says_how_sure_a_reading_is(
    model_dir: Path, images_dir: Path, captions: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`recognize` (text and --json) and `solve IMAGE` give the confidence and needs_confirmation, with
    the service's default beam and thresholds; SEQ2LATEX_CONFIRM_BELOW moves them as it moves the API's."""
    photo = str(images_dir / "x2_minus_4_photo_exif.jpg")
    assert main(["recognize", photo, "--model", str(model_dir), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["beam"] == 3 and isinstance(row["needs_confirmation"], bool) and 0 < row["confidence"] <= 1
    assert main(["recognize", photo, "--model", str(model_dir)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.split("\t")[2] == f"confidence {row['confidence']:.3f}" + (
        ": needs confirmation, check it" if row["needs_confirmation"] else ""
    )
    assert main(["solve", photo, "--model", str(model_dir)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"{captions['x2_minus_4']}\t" + line.split("\t")[2]


def test_the_cli_flags_a_doubtful_reading(
    model_dir: Path, images_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQ2LATEX_CONFIRM_BELOW", "1")  # every reading is doubtful
    photo = str(images_dir / "x2_minus_4_photo_exif.jpg")
    assert main(["solve", photo, "--model", str(model_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recognized"]["needs_confirmation"] is True
    assert main(["recognize", photo, "--model", str(model_dir), "--beam", "1"]) == 0
    assert capsys.readouterr().out.strip().endswith(": needs confirmation, check it")
