"""Soak test: the real server for a given time under mixed traffic at its measured capacity; JSON out.

    python benchmarks/soak.py --minutes 30                       # starts `seq2latex serve` (shipped model)
    python benchmarks/soak.py --minutes 2 --model DIR --json runs/soak.json
    python benchmarks/soak.py --url http://127.0.0.1:8000 --minutes 10

Traffic, in a fixed weighted order (every kind once first, so that even a few seconds send each): photos
and scans (`tests/fixtures/images`, POST /solve and /recognize), typed LaTeX (/solve, en/nl, some with steps),
symbol crops (/symbol: small drawn images and ink), ink formulas (/solve), and hostile input: corrupt and
foreign files, an upload over the size limit, a decompression bomb header, deeply nested and over-long
LaTeX, and LaTeX that makes SymPy hang (the solver must kill and replace its worker).

First it measures capacity: `--calibrate-clients` closed-loop clients for `--calibrate-s` seconds give the
mix's throughput. Then it offers that rate (times `--load`) open-loop, never more than `--clients` requests
in flight (so that the inference queue, which holds more, is not what refuses them). It reads the server's
/metrics before and after (RSS of the server process, solver workers replaced) and prints JSON: requests by
status, p50/p99 per route and per kind, RSS at start / after `--warmup-minutes` / at the end, solver
workers replaced, and whether the targets held: no 5xx, every request answered within its time limit, RSS
growth <= 5 % after the warm-up, every hung solve's worker replaced.

Loopback only; the time (`MAX_MINUTES`) and the request count (`--max-requests`, `MAX_REQUESTS`) are
bounded. Needs httpx (`pip install -e '.[dev]'`).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import platform
import queue
import random
import re
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_bench import LOOPBACK_HOSTS, REPO, _percentile, free_port, stop_server, wait_healthy  # noqa: E402

try:
    import httpx
except ImportError:
    raise SystemExit(
        "benchmarks/soak.py needs httpx: pip install -e '.[dev]' (or pip install httpx)"
    ) from None

from PIL import Image, ImageDraw  # noqa: E402

from api.settings import Settings  # noqa: E402

IMAGES = REPO / "tests" / "fixtures" / "images"
DEFAULT_MINUTES = 30.0
MAX_MINUTES = 240.0
DEFAULT_MAX_REQUESTS = 200_000
MAX_REQUESTS = 1_000_000
MAX_CLIENTS = 64
DEFAULT_WARMUP_MINUTES = 5.0
RSS_GROWTH_TARGET = 0.05
RSS_SAMPLE_S = 10.0
GRACE_S = 5.0  # a request's time limit: the server's own limits plus this
HANG_LATEX = r"\sum_{{k=1}}^{{100000}} \frac{{1}}{{k^3+k+{n}}}"  # SymPy works on it far past the 3 s limit

# request kinds and their weights (per 100 requests)
WEIGHTS = {
    "photo_solve": 24,
    "photo_recognize": 8,
    "latex": 30,
    "latex_steps": 6,
    "symbol_image": 8,
    "symbol_ink": 6,
    "ink_solve": 4,
    "corrupt_image": 3,
    "not_an_image": 2,
    "oversized_upload": 1,
    "pixel_bomb": 2,
    "nested_latex": 2,
    "long_latex": 2,
    "hanging_latex": 2,
}
HOSTILE = {"corrupt_image", "not_an_image", "oversized_upload", "pixel_bomb", "nested_latex", "long_latex"}
LATEX = [
    "x^2=1",
    "2x+3=7",
    "x^2-5x+6=0",
    "\\frac{x}{2}+1=3",
    "3(x-1)=2x+4",
    "x+y=5, x-y=1",
    "2x-1<5",
    "\\sqrt{16}+3^2",
    "\\frac{1}{2}+\\frac{1}{3}",
    "x^2 = 2,25",
    "z^3+2=z",
    "\\sin(\\pi/2)",
]


@dataclass
class Payload:
    kind: str
    route: str
    files: dict[str, Any] | None = None
    json: dict[str, Any] | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def _symbol_crops() -> list[bytes]:
    """Small drawn symbols (+, x, 1, -, 2-ish) as a phone crop of one symbol would look: dark ink on white."""
    shapes = [
        [((32, 8), (32, 56)), ((8, 32), (56, 32))],
        [((10, 10), (54, 54)), ((54, 10), (10, 54))],
        [((32, 6), (32, 58))],
        [((8, 32), (56, 32))],
    ]
    crops = []
    for lines in shapes:
        im = Image.new("L", (64, 64), 255)
        draw = ImageDraw.Draw(im)
        for a, b in lines:
            draw.line([a, b], fill=0, width=4)
        crops.append(_png(im))
    return crops


def _bomb_png(side: int = 100_000) -> bytes:
    """A PNG whose header claims side x side pixels (10 gigapixels) and holds no image data."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
        + chunk(b"IEND", b"")
    )


