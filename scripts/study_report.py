"""Tables and one plot of the recipe study's arms (docs/recipe-study.md):

    python scripts/study_report.py runs/study/baseline runs/study/bidir ... --png docs/recipe-study.png

Reads each arm's log.csv (validation rows: val = ExpRate of the EMA weights, val_raw = of the raw
weights, val_le1/le2/loss of the EMA weights, all on crohme_val) and, when present, eval JSONs beside
the arm (ARM/eval_2014_raw.json, ARM/eval_2014_ema.json and ARM/eval_val_raw.json, the raw model on
crohme_val, from `seq2latex eval`). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
PANELS = (("val_raw", "val ExpRate % (raw weights)"), ("val", "val ExpRate % (EMA weights)"),
          ("val_le2", "val <=2 % (EMA)"), ("val_loss", "val loss (EMA, teacher forced)"))  # fmt: skip


def validation_rows(arm: Path) -> list[dict[str, float]]:
    with (arm / "log.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r.get("val")]
    keys = ("step", "cpu_min", "val", "val_raw", "val_le1", "val_le2", "val_loss")
    return [{k: float(r[k]) for k in keys if r.get(k) not in (None, "")} for r in rows]


def at_minute(rows: list[dict[str, float]], minute: float, key: str) -> float | None:
    """The value of `key` at the validation at `minute` CPU-minutes (+- 0.5); None when the arm has not
    been validated there (not run that far yet, or validated on another grid)."""
    best = None
    for r in rows:
        if abs(r["cpu_min"] - minute) <= 0.5 and key in r:
            best = r[key]
    return best


def plot(arms: dict[str, list[dict[str, float]]], png: Path) -> None:
    pw, ph, m = 520, 300, 44
    img = Image.new("RGB", (2 * pw, 2 * ph + 30), "white")
    d = ImageDraw.Draw(img)
    for k, (key, title) in enumerate(PANELS):
        ox, oy = (k % 2) * pw, (k // 2) * ph
        x0, y0, x1, y1 = ox + m, oy + 22, ox + pw - 12, oy + ph - m
        d.rectangle([x0, y0, x1, y1], outline="black")
        d.text((x0, oy + 6), title, fill="black")
        pts = [(r["cpu_min"], r[key]) for rows in arms.values() for r in rows if key in r]
        if not pts:
            continue
        xmax = max(p[0] for p in pts) or 1.0
        ymin, ymax = min(p[1] for p in pts), max(p[1] for p in pts)
        if ymax - ymin < 1e-9:
            ymax = ymin + 1.0
        for c, rows in enumerate(arms.values()):
            line = [(x0 + r["cpu_min"] / xmax * (x1 - x0), y1 - (r[key] - ymin) / (ymax - ymin) * (y1 - y0))
                    for r in rows if key in r]  # fmt: skip
            colour = COLOURS[c % len(COLOURS)]
            if len(line) > 1:
                d.line(line, fill=colour, width=2)
            for px, py in line:
                d.ellipse([px - 2, py - 2, px + 2, py + 2], fill=colour)
        d.text((ox + 2, y0), f"{ymax:.3g}", fill="black")
        d.text((ox + 2, y1 - 10), f"{ymin:.3g}", fill="black")
        d.text((x0, y1 + 4), "0", fill="black")
        d.text((x1 - 90, y1 + 4), f"{xmax:.0f} CPU-min", fill="black")
    x = 10
    for c, name in enumerate(arms):
        d.rectangle([x, 2 * ph + 10, x + 14, 2 * ph + 22], fill=COLOURS[c % len(COLOURS)])
        d.text((x + 18, 2 * ph + 10), name, fill="black")
        x += 30 + 8 * len(name)
    png.parent.mkdir(parents=True, exist_ok=True)
    img.save(png)


def _fmt(v: float | None, nd: int = 2) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def _eval(arm: Path, which: str, split: str = "2014") -> dict | None:
    p = arm / f"eval_{split}_{which}.json"
    return json.loads(p.read_text()) if p.is_file() else None


def table(arms: dict[str, Path], minutes: list[float]) -> str:
    head = ["arm", "steps", *[f"raw ExpRate @{m:g}" for m in minutes], "EMA ExpRate (last)", "≤1 / ≤2 (EMA, last)",
            "val loss (last)", "final model on val: ExpRate / ≤1 / ≤2 (raw)", "2014 ExpRate raw / EMA",
            "2014 20+ tokens raw / EMA"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, arm in arms.items():
        rows = validation_rows(arm)
        last = rows[-1] if rows else {}
        raw, ema, val = _eval(arm, "raw"), _eval(arm, "ema"), _eval(arm, "raw", "val")

        def e(r: dict | None, band: str | None = None) -> str:
            if r is None:
                return "–"
            return _fmt(r["by_length"][band]["exprate"] if band else r["exprate"])

        cells = [name, f"{int(last.get('step', 0))}", *[_fmt(at_minute(rows, m, "val_raw")) for m in minutes],
                 _fmt(last.get("val")), f"{_fmt(last.get('val_le1'))} / {_fmt(last.get('val_le2'))}",
                 _fmt(last.get("val_loss"), 3),
                 "–" if val is None else " / ".join(_fmt(val[k]) for k in ("exprate", "le1", "le2")),
                 f"{e(raw)} / {e(ema)}", f"{e(raw, '20+')} / {e(ema, '20+')}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("arms", nargs="+", type=Path)
    p.add_argument("--png", type=Path, default=None)
    p.add_argument("--minutes", type=float, nargs="+", default=[15, 30, 45, 60])
    args = p.parse_args()
    arms = {a.name: a for a in args.arms}
    print(table(arms, args.minutes))
    if args.png:
        plot({n: validation_rows(a) for n, a in arms.items()}, args.png)


if __name__ == "__main__":
    main()
