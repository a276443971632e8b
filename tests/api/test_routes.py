"""Every route with real fixture images (PNG, EXIF-rotated JPEG, WebP, BMP, GIF, TIFF) and the tiny model."""

from __future__ import annotations

import base64
import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from api.app import create_app
from api.images import HEIF_AVAILABLE
from api.settings import Settings
from seq2latex.calibration import CALIBRATION_KEY, weights_sha256
from seq2latex.checkpoint import load_card, save_card
from seq2latex.recognizer import Recognizer

# fixture file -> the caption stem its picture shows
FILES = {
    "x2_minus_4.png": "x2_minus_4",
    "x2_minus_4_photo_exif.jpg": "x2_minus_4",
    "2x_plus_1_photo.webp": "2x_plus_1",
    "z3_plus_z_scan.bmp": "z3_plus_z",
    "15_div_5.gif": "15_div_5",
    "2x_plus_1_scan.tif": "2x_plus_1",
}


def upload(path: Path) -> dict[str, tuple[str, bytes]]:
    return {"file": (path.name, path.read_bytes())}


@pytest.mark.parametrize("name", sorted(FILES))
def test_recognize_each_format(
    client: TestClient, images_dir: Path, captions: dict[str, str], name: str
) -> None:
    # the fixture model memorised its images' greedy readings (the service's default is beam 3)
    r = client.post("/recognize", files=upload(images_dir / name), data={"beam": "1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["latex"] == captions[FILES[name]]
    assert 0.0 < body["confidence"] <= 1.0
    assert [t["token"] for t in body["tokens"]] == body["latex"].split()
    assert all(0.0 < t["prob"] <= 1.0 for t in body["tokens"])
    assert body["mathml"].startswith("<math") and "<mn>" in body["mathml"]
    assert body["model"] == {"name": "fixture-tiny", "version": "0.0.1"}
    assert set(body["timings_ms"]) == {"preprocess", "recognize", "total"}


def test_exif_orientation_is_applied(client: TestClient, images_dir: Path, captions: dict[str, str]) -> None:
    """The same photo with its Orientation tag stripped is read sideways, and differently."""
    raw = images_dir / "x2_minus_4_photo_exif.jpg"
    with Image.open(raw) as im:
        assert im.getexif().get(0x0112) == 6
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=95)  # no exif= -> the tag is dropped, pixels stay sideways
    tagged = client.post("/recognize", files=upload(raw)).json()["latex"]
    untagged = client.post("/recognize", files={"file": ("side.jpg", buf.getvalue())}).json()["latex"]
    assert tagged == captions["x2_minus_4"]
    assert untagged != tagged


def test_recognize_json_base64_data_uri_and_raw_body(
    client: TestClient, images_dir: Path, captions: dict[str, str]
) -> None:
    data = (images_dir / "2x_plus_1_photo.webp").read_bytes()
    b64 = base64.b64encode(data).decode()
    for payload in ({"image": b64}, {"image": f"data:image/webp;base64,{b64}"}):
        r = client.post("/recognize", json=payload)
        assert r.status_code == 200, r.text
        assert r.json()["latex"] == captions["2x_plus_1"]
    r = client.post("/recognize", content=data, headers={"Content-Type": "image/webp"})
    assert r.status_code == 200, r.text
    assert r.json()["latex"] == captions["2x_plus_1"]


@pytest.mark.skipif(not HEIF_AVAILABLE, reason="pillow-heif (HEIC decoder) is not installed")
def test_recognize_heic(client: TestClient, images_dir: Path, captions: dict[str, str]) -> None:
    buf = io.BytesIO()
    Image.open(images_dir / "x2_minus_4.png").convert("RGB").save(buf, format="HEIF", quality=90)
    r = client.post("/recognize", files={"file": ("photo.heic", buf.getvalue())})
    assert r.status_code == 200, r.text
    assert r.json()["latex"] == captions["x2_minus_4"]


def test_recognize_beam_alternatives(client: TestClient, images_dir: Path, captions: dict[str, str]) -> None:
    r = client.post("/recognize", files=upload(images_dir / "z3_plus_z.png"), data={"beam": "4"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["latex"] == captions["z3_plus_z"]
    alts = body["alternatives"]
    assert 2 <= len(alts) <= 4
    assert alts[0]["latex"] == body["latex"]
    assert len({a["latex"] for a in alts}) == len(alts)
    assert all(0.0 <= a["score"] <= 1.0 for a in alts)
    # beam through the query string works too
    r = client.post("/recognize?beam=2", files=upload(images_dir / "z3_plus_z.png"))
    assert r.status_code == 200 and 1 <= len(r.json()["alternatives"]) <= 2


def test_solve_image(client: TestClient, images_dir: Path, captions: dict[str, str]) -> None:
    r = client.post("/solve", files=upload(images_dir / "x2_minus_4_photo_exif.jpg"), data={"beam": "1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "image" and body["beam"] == 1
    assert body["latex"] == captions["x2_minus_4"]
    assert 0.0 < body["confidence"] <= 1.0
    sol = body["solution"]
    assert sol["kind"] == "equation"
    assert sorted(s["x"] for s in sol["solutions"]) == ["-2", "2"]
    assert "\\vee" in sol["result_latex"]
    assert body["solution_mathml"].startswith("<math") and "<mo>∨</mo>" in body["solution_mathml"]
    assert set(body["timings_ms"]) == {"preprocess", "recognize", "solve", "total"}
    assert body["timings_ms"]["total"] >= body["timings_ms"]["recognize"] > 0
    assert body["model"]["name"] == "fixture-tiny"
    assert [a["latex"] for a in body["alternatives"]] == [body["latex"]]


def test_solve_image_as_json_with_lang(client: TestClient, images_dir: Path) -> None:
    b64 = base64.b64encode((images_dir / "2x_plus_1.png").read_bytes()).decode()
    en = client.post("/solve", json={"image": b64, "lang": "en"}).json()
    nl = client.post("/solve", json={"image": b64, "lang": "nl"}).json()
    assert en["solution"]["solutions"] == nl["solution"]["solutions"] == [{"x": "2"}]
    assert en["solution"]["message"] != nl["solution"]["message"]


def test_solve_typed_latex_skips_recognition(client: TestClient) -> None:
    r = client.post("/solve", json={"latex": "x^2 = 9"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["source"] == "latex" and body["latex"] == "x^2 = 9" and body["confidence"] is None
    assert sorted(s["x"] for s in body["solution"]["solutions"]) == ["-3", "3"]
    assert body["timings_ms"]["recognize"] == 0.0 and body["timings_ms"]["solve"] > 0
    assert "<msup>" in body["mathml"]
    # a multipart form field works as well (an HTML form)
    r = client.post("/solve", data={"latex": "2x + 1 = 7"}, files={"unused": ("a.txt", b"")})
    assert r.status_code == 200, r.text
    assert r.json()["solution"]["solutions"] == [{"x": "3"}]


def test_typed_latex_that_cannot_be_read_is_422_and_read_but_unsolvable_is_200(client: TestClient) -> None:
    """The contract: unreadable typed LaTeX is the client's error; LaTeX that was read is an answer."""
    for latex, lang, code in [
        ("\\frac{1}{}+==", "en", "invalid_latex"),
        ("x^2 = 2,25", "en", "decimal_comma"),
        ("x^2 = 2{,}25", "en", "decimal_comma"),
    ]:
        r = client.post("/solve", json={"latex": latex, "lang": lang})
        assert r.status_code == 422, (latex, r.text)
        assert r.json()["error"]["code"] == code and r.json()["error"]["message"]
    assert client.post("/solve", json={"latex": "x^2 = 2{,}25", "lang": "nl"}).status_code == 200
    r = client.post("/solve", json={"latex": "\\sin x > x^5 + x"})  # read fine; SymPy cannot solve it
    assert r.status_code == 200, r.text
    assert r.json()["solution"]["kind"] == "error" and r.json()["solution"]["error_code"] == "cannot_solve"


def test_typed_style_latex_in_answers(client: TestClient, images_dir: Path, captions: dict[str, str]) -> None:
    body = client.post("/solve", files=upload(images_dir / "x2_minus_4.png"), data={"beam": "1"}).json()
    assert body["latex"] == captions["x2_minus_4"] and body["latex_typed"] == "x^2-4=0"
    again = client.post("/solve", json={"latex": body["latex_typed"]}).json()
    assert again["latex_typed"] == "x^2-4=0"
    assert again["solution"]["solutions"] == body["solution"]["solutions"]
    rec = client.post("/recognize", files=upload(images_dir / "x2_minus_4.png"), data={"beam": "3"}).json()
    from tokenizer import normalize

    assert rec["alternatives"] and all(normalize(a["latex_typed"]) == a["latex"] for a in rec["alternatives"])
    assert rec["alternatives"][0]["latex_typed"] == rec["latex_typed"]


def test_mathml_is_sanitised(client: TestClient) -> None:
    r = client.post("/solve", json={"latex": "\\text{<b>hi</b>} x = 1"})
    assert r.status_code == 200, r.text
    mathml = r.json()["mathml"]
    assert mathml.startswith("<math") and "<mtext>hi</mtext>" in mathml
    assert "<b" not in mathml
    broken = client.post("/solve", json={"latex": "\\text{<img src=x onerror=alert(1)>}"}).json()
    assert broken["mathml"] is None or "<img" not in broken["mathml"]


def _drawn_symbol(kind: str) -> bytes:
    """A PNG like the demo page's canvas: dark pen on white; `plus` is one symbol, `one_two` two."""
    im = Image.new("RGB", (300, 200), "white")
    d = ImageDraw.Draw(im)
    if kind == "plus":
        d.line((100, 100, 200, 100), fill=(17, 24, 39), width=5)
        d.line((150, 50, 150, 150), fill=(17, 24, 39), width=5)
    else:  # "1 2", far apart
        d.line((60, 50, 60, 150), fill=(17, 24, 39), width=5)
        d.line((180, 60, 240, 60, 240, 100, 180, 150, 245, 150), fill=(17, 24, 39), width=5)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_symbol(client: TestClient, symbol_classes: list[str]) -> None:
    r = client.post("/symbol", files={"file": ("plus.png", _drawn_symbol("plus"))})
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    assert len(preds) == 5
    probs = [p["probability"] for p in preds]
    assert probs == sorted(probs, reverse=True)
    assert 0.0 < sum(probs) <= 1.0 + 1e-6
    assert {p["label"] for p in preds} <= set(symbol_classes)
    assert r.json()["temperature"] == 1.0  # the fixture model's card has no calibration


@pytest.mark.parametrize("name", ["x2_minus_4.png", "2x_plus_1_photo.webp", "15_div_5.gif"])
def test_symbol_refuses_a_formula(client: TestClient, images_dir: Path, name: str) -> None:
    r = client.post("/symbol", files=upload(images_dir / name))
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "several_symbols"
    assert "/recognize" in error["message"]
    r = client.post("/symbol", files={"file": ("12.png", _drawn_symbol("one_two"))})
    assert r.status_code == 422 and r.json()["error"]["code"] == "several_symbols"


def test_symbol_uses_the_calibrated_temperature(
    tmp_path: Path, model_dir: Path, recognizer: Recognizer
) -> None:
    """A card with a temperature fitted on these weights: /symbol's probabilities are softmax(z / T)."""
    calibrated = tmp_path / "calibrated"
    shutil.copytree(model_dir, calibrated)
    card = load_card(calibrated)
    card[CALIBRATION_KEY] = {
        "temperature": 2.5,
        "weights_sha256": weights_sha256(calibrated),
        "views": recognizer.symbol_views_per_image,
    }
    save_card(calibrated, card)
    image = _drawn_symbol("plus")
    answers = {}
    for name, d in (("plain", model_dir), ("calibrated", calibrated)):
        with TestClient(create_app(Settings(model_dir=d, warmup=False))) as c:
            r = c.post("/symbol", files={"file": ("plus.png", image)})
            assert r.status_code == 200, r.text
            answers[name] = r.json()
    assert answers["calibrated"]["temperature"] == 2.5
    plain = answers["plain"]["predictions"]
    hot = answers["calibrated"]["predictions"]
    assert [p["label"] for p in plain] == [p["label"] for p in hot]
    scores = recognizer.symbol_scores(recognizer.symbol_views(Image.open(io.BytesIO(image)))[None])[0]
    assert [p["probability"] for p in hot] == pytest.approx(
        torch.softmax(scores / 2.5, -1).topk(5).values.tolist(), abs=1e-5
    )


def test_health_and_version(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ok",
        "model": {"name": "fixture-tiny", "version": "0.0.1"},
        "auth_required": False,
    }
    v = client.get("/version").json()
    assert v["model"]["card"]["training_data"].startswith("4 CROHME images")
    assert "train_loss" in v["model"]["card"]["metrics"]
    assert v["limits"]["max_upload_bytes"] == 10 * 1024 * 1024
    assert {"PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"} <= set(v["limits"]["formats"])


def test_lifespan_loads_the_model_directory(model_dir: Path) -> None:
    app = create_app(Settings(model_dir=model_dir, warmup=False))
    assert app.state.recognizer is None
    with TestClient(app) as c:
        assert c.get("/health").json()["model"]["name"] == "fixture-tiny"
        loaded = app.state.recognizer
        c.get("/health")
        assert app.state.recognizer is loaded  # loaded once, not per request


def test_lifespan_fails_clearly_without_a_model(tmp_path: Path) -> None:
    app = create_app(Settings(model_dir=tmp_path / "missing", warmup=False))
    with pytest.raises(FileNotFoundError, match="missing"):
        with TestClient(app):
            pass


def test_demo_page_is_offline(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    html = r.text
    for element_id in ("canvas", "file-input", "latex-input", "formula", "solution-message", "recognize-btn"):
        assert f'id="{element_id}"' in html
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith(("/", "data:")) for a in assets), assets
    for asset in ("/static/app.js", "/static/style.css"):
        a = client.get(asset)
        assert a.status_code == 200
        assert not re.search(r"https?://(?!www\.w3\.org)", a.text), f"{asset} refers to an external URL"
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/solve", "/recognize", "/symbol", "/health", "/version"} <= set(paths)
    assert "multipart/form-data" in paths["/solve"]["post"]["requestBody"]["content"]


def test_cors_allows_only_configured_origins(make_client: Callable[..., TestClient]) -> None:
    c = make_client()
    pre = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    ok = c.options("/solve", headers={"Origin": "https://www.wiskundewijs.nl", **pre})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://www.wiskundewijs.nl"
    bad = c.options("/solve", headers={"Origin": "https://evil.example", **pre})
    assert "access-control-allow-origin" not in bad.headers
    other = make_client(cors_origins=["https://school.example"])
    assert other.options("/solve", headers={"Origin": "https://school.example", **pre}).status_code == 200


def test_api_key(make_client: Callable[..., TestClient], images_dir: Path) -> None:
    c = make_client(api_key="s3cret")
    assert c.get("/health").json()["auth_required"] is True
    for path in ("/solve", "/recognize", "/symbol"):
        r = c.post(path, files=upload(images_dir / "x2_minus_4.png"))
        assert r.status_code == 401, path
        assert r.json()["error"]["code"] == "unauthorized"
    assert c.get("/version").status_code == 401
    wrong = c.post("/solve", json={"latex": "x=1"}, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401
    r = c.post("/solve", json={"latex": "x=1"}, headers={"X-API-Key": "s3cret"})
    assert r.status_code == 200
    assert c.get("/version", headers={"X-API-Key": "s3cret"}).status_code == 200


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_api_docs_work_offline(client: TestClient, page: str) -> None:
    """The docs pages name no other host: their scripts and styles come from this server, and answer."""
    r = client.get(page)
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    html = r.text
    assert not re.search(r"(https?:)?//[\w.-]+\.[a-z]{2,}", html), re.findall(r"(?:https?:)?//[^\s'\"]+", html)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(a.endswith(".js") for a in assets)
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 1000, url
    spec = re.search(r"(?:url: '|spec-url=\")([^'\"]+)", html)
    assert spec and client.get(spec.group(1)).json()["info"]["title"] == "seq2latex"


def test_redoc_draws_no_logo_from_another_host(client: TestClient) -> None:
    """ReDoc's script drew its footer logo from cdn.redoc.ly; the page's script now names no image elsewhere."""
    r = client.get("/redoc")
    for url in re.findall(r'(?:src|href)="([^"]+)"', r.text):
        body = client.get(url).content
        assert b"cdn.redoc.ly" not in body and b"redoc/logo-mini.svg" not in body, url
    assert "img-src 'self'" in r.headers["content-security-policy"]