class Traffic:
    """The request sequence: each kind once, then a weighted shuffle repeated (seeded)."""

    def __init__(self, seed: int, max_upload_bytes: int) -> None:
        self.rng = random.Random(seed)
        self.photos = [(p.name, p.read_bytes()) for p in sorted(IMAGES.iterdir()) if p.suffix != ".json"]
        self.photos = [(n, d) for n, d in self.photos if not n.endswith(".py")]
        self.crops = _symbol_crops()
        jpeg = next(d for n, d in self.photos if n.endswith(".jpg"))
        self.corrupt = [jpeg[: len(jpeg) // 3], b"\x89PNG\r\n\x1a\n" + os.urandom(2048)]
        self.oversized = b"\xff\xd8\xff" + b"\0" * max_upload_bytes  # one byte over with the signature
        self.bomb = _bomb_png()
        self._counter = itertools.count()
        self._lock = threading.Lock()
        block = [k for k, w in WEIGHTS.items() for _ in range(w)]
        self._first = list(WEIGHTS)
        self._block = block

    def kinds(self) -> Any:
        yield from self._first
        while True:
            block = list(self._block)
            self.rng.shuffle(block)
            yield from block

    def payload(self, kind: str) -> Payload:
        with self._lock:
            i = next(self._counter)
        lang = "nl" if i % 3 == 0 else "en"
        if kind in ("photo_solve", "photo_recognize"):
            name, data = self.photos[i % len(self.photos)]
            route = "/solve" if kind == "photo_solve" else "/recognize"
            return Payload(kind, route, files={"file": (name, data)})
        if kind in ("latex", "latex_steps"):
            body = {"latex": LATEX[i % len(LATEX)], "lang": lang, "steps": kind == "latex_steps"}
            return Payload(kind, "/solve", json=body)
        if kind == "symbol_image":
            return Payload(kind, "/symbol", files={"file": ("symbol.png", self.crops[i % len(self.crops)])})
        if kind == "symbol_ink":
            strokes = [[[10, 10], [30, 30], [50, 50]], [[50, 10], [30, 30], [10, 50]]]
            return Payload(kind, "/symbol", json={"strokes": strokes})
        if kind == "ink_solve":  # "x = 1": a cross, two bars, a stroke
            strokes = [
                [[0, 0], [20, 30]],
                [[20, 0], [0, 30]],
                [[35, 10], [55, 10]],
                [[35, 20], [55, 20]],
                [[75, 0], [75, 30]],
            ]
            return Payload(kind, "/solve", json={"strokes": strokes, "lang": lang})
        if kind == "corrupt_image":
            return Payload(kind, "/solve", files={"file": ("broken.jpg", self.corrupt[i % 2])})
        if kind == "not_an_image":
            return Payload(
                kind, "/recognize", files={"file": ("notes.txt", b"just some text, not a picture\n" * 40)}
            )
        if kind == "oversized_upload":
            return Payload(kind, "/solve", files={"file": ("huge.jpg", self.oversized)})
        if kind == "pixel_bomb":
            return Payload(kind, "/recognize", files={"file": ("bomb.png", self.bomb)})
        if kind == "nested_latex":
            return Payload(kind, "/solve", json={"latex": "(" * 200 + "x" + ")" * 200 + "=1"})
        if kind == "long_latex":
            return Payload(kind, "/solve", json={"latex": "x+" * 5000 + "1=0"})
        if kind == "hanging_latex":
            return Payload(kind, "/solve", json={"latex": HANG_LATEX.format(n=i + 1), "lang": lang})
        raise ValueError(kind)


@dataclass
class Tally:
    """Every answer, shared by the client threads (guarded by `lock`)."""

    limits_s: dict[str, float]
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[str] = field(default_factory=Counter)
    by_kind: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    latency_route: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    latency_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    late: int = 0
    busy_by_kind: Counter[str] = field(default_factory=Counter)
    missing_request_id: int = 0
    unexpected: Counter[str] = field(default_factory=Counter)  # kind:status that should not happen
    solver_timeouts_answered: int = 0
    total: int = 0

    def record(self, p: Payload, status: str, ms: float, request_id: str | None, body: Any) -> None:
        with self.lock:
            self.total += 1
            self.statuses[status] += 1
            self.by_kind[p.kind][status] += 1
            self.latency_route[p.route].append(ms)
            self.latency_kind[p.kind].append(ms)
            if ms > self.limits_s[p.route] * 1000.0:
                self.late += 1
            if status.isdigit() and not request_id:
                self.missing_request_id += 1
            if p.kind in HOSTILE and not status.startswith("4"):
                self.unexpected[f"{p.kind}:{status}"] += 1
            if p.kind not in HOSTILE and status.isdigit() and status[0] == "5":
                self.unexpected[f"{p.kind}:{status}"] += 1
            code = (body.get("solution") or {}).get("error_code") if isinstance(body, dict) else None
            if p.kind == "hanging_latex" and code == "timeout":
                self.solver_timeouts_answered += 1
            if code == "busy":  # refused unstarted: every SymPy worker stayed busy too long
                self.busy_by_kind[p.kind] += 1


def _send(client: httpx.Client, p: Payload, tally: Tally) -> None:
    t = time.perf_counter()
    body: Any = None
    rid = None
    try:
        resp = client.post(
            p.route, files=p.files, json=p.json, headers=p.headers, timeout=tally.limits_s[p.route]
        )
        status = str(resp.status_code)
        rid = resp.headers.get("x-request-id")
        if p.route == "/solve" and resp.status_code == 200:
            body = resp.json()
    except httpx.TimeoutException:
        status = "client_timeout"
    except httpx.HTTPError as exc:
        status = type(exc).__name__
    tally.record(p, status, (time.perf_counter() - t) * 1000.0, rid, body)


def calibrate(url: str, traffic: Traffic, kinds: Any, clients: int, seconds: float, tally: Tally) -> float:
    """Closed loop: `clients` threads send the mix back to back for `seconds`; the answers per second."""
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()
    done = [0]

    def loop() -> None:
        with httpx.Client(base_url=url) as client:
            while time.perf_counter() < deadline:
                with lock:
                    kind = next(kinds)
                _send(client, traffic.payload(kind), tally)
                with lock:
                    done[0] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=loop, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done[0] / max(1e-9, time.perf_counter() - start)


def scrape(url: str) -> dict[str, float]:
    """The server's /metrics as {name{labels}: value} for the series the report needs."""
    text = httpx.get(f"{url}/metrics", timeout=10.0).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(
            r"^(process_resident_memory_bytes|seq2latex_solver_\w+|seq2latex_inference_\w+)(\{[^}]*\})? (\S+)$",
            line,
        )
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def _restarts(metrics: dict[str, float]) -> float:
    return sum(v for k, v in metrics.items() if k.startswith("seq2latex_solver_worker_restarts_total"))


def _mb(metrics: dict[str, float]) -> float:
    return round(metrics.get("process_resident_memory_bytes", 0.0) / 2**20, 1)


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50_ms": round(_percentile(values, 0.5), 1),
        "p99_ms": round(_percentile(values, 0.99), 1),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_soak(
    url: str,
    minutes: float,
    max_requests: int = DEFAULT_MAX_REQUESTS,
    clients: int = 8,
    calibrate_clients: int = 4,
    calibrate_s: float | None = None,
    load: float = 1.0,
    warmup_minutes: float = DEFAULT_WARMUP_MINUTES,
    seed: int = 0,
) -> dict[str, Any]:
    """Soak a loopback server; returns the JSON report."""
    host = urlparse(url).hostname or ""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"only loopback servers may be soaked ({', '.join(LOOPBACK_HOSTS)}), not {host!r}")
    if not 0 < minutes <= MAX_MINUTES:
        raise ValueError(f"minutes must be above 0 and at most {MAX_MINUTES:g}")
    if not 1 <= max_requests <= MAX_REQUESTS:
        raise ValueError(f"max_requests must be from 1 to {MAX_REQUESTS}")
    if not (1 <= clients <= MAX_CLIENTS and 1 <= calibrate_clients <= MAX_CLIENTS):
        raise ValueError(f"clients must be from 1 to {MAX_CLIENTS}")
    settings = Settings()
    limits = {
        "/solve": settings.request_timeout_s + settings.solve_timeout_s + GRACE_S,
        "/recognize": settings.request_timeout_s + GRACE_S,
        "/symbol": settings.request_timeout_s + GRACE_S,
    }
    with httpx.Client(base_url=url, timeout=30.0) as c:
        health = c.get("/health").json()
        version = c.get("/version")
        max_upload = (
            version.json()["limits"]["max_upload_bytes"]
            if version.status_code == 200
            else settings.max_upload_bytes
        )
    total_s = minutes * 60.0
    calibrate_s = min(60.0, max(2.0, 0.1 * total_s)) if calibrate_s is None else calibrate_s
    baseline_s = min(warmup_minutes * 60.0, total_s / 2)
    traffic = Traffic(seed, max_upload)
    kinds = traffic.kinds()
    tally = Tally(limits)
    before = scrape(url)
    start = time.perf_counter()
    deadline = start + total_s
    capacity_rps = calibrate(url, traffic, kinds, calibrate_clients, min(calibrate_s, total_s / 2), tally)
    rate = max(0.1, capacity_rps * load)

    rss: dict[str, Any] = {"start_mb": _mb(before), "samples_mb": []}
    sampler_stop = threading.Event()

    def sample() -> None:
        while not sampler_stop.wait(RSS_SAMPLE_S):
            m = scrape(url)
            at = time.perf_counter() - start
            rss["samples_mb"].append([round(at, 1), _mb(m)])
            if "baseline_mb" not in rss and at >= baseline_s:
                rss["baseline_mb"], rss["baseline_at_s"] = _mb(m), round(at, 1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    slots = threading.Semaphore(clients)
    jobs: queue.Queue[Payload | None] = queue.Queue()
    sent = tally.total
    next_at = time.perf_counter()
    max_lag = 0.0

    def worker() -> None:
        with httpx.Client(base_url=url) as client:
            while (p := jobs.get()) is not None:
                try:
                    _send(client, p, tally)
                finally:
                    slots.release()

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in workers:
        t.start()
    # open loop at `rate`, at most `clients` requests in flight
    while time.perf_counter() < deadline and sent < max_requests:
        now = time.perf_counter()
        if now < next_at:
            time.sleep(min(next_at - now, deadline - now))
            continue
        slots.acquire()
        max_lag = max(max_lag, time.perf_counter() - next_at)
        jobs.put(traffic.payload(next(kinds)))
        sent += 1
        next_at += 1.0 / rate
    for _ in workers:
        jobs.put(None)
    for t in workers:
        t.join()
    elapsed = time.perf_counter() - start
    sampler_stop.set()
    sampler.join()
    after = scrape(url)
    with httpx.Client(base_url=url, timeout=30.0) as c:
        ready = c.get("/ready").status_code
        sane = c.post("/solve", json={"latex": "2x=4"}).status_code
    rss["end_mb"] = _mb(after)
    rss.setdefault("baseline_mb", rss["start_mb"])
    rss.setdefault("baseline_at_s", 0.0)
    rss["peak_mb"] = max([rss["end_mb"], rss["start_mb"]] + [v for _, v in rss["samples_mb"]])
    growth = (rss["end_mb"] - rss["baseline_mb"]) / rss["baseline_mb"] if rss["baseline_mb"] else 0.0
    rss["growth_after_baseline_pct"] = round(100.0 * growth, 2)
    if len(rss["samples_mb"]) > 60:  # keep the report short: every n-th sample
        step = len(rss["samples_mb"]) // 60 + 1
        rss["samples_mb"] = rss["samples_mb"][::step]
    replaced = _restarts(after) - _restarts(before)
    timeouts = after.get("seq2latex_solver_timeouts_total", 0.0) - before.get(
        "seq2latex_solver_timeouts_total", 0.0
    )
    fivexx = sum(n for s, n in tally.statuses.items() if s.startswith("5"))
    hanging = sum(tally.by_kind["hanging_latex"].values())
    report = {
        "url": url,
        "model": health.get("model"),
        "hardware": {"cpu_count": os.cpu_count(), "cpu": _cpu_model(), "machine": platform.machine()},
        "minutes": round(elapsed / 60.0, 2),
        "capacity": {
            "calibrate_clients": calibrate_clients,
            "calibrate_s": round(calibrate_s, 1),
            "rps": round(capacity_rps, 2),
        },
        "offered_rps": round(rate, 2),
        "achieved_rps": round(tally.total / elapsed, 2) if elapsed > 0 else 0.0,
        "max_in_flight": clients,
        "max_dispatch_lag_s": round(max_lag, 2),
        "requests": tally.total,
        "by_status": dict(sorted(tally.statuses.items())),
        "5xx": fivexx,
        "late": tally.late,
        "missing_request_id": tally.missing_request_id,
        "unexpected": dict(tally.unexpected),
        "by_route": {r: _stats(v) for r, v in sorted(tally.latency_route.items())},
        "by_kind": {
            k: {**_stats(tally.latency_kind[k]), "statuses": dict(sorted(tally.by_kind[k].items()))}
            for k in WEIGHTS
            if k in tally.by_kind
        },
        "rss_mb": rss,
        "solver": {
            "hanging_sent": hanging,
            "timeouts_answered": tally.solver_timeouts_answered,
            "timeouts": timeouts,
            "workers_replaced": replaced,
            "busy_answered": sum(tally.busy_by_kind.values()),
            "busy_by_kind": dict(sorted(tally.busy_by_kind.items())),
        },
        "after": {"ready_status": ready, "solve_status": sane},
    }
    report["targets"] = {
        "no_5xx": fivexx == 0,
        "all_within_time_limit": tally.late == 0 and not any(s == "client_timeout" for s in tally.statuses),
        "rss_growth_le_5pct": growth <= RSS_GROWTH_TARGET,
        "hung_solver_workers_replaced": replaced >= timeouts and timeouts >= tally.solver_timeouts_answered,
        "ready_after": ready == 200 and sane == 200,
    }
    report["ok"] = all(report["targets"].values()) and not tally.unexpected
    return report


def start_server(model: Path | None, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """`seq2latex serve` on 127.0.0.1:port (access log as JSON lines into `log_path`), once /health is 200."""
    cmd = [sys.executable, "-m", "seq2latex.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--log-level", "info", "--log-format", "json"]
    if model is not None:
        cmd += ["--model", str(model)]
    env = {k: v for k, v in os.environ.items() if k != "SEQ2LATEX_ACCESS_LOG"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    return wait_healthy(proc, f"http://127.0.0.1:{port}", log_path)


def access_log_summary(log_path: Path) -> dict[str, Any]:
    """Lines of the server's JSON access log: how many, how many per status, and any line that is not JSON."""
    lines = statuses = 0
    other: list[str] = []
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            other.append(line[:200])
            continue
        if isinstance(entry, dict) and "request_id" in entry:
            lines += 1
            statuses += 1 if entry.get("status", 0) >= 500 else 0
    return {"lines": lines, "5xx_lines": statuses, "other_lines": len(other), "other_sample": other[:5]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="a running server on 127.0.0.1 (default: start `seq2latex serve`)")
    p.add_argument("--model", type=Path, default=None, help="model directory of the server it starts")
    p.add_argument(
        "--minutes", type=float, default=DEFAULT_MINUTES, help=f"run time (default {DEFAULT_MINUTES:g})"
    )
    p.add_argument("--max-requests", type=int, default=DEFAULT_MAX_REQUESTS)
    p.add_argument("--clients", type=int, default=8, help="requests in flight at most (default 8)")
    p.add_argument("--calibrate-clients", type=int, default=4, help="closed-loop clients measuring capacity")
    p.add_argument(
        "--calibrate-s", type=float, default=None, help="seconds measuring capacity (default 10 %%, <= 60)"
    )
    p.add_argument(
        "--load", type=float, default=1.0, help="offered rate as a multiple of the measured capacity"
    )
    p.add_argument("--warmup-minutes", type=float, default=DEFAULT_WARMUP_MINUTES, help="RSS baseline time")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write the JSON report here")
    args = p.parse_args(argv)
    proc = None
    url = args.url
    with tempfile.TemporaryDirectory(prefix="seq2latex-soak-") as tmp:
        log_path = Path(tmp) / "server.log"
        if url is None:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            proc = start_server(args.model, port, log_path)
        try:
            report = run_soak(
                url,
                args.minutes,
                args.max_requests,
                args.clients,
                args.calibrate_clients,
                args.calibrate_s,
                args.load,
                args.warmup_minutes,
                args.seed,
            )
        finally:
            if proc is not None:
                stop_server(proc)
        if proc is not None:
            report["access_log"] = access_log_summary(log_path)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
