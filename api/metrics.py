"""Prometheus metrics of one app (its own registry, so that several apps in one process do not collide).

Counted as requests are answered (`api.middleware`): requests by route, method and status; request and
stage latencies. Read when scraped: the inference queue (`api.limits.InferenceLimiter`) and the solver's
worker processes (`seq2latex.solver.stats`, process-wide); the process's own memory and CPU (`process_*`). `GET /metrics` serves `Metrics.render()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from seq2latex import __version__

# seconds; from a cached solve (~1 ms) to the request time limit (30 s)
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
STAGES = ("queue", "decode", "render", "preprocess", "recognize", "classify", "solve")
UNMATCHED_ROUTE = "unmatched"  # any path no route answers (404s of scanners): one label, not one per path


class _ServiceCollector(Collector):
    """The inference queue of the running app (`state.limiter`, set in the lifespan) and the solver pool."""

    def __init__(self, state: Any) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        from seq2latex.solver import stats

        limiter = getattr(self._state, "limiter", None)
        if limiter is not None:
            running, waiting, rejected = limiter.counts()
            yield GaugeMetricFamily(
                "seq2latex_inference_running", "Inference jobs running now", value=running
            )
            yield GaugeMetricFamily(
                "seq2latex_inference_queue_depth", "Inference jobs waiting for a slot now", value=waiting
            )
            yield GaugeMetricFamily(
                "seq2latex_inference_capacity",
                "Inference jobs that may run or wait at once (max_concurrency + queue_size); more are refused",
                value=limiter.capacity,
            )
            yield CounterMetricFamily(
                "seq2latex_inference_rejections",
                "Inference jobs refused with 503 because the queue was full",
                value=rejected,
            )
        solver = stats()
        yield CounterMetricFamily(
            "seq2latex_solver_workers_started", "SymPy worker processes started", value=solver["started"]
        )
        yield CounterMetricFamily(
            "seq2latex_solver_timeouts",
            "Solver jobs killed at the solver's time limit",
            value=solver["timeouts"],
        )
        yield CounterMetricFamily(
            "seq2latex_solver_busy",
            'Solver jobs refused unstarted (solution error "busy"): no worker came free in time',
            value=solver["busy"],
        )
        restarts = CounterMetricFamily(
            "seq2latex_solver_worker_restarts",
            "Solver worker processes replaced, by why: killed at the time limit, or found dead",
            labels=["reason"],
        )
        restarts.add_metric(["timeout"], solver["replaced_timeout"])
        restarts.add_metric(["died"], solver["replaced_died"])
        yield restarts


class Metrics:
    """The app's registry and the metrics the middleware updates."""

    def __init__(self, state: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "seq2latex_requests",
            "HTTP requests answered, by route (the route's path template), method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "seq2latex_request_duration_seconds",
            "Time from the request's arrival to the end of its answer, by route",
            ["route"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "seq2latex_stage_duration_seconds",
            "Time of each stage of a request: queue (waiting for an inference slot), decode (image pixels), "
            "render (ink), preprocess, recognize, classify (/symbol), solve",
            ["stage"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.model = Info(
            "seq2latex_model", "The loaded model and the package serving it", registry=self.registry
        )
        self.registry.register(_ServiceCollector(state))
        ProcessCollector(registry=self.registry)  # process_resident_memory_bytes, CPU seconds, open fds

    def set_model(self, card: dict[str, Any]) -> None:
        self.model.info(
            {
                "name": str(card.get("name", "unknown")),
                "version": str(card.get("version", "unknown")),
                "package": __version__,
            }
        )

    def observe(self, route: str, method: str, status: int, seconds: float, stages: dict[str, float]) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)
        for stage, stage_s in stages.items():
            self.stage_seconds.labels(stage).observe(stage_s)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
