"""Every error code of the service, with real (or truncated/forged) images; bad input never yields 5xx."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from api.limits import MAX_BEAM


def err(r: object, status: int, code: str | None = None) -> dict[str, str]:
    """Assert the JSON error shape and status; return the error object."""
    assert r.status_code == status, (r.status_code, r.text)  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grayscale
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


# ------------------------------------------------------------------ 413


def test_413_upload_over_the_default_limit(client: TestClient) -> None:
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * 1024 * 1024)
    err(client.post("/recognize", files={"file": ("big.png", big)}), 413, "payload_too_large")
    err(client.post("/solve", content=big, headers={"Content-Type": "image/png"}), 413, "payload_too_large")


def test_413_over_a_configured_limit_in_every_body_form(
    make_client: Callable[..., TestClient], images_dir: Path
) -> None:
    import base64

    c = make_client(max_upload_bytes=4000)
    data = (images_dir / "x2_minus_4_photo_exif.jpg").read_bytes()  # ~14 kB
    assert len(data) > 4000
    err(c.post("/solve", files={"file": ("p.jpg", data)}), 413, "payload_too_large")
    err(c.post("/recognize", json={"image": base64.b64encode(data).decode()}), 413, "payload_too_large")
    err(c.post("/symbol", content=data, headers={"Content-Type": "image/jpeg"}), 413, "payload_too_large")
    small = (images_dir / "x2_minus_4.png").read_bytes()
    assert c.post("/recognize", files={"file": ("s.png", small)}).status_code == 200


def test_413_decompression_bomb(
    client: TestClient, make_client: Callable[..., TestClient], images_dir: Path
) -> None:
    bomb = bomb_png(100_000, 100_000)
    assert len(bomb) < 2000
    e = err(client.post("/recognize", files={"file": ("bomb.png", bomb)}), 413, "image_too_large")
    assert "pixels" in e["message"]
    assert "bomb" not in e["message"] and "DOS" not in e["message"]
    small_limit = make_client(max_pixels=10_000)  # the fixture is 204 x 85 = 17340 pixels
    err(
        small_limit.post("/solve", files={"file": ("x.png", (images_dir / "x2_minus_4.png").read_bytes())}),
        413,
    )


@pytest.mark.parametrize("size", [(8000, 7000), (20000, 20000), (100_000, 100_000)])
def test_413_pixel_limit_has_one_message(client: TestClient, size: tuple[int, int]) -> None:
    """Over the service's limit and over Pillow's own bomb limit: the same code and the same wording."""
    e = err(client.post("/solve", files={"file": ("big.png", bomb_png(*size))}), 413, "image_too_large")
    w, h = size
    assert e["message"] == f"the image has {w * h} pixels; the limit is 50000000 pixels"


# ------------------------------------------------------------------ 415


@pytest.mark.parametrize(
    "payload",
    [b"just some text, not an image\n", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", b"<svg xmlns='x'></svg>"],
)
def test_415_not_an_image(client: TestClient, payload: bytes) -> None:
    err(client.post("/recognize", files={"file": ("x.png", payload)}), 415, "unsupported_media_type")
    err(client.post("/solve", files={"file": ("x.png", payload)}), 415, "unsupported_media_type")


def test_415_real_file_of_another_kind(client: TestClient) -> None:
    readme = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_bytes()
    err(client.post("/symbol", files={"file": ("pyproject.toml", readme)}), 415, "unsupported_media_type")


def test_415_unsupported_body_type(client: TestClient) -> None:
    r = client.post("/solve", content=b"x^2=1", headers={"Content-Type": "text/plain"})
    err(r, 415, "unsupported_media_type")


# ------------------------------------------------------------------ 422


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_422_truncated_image(client: TestClient, images_dir: Path) -> None:
    for name in ("x2_minus_4_photo_exif.jpg", "2x_plus_1_scan.tif", "x2_minus_4.png"):
        data = (images_dir / name).read_bytes()
        r = client.post("/recognize", files={"file": (name, data[: len(data) // 2])})
        err(r, 422, "corrupt_image")
    err(client.post("/recognize", files={"file": ("h.png", b"\x89PNG\r\n\x1a\n")}), 422, "corrupt_image")


def test_422_empty_and_blank_images(client: TestClient) -> None:
    err(client.post("/recognize", files={"file": ("empty.png", b"")}), 422, "empty_image")
    buf = io.BytesIO()
    Image.new("RGB", (300, 120), (250, 250, 245)).save(buf, format="JPEG")  # a photo of blank paper
    err(client.post("/solve", files={"file": ("blank.jpg", buf.getvalue())}), 422, "blank_image")
    err(client.post("/symbol", files={"file": ("blank.jpg", buf.getvalue())}), 422, "blank_image")


def test_422_bad_json_and_base64(client: TestClient) -> None:
    err(client.post("/solve", json={"image": "!!! not base64 !!!"}), 422, "invalid_base64")
    err(client.post("/solve", json={"image": "data:image/png,abc"}), 422, "invalid_base64")
    err(client.post("/solve", content=b"{not json", headers={"Content-Type": "application/json"}), 422)
    err(client.post("/solve", json=["a", "list"]), 422, "invalid_json")
    err(client.post("/solve", json={"latex": 12}), 422, "invalid_json")
    err(client.post("/solve", json={}), 422, "missing_input")
    err(client.post("/solve", files={"other": ("a.txt", b"x")}), 422, "missing_input")


def test_422_malformed_multipart(client: TestClient, images_dir: Path) -> None:
    png = (images_dir / "x2_minus_4.png").read_bytes()
    two = [("file", ("a.png", png)), ("image", ("b.png", png))]
    err(client.post("/recognize", files=two), 422, "malformed_request")
    for ctype in ("multipart/form-data", "multipart/form-data; boundary=xyz"):
        err(
            client.post("/solve", content=b"garbage", headers={"Content-Type": ctype}),
            422,
            "malformed_request",
        )


def test_422_unusable_latex(client: TestClient) -> None:
    err(client.post("/solve", json={"latex": "   "}), 422, "empty_latex")
    err(client.post("/solve", json={"latex": "\\frac{1}{2"}), 422, "unbalanced_latex")
    err(client.post("/solve", json={"latex": "x}{=1"}), 422, "unbalanced_latex")
    err(client.post("/solve", json={"latex": "x" * 20_000}), 422, "latex_too_long")
    err(client.post("/solve", json={"latex": "x\x00=1"}), 422, "invalid_latex")
    # escaped braces are not grouping braces
    assert client.post("/solve", json={"latex": "\\{ x \\} = 1"}).status_code == 200


def test_422_bad_parameters_and_wrong_input_kind(client: TestClient, images_dir: Path) -> None:
    data = (images_dir / "x2_minus_4.png").read_bytes()
    for beam in ("0", str(MAX_BEAM + 1), "abc", "1.5"):
        err(
            client.post("/recognize", files={"file": ("x.png", data)}, data={"beam": beam}),
            422,
            "invalid_parameter",
        )
    err(client.post("/solve", json={"latex": "x=1", "lang": "fr"}), 422, "invalid_parameter")
    err(client.post("/recognize", json={"latex": "x=1"}), 422, "invalid_input")
    import base64

    both = {"latex": "x=1", "image": base64.b64encode(data).decode()}
    err(client.post("/solve", json=both), 422, "invalid_input")


def test_json_errors_for_framework_errors(client: TestClient) -> None:
    err(client.get("/nope"), 404, "not_found")
    err(client.get("/solve"), 405, "method_not_allowed")


# ------------------------------------------------------------------ never 5xx


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=2048),
    prefix=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM"]),
)
def test_random_bytes_never_5xx(client: TestClient, data: bytes, prefix: bytes) -> None:
    r = client.post("/recognize", files={"file": ("x", prefix + data)})
    assert r.status_code in (200, 413, 415, 422), r.text
    if r.status_code != 200:
        err(r, r.status_code)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(latex=st.text(alphabet=st.sampled_from(list("x2^{}=+-\\frac()sqrt ,.|<>")), max_size=60))
def test_random_latex_never_5xx(client: TestClient, latex: str) -> None:
    r = client.post("/solve", json={"latex": latex})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        assert r.json()["solution"]["kind"] in {"equation", "inequality", "system", "expression", "error"}
