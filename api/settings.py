"""Service settings, read from `SEQ2LATEX_*` environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.limits import DEFAULT_BEAM, MAX_BEAM

MB = 1024 * 1024
DEFAULT_MAX_UPLOAD_BYTES = 10 * MB
DEFAULT_MAX_PIXELS = 50_000_000  # a 48-megapixel phone photo still fits; larger is a decompression bomb
DEFAULT_MAX_CONCURRENCY = 2  # inferences running at once
# inferences waiting for a slot at most (each holds its upload, up to 10 MB: 48 hold up to 480 MB); within
# that, only as many wait as can finish within the request time limit (api.limits), the rest get 503
DEFAULT_QUEUE_SIZE = 48
DEFAULT_REQUEST_TIMEOUT_S = 30.0  # queue wait + preprocessing + recognition
DEFAULT_SOLVE_TIMEOUT_S = 10.0  # above the solver's own hard limit, which normally answers first
# SymPy worker processes (~60 MB each): an expression that makes SymPy hang holds one for the solver's own limit
# (3 s); with one worker a burst of such input made normal solves wait behind it (docs/operators.md, soak)
DEFAULT_SOLVER_WORKERS = 2
DEFAULT_MAX_LATEX_CHARS = 2000
DEFAULT_CORS_ORIGINS = ["https://www.wiskundewijs.nl", "https://wiskundewijs.nl"]


class Settings(BaseSettings):
    """Everything the service can be configured with; `SEQ2LATEX_MODEL_DIR=... seq2latex serve`."""

    model_config = SettingsConfigDict(env_prefix="SEQ2LATEX_", extra="ignore", protected_namespaces=())

    model_dir: Path | None = None  # None = the shipped model in seq2latex/weights/default
    device: str = "cpu"
    torch_threads: int = Field(default=0, ge=0)  # torch threads per inference; 0 = cores / max_concurrency
    max_upload_bytes: int = Field(default=DEFAULT_MAX_UPLOAD_BYTES, gt=0)
    max_pixels: int = Field(default=DEFAULT_MAX_PIXELS, gt=0)
    max_concurrency: int = Field(default=DEFAULT_MAX_CONCURRENCY, ge=1)
    queue_size: int = Field(default=DEFAULT_QUEUE_SIZE, ge=0)
    request_timeout_s: float = Field(default=DEFAULT_REQUEST_TIMEOUT_S, gt=0)
    solve_timeout_s: float = Field(default=DEFAULT_SOLVE_TIMEOUT_S, gt=0)
    solver_workers: int = Field(default=DEFAULT_SOLVER_WORKERS, ge=1)  # SymPy processes per server process
    max_latex_chars: int = Field(default=DEFAULT_MAX_LATEX_CHARS, gt=0)
    cors_origins: list[str] = Field(default_factory=lambda: list(DEFAULT_CORS_ORIGINS))
    api_key: str | None = None  # when set, POST routes and /version need the header X-API-Key
    # beam width of a request that names none (1 = greedy)
    default_beam: int = Field(default=DEFAULT_BEAM, ge=1, le=MAX_BEAM)
    # confidence below which a reading needs confirmation (None: the model card's fit for the beam width,
    # seq2latex.confirmation)
    confirm_below: float | None = Field(default=None, ge=0.0, le=1.0)
    warmup: bool = True  # solve a trivial expression at start-up (starts the solver's worker process)
    log_format: Literal["json", "text"] = "json"  # the access log: one JSON object a line, or plain text
    access_log: bool = True  # one line per request on stderr (request id, route, status, bytes, timings)
    metrics: bool = True  # GET /metrics (Prometheus text format); keep it off the public internet
    # glibc: large buffers mmapped and 2 malloc arenas, so memory freed after big requests is returned
    # (api.memory); false keeps glibc's defaults
    tune_malloc: bool = True
