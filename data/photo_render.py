"""Synthetic photos of handwriting for training augmentation and tests (never used at inference).

- `phone_photo`: an expression on a sheet that fills the frame (squared, ruled or plain paper, through
  `data.augment` with colour);
- `page_photo`: a whole sheet lying on a desk (wood, dark, grey or a light table) at phone size, in
  perspective, with a desk lamp's gradient, a shadow, a pen lying across, punched holes and a printed
  margin, and one or more lines of writing made from CROHME strokes (white-on-black renders such as
  `data.render.render_strokes`). It returns the photo with where the sheet and each line of writing are,
  and, with `fill_frame=True`, the same sheet photographed close up (only paper in view), for the
  "whole page against sheet filling the frame" comparison of `benchmarks/page_eval.py`.

The inference side (finding the sheet, the writing and its lines) is `data.page`; this module is its
test bench and may import anything below it, `data.augment` included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from data.augment import INK_COLOURS, LINE_COLOURS, AugmentConfig, augment

DESKS = ("wood", "dark", "grey", "light")
PAPERS = ("plain", "ruled", "squared")
# A4 portrait: height / width.
SHEET_ASPECT = 297 / 210
MM = 1 / 210  # one millimetre as a fraction of the sheet's width


@dataclass(frozen=True)
class PageConfig:
    """What `page_photo` draws; a None kind is drawn at random."""

    size: tuple[int, int] = (1600, 1200)  # (width, height) of the photo
    desk: str | None = None  # one of DESKS
    paper: str | None = None  # one of PAPERS
    sheet_cover: tuple[float, float] = (0.35, 0.6)  # the sheet's area as a fraction of the frame's
    landscape: float = 0.3  # probability that the sheet lies across
    symbol_mm: tuple[float, float] = (5.0, 8.0)  # written symbol height (mm)
    pen_mm: tuple[float, float] = (0.4, 0.7)  # the pen's stroke width (mm)
    pen_width_px: float = 5.0  # the stroke width of the inks given (render_strokes' pen_width)
    max_writing_width: float = 0.8  # of the sheet's width
    line_gap: tuple[float, float] = (0.8, 1.6)  # between lines of writing, x the symbol height
    tilt_deg: float = 12.0  # the sheet turned on the desk, +-
    perspective: float = 0.06  # corner displacement, fraction of the frame's short side
    p_pen: float = 0.6
    p_shadow: float = 0.5
    p_holes: float = 0.3
    p_margin: float = 0.5  # a printed margin line (ruled and squared paper)
    gradient: float = 0.25  # light falling off across the frame
    shadow_depth: tuple[float, float] = (0.15, 0.45)
    blur: tuple[float, float] = (0.3, 1.0)  # Gaussian radius (px at `size`)
    noise: float = 0.02
    fill_frame: bool = False  # photograph the writing close up: only paper in view, no desk, no pen
    fill_width: float = 0.5  # with fill_frame: the writing's width as a fraction of the frame's
    # Several lines: "working" is a pupil's working (one pen, and one scale for every line: give the inks
    # drawn at one scale, e.g. `data.synth.build.render_offline`; the lines left-aligned within a few mm);
    # "scattered" scales each line to the symbol height alone and puts it anywhere across the sheet. One line
    # is drawn the same either way.
    layout: str = "working"


@dataclass
class PagePhoto:
    """A rendered photo and its ground truth (pixel coordinates of `image`)."""

    image: Image.Image  # RGB
    sheet: np.ndarray  # (4, 2) the sheet's corners x, y: top-left, top-right, bottom-right, bottom-left
    lines: list[np.ndarray] = field(default_factory=list)  # each line of writing's box, (4, 2) like sheet
    desk: str = ""
    paper: str = ""


def _smooth_noise(rng: np.random.Generator, size: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """(H, W) smooth noise in about [-1, 1]: a random grid of `cells` (w, h) upscaled bilinearly."""
    grid = rng.uniform(-1, 1, size=(cells[1], cells[0])).astype(np.float32)
    return np.asarray(Image.fromarray(grid).resize(size, Image.Resampling.BICUBIC), dtype=np.float32)


def _desk(kind: str, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) float32 desk surface in [0, 1]."""
    w, h = size
    if kind == "wood":
        base = np.array([0.55, 0.38, 0.22]) * rng.uniform(0.7, 1.25)
        # grain: stripes along a random direction, wavy, with a slow variation of tone
        theta = rng.uniform(0, math.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        u = xx * math.cos(theta) + yy * math.sin(theta)
        v = -xx * math.sin(theta) + yy * math.cos(theta)
        wave = _smooth_noise(rng, size, (6, 6)) * 25.0
        period = rng.uniform(0.01, 0.03) * max(w, h)
        grain = np.sin((v + wave) / period * 2 * math.pi + 0.002 * u) * 0.5 + 0.5
        tone = 1.0 + 0.12 * _smooth_noise(rng, size, (4, 4)) - 0.18 * grain**3
        surface = base[None, None, :] * tone[..., None]
    elif kind == "dark":
        base = rng.uniform(0.06, 0.22) * np.array([1.0, 1.0, 1.0]) + rng.uniform(-0.02, 0.02, 3)
        surface = base[None, None, :] * (1.0 + 0.15 * _smooth_noise(rng, size, (8, 6)))[..., None]
    elif kind == "grey":
        base = rng.uniform(0.35, 0.6) * np.array([1.0, 1.0, 1.0]) + rng.uniform(-0.03, 0.03, 3)
        surface = base[None, None, :] * (1.0 + 0.06 * _smooth_noise(rng, size, (8, 6)))[..., None]
    elif kind == "light":  # a white or pale table: the hard case, a little darker or tinted than paper
        base = rng.uniform(0.74, 0.86) * np.array([1.0, 1.0, 1.0]) - rng.uniform(0.0, 0.05, 3)
        surface = base[None, None, :] * (1.0 + 0.03 * _smooth_noise(rng, size, (8, 6)))[..., None]
    else:
        raise ValueError(f"unknown desk {kind!r}: one of {DESKS}")
    return np.clip(surface, 0, 1).astype(np.float32)


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3 x 3 H with dst ~ H @ src for 4 point pairs (each (4, 2))."""
    a = []
    b = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b.extend([u, v])
    return np.append(
        np.linalg.solve(np.array(a, dtype=np.float64), np.array(b, dtype=np.float64)), 1.0
    ).reshape(3, 3)


def _apply(hom: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Points (N, 2) through a homography."""
    p = np.c_[pts, np.ones(len(pts))] @ hom.T  # (N, 3)
    return p[:, :2] / p[:, 2:3]


def written_symbol_height(ink: np.ndarray) -> float | None:
    """The height (px) a writer gives a symbol in an ink map (H, W): the median height of its connected pieces
    of ink that are no flat strokes (at least 0.4 x as high as wide: a fraction bar, a minus, a root's bar are)
    nor dots (under 5 % of the image's height); None without any. A fraction, a root or a sum is written with
    symbols of this height, so it is taller (`data.preprocess.estimate_symbol_height` takes a fraction's stack
    for one symbol)."""
    from data.page import boxes, labels

    marks = ink > 0.5
    heights = [
        y1 - y0
        for y0, y1, x0, x1, _ in boxes(labels(marks))
        if y1 - y0 >= 0.05 * marks.shape[0] and y1 - y0 >= 0.4 * (x1 - x0)
    ]
    return float(np.median(heights)) if heights else None


def _sheet_canvas(
    inks: Sequence[Image.Image], rng: np.random.Generator, cfg: PageConfig, paper: str, sheet_w: int
) -> tuple[Image.Image, Image.Image, Image.Image, list[np.ndarray]]:
    """The sheet flat (RGB), the same without writing, its mask ("L", 0 in punched holes) and each line's
    box (4, 2) on it."""
    sheet_h = round(sheet_w * SHEET_ASPECT)
    landscape = rng.random() < cfg.landscape
    if landscape:
        sheet_w, sheet_h = sheet_h, sheet_w
    tone = rng.uniform(0.88, 1.0) - rng.uniform(0.0, 0.04, 3)
    sheet = np.ones((sheet_h, sheet_w, 3), dtype=np.float32) * tone
    sheet *= (1.0 + 0.015 * _smooth_noise(rng, (sheet_w, sheet_h), (6, 8)))[..., None]
    im = Image.fromarray((np.clip(sheet, 0, 1) * 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(im)
    unit = sheet_w * MM if not landscape else sheet_h * MM  # 1 mm in px (the short side is 210 mm)
    line_rgb = np.asarray(LINE_COLOURS[int(rng.integers(len(LINE_COLOURS)))])
    opacity = rng.uniform(0.35, 0.7)
    colour = tuple(int(255 * c) for c in np.clip(tone * (1 - opacity) + tone * line_rgb * opacity, 0, 1))
    width = max(1, round(rng.uniform(0.15, 0.3) * unit))
    spacing = (5.0 if paper == "squared" else rng.uniform(7.0, 9.0)) * unit
    top = rng.uniform(8, 20) * unit  # printed area starts below the top edge
    if paper != "plain":
        y = top
        while y < sheet_h - 5 * unit:
            draw.line([(0, y), (sheet_w, y)], fill=colour, width=width)
            y += spacing
        if paper == "squared":
            x = rng.uniform(0, spacing)
            while x < sheet_w:
                draw.line([(x, top), (x, sheet_h - 5 * unit)], fill=colour, width=width)
                x += spacing
    margin_x = 0.0
    if paper != "plain" and rng.random() < cfg.p_margin:
        margin_x = rng.uniform(20, 30) * unit
        red = tuple(int(255 * c) for c in (0.85, 0.3, 0.3))
        draw.line([(margin_x, 0), (margin_x, sheet_h)], fill=red, width=max(1, width))
    blank = im.copy()
    mask = Image.new("L", (sheet_w, sheet_h), 255)
    if not cfg.fill_frame and rng.random() < cfg.p_holes:
        md = ImageDraw.Draw(mask)
        r = 3 * unit
        n_holes = 2 if rng.random() < 0.6 else 4
        ys = (
            np.linspace(0.3, 0.7, n_holes) * sheet_h if n_holes == 2 else np.linspace(0.15, 0.85, 4) * sheet_h
        )
        for y in ys:
            md.ellipse((12 * unit - r, y - r, 12 * unit + r, y + r), fill=0)
    # the writing: each ink scaled to a symbol height of cfg.symbol_mm, one line under the other
    from data.preprocess import estimate_symbol_height

    symbol = rng.uniform(*cfg.symbol_mm) * unit
    ink_rgb = np.clip(
        np.asarray(INK_COLOURS[int(rng.integers(len(INK_COLOURS)))]) + rng.normal(0, 0.03, 3), 0, 1
    )
    ink_fill = tuple(int(255 * c) for c in ink_rgb)
    strength = rng.uniform(0.8, 1.0)
    left = max(margin_x + 3 * unit, 15 * unit)
    working = cfg.layout == "working"
    if cfg.layout not in ("working", "scattered"):
        raise ValueError(f"unknown layout {cfg.layout!r}")
    # one line: its symbols (connected pieces of ink) are cfg.symbol_mm high, a fraction or a root taller;
    # several lines: each line's columns of ink (a fraction is one such stack; the lines' layout is another's)
    syms = [
        (written_symbol_height(arr) if len(inks) == 1 else None) or estimate_symbol_height(arr) or 0.5 * ink.height
        for ink in inks
        for arr in [np.asarray(ink, dtype=np.float32) / 255.0]
    ]
    if working and inks:  # one hand, one pen: every line at one scale (the lines' median symbol height)
        s_all = min(
            [symbol / float(np.median(syms))]
            + [cfg.max_writing_width * (sheet_w - left) / i.width for i in inks]
        )
    scaled, target = [], None
    for ink, sym in zip(inks, syms, strict=True):
        s = s_all if working else min(symbol / sym, cfg.max_writing_width * (sheet_w - left) / ink.width)
        small = ink.resize(
            (max(1, round(ink.width * s)), max(1, round(ink.height * s))), Image.Resampling.BICUBIC
        )
        # a pen draws cfg.pen_mm wide whatever the writing's size: widen strokes that the scaling thinned
        width = cfg.pen_width_px * s
        if target is None or not working:
            target = rng.uniform(*cfg.pen_mm) * unit
        while width + 1.0 < target:
            small = small.filter(ImageFilter.MaxFilter(3))
            width += 2.0
        scaled.append(small)
    gaps = [rng.uniform(*cfg.line_gap) * symbol for _ in scaled[1:]]
    total_h = sum(i.height for i in scaled) + sum(gaps)
    y = rng.uniform(top + spacing, max(top + spacing + 1, sheet_h - 20 * unit - total_h))
    widest = max((line.width for line in scaled), default=0)
    boxes = []
    for k, line in enumerate(scaled):
        if not working or k == 0:
            x = rng.uniform(left, max(left + 1, sheet_w - 10 * unit - (widest if working else line.width)))
            x_first = x
        else:  # under the line before, a little to the left or right
            x = max(left, x_first + rng.uniform(-2.0, 2.0) * unit)
        alpha = line.point(lambda v, g=strength: round(v * g))
        im.paste(Image.new("RGB", line.size, ink_fill), (round(x), round(y)), alpha)
        boxes.append(
            np.array([[x, y], [x + line.width, y], [x + line.width, y + line.height], [x, y + line.height]])
        )
        y += line.height + (gaps[k] if k < len(gaps) else 0)
    return im, blank, mask, boxes


PEN_COLOURS = ((20, 30, 90), (25, 25, 28), (170, 30, 30), (180, 180, 185), (30, 110, 60))


def _pen(
    draw: ImageDraw.ImageDraw,
    centre: np.ndarray,
    angle: float,
    length: float,
    width: float,
    colour: tuple[int, ...] | int,
    tip: tuple[int, ...] | int,
) -> None:
    """A pen: a long body with a cone-shaped tip."""
    d = np.array([math.cos(angle), math.sin(angle)])
    n = np.array([-d[1], d[0]])
    a, b = centre - d * length / 2, centre + d * length / 2
    body = [
        tuple(a + n * width / 2),
        tuple(b + n * width / 2),
        tuple(b - n * width / 2),
        tuple(a - n * width / 2),
    ]
    draw.polygon(body, fill=colour)
    draw.polygon([tuple(b + n * width / 2), tuple(b + d * width * 1.5), tuple(b - n * width / 2)], fill=tip)
    if isinstance(colour, tuple):  # a highlight along the body
        hi = tuple(min(255, v + 70) for v in colour)
        draw.line(
            [tuple(a + n * width / 5), tuple(b + n * width / 5)], fill=hi, width=max(1, round(width / 6))
        )


def _near(pts: np.ndarray, quad: np.ndarray, margin: float) -> bool:
    """Whether any point (N, 2) lies within `margin` px of the bounding box of a quadrilateral (4, 2)."""
    lo, hi = quad.min(axis=0) - margin, quad.max(axis=0) + margin
    return bool(np.any(np.all((pts >= lo) & (pts <= hi), axis=1)))


def page_photo(
    inks: Sequence[Image.Image], rng: np.random.Generator, cfg: PageConfig = PageConfig()
) -> PagePhoto:
    """A photo of a whole sheet on a desk holding `inks` (white-on-black renders), one line each, top to
    bottom; see the module's docstring. With `cfg.fill_frame` the same draw gives a close-up of the writing."""
    w, h = cfg.size
    desk = cfg.desk or DESKS[int(rng.integers(len(DESKS)))]
    paper = cfg.paper or PAPERS[int(rng.integers(len(PAPERS)))]
    cover = rng.uniform(*cfg.sheet_cover)
    # the sheet's width in the frame, portrait A4: w_s * (w_s * aspect) = cover * w * h
    sheet_w = round(math.sqrt(cover * w * h / SHEET_ASPECT))
    sheet, blank, mask, boxes = _sheet_canvas(inks, rng, cfg, paper, sheet_w)
    sw, sh = sheet.size
    src = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], dtype=np.float64)
    tilt = math.radians(rng.uniform(-1, 1) * cfg.tilt_deg)
    if cfg.fill_frame:  # close up: the writing fills `fill_width` of the frame, centred
        x0, y0 = np.min([b.min(axis=0) for b in boxes], axis=0)
        x1, y1 = np.max([b.max(axis=0) for b in boxes], axis=0)
        scale = cfg.fill_width * w / max(1.0, x1 - x0)
        centre_src = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        tilt *= 0.3
    else:
        scale = 1.0
        centre_src = np.array([sw / 2, sh / 2])
    cos, sin = math.cos(tilt), math.sin(tilt)
    rot = np.array([[cos, -sin], [sin, cos]]) * scale
    # keep the whole sheet in view: its turned extent, then a random shift within the free room
    turned = (src - centre_src) @ rot.T
    ext = turned.max(axis=0) - turned.min(axis=0)
    if not cfg.fill_frame:  # a sheet too large to be seen whole is seen from further away
        shrink = min(1.0, float(np.min((np.array([w, h]) - 2 * cfg.perspective * min(w, h)) * 0.95 / ext)))
        turned, ext = turned * shrink, ext * shrink
    free = np.maximum(np.array([w, h]) - ext, 0) / 2 * 0.8
    centre = np.array([w / 2, h / 2]) + (0 if cfg.fill_frame else rng.uniform(-1, 1, 2) * free)
    dst = turned + centre + rng.uniform(-1, 1, size=(4, 2)) * cfg.perspective * min(w, h)
    hom = _homography(src, dst)
    inv = np.linalg.inv(hom)
    inv /= inv[2, 2]
    coeffs = tuple(inv.ravel()[:8].tolist())
    warped = sheet.transform((w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)
    if cfg.fill_frame:
        # paper beyond the sheet's edges: only paper is in view (the sheet's canvas repeated by reflection)
        big = Image.new("RGB", (3 * sw, 3 * sh))
        for i in range(3):
            for j in range(3):
                tile = sheet if (i, j) == (1, 1) else blank
                if i != 1:
                    tile = tile.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
                if j != 1:
                    tile = tile.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
                big.paste(tile, (i * sw, j * sh))
        shift = np.array([[1, 0, sw], [0, 1, sh], [0, 0, 1]], dtype=np.float64)
        inv_big = shift @ inv
        inv_big /= inv_big[2, 2]
        frame = big.transform(
            (w, h),
            Image.Transform.PERSPECTIVE,
            tuple(inv_big.ravel()[:8].tolist()),
            Image.Resampling.BILINEAR,
        )
        out = np.asarray(frame, dtype=np.float32) / 255.0
    else:
        wmask = mask.transform((w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)
        surface = _desk(desk, (w, h), rng)
        # the sheet's soft shadow on the desk
        drop = np.asarray(wmask.filter(ImageFilter.GaussianBlur(0.006 * max(w, h))), dtype=np.float32) / 255.0
        off = np.roll(drop, (round(0.004 * h), round(0.004 * w)), axis=(0, 1))
        surface = surface * (1.0 - 0.35 * off)[..., None]
        m = np.asarray(wmask, dtype=np.float32)[..., None] / 255.0
        out = surface * (1 - m) + np.asarray(warped, dtype=np.float32) / 255.0 * m
        pen_at = None
        if rng.random() < cfg.p_pen:
            length = rng.uniform(0.25, 0.4) * max(w, h)
            width = rng.uniform(0.012, 0.02) * max(w, h)
            # on the sheet near an edge, or across the edge onto the desk; not over the writing (the pupil
            # photographs the writing uncovered): up to 20 draws, else no pen
            written = [_apply(hom, b) for b in boxes]
            for _ in range(20):
                k = int(rng.integers(4))
                a, b = dst[k], dst[(k + 1) % 4]
                centre_pen = (
                    a
                    + (b - a) * rng.uniform(0.3, 0.7)
                    + (dst.mean(axis=0) - (a + b) / 2) * rng.uniform(0.0, 0.35)
                )
                angle = math.atan2(*(b - a)[::-1]) + rng.uniform(-0.5, 0.5)
                along = (
                    np.linspace(-0.5, 0.6, 40)[:, None]
                    * length
                    * np.array([math.cos(angle), math.sin(angle)])
                )
                if not any(_near(centre_pen + along, q, width * 2) for q in written):
                    pen_at = (centre_pen, angle)
                    break
        if pen_at is not None:
            centre_pen, angle = pen_at
            shadow = Image.new("L", (w, h), 0)
            colour = PEN_COLOURS[int(rng.integers(len(PEN_COLOURS)))]
            _pen(ImageDraw.Draw(shadow), centre_pen + width * 0.4, angle, length, width, 255, 255)
            sh_arr = (
                np.asarray(shadow.filter(ImageFilter.GaussianBlur(width * 0.4)), dtype=np.float32) / 255.0
            )
            out = out * (1 - 0.4 * (sh_arr > 0) * np.minimum(sh_arr * 4, 1))[..., None]
            pen_im = Image.fromarray((np.clip(out, 0, 1) * 255).astype(np.uint8), "RGB")
            _pen(ImageDraw.Draw(pen_im), centre_pen, angle, length, width, colour, (200, 190, 170))
            out = np.asarray(pen_im, dtype=np.float32) / 255.0
    # light: a lamp's gradient across the frame and sometimes a soft shadow (a hand, the phone)
    yy, xx = np.mgrid[0:h:8, 0:w:8].astype(np.float32)
    theta = rng.uniform(0, 2 * math.pi)
    ramp = (np.cos(theta) * xx / w + np.sin(theta) * yy / h) * 0.7071
    light = 1.0 - cfg.gradient * rng.random() * (ramp - ramp.min())
    if rng.random() < cfg.p_shadow:
        phi = rng.uniform(0, 2 * math.pi)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        d = ((xx - cx) * math.cos(phi) + (yy - cy) * math.sin(phi)) / (rng.uniform(0.02, 0.1) * max(w, h))
        light = light * (1.0 - rng.uniform(*cfg.shadow_depth) / (1.0 + np.exp(np.clip(-d, -60, 60))))
    light_im = Image.fromarray(light.astype(np.float32)).resize((w, h), Image.Resampling.BILINEAR)
    out = out * np.asarray(light_im, dtype=np.float32)[..., None]
    out = (
        out
        + rng.normal(0, cfg.noise, size=(h // 4 + 1, w // 4 + 1, 1)).repeat(4, 0).repeat(4, 1)[:h, :w] * 0.5
    )
    im = Image.fromarray((np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8), "RGB")
    im = im.filter(ImageFilter.GaussianBlur(rng.uniform(*cfg.blur)))
    return PagePhoto(
        image=im,
        sheet=dst,
        lines=[_apply(hom, b) for b in boxes],
        desk="" if cfg.fill_frame else desk,
        paper=paper,
    )


def phone_photo(
    ink: Image.Image,
    rng: np.random.Generator,
    size: tuple[int, int] = (4000, 3000),
    paper: str = "squared",
    fill: float = 0.6,
    strength: float = 1.0,
) -> Image.Image:
    """A phone photo (RGB, `size`) of an expression: `ink` (white on black, e.g. a render) scaled to
    `fill` of the width, on plain / "lined" / "squared" paper, through `data.augment` with colour (ink
    colour and pen, paper tint, lines, light, shadow, perspective, blur, noise; save it as JPEG)."""
    w, h = size
    scale = min(fill * w / ink.width, 0.5 * h / ink.height)
    big = ink.resize(
        (max(1, round(ink.width * scale)), max(1, round(ink.height * scale))), Image.Resampling.BICUBIC
    )
    canvas = Image.new("L", (round(w / 1.15), round(h / 1.15)), 0)
    canvas.paste(big, ((canvas.width - big.width) // 2, (canvas.height - big.height) // 2))
    cfg = AugmentConfig(
        strength=strength,
        colour=True,
        p_lines=0.0 if paper == "plain" else 1.0,
        p_squared=1.0 if paper == "squared" else 0.0,
        p_low_res=0.0,
        p_jpeg=0.0,
        p_elastic=0.0,  # sized by the canvas, not the writing: it would tear a small expression apart
        margin=0.0,
        line_width=(3, 6),
    )
    return augment(canvas, rng, cfg).resize(size, Image.Resampling.BILINEAR)
