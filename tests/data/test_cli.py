"""`seq2latex data stats|preview|bench` through the real CLI entry point."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from seq2latex.cli import main


def test_stats_json(fixtures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "stats", str(fixtures_dir / "crohme"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["sources"]
    by = {s["name"]: s for s in out["sources"]}
    assert by["inkml/train"]["skipped"] == [{"file": "MfrDB/MfrDB3088.inkml", "reason": "empty file"}]
    assert by["inkml/test2014"]["expressions"] == 4 and by["offline/2014"]["kind"] == "offline"


def test_stats_on_zip_and_single_source(fixtures_dir: Path, tmp_path: Path, capsys) -> None:
    split = fixtures_dir / "crohme" / "offline" / "2014"
    archive = tmp_path / "split.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(split.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(split).as_posix())
    assert main(["data", "stats", str(archive), "--json"]) == 0
    (src,) = json.loads(capsys.readouterr().out)["sources"]
    assert src["name"] == "." and src["kind"] == "offline" and src["expressions"] == 4
    assert main(["data", "stats", str(fixtures_dir / "crohme" / "inkml" / "test2014")]) == 0
    assert "inkml" in capsys.readouterr().out
    assert main(["data", "stats", str(tmp_path / "missing")]) == 2


def test_preview_writes_grid(fixtures_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "grid.png"
    assert (
        main(["data", "preview", str(fixtures_dir / "crohme"), "--out", str(out), "--augment", "--n", "4"])
        == 0
    )
    with Image.open(out) as im:
        assert im.width >= 600 and im.height > 200
    assert "4 samples" in capsys.readouterr().out


def test_bench_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "bench", "--json", "--n", "40"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["samples_per_s"] and out["samples_per_s"] > 20


@pytest.mark.slow
def test_bench_reaches_200_per_second(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "bench", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples_per_s"] >= 200
