"""api.images: the upload's pixels are decoded at the size the pipeline needs, not the phone's 12 MP."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from api.images import DRAFT_MAX_SIDE, load_image


@pytest.mark.parametrize("size", [(4000, 3000), (3000, 4000), (3400, 1000)])
def test_a_large_jpeg_is_decoded_reduced_in_both_directions(size: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    w, h = size
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, format="JPEG")
    im = load_image(Image.open(io.BytesIO(buf.getvalue())))
    # decoded at a power-of-2 scale that still covers DRAFT_MAX_SIDE on the long side, and smaller than sent
    assert DRAFT_MAX_SIDE <= max(im.size) < max(size)
    assert im.size[0] / im.size[1] == pytest.approx(w / h, rel=0.01)


def test_a_small_jpeg_is_decoded_whole() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (800, 600), "white").save(buf, format="JPEG")
    assert load_image(Image.open(io.BytesIO(buf.getvalue()))).size == (800, 600)
