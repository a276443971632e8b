"""Load benchmark: N concurrent clients against `seq2latex serve` on 127.0.0.1; JSON out.

    python benchmarks/load_bench.py --model DIR --clients 8 --requests 48          # starts its own server
    python benchmarks/load_bench.py --url http://127.0.0.1:8000 --clients 8 --duration 30

Each client is a thread with its own HTTP connection that POSTs the image (multipart) in a loop, until
the request count or the duration is reached. Reports throughput, latency percentiles and errors.
Only loopback servers are accepted, and clients / requests / duration are capped. It needs httpx, which
comes with the test extras: `pip install -e '.[dev]'`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

try:
    import httpx
except ImportError:  # the service itself does not need it
    raise SystemExit(
        "benchmarks/load_bench.py needs httpx: pip install -e '.[dev]' (or pip install httpx)"
    ) from None

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = REPO / "tests" / "fixtures" / "images" / "x2_minus_4_photo_exif.jpg"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_CLIENTS = 64
MAX_REQUESTS = 20_000
MAX_DURATION_S = 600.0
REQUEST_TIMEOUT_S = 60.0
SERVER_START_TIMEOUT_S = 120.0


@dataclass
class Tally:
    """Shared between the client threads (guarded by `lock`)."""

    budget: int | None  # requests still to issue (None = until the deadline)
    deadline: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)

    def take(self) -> bool:
        with self.lock:
            if time.perf_counter() >= self.deadline:
                return False
            if self.budget is None:
                return True
            if self.budget <= 0:
                return False
            self.budget -= 1
            return True

    def record(self, status: str, ms: float) -> None:
        with self.lock:
            self.statuses[status] += 1
            if status == "200":
                self.latencies_ms.append(ms)


def _client(url: str, endpoint: str, image: bytes, filename: str, tally: Tally) -> None:
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as client:
        while tally.take():
            t = time.perf_counter()
            try:
                resp = client.post(endpoint, files={"file": (filename, image)})
                status = str(resp.status_code)
                if resp.status_code == 200:
                    resp.json()
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            tally.record(status, (time.perf_counter() - t) * 1000.0)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def run_load(
    url: str,
    clients: int,
    requests: int | None = None,
    duration_s: float | None = None,
    endpoint: str = "/solve",
    image: Path = DEFAULT_IMAGE,
) -> dict[str, Any]:
    """Run the load against a loopback server; returns the JSON report."""
    host = urlparse(url).hostname or ""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"only loopback servers may be loaded ({', '.join(LOOPBACK_HOSTS)}), not {host!r}")
    if not 1 <= clients <= MAX_CLIENTS:
        raise ValueError(f"clients must be from 1 to {MAX_CLIENTS}")
    if requests is None and duration_s is None:
        raise ValueError("give a request count, a duration or both")
    if requests is not None and not 1 <= requests <= MAX_REQUESTS:
        raise ValueError(f"requests must be from 1 to {MAX_REQUESTS}")
    duration = min(duration_s if duration_s is not None else MAX_DURATION_S, MAX_DURATION_S)
    data = Path(image).read_bytes()
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as c:
        health = c.get("/health").json()
        c.post(endpoint, files={"file": (Path(image).name, data)})  # warm-up, not counted
    start = time.perf_counter()
    tally = Tally(budget=requests, deadline=start + duration)
    threads = [
        threading.Thread(target=_client, args=(url, endpoint, data, Path(image).name, tally), daemon=True)
        for _ in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    lat = tally.latencies_ms
    total = sum(tally.statuses.values())
    ok = tally.statuses.get("200", 0)
    return {
        "url": url,
        "endpoint": endpoint,
        "image": Path(image).name,
        "model": health.get("model"),
        "clients": clients,
        "requests": total,
        "ok": ok,
        "errors": total - ok,
        "statuses": dict(tally.statuses),
        "duration_s": round(elapsed, 3),
        "throughput_rps": round(ok / elapsed, 2) if elapsed > 0 else 0.0,
        "latency_ms": {
            "p50": round(_percentile(lat, 0.50), 1),
            "p90": round(_percentile(lat, 0.90), 1),
            "p99": round(_percentile(lat, 0.99), 1),
            "max": round(max(lat), 1) if lat else None,
            "mean": round(statistics.fmean(lat), 1) if lat else None,
        },
        "cpu_count": os.cpu_count(),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(model: Path | None, port: int, workers: int = 1, env: dict[str, str] | None = None) -> Any:
    """`seq2latex serve` on 127.0.0.1:port as a child process; returns it once /health answers 200."""
    cmd = [sys.executable, "-m", "seq2latex.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers), "--log-level", "warning"]
    if model is not None:
        cmd += ["--model", str(model)]
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **(env or {})})
    return wait_healthy(proc, f"http://127.0.0.1:{port}")


def wait_healthy(proc: Any, url: str, log_path: Path | None = None) -> Any:
    """`proc` (a starting `seq2latex serve`) once `url`/health answers 200; RuntimeError when it exits first
    (with the end of its `log_path`, when given) or is not healthy within SERVER_START_TIMEOUT_S."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = f": {log_path.read_text()[-2000:]}" if log_path is not None else ""
            raise RuntimeError(f"seq2latex serve exited with code {proc.returncode}{tail}")
        try:
            if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    proc.terminate()
    raise RuntimeError(f"seq2latex serve did not become healthy within {SERVER_START_TIMEOUT_S:g} s")


def stop_server(proc: Any) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="a running server on 127.0.0.1 (default: start `seq2latex serve`)")
    p.add_argument("--model", type=Path, default=None, help="model directory for the server it starts")
    p.add_argument("--workers", type=int, default=1, help="server worker processes (when it starts one)")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument(
        "--requests", type=int, default=None, help="total requests (default 48 without --duration)"
    )
    p.add_argument("--duration", type=float, default=None, help="seconds to run")
    p.add_argument("--endpoint", default="/solve", choices=["/solve", "/recognize", "/symbol"])
    p.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    p.add_argument("--out", type=Path, default=None, help="also write the JSON report here")
    args = p.parse_args(argv)
    requests = args.requests if (args.requests is not None or args.duration is not None) else 48
    proc = None
    url = args.url
    if url is None:
        url = f"http://127.0.0.1:{free_port()}"
        proc = start_server(args.model, int(urlparse(url).port or 0), args.workers)
    try:
        report = run_load(url, args.clients, requests, args.duration, args.endpoint, args.image)
    finally:
        if proc is not None:
            stop_server(proc)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
