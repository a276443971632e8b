"""`seq2latex serve` (the FastAPI service, `api.app`) and `seq2latex recognize IMAGE...` (images -> LaTeX with
the service's checks and model: `api.local`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from api.local import describe, model_problem, recognize_file

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="start the HTTP service and the demo page")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"interface to bind (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--workers", type=int, default=1, help="worker processes, each with its own model copy")
    p.add_argument("--model", type=Path, default=None, help="model directory (default: the shipped model)")
    p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument(
        "--log-format",
        default=None,
        choices=["json", "text"],
        help="the access log, one line per request on stderr (default json; SEQ2LATEX_LOG_FORMAT)",
    )
    p.set_defaults(func=serve)

    r = subparsers.add_parser("recognize", help="recognize handwritten maths in image files")
    r.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    r.add_argument("--model", type=Path, default=None, help="model directory (default: the shipped model)")
    r.add_argument("--beam", type=int, default=None, help="beam width (1 = greedy; default 3, as the service)")
    r.add_argument("--json", action="store_true", help="print one JSON object per image")
    r.set_defaults(func=recognize)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    error = model_problem(args.model)
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # settings travel through the environment so that every worker process builds the same app
    if args.model is not None:
        os.environ["SEQ2LATEX_MODEL_DIR"] = str(args.model.resolve())
    if args.device:
        os.environ["SEQ2LATEX_DEVICE"] = args.device
    if args.log_format:
        os.environ["SEQ2LATEX_LOG_FORMAT"] = args.log_format
    if args.log_level in ("critical", "error", "warning"):  # the access log's lines are at info level
        os.environ.setdefault("SEQ2LATEX_ACCESS_LOG", "false")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=max(1, args.workers),
        log_level=args.log_level,
        access_log=False,  # the service writes its own access log (api.middleware): request id, stage timings
    )
    return 0


def recognize(args: argparse.Namespace) -> int:
    from api.errors import ApiError
    from api.limits import MAX_BEAM

    if args.beam is not None and not 1 <= args.beam <= MAX_BEAM:
        print(f"error: --beam must be from 1 to {MAX_BEAM}", file=sys.stderr)
        return 2
    error = model_problem(args.model)
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    failed = 0
    for path in args.images:
        try:
            result = recognize_file(path, args.model, args.beam)
        except (ApiError, OSError) as exc:
            failed += 1
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            if args.json:
                print(json.dumps({"image": str(path), "error": message}))
            else:
                print(f"{path}: error: {message}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps({"image": str(path), **result}, ensure_ascii=False))
        else:
            print(f"{path}\t{result['latex']}\t{describe(result)}")
    return 1 if failed else 0
