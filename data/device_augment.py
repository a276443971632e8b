"""Photo-like augmentation of a whole batch of preprocessed images, on whatever device they are on.

The PIL path (`data.augment` + `data.preprocess`, per image, in loader workers) turns a clean image into
a photo and reads the photo back into the model's input. This module does the same for a batch of
model inputs at once, with tensor ops only, so a GPU run never waits for the CPU:

1. stroke thickness (a dilation mixed in per sample);
2. geometry in ONE sampling grid per batch: rotation, shear and perspective as a per-sample
   homography, an elastic warp added to the grid, and the result re-normalised the way `preprocess`
   normalises an image (ink box to the output height, left margin), with a small scale jitter;
3. the photo: paper brightness and tint, ink colour and opacity (contrast), squared or lined paper
   lines (width, spacing, phase, tilt), uneven light (gradient, texture, a soft shadow), blur, low
   resolution, sensor noise, and (p_jpeg > 0) JPEG's 8 x 8 block quantisation;
4. the photo read back as `preprocess` reads it: denoise, illumination estimate (max filter),
   ink map, soft threshold.

Randomness comes from one `torch.Generator` on the batch's device: the same seed gives the same batch.
Input: uint8 or float (B, 1, H, W) with ink high, and each sample's ink box; output: float32 (B, 1, H, W)
in [0, 1] (ink = 1, zero beyond each sample's width) and the pixel mask (B, H, W).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from data.augment import INK_COLOURS

# ITU-R 601 luminance of the PIL path's ink colours: the model sees luminance only.
INK_LUMINANCE = tuple(0.299 * r + 0.587 * g + 0.114 * b for r, g, b in INK_COLOURS)
# Elastic warp: one control point per this many pixels along the width (as data.augment).
ELASTIC_CELL = 64
# Texture of the light: one random value per this many pixels, smoothly upsampled.
TEXTURE_CELL = 8
# Read-back (mirrors data.preprocess): max filter that removes ink from the paper estimate, its blur.
PAPER_MAX_WINDOW = 5
PAPER_BLUR_WINDOW = 5
MIN_INK_CONTRAST = 0.12  # data.preprocess.MIN_INK_CONTRAST
NOISE_SIGMAS = 4.0  # data.preprocess.NOISE_SIGMAS
LINE_HALF_WIDTH = 0.7  # px: a printed line's anti-aliased half width at the model's scale


@dataclass
class DeviceAugmentConfig:
    """Magnitudes at strength 1 (as `data.augment.AugmentConfig`) and the overall strength."""

    strength: float = 1.0
    scale: float = 0.1  # the ink box shrinks by up to this fraction (stray marks stretch a real box)
    rotation_deg: float = 4.0
    shear: float = 0.2
    perspective: float = 0.05  # corner displacement relative to the ink box
    elastic: float = 0.025  # control-point displacement relative to the height
    p_elastic: float = 0.7
    p_thicken: float = 0.3
    p_blur: float = 0.4
    p_low_res: float = 0.25
    noise_sigma: float = 0.04
    p_shadow: float = 0.35
    shadow_depth: tuple[float, float] = (0.2, 0.55)
    gradient: float = 0.25
    texture: float = 0.05
    paper_brightness: tuple[float, float] = (0.82, 1.0)
    paper_tint: float = 0.06
    ink_strength: tuple[float, float] = (0.75, 1.0)  # ink opacity: the photo's contrast
    ink_jitter: float = 0.03
    p_lines: float = 0.3  # squared or lined paper
    p_squared: float = 0.5  # of those: squares (else ruled lines only)
    line_spacing: tuple[float, float] = (0.15, 0.45)  # relative to the height (5 mm squares ~ 0.2-0.3)
    line_darkness: tuple[float, float] = (0.06, 0.3)  # pale blue / grey print on the paper
    margin: int = 4  # data.preprocess.PreprocessConfig.margin
    width_multiple: int = 16  # data.preprocess.PreprocessConfig.width_multiple
    # Off by default (earlier seeds give the same batches; a run turns them on in its config):
    line_half_width: tuple[float, float] = (LINE_HALF_WIDTH, LINE_HALF_WIDTH)  # px, per sample
    p_jpeg: float = 0.0  # JPEG-like 8 x 8 DCT quantisation of the photo (as data.augment's JPEG)
    jpeg_quality: tuple[float, float] = (25.0, 90.0)


def _u(gen: torch.Generator, b: int, device: torch.device, lo: float = -1.0, hi: float = 1.0) -> torch.Tensor:
    return torch.rand(b, generator=gen, device=device) * (hi - lo) + lo  # (B,)


def _chance(gen: torch.Generator, b: int, device: torch.device, p: float) -> torch.Tensor:
    return torch.rand(b, generator=gen, device=device) < min(1.0, p)  # (B,) bool


def _inverse_3x3(m: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) -> inverses by the adjugate (no solver, no host synchronisation)."""
    a, b, c = m[:, 0, 0], m[:, 0, 1], m[:, 0, 2]
    d, e, f = m[:, 1, 0], m[:, 1, 1], m[:, 1, 2]
    g, h, i = m[:, 2, 0], m[:, 2, 1], m[:, 2, 2]
    adj = torch.stack(
        [
            torch.stack([e * i - f * h, c * h - b * i, b * f - c * e], -1),
            torch.stack([f * g - d * i, a * i - c * g, c * d - a * f], -1),
            torch.stack([d * h - e * g, b * g - a * h, a * e - b * d], -1),
        ],
        1,
    )  # (B, 3, 3)
    det = a * adj[:, 0, 0] + b * adj[:, 1, 0] + c * adj[:, 2, 0]  # (B,)
    return adj / det[:, None, None]


