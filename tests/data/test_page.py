"""`data.page`: the sheet found on each kind of desk, photos that are all paper unchanged byte for byte, the
writing's lines split without splitting a fraction, a frame without paper and an empty sheet told apart; and
`data.photo_render.page_photo`, the renderer these are checked on."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

import data.preprocess as pre
from data import page
from data.augment import AugmentConfig, augment
from data.inkml import read_inkml
from data.photo_render import DESKS, PageConfig, page_photo, phone_photo
from data.render import render_strokes

INKML = Path(__file__).resolve().parents[1] / "fixtures" / "crohme" / "inkml"
FRACTION = INKML / "train" / "expressmatch" / "70_Frank.inkml"  # \cos \theta = \frac{x}{\sqrt{x^2 + y^2}}
SIMPLE = INKML / "test2014" / "RIT_2014_97.inkml"


def _ink(path: Path, height: int = 200) -> Image.Image:
    return render_strokes(read_inkml(path).strokes, height=height, pen_width=5.0)


def _jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _gray(data: bytes) -> Image.Image:
    return pre._to_gray(pre.to_pil(data))


def _visible_error(found: np.ndarray, truth: np.ndarray, size: tuple[int, int]) -> float:
    """The largest distance (px) between found and true corners, over the true corners inside the frame."""
    w, h = size
    inside = (truth[:, 0] >= 0) & (truth[:, 0] < w) & (truth[:, 1] >= 0) & (truth[:, 1] < h)
    return float(np.abs(found - truth)[inside].max(initial=0.0))


def _flood_labels(mask: np.ndarray) -> np.ndarray:
    """`page.labels` the slow, plain way: a flood fill from each unlabelled pixel in row-major order."""
    h, w = mask.shape
    out = np.full((h, w), h * w, dtype=np.int64)
    for y0 in range(h):
        for x0 in range(w):
            if not mask[y0, x0] or out[y0, x0] < h * w:
                continue
            stack = [(y0, x0)]
            out[y0, x0] = y0 * w + x0
            while stack:
                y, x = stack.pop()
                for v, u in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if 0 <= v < h and 0 <= u < w and mask[v, u] and out[v, u] == h * w:
                        out[v, u] = y0 * w + x0
                        stack.append((v, u))
    return out


def test_regions_are_labelled_like_a_flood_fill() -> None:
    rng = np.random.default_rng(11)
    masks = [rng.random(tuple(rng.integers(1, 40, 2))) < rng.uniform(0.2, 0.8) for _ in range(60)]
    spiral = np.zeros((41, 41), dtype=bool)  # one long winding region and the gaps between its turns
    for k in range(0, 20, 2):
        spiral[k, k : 41 - k] = spiral[k : 41 - k, 40 - k] = spiral[40 - k, k : 41 - k] = True
        spiral[k + 2 : 41 - k, k] = True
    masks += [spiral, ~spiral, np.zeros((5, 7), dtype=bool), np.ones((6, 3), dtype=bool)]
    for i, mask in enumerate(masks):
        assert np.array_equal(page.labels(mask), _flood_labels(mask)), i


# seeds (PageConfig() at 1600 x 1200, generator [7, seed]); on seeds 0-24 of each desk the corners are found
# within 40 px on 25 (wood), 25 (dark), 25 (grey) and 19 (light table) of them (benchmarks/page_sheets.py,
# docs/photos.md); refined on the edges, within 1-2 px on these seeds (the search on the 160 px copy alone was
# 10-30 px off: the bound of 8 px checks the refinement)
@pytest.mark.parametrize(
    ("desk", "seeds"), [("wood", (0, 1)), ("dark", (0, 1)), ("grey", (0, 1)), ("light", (1, 2))]
)
def test_the_sheet_is_found_on_each_desk(desk: str, seeds: tuple[int, ...]) -> None:
    ink = _ink(SIMPLE)
    for seed in seeds:
        shot = page_photo([ink], np.random.default_rng([7, seed]), PageConfig(desk=desk))
        found = page.find_sheet(_gray(_jpeg(shot.image)))
        assert found.kind == "sheet", (desk, seed, found.candidates)
        assert _visible_error(found.corners, shot.sheet, shot.image.size) < 8, (desk, seed)


def test_photos_that_are_all_paper_take_the_photo_path_unchanged(fixtures_dir: Path) -> None:
    """Phone photos of a sheet filling the frame, close-ups of `page_photo` and photo-style copies of CROHME
    images: the same bytes with the sheet search as without it."""
    inks = [_ink(p) for p in sorted((INKML / "test2014").glob("*.inkml"))]
    images: list = []
    for seed in range(4):
        paper = ("plain", "lined", "squared")[seed % 3]
        images.append(
            _jpeg(phone_photo(inks[seed], np.random.default_rng(seed), size=(1600, 1200), paper=paper))
        )
        close = page_photo([inks[seed]], np.random.default_rng(seed), PageConfig(fill_frame=True))
        images.append(_jpeg(close.image))
    for seed, path in enumerate(sorted(fixtures_dir.glob("crohme/offline/*/img/*.png"))[:8]):
        images.append(
            augment(Image.open(path), np.random.default_rng(seed), AugmentConfig(colour=True, p_lines=0.5))
        )
    try:
        for i, im in enumerate(images):
            pre.SHEET_PATH = True
            info: dict = {}
            with_search = pre.preprocess_array(im, info=info)
            pre.SHEET_PATH = False
            without = pre.preprocess_array(im)
            assert info.get("sheet_search", "paper") == "paper", i
            assert with_search.shape == without.shape and with_search.tobytes() == without.tobytes(), i
    finally:
        pre.SHEET_PATH = True


# seeds 1 and 3 (of 0-3, which read 3 of 4 on each of these desks; seed 0's sheet is read whole)
@pytest.mark.parametrize("desk", ["wood", "dark", "grey"])
@pytest.mark.parametrize("seed", [1, 3])
def test_a_whole_page_photo_is_read_like_its_close_up(desk: str, seed: int) -> None:
    ink = _ink(SIMPLE)
    clean = pre.preprocess_array(ink)[0]
    # no pen: a pen's remnants may still be taken for writing (docs/photos.md, limits; the evaluation has pens)
    shot = page_photo([ink], np.random.default_rng([7, seed]), PageConfig(desk=desk, p_pen=0.0))
    info: dict = {}
    out = pre.preprocess_array(_jpeg(shot.image), info=info)[0]
    assert info["sheet_search"] == "sheet" and info["line"] >= 1
    assert out.shape[1] == pytest.approx(clean.shape[1], abs=32)  # the expression, not the sheet or the pen
    # the writing's box, mapped back onto the photo, lies on the true line of writing
    box = np.array(info["writing"]) * np.array(shot.image.size)
    truth = shot.lines[0]
    assert np.abs(box.mean(axis=0) - truth.mean(axis=0)).max() < 30


def test_a_page_with_two_lines_reads_the_line_asked_for() -> None:
    inks = [_ink(FRACTION, height=200), _ink(SIMPLE, height=200)]
    shot = page_photo(
        inks, np.random.default_rng([7, 0]), PageConfig(desk="dark", p_pen=0.0, line_gap=(2.0, 2.5))
    )
    data = _jpeg(shot.image)
    first, second, default = {}, {}, {}
    a = pre.preprocess_array(data, info=first, line=1)[0]
    b = pre.preprocess_array(data, info=second, line=2)[0]
    pre.preprocess_array(data, info=default)
    assert len(first["line_boxes"]) == 2 and first["line"] == 1 and second["line"] == 2
    assert default["line"] in (1, 2)
    assert a.shape != b.shape or a.tobytes() != b.tobytes()
    # each box lies on its own line of writing in the photo
    for k, truth in enumerate(shot.lines):
        box = np.array(first["line_boxes"][k]) * np.array(shot.image.size)
        assert np.abs(box.mean(axis=0) - truth.mean(axis=0)).max() < 40, (k, box, truth)
    missing: dict = {}
    assert float(pre.preprocess_array(data, info=missing, line=3).max()) == 0.0
    assert missing["reason"] == "no_such_line" and missing["line_count"] == 2


# light: the sheet search takes a strip of the table above the sheet for paper (its top side on the frame's
# border), and the printed lines, turned 4 degrees in the rectified sheet, are not all taken off; since the
# lines' level is their 25th percentile along a strip (a bar written along a line stays), their remnants pass
# for writing. Over 100 other empty sheets (pens included, seeds [9, 100-124] on each desk) something was read
# on 22 before and 10 after that change (docs/photos.md).
@pytest.mark.parametrize(
    "desk",
    [
        pytest.param(d, marks=pytest.mark.xfail(strict=True, reason="the table taken for the sheet's top"))
        if d == "light"
        else d
        for d in DESKS
    ],
)
def test_a_sheet_without_writing_is_blank(desk: str) -> None:
    shot = page_photo([], np.random.default_rng([7, 1]), PageConfig(desk=desk, p_pen=0.0))
    info: dict = {}
    assert float(pre.preprocess_array(_jpeg(shot.image), info=info).max()) == 0.0
    assert info.get("reason") != "no_paper"


@pytest.mark.parametrize("kind", ["wood", "dark", "night"])
def test_a_frame_without_paper_says_so(kind: str) -> None:
    rng = np.random.default_rng(3)
    if kind == "night":  # a dark, noisy frame
        arr = np.clip(rng.normal(0.08, 0.03, size=(1200, 1600, 3)), 0, 1)
    else:
        from data.photo_render import _desk

        arr = _desk(kind, (1600, 1200), rng)
    info: dict = {}
    out = pre.preprocess_array(_jpeg(Image.fromarray((arr * 255).astype(np.uint8))), info=info)
    assert float(out.max()) == 0.0
    assert info["reason"] == "no_paper"


def test_page_photo_draws_what_it_says() -> None:
    ink = _ink(SIMPLE)
    shot = page_photo([ink], np.random.default_rng(5), PageConfig(desk="dark", size=(800, 600)))
    arr = np.asarray(shot.image.convert("L"), dtype=np.float32)
    assert shot.image.size == (800, 600) and shot.desk == "dark"
    centre = shot.sheet.mean(axis=0).round().astype(int)
    assert arr[centre[1], centre[0]] > 150  # paper in the sheet's middle
    corner = np.array([2, 2])

    def cross(a: np.ndarray, b: np.ndarray) -> float:
        return float(a[0] * b[1] - a[1] * b[0])

    inside = all(cross(shot.sheet[(i + 1) % 4] - shot.sheet[i], corner - shot.sheet[i]) > 0 for i in range(4))
    if not inside:
        assert arr[2, 2] < 100  # dark desk outside it
    assert len(shot.lines) == 1


# seed [7, 3] for both views, the first seed tried (not chosen to pass)
@pytest.mark.parametrize("fill_frame", [False, True], ids=["desk", "close-up"])
def test_find_lines_counts_the_lines_of_a_page_without_reading_them(fill_frame: bool) -> None:
    from data.render import RenderConfig
    from data.synth.build import render_offline

    # three lines as one hand writes them (one scale, one pen), a fraction among them
    paths = (SIMPLE, FRACTION, INKML / "test2014" / "RIT_2014_225.inkml")
    lines = [render_offline(read_inkml(p).strokes) for p in paths]
    cfg = PageConfig(
        desk="wood",
        paper="squared",
        p_pen=0.0,
        line_gap=(1.2, 1.6),
        fill_frame=fill_frame,
        pen_width_px=RenderConfig.pen_width,
    )
    shot = page_photo(lines, np.random.default_rng([7, 3]), cfg)
    found = pre.find_lines(_jpeg(shot.image))
    assert found.count == 3 and len(found.boxes) == 3 and found.reason is None, found
    assert (found.sheet is not None) != fill_frame
    for k, truth in enumerate(shot.lines):  # each box on its own line, top to bottom
        box = np.array(found.boxes[k]) * np.array(shot.image.size)
        assert np.abs(box.mean(axis=0) - truth.mean(axis=0)).max() < 40, (k, box, truth)
    # what preprocess reads for line k is that line alone: three different inputs
    outs = {pre.preprocess_array(_jpeg(shot.image), line=k).tobytes() for k in (1, 2, 3)}
    assert len(outs) == 3


def test_find_lines_on_a_clean_image_and_on_a_frame_without_paper() -> None:
    clean = pre.find_lines(ImageOps.invert(_ink(SIMPLE).convert("L")))  # dark ink on white
    assert clean.count == 1 and clean.default == 1 and clean.reason is None
    from data.photo_render import _desk

    desk = _desk("dark", (1600, 1200), np.random.default_rng(3))
    none = pre.find_lines(_jpeg(Image.fromarray((desk * 255).astype(np.uint8))))
    assert none.count == 0 and none.reason == "no_paper" and none.default is None


def _ruled(h: int = 300, w: int = 600, level: float = 0.2, step: int = 20) -> np.ndarray:
    """An upright sheet's ink map of squared paper: 1 px lines of `level` every `step` px, no writing."""
    ink = np.zeros((h, w), dtype=np.float32)
    ink[::step] = level
    ink[:, ::step] = level
    return ink


