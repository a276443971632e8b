"""The FastAPI application: `create_app(settings)`; the model is loaded once, in the lifespan.

uvicorn --factory api.app:create_app      (settings from SEQ2LATEX_* environment variables)
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from api.deps import API_KEY_HEADER
from api.errors import install_error_handlers
from api.limits import InferenceLimiter
from api.memory import tune_malloc
from api.metrics import Metrics
from api.middleware import ObservabilityMiddleware
from api.routes import check, demo, health, metrics, recognize, redoc, solve, symbol
from api.settings import Settings
from api.telemetry import REQUEST_ID_HEADER, configure_access_log
from seq2latex import __version__
from seq2latex.recognizer import Recognizer, Runtime, default_runtime

log = logging.getLogger("seq2latex.api")


def torch_threads(settings: Settings) -> int:
    """Intra-op threads per inference: the cores shared by the concurrent inferences, unless set (torch's
    global setting on the torch runtime; each onnxruntime session's intra-op threads on the ONNX one)."""
    if settings.torch_threads:
        return settings.torch_threads
    return max(1, (os.cpu_count() or 1) // settings.max_concurrency)


def _warm_solver(workers: int) -> None:
    """Start the solver's worker processes now, so the first /solve calls are fast."""
    from seq2latex.solver import warm_up

    warm_up(workers)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the model once (unless given), start the bounded pools; stop them at shutdown."""
    settings: Settings = app.state.settings
    if settings.tune_malloc:
        log.info("malloc settings: %s", tune_malloc() or "glibc defaults")
    given = app.state.recognizer
    runtime: Runtime = given.runtime if given is not None else default_runtime(settings.model_dir)
    threads = torch_threads(settings)
    previous_threads = _set_torch_threads(threads) if runtime == "torch" else None
    limiter = InferenceLimiter(settings.max_concurrency, settings.queue_size, settings.request_timeout_s)
    solve_executor = ThreadPoolExecutor(
        max_workers=settings.max_concurrency + settings.queue_size, thread_name_prefix="seq2latex-solve"
    )
    try:
        if app.state.recognizer is None:
            app.state.recognizer = await run_in_threadpool(
                Recognizer.from_pretrained,
                settings.model_dir,
                settings.device,
                runtime=runtime,
                threads=threads,
            )
        card = app.state.recognizer.card
        log.info("model %s %s loaded", card.get("name"), card.get("version", ""))
        app.state.metrics.set_model(card)
        app.state.limiter = limiter
        app.state.solve_executor = solve_executor
        from seq2latex.solver import set_workers  # SymPy and the solver: on first use, not at import

        set_workers(settings.solver_workers)
        if settings.warmup:
            solve_executor.submit(_warm_solver, settings.solver_workers)
        yield
    finally:
        limiter.shutdown()
        solve_executor.shutdown(wait=False, cancel_futures=True)
        if previous_threads is not None:
            _set_torch_threads(previous_threads)


def _set_torch_threads(n: int) -> int:
    """Set torch's intra-op threads; returns the previous number (torch only on the torch runtime)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    return previous


def create_app(settings: Settings | None = None, recognizer: Recognizer | None = None) -> FastAPI:
    """Build the app. `recognizer` skips loading (tests share one loaded model between apps)."""
    settings = settings or Settings()
    # /docs and /redoc load Swagger UI / ReDoc from the package's own files (fastapi-offline), not a CDN;
    # /redoc is the project's own route (api/routes/redoc.py: ReDoc's logo from here too)
    app = FastAPIOffline(
        redoc_url=None,
        title="seq2latex",
        version=__version__,
        description="Handwritten maths -> LaTeX -> solution. Errors: {'error': {'code', 'message'}}.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.recognizer = recognizer
    app.state.metrics = Metrics(app.state)
    configure_access_log(settings.log_format, settings.access_log)
    install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", API_KEY_HEADER, REQUEST_ID_HEADER],
        expose_headers=[REQUEST_ID_HEADER, "Retry-After"],  # the demo waits as long as a 503 asks, on any origin
    )
    # outermost (added last): it sees every answer, CORS preflights included, and its request id
    app.add_middleware(ObservabilityMiddleware, metrics=app.state.metrics)
    for module in (solve, check, recognize, symbol, health, demo, redoc):
        app.include_router(module.router)
    if settings.metrics:
        app.include_router(metrics.router)
    app.mount("/static", StaticFiles(directory=demo.STATIC_DIR), name="static")
    return app
