"""The service's checks and model, without a server: image files read as `POST /recognize` reads an upload
(the same image guards, model, default beam and confirmation thresholds, `SEQ2LATEX_*` settings included).
Used by `seq2latex recognize`, `solve IMAGE` and `check PHOTO` (`seq2latex.cli`).

Nothing heavy is imported here: torch and the model only when an image is read."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

# File suffixes read as photos (`seq2latex solve IMAGE`, `seq2latex check PHOTO`).
IMAGE_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".webp",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".heic",
    ".heif",
    ".avif",
}


def model_problem(model: Path | None) -> str | None:
    """An error message if the model directory cannot be used (or no runtime can read it here), else None."""
    from seq2latex.recognizer import DEFAULT_MODEL_DIR, RuntimeUnavailable, default_runtime

    root = model if model is not None else DEFAULT_MODEL_DIR
    if not (root / "config.json").is_file():
        where = "the shipped default model" if model is None else "the model directory"
        return f"{where} was not found at {root} (pass --model DIR)"
    try:
        default_runtime(root)
    except (RuntimeUnavailable, ValueError) as exc:
        return str(exc)
    return None


@functools.lru_cache(maxsize=2)
def _recognizer(model: Path | None) -> Any:
    from seq2latex.recognizer import Recognizer

    return Recognizer.from_pretrained(model)


def recognize_file(path: Path, model: Path | None = None, beam: int | None = None) -> dict[str, Any]:
    """One image file -> {"latex", "confidence", "needs_confirmation", "beam", "alternatives"}, with the
    service's image guards, default beam and confirmation thresholds (`SEQ2LATEX_*` settings included).

    Raises `api.errors.ApiError` (a bad image), `OSError` (unreadable file, missing model)."""
    from api.images import open_image
    from api.pipeline import recognize_sync
    from api.settings import Settings
    from seq2latex.confirmation import needs_confirmation

    data = Path(path).read_bytes()
    settings = Settings()
    if len(data) > settings.max_upload_bytes:
        from api.errors import ApiError

        raise ApiError(
            413,
            "payload_too_large",
            f"{path} is larger than {settings.max_upload_bytes} bytes",
            nl=f"{path} is groter dan {settings.max_upload_bytes} bytes",
        )
    recognizer = _recognizer(model)
    beam = settings.default_beam if beam is None else beam
    rec = recognize_sync(recognizer, open_image(data, settings.max_pixels), beam)
    below = settings.confirm_below if settings.confirm_below is not None else recognizer.confirm_below(rec.beam)
    return {
        "latex": rec.latex,
        "confidence": rec.confidence,
        "needs_confirmation": needs_confirmation(rec.confidence, below),
        "beam": rec.beam,
        "alternatives": [{"latex": latex, "score": score} for latex, score in rec.alternatives],
    }


def describe(result: dict[str, Any]) -> str:
    """How sure the reading is, for a person: `confidence 0.912` or `confidence 0.214: check it`."""
    text = f"confidence {result['confidence']:.3f}"
    return text + (": needs confirmation, check it" if result["needs_confirmation"] else "")


def recognize_image_latex(path: Path, model: Path | None = None, beam: int | None = None) -> str:
    """The LaTeX of the handwritten maths in an image file (the hook for `seq2latex solve IMAGE`).

    Raises ValueError (a bad image: undecodable, unsupported, blank, too large) or OSError (unreadable
    file, no model)."""
    from api.errors import ApiError

    try:
        return str(recognize_file(path, model, beam)["latex"])
    except ApiError as exc:
        raise ValueError(f"{path}: {exc.message}") from exc


def recognize_photo_lines_file(path: Path, model: Path | None = None) -> list[dict[str, Any]]:
    """The lines of writing in a photo, each {"latex", "confidence", "needs_confirmation"}, read as
    `POST /check` reads a photo (the service's checks, model, default beam and thresholds).

    Raises OSError (unreadable file, unusable model) or `api.errors.ApiError` (a bad image)."""
    from api.checking import recognize_photo_lines
    from api.images import open_image
    from api.settings import Settings
    from seq2latex.confirmation import needs_confirmation

    problem = model_problem(model)
    if problem:
        raise OSError(problem)
    settings = Settings()
    recognizer = _recognizer(model)
    recs = recognize_photo_lines(
        recognizer, open_image(path.read_bytes(), settings.max_pixels), settings.default_beam
    )
    out = []
    for rec in recs:
        below = (
            settings.confirm_below
            if settings.confirm_below is not None
            else recognizer.confirm_below(rec.beam)
        )
        out.append(
            {
                "latex": rec.latex,
                "confidence": rec.confidence,
                "needs_confirmation": needs_confirmation(rec.confidence, below),
            }
        )
    return out