@pytest.mark.parametrize("length", [40, 70], ids=["fraction bar", "root's bar"])
def test_printed_lines_go_and_a_stroke_written_along_one_stays(length: int) -> None:
    # a bar written along a printed line, 40 or 70 % of one of the six strips long (the sheet is 600 px wide):
    # the lines' level was taken off it (a bar over half a strip long was taken for the line itself)
    ink = _ruled()
    ink[99:102, 110 : 110 + length] = 0.7  # on the line at row 100
    out = page.remove_rules(ink)
    assert out[100, 115 : 105 + length].min() >= 0.65
    assert out[99:102, 110 : 110 + length].mean() >= 0.6
    lines = _ruled() > 0
    lines[97:104, 108 : 112 + length] = False
    assert out[lines].max() <= 0.02  # the printed lines are gone


def test_writing_near_the_sheets_edge_stays_and_ink_on_the_edge_goes() -> None:
    # a rectified sheet's ink map (500 px short side): a "+" 24 px (4.8 % of it) from the right edge is writing (it
    # was cleared with the edge band of 4 %); a dark piece running into the edge (a pen across the sheet's edge,
    # the desk's remnant) is not
    ink = np.zeros((700, 500), dtype=np.float32)
    ink[290:312, 468:470] = 0.8
    ink[300:302, 458:476] = 0.8
    ink[500:506, 440:500] = 0.8  # into the edge
    out = page.clean_sheet(ink)
    assert out[290:312, 468:470].min() >= 0.7 and out[300:302, 458:476].min() >= 0.7
    assert out[500:506, 440:500].max() == 0.0


