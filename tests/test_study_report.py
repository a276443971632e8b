"""scripts/study_report.py: the recipe study's table and plot from arms' log.csv and eval JSONs."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ["step", "loss", "cpu_min", "val", "val_raw", "val_le1", "val_le2", "val_loss"]


def _arm(root: Path, name: str, rows: list[dict[str, str]], exprate: float | None) -> Path:
    arm = root / name
    arm.mkdir()
    with (arm / "log.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, FIELDS)
        w.writeheader()
        w.writerows(rows)
    if exprate is not None:
        band = {b: {"exprate": exprate / 2} for b in ("<10", "10-19", "20+")}
        for split in ("2014", "val"):
            ev = {"exprate": exprate, "le1": exprate + 1, "le2": exprate + 2, "by_length": band}
            (arm / f"eval_{split}_raw.json").write_text(json.dumps(ev))
    return arm


def test_table_and_plot(tmp_path: Path) -> None:
    def val(step: int, minute: float, raw: float) -> dict[str, str]:
        return {"step": str(step), "loss": "1.0", "cpu_min": str(minute), "val": str(raw + 1),
                "val_raw": str(raw), "val_le1": "20", "val_le2": "30", "val_loss": "0.9"}  # fmt: skip

    a = _arm(tmp_path, "alpha", [val(10, 15.0, 1.5), {"step": "11", "loss": "1", "cpu_min": "15.1"},
                                 val(20, 30.0, 4.25)], 7.5)  # fmt: skip
    b = _arm(tmp_path, "beta", [val(9, 15.2, 0.5)], None)
    png = tmp_path / "curves.png"
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "study_report.py"),
            str(a),
            str(b),
            "--png",
            str(png),
            "--minutes",
            "15",
            "30",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [ln for ln in out.splitlines() if ln.startswith("| ")]
    alpha = next(ln for ln in lines if ln.startswith("| alpha"))
    beta = next(ln for ln in lines if ln.startswith("| beta"))
    cells = [c.strip() for c in alpha.strip("|").split("|")]
    assert cells[:4] == ["alpha", "20", "1.50", "4.25"]  # steps, raw ExpRate @15, @30
    assert "7.50 / 8.50 / 9.50" in alpha  # the final model on val
    assert "7.50 / –" in alpha and "3.75 / –" in alpha  # 2014 raw / EMA, 20+ band
    assert [c.strip() for c in beta.strip("|").split("|")][2:4] == ["0.50", "–"]  # no 30-minute row
    with Image.open(png) as im:
        assert im.size[0] > 500 and im.getcolors(1 << 20) and len(im.getcolors(1 << 20)) > 3
