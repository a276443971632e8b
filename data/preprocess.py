"""THE preprocessing path: any image (photo, scan, screenshot, CROHME render) -> model input.

Training applies it after augmentation; the API and evaluation apply it to user images, so train
and serve see the same distribution. Output: float32 (1, H, W) in [0, 1], ink = 1, background = 0,
the ink cropped, a margin around it, height H, width a multiple of 16 (<= max_width).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from data import page, photo
from data.lines import MAX_LINE_HEIGHT, line_mask, writing_lines

if TYPE_CHECKING:
    import torch

# Photos are reduced to this many pixels on their long side before anything else.
WORK_MAX_SIDE = 1600
# JPEGs longer than this (phone photos: 12 MP is 4000 x 3000) are decoded at a reduced scale (1/2, 1/4 or
# 1/8, by the decoder: fast) that keeps at least PHOTO_DECODE_SIDE pixels on the long side.
PHOTO_JPEG_SIDE = 2 * WORK_MAX_SIDE
PHOTO_DECODE_SIDE = 1600  # a whole page's writing is small: decoding at 1/2 costs about as much as at 1/4
# Images that do not look clean (`data.photo.looks_clean`) are read at most this many pixels long.
PHOTO_WORK_SIDE = 1024
# False: every image takes the clean path (as before the photo path existed; for before/after figures).
PHOTO_PATH = True
# Whole-page photos: the sheet is looked for (`data.page.find_sheet`) and, when one is found with the desk
# around it, rectified before the photo path; a frame without paper is blank (reason "no_paper"). False:
# every photo is read as if the frame were all paper (as before; for before/after figures).
SHEET_PATH = True
# A rectified sheet is read at most this many pixels long (its writing is small: more than a photo's 1024).
SHEET_WORK_SIDE = 1600
# Photos are straightened only when the paper has printed lines (the writing's own baseline is not
# a reliable level: fractions, exponents, a slanted hand; the model is trained with small rotations).
PHOTO_DESKEW_LINED_ONLY = True
# Photos with more pixels than this (working size) are soft-thresholded on the expression's crop only.
PHOTO_CROP_ABOVE = 300_000
# Stroke width (px, at the model's scale) of preprocessed CROHME training images (median over 150 of
# them: 2.75; phone photos of a fine pen come out near 2.1): thinner photo strokes are widened to it.
PHOTO_STROKE_WIDTH = 2.75
PHOTO_THIN_BELOW = 0.9
# Their light is estimated on cells of about this many pixels (at least BACKGROUND_SHORT_SIDE cells).
PHOTO_BACKGROUND_CELL = 6
# The illumination estimate is computed on an image about this many pixels on its short side.
BACKGROUND_SHORT_SIDE = 64
# Window of the maximum filter that removes the ink from that small copy.
BACKGROUND_MAX_WINDOW = 5
# Fraction of pixels (the most contrasted) used to decide the ink polarity.
POLARITY_TOP_FRACTION = 0.02
# Local mean for that decision: a box blur of this fraction of the long side (at least the minimum).
POLARITY_RADIUS_FRACTION = 1 / 40
POLARITY_MIN_RADIUS = 3
# Below this ink contrast (0..1, after illumination normalisation) an image is blank.
MIN_INK_CONTRAST = 0.12
# The soft threshold starts this many (robust) standard deviations above the background.
NOISE_SIGMAS = 4.0
# Box blur radius applied before everything else (pixel noise of photos, JPEG).
DENOISE_RADIUS = 1
# Ink above this level (after the soft threshold) counts for the ink bounding box.
INK_LEVEL = 0.5


class PreprocessError(ValueError):
    """The input cannot be decoded as an image."""


@dataclass
class PreprocessConfig:
    """Model input geometry."""

    height: int = 64  # output height; with max_height > height, the smallest output height
    max_width: int = 1024
    # Symbol-preserving scale (max_height > height): the image is resized so that its typical symbol
    # (`estimate_symbol_height`) is `symbol_height` px high, and the output height follows the
    # expression (height .. max_height, a multiple of `height_multiple`); a tall expression then keeps
    # readable symbols instead of being squeezed into `height` px. 0 = every image is `height` px high.
    max_height: int = 0
    symbol_height: float = 36.0
    height_multiple: int = 16
    margin: int = 4  # blank pixels kept around the ink (output scale)
    width_multiple: int = 16  # patch size of the encoder
    min_width: int = 32
    binarize: bool = True  # soft threshold: background -> 0, ink core -> 1

    def __post_init__(self) -> None:
        if self.max_width % self.width_multiple or self.height <= 2 * self.margin:
            raise ValueError(f"inconsistent {self}: max_width must be a multiple of width_multiple")
        if self.max_height and (self.max_height < self.height or self.max_height % self.height_multiple):
            raise ValueError(
                f"inconsistent {self}: max_height must be >= height and a multiple of height_multiple"
            )

    @property
    def variable_height(self) -> bool:
        return self.max_height > self.height


def to_pil(image: Image.Image | np.ndarray | bytes | bytearray) -> Image.Image:
    """Decode bytes / wrap arrays; raise `PreprocessError` on anything that is not an image."""
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, bytes | bytearray | memoryview):
        try:
            im = Image.open(io.BytesIO(bytes(image)))
            if im.format == "JPEG":
                im.draft("L", _draft_size(im.size))  # decode reduced and gray: fast
            im.load()
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise PreprocessError(f"cannot decode image: {exc}") from exc
        return im
    if isinstance(image, np.ndarray):
        arr = image
        if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[2] not in (1, 3, 4):
            arr = np.moveaxis(arr, 0, -1)  # (H, W, C)
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]  # (H, W)
        if arr.ndim not in (2, 3) or arr.size == 0:
            raise PreprocessError(f"array of shape {image.shape} is not an image")
        if arr.dtype != np.uint8:
            arr = arr.astype(np.float32)
            if arr.max(initial=0.0) <= 1.0:
                arr = arr * 255.0
            arr = np.clip(np.nan_to_num(arr), 0, 255).astype(np.uint8)
        return Image.fromarray(arr)
    raise PreprocessError(f"unsupported image type {type(image).__name__}")


def _draft_size(size: tuple[int, int]) -> tuple[int, int]:
    """The size to ask the JPEG decoder for (it decodes at the smallest power-of-2 scale not below it)."""
    w, h = size
    if max(w, h) <= PHOTO_JPEG_SIDE:
        return WORK_MAX_SIDE, WORK_MAX_SIDE
    k = next(k for k in (8, 4, 2, 1) if max(w, h) / k >= PHOTO_DECODE_SIDE)
    return math.ceil(w / k), math.ceil(h / k)


def _to_gray(im: Image.Image) -> Image.Image:
    """Grayscale; transparent images are put on a background contrasting with their ink."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"))
        gray = rgba.convert("L")
        if alpha.min() < 255:
            lum = np.asarray(gray)
            opaque = alpha > 127
            ink_dark = lum[opaque].mean() < 128 if opaque.any() else True
            bg = Image.new("L", rgba.size, 255 if ink_dark else 0)
            bg.paste(gray, (0, 0), rgba.getchannel("A"))
            return bg
        return gray
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(im, dtype=np.float32)
        lo, hi = float(arr.min(initial=0.0)), float(arr.max(initial=0.0))
        arr = (arr - lo) / max(hi - lo, 1e-6) * 255.0
        return Image.fromarray(arr.astype(np.uint8))
    return im.convert("L")


