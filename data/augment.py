"""Photo-like augmentation for training images (never used at inference).

Input: a clean image (render or offline scan, either polarity). Output: a "photo" with dark ink on
light paper (RGB with `colour=True`, else its luminance): geometric jitter (scale, rotation, shear,
perspective, elastic), pen width, paper colour / texture / gradient / shadow, ink colour, blur, low
resolution, noise and JPEG. All magnitudes and probabilities scale with `strength` (0 = only the
change of colours). Geometry never crops: the canvas grows so every ink pixel is kept.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

# Dark ink colours (RGB, 0..1): black, blue, dark blue, graphite, dark red, dark green.
INK_COLOURS = (
    (0.05, 0.05, 0.07),
    (0.10, 0.15, 0.55),
    (0.05, 0.08, 0.30),
    (0.25, 0.25, 0.27),
    (0.45, 0.08, 0.10),
    (0.08, 0.25, 0.12),
)
# Printed lines of squared / ruled paper (RGB, 0..1): pale blue, cyan-blue, grey.
LINE_COLOURS = (
    (0.45, 0.62, 0.90),
    (0.40, 0.72, 0.85),
    (0.50, 0.50, 0.52),
)
# Elastic warp: one control point per this many pixels along the width.
ELASTIC_CELL = 64
# Sensor noise is cut from one fixed tile (cheaper than drawing fresh Gaussian noise each time).
NOISE_TILE = (2048, 512)  # (width, height); wider images get the tile repeated
NOISE_TILE_SIGMA = 32.0  # the tile holds 128 + NOISE_TILE_SIGMA * N(0, 1)
_NOISE: dict[str, Image.Image] = {}


def _noise_tile() -> Image.Image:
    """Mode "L" Gaussian noise tile, fixed seed, built once per process."""
    if "tile" not in _NOISE:
        w, h = NOISE_TILE
        noise = np.random.default_rng(1234).standard_normal((h, w)) * NOISE_TILE_SIGMA + 128  # (H, W)
        _NOISE["tile"] = Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8), "L")
    return _NOISE["tile"]


def _lut(gain: float, centre: float = 0.0) -> list[int]:
    """256-entry uint8 lookup table of centre + (v - centre) * gain, clipped."""
    v = np.arange(256, dtype=np.float64)
    return np.clip(np.rint(centre + (v - centre) * gain), 0, 255).astype(np.uint8).tolist()


def _colour(rgb: np.ndarray, colour: bool) -> tuple[int, int, int] | int:
    """A colour (0..1 RGB) as a PIL fill value: the RGB triple, or its ITU-R 601 luminance."""
    if colour:
        return (int(rgb[0] * 255), int(rgb[1] * 255), int(rgb[2] * 255))
    return int((0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) * 255)


def _noise(size: tuple[int, int], sigma: float, rng: np.random.Generator) -> Image.Image:
    """(w, h) "L" noise around 128 with standard deviation `sigma` (in 0..255 units)."""
    tile = _noise_tile()
    w, h = size
    if w > tile.width or h > tile.height:
        big = Image.new("L", (max(w, tile.width), max(h, tile.height)))
        for y in range(0, big.height, tile.height):
            for x in range(0, big.width, tile.width):
                big.paste(tile, (x, y))
        tile = big
    ox = int(rng.integers(0, tile.width - w + 1))
    oy = int(rng.integers(0, tile.height - h + 1))
    gain = sigma / NOISE_TILE_SIGMA
    return tile.crop((ox, oy, ox + w, oy + h)).point(_lut(gain, 128.0))


@dataclass
class AugmentConfig:
    """Augmentation magnitudes at strength 1 and the overall strength."""

    strength: float = 1.0
    scale: float = 0.25  # relative size change, +-
    rotation_deg: float = 4.0
    shear: float = 0.2
    perspective: float = 0.05  # corner displacement relative to the image size
    elastic: float = 0.025  # control-point displacement relative to the height
    p_elastic: float = 0.7
    p_thicken: float = 0.3
    blur_sigma: float = 1.0  # box blur radius
    p_blur: float = 0.4
    p_low_res: float = 0.25
    low_res_min: float = 0.45  # smallest down-scale factor
    noise_sigma: float = 0.04
    p_shadow: float = 0.35
    gradient: float = 0.25  # brightness change across the image
    texture: float = 0.05
    p_jpeg: float = 0.4
    jpeg_quality_min: int = 25
    jpeg_quality_max: int = 90
    paper_brightness: tuple[float, float] = (0.82, 1.0)
    paper_tint: float = 0.06  # max per-channel darkening of the paper colour
    ink_strength: tuple[float, float] = (0.75, 1.0)  # ink opacity
    ink_jitter: float = 0.03  # per-channel noise on the ink colour
    shadow_depth: tuple[float, float] = (0.2, 0.55)
    # RGB output with coloured ink/paper; False (training default) gives the same photo's luminance
    # only, which is all `preprocess` keeps, about 20 % faster.
    colour: bool = False
    thicken_gain: tuple[float, float] = (1.6, 2.6)  # pen widening: box blur then this gain
    margin: float = 0.12  # canvas margin relative to the height
    # Squared or ruled paper: printed lines under the ink with this probability (not scaled by strength;
    # 0 draws nothing and takes nothing from the generator, so older copies stay the same).
    p_lines: float = 0.0
    p_squared: float = 0.5  # of the lined papers: squares (else ruled lines only)
    line_spacing: tuple[float, float] = (0.8, 2.0)  # x the typical symbol height (5 mm .. 1 cm squares)
    line_opacity: tuple[float, float] = (0.3, 0.75)  # of the line colour over the paper
    line_width: tuple[int, int] = (1, 2)  # px


def _paper_lines(
    alpha: Image.Image, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[Image.Image, np.ndarray] | None:
    """Printed lines of squared / ruled paper for a canvas holding `alpha` (the ink, after geometry):
    (line opacity "L" image, line colour RGB 0..1), or None for plain paper. Spacing follows the
    writing's symbol height, with a random phase and a small tilt of its own."""
    if cfg.p_lines <= 0 or rng.random() >= cfg.p_lines:
        return None
    from data.preprocess import estimate_symbol_height

    w, h = alpha.size
    symbol = estimate_symbol_height(np.asarray(alpha, dtype=np.float32) / 255.0) or 0.5 * h
    spacing = max(6.0, symbol * rng.uniform(*cfg.line_spacing))
    squared = rng.random() < cfg.p_squared
    tilt = math.radians(rng.uniform(-1, 1) * cfg.rotation_deg)
    width = int(rng.integers(cfg.line_width[0], cfg.line_width[1] + 1))
    opacity = int(255 * rng.uniform(*cfg.line_opacity))
    colour = np.asarray(LINE_COLOURS[int(rng.integers(len(LINE_COLOURS)))])
    phase_y, phase_x = rng.uniform(0, spacing, size=2)
    lines = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(lines)
    cos, sin, reach = math.cos(tilt), math.sin(tilt), w + h
    cx, cy = w / 2, h / 2
    n = int(reach / spacing) + 2
    for k in range(-n, n + 1):
        off = k * spacing + phase_y  # horizontal lines: offset along the normal (-sin, cos)
        x0, y0 = cx - sin * off - cos * reach, cy + cos * off - sin * reach
        draw.line([(x0, y0), (x0 + 2 * cos * reach, y0 + 2 * sin * reach)], fill=opacity, width=width)
        if squared:
            off = k * spacing + phase_x  # vertical lines: offset along (cos, sin)
            x0, y0 = cx + cos * off + sin * reach, cy + sin * off - cos * reach
            draw.line([(x0, y0), (x0 - 2 * sin * reach, y0 + 2 * cos * reach)], fill=opacity, width=width)
    return lines, colour