def _apply(m: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
    """Homographies (B, 3, 3) applied to points (B, K, 2) -> (B, K, 2)."""
    ones = torch.ones_like(pts[..., :1])
    p = torch.cat([pts, ones], -1) @ m.transpose(1, 2)  # (B, K, 3)
    return p[..., :2] / p[..., 2:].clamp(min=1e-6)


def _geometry(
    boxes: torch.Tensor, height: int, width: int, gen: torch.Generator, cfg: DeviceAugmentConfig
) -> torch.Tensor:
    """Per-sample forward map input px -> output px (B, 3, 3) that turns the ink (rotation, shear,
    perspective about the ink box's centre) and fits the turned box's corners into the output.

    boxes (B, 4): x0, y0, x1, y1 of each sample's ink in its input image. The turned ink is smaller
    than its corners' box; `augment_batch` measures it and places it again."""
    b, dev, s = boxes.shape[0], boxes.device, cfg.strength
    x0, y0, x1, y1 = boxes.unbind(1)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    bw, bh = (x1 - x0).clamp(min=1.0), (y1 - y0).clamp(min=1.0)
    angle = _u(gen, b, dev) * math.radians(cfg.rotation_deg) * s
    shear = _u(gen, b, dev) * cfg.shear * s
    px = _u(gen, b, dev) * cfg.perspective * s / (bw / 2)  # projective terms: corners move ~perspective
    py = _u(gen, b, dev) * cfg.perspective * s / (bh / 2)
    zero, one = torch.zeros_like(cx), torch.ones_like(cx)
    centre = torch.stack(
        [
            torch.stack([one, zero, -cx], -1),
            torch.stack([zero, one, -cy], -1),
            torch.stack([zero, zero, one], -1),
        ],
        1,
    )  # (B, 3, 3)
    cos, sin = angle.cos(), angle.sin()
    turn = torch.stack(
        [
            torch.stack([cos, cos * shear - sin, zero], -1),
            torch.stack([sin, sin * shear + cos, zero], -1),
            torch.stack([px, py, one], -1),
        ],
        1,
    )  # (B, 3, 3): rotation @ shear, then the projective row
    fwd = turn @ centre
    corners = torch.stack(
        [
            torch.stack([x0, y0], -1),
            torch.stack([x1, y0], -1),
            torch.stack([x1, y1], -1),
            torch.stack([x0, y1], -1),
        ],
        1,
    )  # (B, 4, 2)
    moved = _apply(fwd, corners)  # (B, 4, 2)
    corner_box = torch.cat([moved.amin(1), moved.amax(1)], 1)  # (B, 4)
    return _placement(corner_box, height, width, torch.ones_like(cx), cfg.margin) @ fwd


def _ink_extent(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) -> ink box (B, 4): x0, y0, x1, y1 of the pixels above half ink (tensor ops only)."""
    ink = (x[:, 0] > 0.5).float()  # (B, H, W)
    rows, cols = ink.amax(dim=2), ink.amax(dim=1)  # (B, H), (B, W)

    def ends(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = v.shape[1]
        first = v.argmax(dim=1).float()
        last = (n - 1 - v.flip(1).argmax(dim=1)).float() + 1.0
        empty = v.amax(dim=1) == 0
        return torch.where(empty, 0.0, first), torch.where(empty, float(n), last)

    x0, x1 = ends(cols)
    y0, y1 = ends(rows)
    return torch.stack([x0, y0, x1, y1], 1)


def _placement(
    boxes: torch.Tensor, height: int, width: int, shrink: torch.Tensor, margin: int
) -> torch.Tensor:
    """(B, 3, 3) scale + shift that puts each ink box where `preprocess` puts ink: `height - 2 margin`
    high (less when the width does not fit), left edge at the margin, centred vertically; `shrink`
    (B,) <= 1 makes it smaller."""
    x0, y0, x1, y1 = boxes.unbind(1)
    inner_h, inner_w = height - 2 * margin, width - 2 * margin
    k = torch.minimum(inner_h / (y1 - y0).clamp(min=1.0), inner_w / (x1 - x0).clamp(min=1.0)) * shrink
    zero, one = torch.zeros_like(k), torch.ones_like(k)
    tx = margin - x0 * k
    ty = (height - (y1 - y0) * k) / 2 - y0 * k
    return torch.stack(
        [torch.stack([k, zero, tx], -1), torch.stack([zero, k, ty], -1), torch.stack([zero, zero, one], -1)],
        1,
    )


def _grid(
    inv: torch.Tensor,
    height: int,
    width: int,
    gen: torch.Generator,
    cfg: DeviceAugmentConfig,
    elastic: bool = True,
) -> torch.Tensor:
    """Sampling grid (B, H, W, 2) for grid_sample: output pixel centres mapped back, plus elastic."""
    b, dev = inv.shape[0], inv.device
    ys, xs = torch.meshgrid(
        torch.arange(height, device=dev, dtype=torch.float32) + 0.5,
        torch.arange(width, device=dev, dtype=torch.float32) + 0.5,
        indexing="ij",
    )  # (H, W) each
    pts = torch.stack([xs, ys], -1).reshape(1, height * width, 2).expand(b, -1, -1)  # (B, H*W, 2)
    src = _apply(inv, pts).reshape(b, height, width, 2)  # (B, H, W, 2) input px
    if elastic and cfg.elastic > 0 and cfg.strength > 0:
        nx = max(2, round(width / ELASTIC_CELL))
        sigma = cfg.elastic * cfg.strength * height
        ctrl = torch.randn(b, 2, 3, nx + 1, generator=gen, device=dev) * sigma  # (B, 2, 3, nx+1)
        ctrl = ctrl * _chance(gen, b, dev, cfg.p_elastic * cfg.strength)[:, None, None, None]
        disp = F.interpolate(ctrl, size=(height, width), mode="bicubic", align_corners=True)  # (B, 2, H, W)
        src = src + disp.permute(0, 2, 3, 1)  # (B, H, W, 2)
    # to grid_sample's [-1, 1] (align_corners=False); Python scalars: no host-to-device copy (a sync)
    return torch.stack([src[..., 0] * (2.0 / width) - 1.0, src[..., 1] * (2.0 / height) - 1.0], -1)


def _lines(
    b: int, height: int, width: int, gen: torch.Generator, dev: torch.device, cfg: DeviceAugmentConfig
) -> torch.Tensor:
    """Printed paper lines (B, 1, H, W) in [0, 1]: squared or ruled, random spacing, phase, tilt and
    (when `line_half_width` is a range) width."""
    half = LINE_HALF_WIDTH
    lo_w, hi_w = cfg.line_half_width
    if hi_w > lo_w:  # drawn only then: the default takes nothing from the generator
        half = _u(gen, b, dev, lo_w, hi_w)[:, None, None]
    elif lo_w != LINE_HALF_WIDTH:
        half = lo_w
    spacing = _u(gen, b, dev, *cfg.line_spacing) * height  # (B,)
    tilt = _u(gen, b, dev) * math.radians(cfg.rotation_deg) * cfg.strength
    phase_y, phase_x = _u(gen, b, dev, 0.0, 1.0), _u(gen, b, dev, 0.0, 1.0)
    ys = torch.arange(height, device=dev, dtype=torch.float32)[None, :, None] + 0.5  # (1, H, 1)
    xs = torch.arange(width, device=dev, dtype=torch.float32)[None, None, :] + 0.5  # (1, 1, W)
    cos, sin = tilt.cos()[:, None, None], tilt.sin()[:, None, None]
    sp = spacing[:, None, None]
    v = (ys * cos - xs * sin) / sp + phase_y[:, None, None]  # (B, H, W): across the ruled lines
    u = (xs * cos + ys * sin) / sp + phase_x[:, None, None]  # (B, H, W): across the vertical lines

    def profile(t: torch.Tensor) -> torch.Tensor:
        dist = (t - t.round()).abs() * sp  # px to the nearest line
        return (1.0 - dist / (2 * half)).clamp(min=0.0)

    squared = _chance(gen, b, dev, cfg.p_squared)[:, None, None]
    lines = torch.maximum(profile(v), profile(u) * squared)  # (B, H, W)
    return lines[:, None]


def _lighting(
    b: int, height: int, width: int, gen: torch.Generator, dev: torch.device, cfg: DeviceAugmentConfig
) -> torch.Tensor:
    """Multiplicative light (B, 1, H, W) in [0.15, 1]: gradient, texture and an optional soft shadow."""
    s = cfg.strength
    ys = torch.linspace(0.0, 1.0, height, device=dev)[None, :, None]  # (1, H, 1)
    xs = torch.linspace(0.0, 1.0, width, device=dev)[None, None, :] * (width / height)  # (1, 1, W)
    theta = _u(gen, b, dev, 0.0, 2 * math.pi)[:, None, None]
    ramp = theta.cos() * xs + theta.sin() * ys  # (B, H, W)
    ramp = ramp - ramp.amin(dim=(1, 2), keepdim=True)
    ramp = ramp / ramp.amax(dim=(1, 2), keepdim=True).clamp(min=1e-6)
    light = 1.0 - cfg.gradient * s * _u(gen, b, dev, 0.0, 1.0)[:, None, None] * ramp
    gh, gw = max(2, height // TEXTURE_CELL), max(2, width // TEXTURE_CELL)
    tex = torch.randn(b, 1, gh, gw, generator=gen, device=dev) * cfg.texture * s
    light = light[:, None] + F.interpolate(tex, size=(height, width), mode="bilinear", align_corners=False)
    phi = _u(gen, b, dev, 0.0, 2 * math.pi)[:, None, None, None]
    cx = _u(gen, b, dev, 0.0, 1.0)[:, None, None, None] * (width / height)
    cy = _u(gen, b, dev, 0.0, 1.0)[:, None, None, None]
    d = (xs[:, None] - cx) * phi.cos() + (ys[:, None] - cy) * phi.sin()  # (B, 1, H, W) in heights
    edge = _u(gen, b, dev, 0.06, 0.3)[:, None, None, None]
    depth = _u(gen, b, dev, *cfg.shadow_depth)[:, None, None, None] * min(1.0, s)
    depth = depth * _chance(gen, b, dev, cfg.p_shadow * s)[:, None, None, None]
    light = light * (1.0 - depth * torch.sigmoid(d / edge))
    return light.clamp(0.15, 1.0)


def _dct_matrix(dev: torch.device) -> torch.Tensor:
    """The orthonormal 8-point DCT-II matrix (8, 8), built on the device (no host-to-device copy)."""
    k = torch.arange(8, device=dev, dtype=torch.float32)[:, None]
    n = torch.arange(8, device=dev, dtype=torch.float32)[None, :]
    d = torch.cos(math.pi * (2 * n + 1) * k / 16) * math.sqrt(2 / 8)
    return torch.cat([d[:1] / math.sqrt(2), d[1:]], 0)


def jpeg_like(photo: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """JPEG's loss on a batch of photos (B, 1, H, W) in [0, 1]: 8 x 8 DCT blocks quantised with a
    luminance table scaled by `quality` (B,) in 1..100 as libjpeg scales it (the table is the standard
    one's trend, 16 + 5 (u + v) + (u v) / 2, not its exact values); blocks, ringing and lost detail."""
    b, c, h, w = photo.shape
    ph, pw = -h % 8, -w % 8
    x = F.pad(photo, (0, pw, 0, ph), mode="replicate") * 255.0 - 128.0  # (B, 1, H8, W8)
    blocks = x.unfold(2, 8, 8).unfold(3, 8, 8)  # (B, 1, H8/8, W8/8, 8, 8)
    d = _dct_matrix(photo.device)
    coef = d @ blocks @ d.T
    u = torch.arange(8, device=photo.device, dtype=torch.float32)
    table = 16.0 + 5.0 * (u[:, None] + u[None, :]) + 0.5 * u[:, None] * u[None, :]  # (8, 8)
    q = quality.clamp(1.0, 100.0)
    scale = torch.where(q < 50, 5000.0 / q, 200.0 - 2.0 * q)[:, None, None, None, None, None]  # (B, ...)
    step = ((table * scale + 50.0) / 100.0).clamp(min=1.0)
    back = d.T @ (torch.round(coef / step) * step) @ d  # (B, 1, H8/8, W8/8, 8, 8)
    out = back.permute(0, 1, 2, 4, 3, 5).reshape(b, c, h + ph, w + pw)
    return ((out[..., :h, :w] + 128.0) / 255.0).clamp(0.0, 1.0)


def _separable(x: torch.Tensor, k: int, op: str) -> torch.Tensor:
    """k x k box mean or maximum of (B, 1, H, W), edges replicated: 2 (k - 1) shifted elementwise ops
    (much cheaper on a CPU than a 1-channel convolution or a stride-1 pooling kernel)."""
    r = k // 2
    h, w = x.shape[-2:]
    reduce = torch.maximum if op == "max" else torch.add
    p = F.pad(x, (r, r, 0, 0), mode="replicate")
    rows = p[..., :, 0:w]
    for d in range(1, k):
        rows = reduce(rows, p[..., :, d : d + w])
    p = F.pad(rows, (0, 0, r, r), mode="replicate")
    out = p[..., 0:h, :]
    for d in range(1, k):
        out = reduce(out, p[..., d : d + h, :])
    return out if op == "max" else out / (k * k)


def _box(x: torch.Tensor, k: int) -> torch.Tensor:
    return _separable(x, k, "mean")


def _soft_blur(x: torch.Tensor) -> torch.Tensor:
    """Two 3x3 box means: close to a Gaussian of sigma 1."""
    return _box(_box(x, 3), 3)


def read_back(photo: torch.Tensor) -> torch.Tensor:
    """A batch of photos (B, 1, H, W), dark ink on paper in [0, 1] -> model input, ink = 1.

    The tensor form of `data.preprocess`'s reading at the model's scale: the paper brightness from a
    max filter (ink removed) and a blur, the ink map 1 - photo / paper, and the soft threshold
    (background -> 0 above its noise floor, ink core -> 1) with per-sample levels. (preprocess's 3x3
    denoise acts at the photo's resolution, a fraction of a pixel here: it is left out.)"""
    paper = _separable(photo, PAPER_MAX_WINDOW, "max")
    paper = torch.maximum(_box(paper, PAPER_BLUR_WINDOW), photo)
    ink = (1.0 - photo / paper.clamp(min=1e-3)).clamp(0.0, 1.0)  # (B, 1, H, W)
    dims = (1, 2, 3)
    peak = ink.amax(dim=dims, keepdim=True)  # (B, 1, 1, 1) ink contrast
    t = torch.clamp(0.5 * peak, min=MIN_INK_CONTRAST)  # ~ Otsu between paper (~0) and ink (~peak)

    def stats(sel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = sel.sum(dim=dims, keepdim=True).clamp(min=1.0)
        mean = (ink * sel).sum(dim=dims, keepdim=True) / n
        return mean, (((ink - mean) ** 2 * sel).sum(dim=dims, keepdim=True) / n).sqrt()

    bg_mean, bg_std = stats((ink <= 0.5 * t).float())  # paper, without the strokes' soft edges
    ink_mean, _ = stats((ink > t).float())
    # preprocess's ramp also starts no lower than half its threshold: at the photo's resolution that
    # trims faint paper; here, where a stroke is 2-3 px wide, it would trim the strokes' own edges
    lo = torch.minimum(bg_mean + NOISE_SIGMAS * bg_std, 0.9 * t)
    hi = torch.maximum(ink_mean, lo + 0.05)  # the ink's mean level saturates: strokes as bold as the PIL path's
    out = ((ink - lo) / (hi - lo)).clamp(0.0, 1.0)
    return out * (peak >= MIN_INK_CONTRAST).float()  # no contrast: blank, as preprocess answers


def augment_batch(
    images: torch.Tensor,
    boxes: torch.Tensor,
    gen: torch.Generator,
    cfg: DeviceAugmentConfig,
    photos: list[torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Preprocessed images (B, 1, H, W) (uint8 0..255 or float 0..1, ink high) with their ink boxes
    (B, 4: x0, y0, x1, y1 in px) -> augmented model inputs (B, 1, H, W) float32 and pixel mask (B, H, W).

    The output keeps the input's shape: each sample's new width (a multiple of `width_multiple`) is
    marked by the mask, and everything beyond it is 0, as in a padded batch of `preprocess` outputs.
    `photos`, when given, receives the intermediate photos (B, 1, H, W), dark ink on paper (to look at)."""
    x = images.float()
    if images.dtype == torch.uint8:
        x = x / 255.0
    b, _, height, width = x.shape
    dev, s = x.device, cfg.strength
    boxes = boxes.float()
    # 1. a wider pen
    thick = _chance(gen, b, dev, cfg.p_thicken * s)[:, None, None, None]
    gain = _u(gen, b, dev, 0.5, 1.0)[:, None, None, None]
    x = torch.where(thick, torch.lerp(x, _separable(x, 3, "max"), gain), x)
    # 2. geometry: the turned ink is measured on a first (cheap, nearest) resampling, then placed as
    #    preprocess places ink; the output is ONE bilinear resampling of the input with the composed map
    fwd = _geometry(boxes, height, width, gen, cfg)
    probe = F.grid_sample(
        x,
        _grid(_inverse_3x3(fwd), height, width, gen, cfg, elastic=False),
        mode="nearest",
        align_corners=False,
    )
    shrink = 1.0 - _u(gen, b, dev, 0.0, 1.0) * cfg.scale * s
    turned = _ink_extent(probe)  # (B, 4)
    place = _placement(turned, height, width, shrink, cfg.margin)  # (B, 3, 3)
    fwd = place @ fwd
    x = F.grid_sample(
        x,
        _grid(_inverse_3x3(fwd), height, width, gen, cfg),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )
    right = cfg.margin + (turned[:, 2] - turned[:, 0]) * place[:, 0, 0]  # (B,) the ink's right edge
    m = cfg.width_multiple
    new_w = (torch.ceil((right + cfg.margin) / m) * m).clamp(min=m, max=width)  # (B,)
    cols = torch.arange(width, device=dev, dtype=torch.float32)
    mask = (cols[None, :] < new_w[:, None])[:, None, :].expand(b, height, width)  # (B, H, W)
    # 3. the photo: paper (with its lines) under ink, light, blur, low resolution, noise
    paper = _u(gen, b, dev, *cfg.paper_brightness) - _u(gen, b, dev, 0.0, cfg.paper_tint) * min(1.0, s)
    paper = paper[:, None, None, None]
    lines = (
        _lines(b, height, width, gen, dev, cfg) * _chance(gen, b, dev, cfg.p_lines * s)[:, None, None, None]
    )
    darkness = _u(gen, b, dev, *cfg.line_darkness)[:, None, None, None]
    paper = paper * (1.0 - darkness * lines)  # (B, 1, H, W)
    pick = torch.randint(len(INK_LUMINANCE), (b,), generator=gen, device=dev)
    lum = torch.zeros(b, device=dev)
    for i, value in enumerate(INK_LUMINANCE):  # a lookup without copying a table to the device
        lum = torch.where(pick == i, value, lum)
    ink = (lum + torch.randn(b, generator=gen, device=dev) * cfg.ink_jitter).clamp(0.0, 1.0)
    opacity = _u(gen, b, dev, *cfg.ink_strength) if s > 0 else torch.ones(b, device=dev)
    alpha = x * opacity[:, None, None, None]
    photo = paper * (1.0 - alpha) + ink[:, None, None, None] * alpha
    if s > 0:
        photo = photo * _lighting(b, height, width, gen, dev, cfg)
        blur = (
            _chance(gen, b, dev, cfg.p_blur * s)[:, None, None, None]
            * _u(gen, b, dev, 0.3, 1.0)[:, None, None, None]
        )
        photo = torch.lerp(photo, _soft_blur(photo), blur * min(1.0, s))
        small = F.interpolate(
            F.avg_pool2d(photo, 2, ceil_mode=True), size=(height, width), mode="bilinear", align_corners=False
        )
        low = _chance(gen, b, dev, cfg.p_low_res * s)[:, None, None, None].float()
        photo = torch.lerp(photo, small, low)
        sigma = _u(gen, b, dev, 0.0, cfg.noise_sigma * s)[:, None, None, None]
        photo = photo + torch.randn(photo.shape, generator=gen, device=dev) * sigma
    photo = photo.clamp(0.0, 1.0)
    if s > 0 and cfg.p_jpeg > 0:  # drawn only then: the default takes nothing from the generator
        quality = _u(gen, b, dev, *cfg.jpeg_quality)
        jpeg = _chance(gen, b, dev, cfg.p_jpeg * s)[:, None, None, None].float()
        photo = torch.lerp(photo, jpeg_like(photo, quality), jpeg)
    if photos is not None:
        photos.append(photo)
    # 4. read the photo back as preprocess does; nothing beyond each sample's width
    out = read_back(photo) * mask[:, None].float()
    return out, mask


def comparison_grid(root: str, out: str, n: int = 8, strength: float = 0.4, seed: int = 0) -> None:
    """A PNG of `n` training images, one per row: the clean model input, the PIL path's augmented
    input (data.augment + data.preprocess), then three device-augmented draws (this module), each as
    its photo and as the model input read back from it. Model inputs are drawn dark on white."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from data.augment import AugmentConfig, augment
    from data.preprocess import preprocess
    from data.records import discover_sources, read_source

    sources = {s.name: s for s in discover_sources(Path(root))}
    records = read_source(sources["offline/train"]).records
    rng = np.random.default_rng(seed)
    picks = [records[i] for i in rng.choice(len(records), size=n, replace=False)]
    width, height, gap = 384, 64, 4
    cols = 8
    sheet = Image.new("L", (cols * (width + gap), n * (height + gap)), 128)
    gen = torch.Generator().manual_seed(seed)
    cfg = DeviceAugmentConfig(strength=strength)
    for row, rec in enumerate(picks):
        clean = preprocess(rec.image)[0]  # (H, W)
        pil = preprocess(
            augment(rec.image, np.random.default_rng([seed, row]), AugmentConfig(strength=strength))
        )[0]
        canvas = torch.zeros(1, 1, height, width)
        w = min(width, clean.shape[1])
        canvas[0, 0, :, :w] = clean[:, :w]
        ink = (canvas[0, 0] > 0.5).nonzero()
        box = torch.tensor(
            [[ink[:, 1].min(), ink[:, 0].min(), ink[:, 1].max() + 1, ink[:, 0].max() + 1]]
        ).float()
        views = [1.0 - canvas[0, 0], 1.0 - pil]
        for _ in range(3):
            seen: list[torch.Tensor] = []
            x, _mask = augment_batch(canvas, box, gen, cfg, photos=seen)
            views += [seen[0][0, 0], 1.0 - x[0, 0]]
        for col, v in enumerate(views):
            tile = v[:, :width].clamp(0, 1).mul(255).byte().numpy()  # dark ink on light paper
            sheet.paste(Image.fromarray(tile), (col * (width + gap), row * (height + gap)))
    sheet.save(out)


if __name__ == "__main__":  # python -m data.device_augment CROHME_ROOT OUT.png [STRENGTH]
    import sys

    comparison_grid(sys.argv[1], sys.argv[2], strength=float(sys.argv[3]) if len(sys.argv) > 3 else 0.4)
