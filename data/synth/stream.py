"""Synthetic expressions made while a model trains: worker processes write fresh ones, preprocessed.

A GPU window carries the compact glyph bank (`GlyphBank.save` to `.npz`, ~4 MiB) instead of rendered
images, and the machine's spare cores write new expressions for the whole window: each worker draws
captions and writers (`data.synth.build.synthesize`) with seeds of its own, so no two chunks repeat a
draw, renders them as the offline images are drawn (`render_offline`), preprocesses them with the model's
`PreprocessConfig` (the function the API uses) and hands them over as uint8 arrays (ink 255), in chunks,
through a bounded queue: when training takes fewer than the workers make, the workers wait.

    with SynthStream(StreamConfig(bank="glyphs.npz", workers=4), preprocess_cfg, exclude) as stream:
        samples = stream.take(256, timeout=60)   # blocks until 256 are there (or the timeout)
        fresh = stream.take(64)                   # whatever is ready now, at most 64

`python -m data.synth stream-bench BANK --workers N --seconds S` measures expressions per second per core.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from data.preprocess import PreprocessConfig, preprocess

QUEUE_TIMEOUT_S = 0.05  # a worker's wait for room in the queue before it checks the stop flag again


@dataclass
class StreamConfig:
    """Where the glyphs are and how the workers write."""

    bank: str  # a glyph bank (`.npz` compact or a pickle)
    workers: int = 2
    chunk: int = 32  # expressions per queue item
    queue_chunks: int = 32  # chunks made ahead of training at most (per stream)
    seed: int = 0  # the stream's draws: worker w, chunk c use seed (seed, w, c)
    max_tokens: int = 100  # longer captions are drawn again
    school_fraction: float = -1.0  # < 0: the synthesizer's default mix of school maths and CROHME variations


@dataclass
class SynthSample:
    """One fresh expression: its name, caption and preprocessed image (H, W) uint8, ink 255."""

    name: str
    latex: str
    image: np.ndarray


def chunk_seed(seed: int, worker: int, chunk: int) -> int:
    """A seed of its own for every (stream, worker, chunk): distinct draws across workers and chunks."""
    return (seed * 1_000_003 + worker) * 1_000_033 + chunk


def make_chunk(
    bank: Any, cfg: StreamConfig, pre: PreprocessConfig, worker: int, chunk: int, exclude: frozenset[str]
) -> list[SynthSample]:
    """`cfg.chunk` expressions of draw (cfg.seed, worker, chunk), preprocessed."""
    from data.synth.build import SynthConfig, render_offline, synthesize
    from data.synth.expressions import ExpressionConfig

    expr = (
        ExpressionConfig()
        if cfg.school_fraction < 0
        else ExpressionConfig(school_fraction=cfg.school_fraction)
    )
    seed = chunk_seed(cfg.seed, worker, chunk)
    synth_cfg = SynthConfig(n=cfg.chunk, seed=seed, prefix=f"stream{cfg.seed}w{worker}", expressions=expr)
    out = []
    for r in synthesize(bank, synth_cfg, exclude=exclude):
        if len(r.latex.split()) > cfg.max_tokens:
            continue
        x = preprocess(render_offline(r.strokes), pre)[0]  # (H, W) float in [0, 1]
        out.append(SynthSample(r.name, r.latex, (x.numpy() * 255.0 + 0.5).astype(np.uint8)))
    return out


def _worker(
    cfg: StreamConfig,
    pre: PreprocessConfig,
    worker: int,
    exclude: frozenset[str],
    out: Any,
    stop: Any,
) -> None:
    """A worker process: chunk after chunk into `out` until `stop` is set (one thread: the cores are
    shared out by process)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    from data.synth.glyphs import GlyphBank

    bank = GlyphBank.load(cfg.bank)
    chunk = 0
    while not stop.is_set():
        item = make_chunk(bank, cfg, pre, worker, chunk, exclude)
        chunk += 1
        while not stop.is_set():
            try:
                out.put(item, timeout=QUEUE_TIMEOUT_S)
                break
            except queue.Full:
                continue


