"""`solve`: LaTeX in, JSON-serializable result dict out; never raises on bad input."""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections import OrderedDict
from typing import Any

from seq2latex.solver.config import CACHE_SIZE, MAX_EXPONENT, SolverConfig
from seq2latex.solver.lexer import SolverInputError, prepare, tokenize
from seq2latex.solver.messages import LANGS, message
from seq2latex.solver.parser import parse
from seq2latex.solver.pool import SolverBusy, WorkerError, get_pool
from seq2latex.solver.result import empty_result
from seq2latex.solver.step_messages import no_steps, steps_budget

_CACHE: OrderedDict[tuple[str, str, bool], dict[str, Any]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_LIMITS: dict[str, object] = {"exponent": MAX_EXPONENT}


def _error(
    latex: str, normalized: str, code: str, detail: str, lang: str, cfg: SolverConfig
) -> dict[str, Any]:
    res = {"input": latex, "latex": normalized, **empty_result("error")}
    limit = cfg.max_chars if code == "too_long" else _LIMITS.get(code, cfg.timeout_s)
    res["message"] = message(code, lang, detail=detail, limit=limit)
    res["error_code"] = code
    return res


def _normalize(latex: str) -> tuple[str, str | None]:
    """(normalized LaTeX, error text or None); falls back to the whitespace-collapsed input."""
    try:
        from tokenizer import normalize
    except ImportError:
        return " ".join(latex.split()), None
    try:
        return normalize(prepare(latex)), None
    except ValueError as exc:
        return " ".join(latex.split()), str(exc) or type(exc).__name__


def solve(
    latex: str,
    lang: str = "en",
    *,
    timeout_s: float | None = None,
    config: SolverConfig | None = None,
    steps: bool = False,
    wait_s: float | None = None,
) -> dict[str, Any]:
    """Solve an equation, inequality or system, or evaluate an expression, given as LaTeX.

    Returns {"input", "latex", "kind", "variables", "solutions", "approx", "solution_set", "value",
    "result_latex", "message", "error_code"}; kind is "error" (with a message and an `error_code`) for
    input that cannot be handled. Values in `solutions`, `value` and `solution_set` are LaTeX in the
    input's own letters (or a plain decimal where no closed form exists); `approx` holds decimals.
    SymPy runs in a worker process that is killed after `timeout_s` (default `config.timeout_s`).
    `wait_s` bounds the wait for a free worker (a caller with its own deadline): when every worker stays
    busy that long, the answer is the error "busy" at once (nothing is cached; the same call may succeed
    a moment later).
    With `steps=True` the result also has "steps" (a list of {"latex", "explanation", "aside"}, or None)
    and "steps_reason" (why there are none), worked out and checked in the same worker.
    """
    cfg = config or SolverConfig()
    if timeout_s is not None:
        cfg = dataclasses.replace(cfg, timeout_s=float(timeout_s))
    lang = lang if lang in LANGS else "en"
    text = latex if isinstance(latex, str) else ""
    try:
        res = _solve(text, lang, cfg, latex, steps, wait_s)
    except Exception as exc:  # noqa: BLE001 - the contract: never raise on bad input
        res = _error(text, text, "internal", f"{type(exc).__name__}: {exc}", lang, cfg)
    if steps and "steps" not in res:
        res.update(no_steps(lang))
    return res


def _solve(
    text: str, lang: str, cfg: SolverConfig, original: Any, steps: bool = False, wait_s: float | None = None
) -> dict[str, Any]:
    if not isinstance(original, str):
        return _error("", "", "parse", "the input must be a string", lang, cfg)
    if len(text) > cfg.max_chars:
        return _error(text, "", "too_long", "", lang, cfg)
    if not text.strip():
        return _error(text, "", "empty", "", lang, cfg)
    key = (text, lang, steps)
    if cfg.use_cache:
        with _CACHE_LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return copy.deepcopy(_CACHE[key])
    normalized, norm_error = _normalize(text)
    try:
        nodes = parse(tokenize(text), lang)
    except SolverInputError as exc:
        if norm_error is not None and exc.code == "parse":
            return _error(text, normalized, "normalize", norm_error, lang, cfg)
        return _error(text, normalized, exc.code, exc.detail, lang, cfg)
    except RecursionError:
        return _error(text, normalized, "nesting", "", lang, cfg)
    try:
        job = (nodes, lang, steps_budget(cfg.timeout_s) if steps else 0.0)
        answer = get_pool(cfg.workers).run(job, cfg.timeout_s, wait_s)
    except SolverBusy:
        return _error(text, normalized, "busy", "", lang, cfg)
    except WorkerError as exc:
        return _error(text, normalized, "internal", str(exc), lang, cfg)
    if answer is None:
        return _error(text, normalized, "timeout", "", lang, cfg)
    if "error" in answer:
        return _error(text, normalized, answer["error"], answer.get("detail", ""), lang, cfg)
    res = {"input": text, "latex": normalized, **empty_result("error")}
    res.update(answer)
    if cfg.use_cache:
        with _CACHE_LOCK:
            _CACHE[key] = copy.deepcopy(res)
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    return res