# seeds [7, s] of 0-11 on which the writing's box was the pen's (or no writing was found) before the pen's
# outline and shadow were cleared wider (2 x its thickness) and the edge band narrowed (4 -> 2 % of the short
# side); the same 12 of 48 photos with a pen, 2 of them now (dark 3: a silver pen across the sheet's edge;
# light 11: the sheet search, a red pen along the edge)
@pytest.mark.parametrize(("desk", "seed"), [("wood", 4), ("dark", 0), ("grey", 2), ("light", 3)])
def test_a_pen_on_the_sheet_is_not_taken_for_the_writing(desk: str, seed: int) -> None:
    shot = page_photo([_ink(SIMPLE)], np.random.default_rng([7, seed]), PageConfig(desk=desk, p_pen=1.0))
    info: dict = {}
    pre.preprocess_array(_jpeg(shot.image), info=info)
    box = np.array(info["writing"]) * np.array(shot.image.size)
    assert np.abs(box.mean(axis=0) - shot.lines[0].mean(axis=0)).max() < 30


def test_a_fraction_is_written_with_symbols_of_the_pens_size() -> None:
    # one line of writing: its symbols (connected pieces, not flat bars or dots) are `symbol_mm` high, so a
    # fraction is about three of them high (numerator, bar, denominator), not one
    from data.photo_render import MM, written_symbol_height

    marks = np.zeros((200, 300), dtype=np.float32)
    marks[10:50, 10:40] = marks[10:50, 60:80] = marks[120:160, 30:60] = 1.0  # three symbols 40 px high
    marks[80:84, 5:100] = 1.0  # a bar
    marks[100:103, 200:203] = 1.0  # a dot
    assert written_symbol_height(marks) == 40
    ink = _ink(FRACTION)
    shot = page_photo([ink], np.random.default_rng([7, 0]), PageConfig(desk="wood", symbol_mm=(6.0, 6.0)))
    line = shot.lines[0]
    mm = np.linalg.norm(shot.sheet[1] - shot.sheet[0]) * MM  # px (the sheet is portrait or across: its width)
    height_mm = float(line[:, 1].max() - line[:, 1].min()) / mm
    assert height_mm > 2.5 * 6.0