def to_gray(image: Image.Image | np.ndarray | bytes) -> Image.Image:
    """Any supported image -> grayscale PIL image, upright (EXIF), as `preprocess` reads it first."""
    im = to_pil(image)
    try:
        im = ImageOps.exif_transpose(im) or im
    except (ValueError, OSError, SyntaxError, KeyError, TypeError):
        pass  # a broken EXIF block: keep the pixels as stored
    return _to_gray(im)


def _max_filter(arr: np.ndarray, k: int) -> np.ndarray:
    """Separable k x k maximum filter (edge-padded) of a 2-D array."""
    r = k // 2
    out = np.pad(arr, r, mode="edge")
    h, w = arr.shape
    rows = out[:, r : r + w].copy()
    for d in range(-r, r + 1):
        np.maximum(rows, out[:, r + d : r + d + w], out=rows)  # (H + 2r, W)
    res = rows[r : r + h].copy()
    for d in range(-r, r + 1):
        np.maximum(res, rows[r + d : r + d + h], out=res)  # (H, W)
    return res


def _blur_radius(size: tuple[int, int]) -> int:
    return max(POLARITY_MIN_RADIUS, round(max(size) * POLARITY_RADIUS_FRACTION))


def ink_map(gray: Image.Image, background_short_side: int = BACKGROUND_SHORT_SIDE) -> np.ndarray:
    """Grayscale image -> float32 (H, W) ink strength in [0, 1] (polarity and lighting removed); the
    lighting is estimated on a copy `background_short_side` px on its short side."""
    g = np.asarray(gray, dtype=np.float32) / 255.0  # (H, W)
    # Polarity: ink pixels are the strongest local outliers; their sign says dark or light ink.
    local = np.asarray(gray.filter(ImageFilter.BoxBlur(_blur_radius(gray.size))), dtype=np.float32) / 255.0
    step = 2 if min(g.shape) >= 64 else 1
    resid = (g[::step, ::step] - local[::step, ::step]).ravel()  # (N,)
    k = max(1, int(resid.size * POLARITY_TOP_FRACTION))
    top = np.argpartition(np.abs(resid), resid.size - k)[resid.size - k :]
    if float(resid[top].sum()) > 0.0:  # light ink on a dark background
        g = 1.0 - g
        gray = ImageOps.invert(gray)
    # Illumination: paper brightness from a max-filtered (ink removed), blurred small copy.
    w, h = gray.size
    factor = max(1.0, min(w, h) / background_short_side)
    small_size = (max(1, round(w / factor)), max(1, round(h / factor)))
    small = gray.resize(small_size, Image.Resampling.BOX) if factor > 1 else gray
    small = Image.fromarray(_max_filter(np.asarray(small), BACKGROUND_MAX_WINDOW)).filter(
        ImageFilter.BoxBlur(2)
    )
    bg = np.asarray(small.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0  # (H, W)
    bg = np.maximum(bg, g)
    return np.clip(1.0 - g / np.maximum(bg, 1e-3), 0.0, 1.0)


def _otsu(values: np.ndarray) -> float:
    hist = np.bincount(np.clip((values * 255).astype(np.int64), 0, 255).ravel(), minlength=256).astype(
        np.float64
    )
    total = hist.sum()
    bins = np.arange(256, dtype=np.float64)
    w0 = np.cumsum(hist)
    m0 = np.cumsum(hist * bins)
    w1 = total - w0
    mu0 = m0 / np.maximum(w0, 1)
    mu1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mu0 - mu1) ** 2
    return float(np.argmax(between[:-1])) / 255.0