def _p(rng: np.random.Generator, p: float, cfg: AugmentConfig) -> bool:
    return bool(rng.random() < min(1.0, p * cfg.strength))


def _ink_alpha(image: Image.Image) -> Image.Image:
    """Grayscale ink strength (ink = 255), whatever the input polarity."""
    gray = image.convert("L")
    arr = np.asarray(gray)
    if arr.mean() > 127:  # dark ink on light paper
        return Image.fromarray(255 - arr)
    return gray


def _geometric(alpha: Image.Image, rng: np.random.Generator, cfg: AugmentConfig) -> Image.Image:
    """Scale, rotation, shear and perspective as one projective map onto a grown canvas."""
    s = cfg.strength
    w, h = alpha.size
    scale = 1.0 + rng.uniform(-1, 1) * cfg.scale * s
    angle = math.radians(rng.uniform(-1, 1) * cfg.rotation_deg * s)
    shear = rng.uniform(-1, 1) * cfg.shear * s
    cos, sin = math.cos(angle), math.sin(angle)
    aff = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]]) @ np.array(
        [[scale, shear * scale, 0.0], [0.0, scale, 0.0], [0.0, 0.0, 1.0]]
    )
    # Perspective: move the 4 corners, then solve for the homography.
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)  # (4, 2)
    jitter = rng.uniform(-1, 1, size=(4, 2)) * cfg.perspective * s * np.array([w, h]).clip(max=4 * h)
    dst = np.c_[src, np.ones(4)] @ aff.T  # (4, 3)
    dst = dst[:, :2] + jitter  # (4, 2)
    hom = _homography(src, dst)
    margin = cfg.margin * h * max(scale, 1.0)
    x0, y0 = dst.min(axis=0) - margin
    x1, y1 = dst.max(axis=0) + margin
    out_w = max(8, math.ceil(x1 - x0))
    out_h = max(8, math.ceil(y1 - y0))
    shift = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0], [0.0, 0.0, 1.0]])
    inv = np.linalg.inv(shift @ hom)
    inv = inv / inv[2, 2]
    coeffs = tuple(inv.ravel()[:8].tolist())
    return alpha.transform((out_w, out_h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR)


def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3x3 H with dst ~ H @ src for 4 point pairs."""
    rows = []
    rhs = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    sol = np.linalg.solve(np.array(rows), np.array(rhs))
    return np.append(sol, 1.0).reshape(3, 3)  # (3, 3)


def _elastic(alpha: Image.Image, rng: np.random.Generator, cfg: AugmentConfig) -> Image.Image:
    """Smooth random warp: a coarse grid (2 rows, one column per ELASTIC_CELL px) of jittered
    control points, applied as a PIL mesh."""
    w, h = alpha.size
    nx = max(2, round(w / ELASTIC_CELL))
    ny = 2
    sigma = cfg.elastic * cfg.strength * h
    xs = np.linspace(0, w, nx + 1)
    ys = np.linspace(0, h, ny + 1)
    disp = rng.normal(0.0, sigma, size=(ny + 1, nx + 1, 2))  # (Y, X, 2)
    disp[0, :, 1] = np.maximum(disp[0, :, 1], 0)  # keep the border inside the canvas
    disp[-1, :, 1] = np.minimum(disp[-1, :, 1], 0)
    disp[:, 0, 0] = np.maximum(disp[:, 0, 0], 0)
    disp[:, -1, 0] = np.minimum(disp[:, -1, 0], 0)
    gx = xs[None, :] + disp[..., 0]  # (Y, X)
    gy = ys[:, None] + disp[..., 1]  # (Y, X)
    mesh = []
    for j in range(ny):
        for i in range(nx):
            box = (round(xs[i]), round(ys[j]), round(xs[i + 1]), round(ys[j + 1]))
            quad = (
                gx[j, i], gy[j, i], gx[j + 1, i], gy[j + 1, i],
                gx[j + 1, i + 1], gy[j + 1, i + 1], gx[j, i + 1], gy[j, i + 1],
            )  # fmt: skip
            mesh.append((box, quad))
    return alpha.transform((w, h), Image.Transform.MESH, mesh, Image.Resampling.BILINEAR)


def _lighting(shape: tuple[int, int], rng: np.random.Generator, cfg: AugmentConfig) -> np.ndarray:
    """Multiplicative illumination (H, W) in (0, 1]: gradient, texture and an optional shadow."""
    h, w = shape
    s = cfg.strength
    gh, gw = 8, max(2, min(64, round(8 * w / max(h, 1))))
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)  # (gh, gw)
    theta = rng.uniform(0, 2 * math.pi)
    ramp = (np.cos(theta) * xx / max(gw - 1, 1) + np.sin(theta) * yy / max(gh - 1, 1)) * 0.7071
    light = 1.0 - cfg.gradient * s * rng.random() * (ramp - ramp.min())
    light = light + rng.normal(0.0, cfg.texture * s, size=(gh, gw))
    if _p(rng, cfg.p_shadow, cfg):
        # A soft-edged half-plane shadow (a hand or a phone over the page).
        phi = rng.uniform(0, 2 * math.pi)
        cx, cy = rng.uniform(0, gw), rng.uniform(0, gh)
        d = (xx - cx) * math.cos(phi) + (yy - cy) * math.sin(phi)
        edge = rng.uniform(0.5, 2.5)
        depth = rng.uniform(*cfg.shadow_depth) * min(1.0, s)
        light = light * (1.0 - depth / (1.0 + np.exp(np.clip(-d / edge, -60.0, 60.0))))  # clip: no overflow
    light = np.clip(light, 0.15, 1.0).astype(np.float32)
    big = Image.fromarray(light).resize((w, h), Image.Resampling.BILINEAR)
    return np.asarray(big, dtype=np.float32)


def augment(
    image: Image.Image, rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig()
) -> Image.Image:
    """Clean expression image -> photo-like image (dark ink on light paper), same content.

    RGB with coloured ink and paper when `cfg.colour`, else the same photo as luminance ("L"),
    which is all `preprocess` keeps (and about a third cheaper).
    """
    s = cfg.strength
    alpha = _ink_alpha(image)
    if s > 0 and _p(rng, cfg.p_thicken, cfg):  # a wider pen: blur then boost the ink
        gain = rng.uniform(*cfg.thicken_gain)
        alpha = alpha.filter(ImageFilter.BoxBlur(1)).point(_lut(gain))
    if s > 0:
        alpha = _geometric(alpha, rng, cfg)
        if _p(rng, cfg.p_elastic, cfg):
            alpha = _elastic(alpha, rng, cfg)
    else:
        m = round(cfg.margin * alpha.height)
        canvas = Image.new("L", (alpha.width + 2 * m, alpha.height + 2 * m), 0)
        canvas.paste(alpha, (m, m))
        alpha = canvas
    w, h = alpha.size
    ink_strength = rng.uniform(*cfg.ink_strength) if s > 0 else 1.0
    paper = rng.uniform(*cfg.paper_brightness) - rng.uniform(0, cfg.paper_tint, size=3) * min(1.0, s)
    paper = np.clip(paper, 0, 1)
    ink = np.asarray(INK_COLOURS[int(rng.integers(len(INK_COLOURS)))]) + rng.normal(0, cfg.ink_jitter, 3)
    ink = np.clip(ink, 0, 1)
    if ink_strength < 1.0:
        alpha = alpha.point(_lut(ink_strength))
    mode = "RGB" if cfg.colour else "L"
    paper_im = Image.new(mode, (w, h), _colour(paper, cfg.colour))
    printed = _paper_lines(alpha, rng, cfg)
    if printed is not None:
        lines, line_rgb = printed
        line_im = Image.new(mode, (w, h), _colour(np.clip(paper * line_rgb, 0, 1), cfg.colour))
        paper_im = Image.composite(line_im, paper_im, lines)
    ink_im = Image.new(mode, (w, h), _colour(ink, cfg.colour))
    out = Image.composite(ink_im, paper_im, alpha)
    if s > 0:
        light = Image.fromarray((_lighting((h, w), rng, cfg) * 255).astype(np.uint8), "L")
        out = ImageChops.multiply(out, Image.merge("RGB", (light, light, light)) if cfg.colour else light)
    if s > 0 and _p(rng, cfg.p_blur, cfg):
        out = out.filter(ImageFilter.BoxBlur(rng.uniform(0.3, 1.0) * cfg.blur_sigma * s + 0.2))
    if s > 0 and _p(rng, cfg.p_low_res, cfg):
        f = rng.uniform(max(cfg.low_res_min, 1.0 - s * (1.0 - cfg.low_res_min)), 1.0)
        small = out.resize((max(8, round(w * f)), max(8, round(h * f))), Image.Resampling.BILINEAR)
        out = small.resize((w, h), Image.Resampling.BILINEAR)
    if s > 0 and cfg.noise_sigma > 0:
        noise = _noise((w, h), rng.uniform(0, cfg.noise_sigma * s) * 255, rng)
        out = ImageChops.add(
            out, Image.merge("RGB", (noise, noise, noise)) if cfg.colour else noise, 1.0, -128
        )
    if s > 0 and _p(rng, cfg.p_jpeg, cfg):
        buf = io.BytesIO()
        quality = int(rng.integers(cfg.jpeg_quality_min, cfg.jpeg_quality_max + 1))
        out.save(buf, format="JPEG", quality=quality)
        buf.seek(0)
        with Image.open(buf) as jpg:
            out = jpg.convert(mode)
    return out
