"""GET /metrics: the Prometheus text format (`api.metrics`); off with SEQ2LATEX_METRICS=false."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import MetricsDep

router = APIRouter(tags=["service"])


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics(registry: MetricsDep) -> Response:
    """Requests by route and status, latency histograms per stage, the inference queue, the solver's
    workers, the model (an info metric). Scrape it from inside the network: it needs no API key."""
    body, content_type = registry.render()
    return Response(body, media_type=content_type)