def soft_threshold(ink: np.ndarray) -> np.ndarray:
    """Background -> 0, ink core -> 1, a linear ramp in between (anti-aliased edges kept).

    The ramp starts above both half the Otsu threshold and the background noise level.
    """
    t = max(_otsu(ink), MIN_INK_CONTRAST)
    strong = ink[ink > t]
    hi = float(np.percentile(strong, 90)) if strong.size else 1.0
    sample = ink[::2, ::2] if ink.size > 4096 else ink
    bg = sample[sample <= t]
    noise_floor = 0.0
    if bg.size:
        med = float(np.median(bg))
        noise_floor = med + NOISE_SIGMAS * 1.4826 * float(np.median(np.abs(bg - med)))
    lo = min(max(0.5 * t, noise_floor), 0.9 * t)
    hi = max(hi, lo + 0.05)
    return np.clip((ink - lo) / (hi - lo), 0.0, 1.0)


def _ink_bbox(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the ink, ignoring isolated pixels; None when there is none."""
    raw = ink > INK_LEVEL  # (H, W)
    m = raw.copy()
    # Drop isolated pixels (no 4-neighbour): noise specks must not stretch the box.
    nb = np.zeros_like(raw)
    nb[1:, :] |= raw[:-1, :]
    nb[:-1, :] |= raw[1:, :]
    nb[:, 1:] |= raw[:, :-1]
    nb[:, :-1] |= raw[:, 1:]
    m &= nb
    rows = np.flatnonzero(m.any(axis=1))
    if rows.size == 0:
        m = raw
        rows = np.flatnonzero(m.any(axis=1))
        if rows.size == 0:
            return None
    cols = np.flatnonzero(m.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def estimate_symbol_height(ink: np.ndarray) -> float | None:
    """Typical symbol height (px) of an ink crop: the image is cut at ink-free columns into
    segments (symbols, or stacks such as fractions) and the median segment ink height is taken;
    None without ink. Robust to a few tall stacks; cheap (two projections)."""
    b = ink > INK_LEVEL  # (h, w)
    cols = np.pad(b.any(axis=0), 1).astype(np.int8)
    edges = np.diff(cols)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    heights = []
    for a, z in zip(starts, ends, strict=True):
        if z - a < 2:  # specks and dots do not set the scale
            continue
        rows = np.flatnonzero(b[:, a:z].any(axis=1))
        heights.append(rows[-1] - rows[0] + 1)
    if not heights:
        return None
    return float(np.median(heights))


def output_height(crop_h: int, symbol_h: float | None, cfg: PreprocessConfig) -> tuple[int, float]:
    """(output height, scale) of a crop `crop_h` px high for the symbol-preserving scale."""
    inner_min, inner_max = cfg.height - 2 * cfg.margin, cfg.max_height - 2 * cfg.margin
    scale = cfg.symbol_height / symbol_h if symbol_h else inner_min / crop_h
    inner = min(max(crop_h * scale, inner_min), inner_max)
    out_h = math.ceil((inner + 2 * cfg.margin) / cfg.height_multiple) * cfg.height_multiple
    out_h = min(max(out_h, cfg.height), cfg.max_height)
    return out_h, inner / crop_h


def _blank(cfg: PreprocessConfig) -> np.ndarray:
    width = max(cfg.min_width, cfg.width_multiple)
    return np.zeros((1, cfg.height, width), dtype=np.float32)  # (1, H, W)


def _tensor(x: np.ndarray) -> torch.Tensor:
    import torch

    return torch.from_numpy(x)


def looks_clean_image(image: Image.Image | np.ndarray | bytes) -> bool:
    """`data.photo.looks_clean` of an image, decoded and grey: True where `preprocess` takes the clean
    path (a render or scan), False where it takes the photo path. `PreprocessError` if undecodable."""
    return photo.looks_clean(_to_gray(to_pil(image)))


def view_image(tensor: torch.Tensor, dark_on_light: bool = True) -> Image.Image:
    """A model input (1, H, W), ink = 1, as an 8-bit PIL image (dark ink on white unless told otherwise)."""
    arr = tensor[0].clamp(0, 1).numpy()  # (H, W)
    if dark_on_light:
        arr = 1.0 - arr
    return Image.fromarray((arr * 255.0 + 0.5).astype(np.uint8), "L")


def preprocess(
    image: Image.Image | np.ndarray | bytes,
    cfg: PreprocessConfig = PreprocessConfig(),
    *,
    info: dict | None = None,
    line: int | None = None,
) -> torch.Tensor:
    """Any image -> float32 (1, H, W) in [0, 1], ink = 1; `PreprocessError` if undecodable (`info`, `line`:
    see `preprocess_array`)."""
    return _tensor(preprocess_array(image, cfg, info=info, line=line))


def preprocess_array(
    image: Image.Image | np.ndarray | bytes,
    cfg: PreprocessConfig = PreprocessConfig(),
    *,
    info: dict | None = None,
    line: int | None = None,
) -> np.ndarray:
    """`preprocess` as a NumPy array (1, H, W) float32, without torch (the ONNX runtime's path). `info`, when
    given, receives what the photo path saw (`preprocess_page_array`); `line` (1 = the top one) picks a line
    of writing of a photo (default: the heaviest)."""
    im = to_pil(image)
    try:
        im = ImageOps.exif_transpose(im) or im
    except (ValueError, OSError, SyntaxError, KeyError, TypeError):
        pass  # a broken EXIF block: keep the pixels as stored
    if im.width == 0 or im.height == 0:
        return _blank(cfg)
    gray = _to_gray(im)
    if max(gray.size) > WORK_MAX_SIDE:
        f = WORK_MAX_SIDE / max(gray.size)
        gray = gray.resize(
            (max(1, round(gray.width * f)), max(1, round(gray.height * f))), Image.Resampling.BOX
        )
    lo, hi = gray.getextrema()
    if hi - lo < MIN_INK_CONTRAST * 255:  # uniform image: nothing written
        if info is not None and hi < page.NO_PAPER_LEVEL * 255:
            info["reason"] = "no_paper"  # a dark frame: no paper in view either
        return _blank(cfg)
    if PHOTO_PATH and not photo.looks_clean(gray):
        return preprocess_page_array(gray, cfg, info, line)
    ink = ink_map(gray.filter(ImageFilter.BoxBlur(DENOISE_RADIUS)) if DENOISE_RADIUS else gray)
    if float(ink.max(initial=0.0)) < MIN_INK_CONTRAST:
        return _blank(cfg)
    if cfg.binarize:
        ink = soft_threshold(ink)
    return place_ink_array(ink, cfg)


@dataclass(frozen=True)
class PageLines:
    """The lines of writing that `preprocess` finds in an image, without reading them (`find_lines`)."""

    count: int  # lines of writing; `preprocess(image, line=k)` reads line k (1 = the top one) of these
    boxes: list[
        list[list[float]]
    ]  # each line's corners [[x, y] x 4] as fractions of the image, top to bottom
    default: int | None  # the line read when none is asked for (1 = the top one); None without writing
    sheet: list[list[float]] | None  # the sheet's corners (fractions) when a sheet was found on a desk
    reason: str | None  # "no_paper" (a frame without paper), "blank" (no writing found), else None


def find_lines(
    image: Image.Image | np.ndarray | bytes, cfg: PreprocessConfig = PreprocessConfig()
) -> PageLines:
    """The lines of writing of an image, as `preprocess` splits them (`data.lines.writing_lines` on the photo path),
    without recognizing anything: their number, boxes and the default one. A clean image (a scan, a
    screenshot, a CROHME render) takes the clean path, which reads the image whole: one line, its box the
    writing's (none listed). `PreprocessError` if undecodable."""
    info: dict = {}
    out = preprocess_array(image, cfg, info=info)
    blank = float(out.max(initial=0.0)) == 0.0
    reason = info.get("reason") or ("blank" if blank else None)
    boxes = [] if blank else list(info.get("line_boxes") or ([info["writing"]] if "writing" in info else []))
    count = len(boxes) if boxes or blank else 1
    default = None if blank else int(info.get("line", 1))
    return PageLines(count, boxes, default, info.get("sheet"), reason)


def preprocess_page_array(
    gray: Image.Image,
    cfg: PreprocessConfig = PreprocessConfig(),
    info: dict | None = None,
    line: int | None = None,
) -> np.ndarray:
    """A photo (grayscale, no uniform background) -> model input. The sheet is looked for first
    (`data.page.find_sheet`): a sheet lying on a desk is rectified and read on its own (its edges, a pen,
    holes and a printed margin cleared); a frame that is all paper takes `preprocess_photo_array` exactly as
    before; a frame without paper is blank, with `info["reason"] = "no_paper"`. `info` also receives the
    sheet's corners, the writing's box and its lines, as (x, y) fractions of `gray`'s width and height."""
    if not SHEET_PATH:
        return preprocess_photo_array(gray, cfg, info, line=line)
    found = page.find_sheet(gray)
    if info is not None:
        info.update(sheet_search=found.kind, sheet=None)
    if found.kind == "none":
        if info is not None:
            info["reason"] = "no_paper"
        return _blank(cfg)
    if found.kind == "paper":
        return preprocess_photo_array(gray, cfg, info, line=line)
    rect = page.rectify(gray, found.corners, SHEET_WORK_SIDE)
    size = np.array(gray.size, dtype=np.float64)
    if info is not None:
        info["sheet"] = _rounded(found.corners / size)
    to_frame = lambda pts: page.apply(rect.to_photo, pts) / size  # noqa: E731
    return preprocess_photo_array(rect.image, cfg, info, line=line, sheet=True, to_frame=to_frame)


def _rounded(pts: np.ndarray) -> list[list[float]]:
    return [[round(float(x), 4), round(float(y), 4)] for x, y in pts]


def _box_corners(box: tuple[int, int, int, int]) -> np.ndarray:
    """(y0, y1, x0, x1) -> its corners (4, 2) x, y: top-left, top-right, bottom-right, bottom-left."""
    y0, y1, x0, x1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def _unturn(pts: np.ndarray, angle: float, turned: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Points (N, 2) of an image turned by `data.photo.straighten` (`angle` degrees, expanded to `turned`
    (w, h)) back in the image before it was turned (`size` (w, h))."""
    t = math.radians(angle)
    d = pts - np.array(turned, dtype=np.float64) / 2
    x = d[:, 0] * math.cos(t) - d[:, 1] * math.sin(t)
    y = d[:, 0] * math.sin(t) + d[:, 1] * math.cos(t)
    return np.c_[x, y] + np.array(size, dtype=np.float64) / 2


def preprocess_photo(
    gray: Image.Image, cfg: PreprocessConfig = PreprocessConfig(), info: dict | None = None
) -> torch.Tensor:
    """`preprocess_photo_array` as a tensor."""
    return _tensor(preprocess_photo_array(gray, cfg, info))


def preprocess_photo_array(
    gray: Image.Image,
    cfg: PreprocessConfig = PreprocessConfig(),
    info: dict | None = None,
    *,
    line: int | None = None,
    sheet: bool = False,
    to_frame: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """A photo (grayscale, no uniform background) -> model input: the clean path's ink map, then the
    tilt straightened, printed lines removed and the expression cropped (`data.photo`) before the soft
    threshold and placement. `info`, when given, receives what was done (angle, line bands, box, the lines
    of writing). `sheet`: `gray` is a rectified sheet (`data.page.rectify`): it is not turned, and its edges,
    thick objects and printed margin are cleared (`data.page.clean_sheet`); `to_frame` maps its pixels to
    the photo's (fractions of its size). The lines of writing (`data.lines.split_lines`) are listed in
    `info`; one is read alone (the others cleared) on a sheet or when `line` is given (1 = the top one;
    default the heaviest), else the expression is found as before."""
    if max(gray.size) > PHOTO_WORK_SIDE and not sheet:
        f = PHOTO_WORK_SIDE / max(gray.size)
        gray = gray.resize(
            (max(1, round(gray.width * f)), max(1, round(gray.height * f))), Image.Resampling.BOX
        )
    # light estimated finer than on the clean path: a photo's shadows and uneven paper vary faster
    short = max(BACKGROUND_SHORT_SIDE, round(min(gray.size) / PHOTO_BACKGROUND_CELL))
    ink = ink_map(gray.filter(ImageFilter.BoxBlur(DENOISE_RADIUS)) if DENOISE_RADIUS else gray, short)
    if float(ink.max(initial=0.0)) < MIN_INK_CONTRAST:
        return _blank(cfg)
    threshold = photo.mark_threshold(ink)
    work_size = gray.size
    if sheet:  # rectified: upright already, its printed lines run along the rows and columns
        ink, angle, lines = page.clean_sheet(ink), 0.0, 0
    else:
        turned, angle = photo.straighten(ink, threshold)
        turned, lines = photo.remove_lines(turned, threshold)
        if lines >= photo.MIN_LINES_TO_DESKEW or not PHOTO_DESKEW_LINED_ONLY:
            ink = turned
        else:  # plain paper: the writing keeps its own slant, as in the training data
            ink, angle = (photo.remove_lines(ink, threshold)[0], 0.0) if lines else (ink, 0.0)
    if info is not None:
        info.update(photo=True, angle_deg=round(angle, 2), lines=lines, work_size=list(gray.size))
    if float(ink.max(initial=0.0)) < MIN_INK_CONTRAST:
        return _blank(cfg)
    if to_frame is None:
        ink_size = (ink.shape[1], ink.shape[0])
        scale = np.array(work_size, dtype=np.float64)

        def to_frame(pts: np.ndarray) -> np.ndarray:
            return (_unturn(pts, angle, ink_size, work_size) if angle else pts) / scale

    ink = _pick_line(ink, info, line, sheet, to_frame)
    if cfg.binarize and ink.size <= PHOTO_CROP_ABOVE:
        # small: thresholded whole, as the clean path does, then cut to the expression
        ink = soft_threshold(ink)
        box = photo.expression_box(ink > INK_LEVEL)
        level = INK_LEVEL
    else:
        # large: the expression is found on a quick threshold, then only its crop is thresholded (cheaper,
        # and the soft threshold's statistics are those of the writing, not of a page of empty paper)
        sample = ink[::4, ::4] if ink.size > 65536 else ink
        level = max(_otsu(sample), MIN_INK_CONTRAST)
        box = photo.expression_box(ink > level)
    if box is None:
        return _blank(cfg)
    y0, y1, x0, x1 = photo.pad_box(box, ink.shape)
    crop = ink[y0:y1, x0:x1]
    contrast = photo.stroke_contrast(crop, crop > level)
    if info is not None:
        info.update(box=[y0, y1, x0, x1], stroke_contrast=round(contrast, 3))
        info["writing"] = _rounded(to_frame(_box_corners(box)))
    if contrast < (page.MIN_STROKE_CONTRAST if sheet else photo.MIN_STROKE_CONTRAST):  # shading, not writing
        return _blank(cfg)
    if cfg.binarize and ink.size > PHOTO_CROP_ABOVE:
        crop = soft_threshold(crop)
    if cfg.binarize:
        inner = photo.expression_box(crop > INK_LEVEL)
        if inner is None:
            return _blank(cfg)
        b0, b1, c0, c1 = inner
        kept = np.zeros_like(crop)
        kept[b0:b1, c0:c1] = crop[b0:b1, c0:c1]
        crop = kept
    out = place_ink_array(crop, cfg)
    width = photo.stroke_width(out[0])
    if info is not None:
        info["stroke_width"] = round(width, 2)
    if 0 < width < PHOTO_THIN_BELOW * PHOTO_STROKE_WIDTH:  # a fine pen, scaled down: as bold as training's
        gain = min(1.0, (PHOTO_STROKE_WIDTH - width) / 2.0)  # a 3 x 3 maximum adds 2 px
        out = _lerp(out, _max3(out), gain)
    return out


def _pick_line(
    ink: np.ndarray,
    info: dict | None,
    line: int | None,
    sheet: bool,
    to_frame: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """The lines of writing of an ink map (listed in `info`) and the ink of the one to read: on a sheet or
    when `line` is asked for, all but that line's ink is cleared (the other lines, and what is no writing:
    a hole's rim, a pen's outline); else the ink as it is."""
    sample = ink[::4, ::4] if ink.size > 65536 else ink
    max_height = MAX_LINE_HEIGHT * ink.shape[0] if sheet else None
    level = min(max(_otsu(sample), MIN_INK_CONTRAST), INK_LEVEL)
    weighed = writing_lines(ink, ink > level, max_height)
    if not weighed:
        return ink
    found = [f for f, _ in weighed]
    pick = int(np.argmax([wt for _, wt in weighed]))
    if line is not None:
        if not 1 <= line <= len(found):
            if info is not None:
                info.update(reason="no_such_line", line_count=len(found))
            return np.zeros_like(ink)
        pick = line - 1
    if info is not None:
        info["line"] = pick + 1
        info["line_boxes"] = [_rounded(to_frame(f.corners())) for f in found]
    if not (sheet or line is not None):
        return ink
    return np.where(line_mask(found, pick, ink.shape), ink, 0).astype(ink.dtype)


def _max3(x: np.ndarray) -> np.ndarray:
    """(1, H, W) -> the maximum over each pixel's 3 x 3 neighbourhood (the image's edge padded with -inf)."""
    padded = np.pad(x[0], 1, constant_values=-np.inf)  # (H + 2, W + 2)
    h, w = x.shape[-2:]
    shifted = [padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)]  # 9 x (H, W)
    return np.max(np.stack(shifted), axis=0)[None]  # (1, H, W)


def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """`torch.lerp` in float32: its two formulas (exact at both ends), each a fused multiply-add (the
    product is exact in float64, so only the sum rounds, as an FMA does)."""
    w = np.float64(np.float32(weight))
    diff = (end - start).astype(np.float64)
    if weight < 0.5:
        out = start.astype(np.float64) + w * diff
    else:
        out = end.astype(np.float64) - diff * np.float64(np.float32(1.0) - np.float32(weight))
    return out.astype(np.float32)


def place_ink(ink: np.ndarray, cfg: PreprocessConfig = PreprocessConfig()) -> torch.Tensor:
    """`place_ink_array` as a tensor."""
    return _tensor(place_ink_array(ink, cfg))


def place_ink_array(ink: np.ndarray, cfg: PreprocessConfig = PreprocessConfig()) -> np.ndarray:
    """An ink map (H, W) in [0, 1], ink = 1, background = 0 -> the model input (1, H', W'): the ink
    cropped, scaled and placed with its margin as `preprocess` places it (no polarity or light)."""
    box = _ink_bbox(ink)
    if box is None:
        return _blank(cfg)
    y0, y1, x0, x1 = box
    crop = ink[y0:y1, x0:x1]  # (h, w)
    h, w = crop.shape
    out_h = cfg.height
    inner_h = cfg.height - 2 * cfg.margin
    if cfg.variable_height:
        out_h, s = output_height(h, estimate_symbol_height(crop), cfg)
        inner_h = min(out_h - 2 * cfg.margin, max(1, round(h * s)))
    inner_w_max = cfg.max_width - 2 * cfg.margin
    scale = min(inner_h / h, inner_w_max / w)
    new_w = max(1, min(inner_w_max, round(w * scale)))
    new_h = max(1, min(inner_h, round(h * scale)))
    method = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    crop_im = Image.fromarray((crop * 255.0 + 0.5).astype(np.uint8))
    resized = np.asarray(crop_im.resize((new_w, new_h), method), dtype=np.float32) / 255.0  # (h', w')
    out_w = math.ceil((new_w + 2 * cfg.margin) / cfg.width_multiple) * cfg.width_multiple
    out_w = max(min(out_w, cfg.max_width), cfg.min_width)
    out = np.zeros((out_h, out_w), dtype=np.float32)  # (H, W)
    top = (out_h - new_h) // 2
    out[top : top + new_h, cfg.margin : cfg.margin + new_w] = resized
    return out[None]  # (1, H, W)
