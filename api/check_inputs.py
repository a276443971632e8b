"""POST /check's request: typed lines (JSON `{"lines": [...]}`), or a photo (multipart `file`, JSON `image`, a raw
`image/*` body) or ink (JSON `strokes` / `inkml`) of several lines, one step a line; `lang` and `beam` from the
body or the query string."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request

from api.errors import ApiError
from api.images import decode_base64_image
from api.ink import Strokes, parse_inkml, parse_strokes
from api.inputs import parse_beam, parse_lang, read_body, read_input, too_large
from api.limits import JSON_OVERHEAD_BYTES
from api.settings import Settings


@dataclass
class CheckInput:
    lines: list[Any] | None  # typed: checked by seq2latex.solver.check.validate_lines
    image: bytes | None
    strokes: Strokes | None
    lang: str
    beam: int


class _CheckJson(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lines: Any = None
    image: str | None = None
    strokes: Any = None
    inkml: str | None = None
    lang: str | None = None
    beam: Any = None


def _one_input(given: list[str]) -> ApiError:
    return ApiError(
        422,
        "invalid_input",
        f"send one of 'lines', 'image', 'strokes', 'inkml', not {' and '.join(given)}",
        nl=f"stuur één van 'lines', 'image', 'strokes', 'inkml', niet {' en '.join(given)}",
    )


async def read_check_input(request: Request, settings: Settings) -> CheckInput:
    """Parse any accepted body into typed lines or one picture of several lines."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (ctype == "application/json" or ctype.endswith("+json")):
        # a photo: multipart `file`, or a raw image body, read as /recognize reads them
        inp = await read_input(request, settings, allow_latex=False)
        return CheckInput(lines=None, image=inp.image, strokes=inp.strokes, lang=inp.lang, beam=inp.beam)
    body = await read_body(request, settings.max_upload_bytes * 4 // 3 + JSON_OVERHEAD_BYTES, settings)
    query = request.query_params
    try:
        parsed = _CheckJson.model_validate(json.loads(body or b"null"))
    except (ValueError, ValidationError) as exc:
        raise ApiError(
            422,
            "invalid_json",
            "the body must be a JSON object with 'lines' (a list of LaTeX strings), 'image', 'strokes' or 'inkml'",
            nl="het verzoek moet een JSON-object zijn met 'lines' (een lijst LaTeX-teksten), 'image', 'strokes' "
            "of 'inkml'",
        ) from exc
    lang = parse_lang(parsed.lang if parsed.lang is not None else query.get("lang"))
    request.state.lang = lang  # the language of the errors from here on
    beam = parse_beam(parsed.beam if parsed.beam is not None else query.get("beam"), settings.default_beam)
    given = [k for k in ("lines", "image", "strokes", "inkml") if getattr(parsed, k) is not None]
    if len(given) > 1:
        raise _one_input(given)
    if not given:
        raise ApiError(
            422,
            "missing_input",
            "the request has no input: send JSON 'lines' (one step a line), or a photo or ink of the lines",
            nl="het verzoek is leeg: stuur JSON 'lines' (één stap per regel), of een foto of inkt van de regels",
        )
    image = decode_base64_image(parsed.image) if parsed.image is not None else None
    if image is not None and len(image) > settings.max_upload_bytes:
        raise too_large(settings)
    strokes = None
    if parsed.strokes is not None:
        strokes = parse_strokes(parsed.strokes)
    if parsed.inkml is not None:
        strokes = parse_inkml(parsed.inkml)
    return CheckInput(lines=parsed.lines, image=image, strokes=strokes, lang=lang, beam=beam)