class SynthStream:
    """Worker processes writing fresh synthetic expressions (see the module doc); a context manager."""

    def __init__(
        self, cfg: StreamConfig, preprocess_cfg: PreprocessConfig, exclude: frozenset[str] = frozenset()
    ) -> None:
        if cfg.workers < 1:
            raise ValueError("a synthetic stream needs at least one worker")
        if not Path(cfg.bank).is_file():
            raise FileNotFoundError(f"no glyph bank at {cfg.bank} (python -m data.synth bank INKML OUT.npz)")
        self.cfg = cfg
        self.preprocess_cfg = preprocess_cfg
        self.exclude = exclude
        ctx = multiprocessing.get_context("spawn")  # fresh interpreters: no CUDA or thread state inherited
        self._queue = ctx.Queue(maxsize=max(1, cfg.queue_chunks))
        self._stop = ctx.Event()
        self._procs = [
            ctx.Process(
                target=_worker,
                args=(cfg, preprocess_cfg, w, exclude, self._queue, self._stop),
                daemon=True,
                name=f"synth-{w}",
            )
            for w in range(cfg.workers)
        ]
        self._ready: deque[SynthSample] = deque()
        self.taken = 0  # samples handed out so far
        self.started = False

    def start(self) -> SynthStream:
        if not self.started:
            for p in self._procs:
                p.start()
            self.started = True
        return self

    def _pull(self, block: bool, timeout: float) -> bool:
        try:
            self._ready.extend(self._queue.get(block=block, timeout=timeout if block else None))
            return True
        except queue.Empty:
            return False

    def take(self, n: int, timeout: float = 0.0) -> list[SynthSample]:
        """Up to `n` fresh samples: what is ready now, or (timeout > 0) waiting up to `timeout` seconds
        for all `n`. Raises RuntimeError when every worker has died."""
        self.start()
        deadline = time.monotonic() + timeout
        while len(self._ready) < n and self._pull(block=False, timeout=0.0):
            pass
        while len(self._ready) < n and timeout > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not self._pull(block=True, timeout=min(left, 1.0)) and not self.alive():
                raise RuntimeError("every synthesizer worker has stopped (see their error above)")
        out = [self._ready.popleft() for _ in range(min(n, len(self._ready)))]
        self.taken += len(out)
        return out

    def alive(self) -> bool:
        return any(p.is_alive() for p in self._procs)

    def close(self) -> None:
        self._stop.set()
        for p in self._procs:
            if not self.started:
                break
            p.join(timeout=5.0)  # a worker finishes its chunk, sees the flag and returns
            if p.is_alive():
                p.terminate()
                p.join()
        self._queue.cancel_join_thread()  # items left in the queue are dropped, not flushed
        self._queue.close()

    def __enter__(self) -> SynthStream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def bench(bank: str, workers: int, seconds: float, pre: PreprocessConfig | None = None) -> dict[str, Any]:
    """Expressions per second of `workers` processes over `seconds` (after the first chunk each)."""
    pre = pre or PreprocessConfig()
    cfg = StreamConfig(bank=bank, workers=workers, chunk=16)
    with SynthStream(cfg, pre) as stream:
        t_start = time.monotonic()
        first = stream.take(workers * cfg.chunk, timeout=300.0)  # start-up: imports, bank loading
        t0 = time.monotonic()
        made: list[SynthSample] = []
        while time.monotonic() - t0 < seconds:
            made += stream.take(10_000, timeout=0.5)
        dt = time.monotonic() - t0
    return {
        "workers": workers,
        "seconds": round(dt, 1),
        "start_s": round(t0 - t_start, 1),
        "expressions": len(made),
        "expressions_per_s": round(len(made) / dt, 1),
        "per_worker_per_s": round(len(made) / dt / workers, 1),
        "distinct_captions": len({s.latex for s in first + made}),
        "first_chunks": len(first),
        "cpu_count": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json

    p = argparse.ArgumentParser(
        prog="python -m data.synth stream-bench",
        description="expressions per second of the training-time synthesizer (JSON)",
    )
    p.add_argument("bank", type=Path, help="a glyph bank (.npz or pickle)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args(argv)
    print(json.dumps(bench(str(args.bank), args.workers, args.seconds)))
    return 0
