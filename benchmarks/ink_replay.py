"""Does the demo's Draw pad read what people draw? Replay CROHME 2014 test ink onto it and count.

For N expressions of the CROHME 2014 test set (spread evenly over its names, those with both an InkML
file and an offline image), three readings are compared with the truth (the offline caption):

* `eval`:  `seq2latex eval` on the expressions' offline images (the model's published kind of number);
* `api`:   POST /solve with the InkML's raw strokes as JSON `{"strokes": ...}`;
* `page`:  the strokes replayed onto the demo page's Draw canvas in headless Chromium with real pointer
           input (CDP mouse events, scaled to fit the pad), "Recognize & solve" pressed, and the page's
           LaTeX field read back.

All three at the page's beam width (3). Prints JSON: the ExpRate of each (percent), the differences, and
the expressions where they disagree. Needs playwright (Python) and a Chromium (`--chromium`, default
/usr/bin/chromium).

    python benchmarks/ink_replay.py --count 50 [--json runs/ink_replay.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from data.inkml import read_inkml  # noqa: E402
from tokenizer import normalize  # noqa: E402

INKML_DIR = REPO.parent / "shared" / "crohme" / "inkml" / "test2014"
OFFLINE_DIR = REPO.parent / "shared" / "crohme" / "offline" / "2014"
CHROMIUM = Path(os.environ.get("SEQ2LATEX_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-quic"]
PAGE_BEAM = 3  # api/static/app.js BEAM: what the Draw pad asks for
PAD_MARGIN = 0.08  # blank share of the pad kept around the replayed ink on every side
MIN_STEP_PX = 1.0  # a replayed point closer than this to the previous one is not sent (a mouse's pixel grid)
VIEWPORT = {"width": 1200, "height": 820}
RESPONSE_TIMEOUT_MS = 60_000


def read_captions(offline_dir: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (offline_dir / "caption.txt").read_text(encoding="utf-8").splitlines():
        name, _, latex = line.partition("\t")
        if latex.strip():
            out[name.strip()] = latex.strip()
    return out


def pick_names(captions: dict[str, str], inkml_dir: Path, count: int) -> list[str]:
    """`count` names spread evenly over the sorted names that have both an InkML file and an image."""
    names = sorted(n for n in captions if (inkml_dir / f"{n}.inkml").is_file())
    if count >= len(names):
        return names
    return [names[(i * len(names)) // count] for i in range(count)]


def same_tokens(truth: str, latex: str) -> bool:
    """The ExpRate test of `seq2latex eval`: the normalised token sequences are equal."""
    try:
        return normalize(latex).split() == normalize(truth).split()
    except Exception:  # a reading the tokenizer cannot normalise is not the truth
        return False


def offline_exprate(
    names: Sequence[str], captions: dict[str, str], offline_dir: Path, model: Path | None
) -> Any:
    """`seq2latex eval` on exactly these expressions' offline images (a caption file of just them)."""
    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp) / "subset"
        (subset / "img").mkdir(parents=True)
        lines = []
        for n in names:
            (subset / "img" / f"{n}.png").symlink_to((offline_dir / "img" / f"{n}.png").resolve())
            lines.append(f"{n}\t{captions[n]}")
        (subset / "caption.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        out = Path(tmp) / "eval.json"
        cmd = [sys.executable, "-m", "seq2latex.cli", "eval", "--data", str(subset), "--beam", str(PAGE_BEAM)]
        cmd += ["--threads", "2", "--json", str(out)] + (["--model", str(model)] if model else [])
        subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        report = json.loads(out.read_text())
        rows = [json.loads(line) for line in out.with_name("eval.predictions.jsonl").read_text().splitlines()]
    return report, {r["name"]: r for r in rows}


def pad_strokes(
    strokes: Sequence[np.ndarray], width: float, height: float
) -> list[list[tuple[float, float]]]:
    """Ink scaled (aspect kept) and centred to fit a width x height pad with PAD_MARGIN around it, each
    stroke thinned to points at least MIN_STEP_PX apart (its last point always kept)."""
    pts = np.concatenate(strokes, axis=0)  # (N, 2)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    ext = np.maximum(hi - lo, 1e-6)
    inner_w, inner_h = width * (1 - 2 * PAD_MARGIN), height * (1 - 2 * PAD_MARGIN)
    scale = min(inner_w / ext[0], inner_h / ext[1])
    off = np.array([(width - ext[0] * scale) / 2, (height - ext[1] * scale) / 2])
    out: list[list[tuple[float, float]]] = []
    for s in strokes:
        xy = (s - lo) * scale + off  # (n, 2)
        kept = [xy[0]]
        for p in xy[1:]:
            if np.abs(p - kept[-1]).max() >= MIN_STEP_PX:
                kept.append(p)
        if len(xy) > 1 and kept[-1] is not xy[-1] and np.abs(xy[-1] - kept[-1]).max() > 0:
            kept.append(xy[-1])
        out.append([(float(x), float(y)) for x, y in kept])
    return out


def draw_on(page: Any, canvas: str, strokes: Sequence[Sequence[tuple[float, float]]]) -> None:
    """Draw strokes (pad coordinates) on a canvas with the mouse: pointerdown, pointermove..., pointerup."""
    box = page.locator(canvas).bounding_box()
    assert box is not None, f"{canvas} is not visible"
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.up()


def replay_on_page(page: Any, strokes: Sequence[np.ndarray]) -> dict[str, Any]:
    """Clear the Draw pad, draw the ink on it, press Recognize & solve; the page's LaTeX and what it sent."""
    page.click("#clear-btn")
    page.fill("#latex-input", "")
    box = page.locator("#canvas").bounding_box()
    assert box is not None
    drawn = pad_strokes(strokes, box["width"], box["height"])
    draw_on(page, "#canvas", drawn)
    with page.expect_response(lambda r: "/solve" in r.url, timeout=RESPONSE_TIMEOUT_MS) as info:
        page.click("#recognize-btn")
    response = info.value
    sent = response.request.post_data_json
    body = response.json()
    if response.ok:  # the page fills its LaTeX field from the answer
        page.wait_for_function(
            "document.getElementById('latex-input').value !== ''", timeout=RESPONSE_TIMEOUT_MS
        )
    return {
        "latex": page.input_value("#latex-input") if response.ok else "",
        "status": response.status,
        "response": body,
        "sent": sent,
        "drawn_points": sum(len(s) for s in drawn),
    }


def open_draw_page(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport=VIEWPORT, locale="en-GB")
    page.goto(url + "/")
    page.click("#tab-draw")
    return page


def run(
    count: int,
    inkml_dir: Path = INKML_DIR,
    offline_dir: Path = OFFLINE_DIR,
    model: Path | None = None,
    chromium: Path = CHROMIUM,
) -> dict[str, Any]:
    import httpx
    from playwright.sync_api import sync_playwright

    bench = _load_bench_module()
    captions = read_captions(offline_dir)
    names = pick_names(captions, inkml_dir, count)
    t0 = time.perf_counter()
    eval_report, eval_rows = offline_exprate(names, captions, offline_dir, model)
    eval_s = time.perf_counter() - t0
    port = bench.free_port()
    proc = bench.start_server(model, port)
    url = f"http://127.0.0.1:{port}"
    rows: list[dict[str, Any]] = []
    try:
        with sync_playwright() as p, httpx.Client(timeout=RESPONSE_TIMEOUT_MS / 1000) as http:
            browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
            page = open_draw_page(browser, url)
            for name in names:
                strokes = read_inkml(inkml_dir / f"{name}.inkml").strokes
                api = http.post(
                    f"{url}/solve", json={"strokes": [s.tolist() for s in strokes], "beam": PAGE_BEAM}
                )
                api.raise_for_status()
                shown = replay_on_page(page, strokes)
                truth = captions[name]
                rows.append(
                    {
                        "name": name,
                        "truth": truth,
                        "eval": eval_rows[name]["prediction"],
                        "api": api.json()["latex"],
                        "page": shown["latex"] or shown["response"],
                        "page_sent_strokes": isinstance(shown["sent"], dict) and "strokes" in shown["sent"],
                        "eval_ok": eval_rows[name]["edits"] == 0,
                        "api_ok": same_tokens(truth, api.json()["latex"]),
                        "page_ok": same_tokens(truth, shown["latex"]),
                    }
                )
            browser.close()
    finally:
        bench.stop_server(proc)
    n = len(rows)
    rate = {k: round(100.0 * sum(r[f"{k}_ok"] for r in rows) / max(1, n), 2) for k in ("eval", "api", "page")}
    return {
        "n": n,
        "beam": PAGE_BEAM,
        "exprate": rate,
        "eval_report_exprate": eval_report["exprate"],
        "page_minus_eval": round(rate["page"] - rate["eval"], 2),
        "api_minus_eval": round(rate["api"] - rate["eval"], 2),
        "page_sent_strokes": all(r["page_sent_strokes"] for r in rows),
        "eval_seconds": round(eval_s, 1),
        "seconds": round(time.perf_counter() - t0, 1),
        "disagreements": [r for r in rows if not (r["eval_ok"] == r["api_ok"] == r["page_ok"])],
        "names": names,
    }


def _load_bench_module() -> Any:
    """benchmarks/ is not a package: load_bench.py's server helpers (start_server, stop_server, free_port)."""
    import importlib.util

    if "benchmarks_load" in sys.modules:
        return sys.modules["benchmarks_load"]
    spec = importlib.util.spec_from_file_location("benchmarks_load", REPO / "benchmarks" / "load_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["benchmarks_load"] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=50, help="expressions (spread evenly over the test set)")
    p.add_argument("--inkml", type=Path, default=INKML_DIR, help="CROHME 2014 test InkML folder")
    p.add_argument(
        "--offline", type=Path, default=OFFLINE_DIR, help="CROHME 2014 offline folder (caption.txt)"
    )
    p.add_argument("--model", type=Path, default=None, help="model directory (default: the shipped model)")
    p.add_argument("--chromium", type=Path, default=CHROMIUM)
    p.add_argument("--json", type=Path, default=None, help="also write the report here")
    args = p.parse_args(argv)
    report = run(args.count, args.inkml, args.offline, args.model, args.chromium)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
