"""curves.png: the columns of a run's log.csv as line charts (PIL only)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

PLOT_PANELS = (
    ("loss", "loss"),
    ("sampling_prob", "sampling probability"),
    ("lr", "learning rate"),
    ("val", "validation"),
)
PANEL_SIZE = (480, 260)
PLOT_MARGIN = 36


def plot_curves(log_path: Path, png_path: Path) -> None:
    """Draw log.csv as a 2 x 2 grid of line charts (PIL only)."""
    from PIL import Image, ImageDraw

    with Path(log_path).open() as f:
        rows = list(csv.DictReader(f))
    pw, ph = PANEL_SIZE
    img = Image.new("RGB", (2 * pw, 2 * ph), "white")
    draw = ImageDraw.Draw(img)
    for k, (col, title) in enumerate(PLOT_PANELS):
        ox, oy = (k % 2) * pw, (k // 2) * ph
        pts = [(float(r["step"]), float(r[col])) for r in rows if r.get(col) not in (None, "")]
        pts = [(x, y) for x, y in pts if math.isfinite(y)]
        x0, y0, x1, y1 = ox + PLOT_MARGIN, oy + 20, ox + pw - 10, oy + ph - PLOT_MARGIN
        draw.rectangle([x0, y0, x1, y1], outline="black")
        draw.text((ox + PLOT_MARGIN, oy + 4), title, fill="black")
        if not pts:
            continue
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        xmin, xmax = min(xs), max(xs)
        ymin, ymax = min(ys), max(ys)
        if ymax - ymin < 1e-12:
            ymin, ymax = ymin - 1.0, ymax + 1.0
        if xmax - xmin < 1e-12:
            xmax = xmin + 1.0

        sx, sy = (x1 - x0) / (xmax - xmin), (y1 - y0) / (ymax - ymin)
        line = [(x0 + (x - xmin) * sx, y1 - (y - ymin) * sy) for x, y in pts]
        if len(line) > 1:
            draw.line(line, fill="blue", width=1)
        for px, py in line if len(line) < 50 else []:
            draw.ellipse([px - 2, py - 2, px + 2, py + 2], fill="blue")
        draw.text((ox + 2, y0), f"{ymax:.3g}", fill="black")
        draw.text((ox + 2, y1 - 10), f"{ymin:.3g}", fill="black")
        draw.text((x0, y1 + 4), f"{xmin:.0f}", fill="black")
        draw.text((x1 - 40, y1 + 4), f"{xmax:.0f}", fill="black")
    img.save(png_path)
