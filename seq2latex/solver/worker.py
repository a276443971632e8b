"""Worker process (`python -m seq2latex.solver.worker`): reads parsed statements, answers result dicts."""

from __future__ import annotations

import os
import signal
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from seq2latex.solver import engine
from seq2latex.solver.check_engine import compare
from seq2latex.solver.check_messages import explain
from seq2latex.solver.config import WORKER_MEMORY_BYTES
from seq2latex.solver.lexer import SolverInputError
from seq2latex.solver.parser import Node
from seq2latex.solver.steps import steps_result

MAX_DETAIL_CHARS = 120  # of a SymPy error text repeated in a message


def _limit_memory(limit: int) -> None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard == resource.RLIM_INFINITY or hard > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass


def handle(nodes: list[Node], lang: str, steps_deadline: float | None = None) -> dict[str, Any]:
    """Run one job; failures become {'error': code, 'detail': text}. With a `steps_deadline`
    (time.monotonic() value) the answer also has "steps" and "steps_reason", worked out here too."""
    try:
        answer = engine.run(nodes, lang)
        if steps_deadline is not None:
            answer.update(steps_result(nodes, lang, answer, steps_deadline - time.monotonic()))
        return answer
    except SolverInputError as exc:
        return {"error": exc.code, "detail": exc.detail}
    except MemoryError:
        return {"error": "cannot_solve", "detail": "out of memory"}
    except RecursionError:
        return {"error": "nesting", "detail": ""}
    except (NotImplementedError, ValueError, TypeError, ZeroDivisionError, AttributeError, IndexError) as exc:
        return {"error": "cannot_solve", "detail": _short_error(exc)}
    except Exception as exc:  # noqa: BLE001 - a worker must always answer
        return {"error": "internal", "detail": _short_error(exc)}


def check_step(job: dict[str, Any]) -> dict[str, Any]:
    """One step of `seq2latex.solver.check`: {"before", "after" (CheckLine), "lang", "seconds"}."""
    try:
        return compare(job["before"], job["after"], job["lang"], float(job["seconds"]))
    except MemoryError:
        return {"verdict": "unknown", "explanation": explain("undecided", job.get("lang", "en"))}
    except Exception:  # noqa: BLE001 - a worker must always answer; "unknown" is never a wrong verdict
        return {"verdict": "unknown", "explanation": explain("undecided", job.get("lang", "en"))}


def _short_error(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text[:MAX_DETAIL_CHARS]


def _watch_parent(parent: int) -> None:
    """Exit when the parent process is gone, even in the middle of a long computation."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def worker_main(memory_bytes: int = WORKER_MEMORY_BYTES) -> None:
    """Serve jobs `(nodes, lang)` read from stdin until None or EOF; answers go to the original stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _limit_memory(memory_bytes)
    out_fd = os.dup(1)
    os.dup2(2, 1)  # stray prints must not corrupt the message stream
    reader = Connection(os.dup(0), writable=False)
    writer = Connection(out_fd, readable=False)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    writer.send("ready")
    while True:
        try:
            job = reader.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        if isinstance(job, dict) and job.get("task") == "check":  # one step of a pupil's working
            writer.send(check_step(job))
            continue
        nodes, lang, *options = job  # options: (seconds for the steps,) when they are asked for
        deadline = time.monotonic() + float(options[0]) if options and options[0] else None
        writer.send(handle(nodes, lang, deadline))


if __name__ == "__main__":
    worker_main()
