"""Request bodies -> one `ImageOrLatex` input: multipart `file`, JSON `{"image": base64 | data: URI}`,
JSON ink (`{"strokes": [[[x, y], ...], ...]}` or `{"inkml": "<ink>...</ink>"}`, see `api.ink`),
JSON `{"latex": ...}` or a raw `image/*` body; `beam`, `lang`, `steps` and `line` from the body or the query
string."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import Message

from api.errors import ApiError
from api.images import decode_base64_image
from api.ink import Strokes, parse_inkml, parse_strokes
from api.limits import JSON_OVERHEAD_BYTES, MAX_BEAM, MAX_LINE, MULTIPART_OVERHEAD_BYTES
from api.settings import Settings

SUPPORTED_LANGS = ("en", "nl")
FILE_FIELDS = ("file", "image")  # multipart field names accepted for the upload
MAX_FORM_FIELDS = 8
MAX_FORM_FIELD_BYTES = 64 * 1024
_CONTROL_CHARS = {chr(c) for c in range(32)} - {"\t", "\n", "\r"}


@dataclass
class ImageOrLatex:
    image: bytes | None
    latex: str | None
    beam: int
    lang: str
    steps: bool = False
    strokes: Strokes | None = None  # ink: checked (N, 2) strokes, rendered by the pipeline
    line: int | None = None  # the line of writing of a photo to read (1 = the top one; None: the heaviest)


class _JsonBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image: str | None = None
    latex: str | None = None
    strokes: Any = None  # checked by api.ink.parse_strokes, with its own messages
    inkml: str | None = None
    beam: int | None = None
    lang: str | None = None
    steps: Any = None
    line: Any = None


def too_large(settings: Settings) -> ApiError:
    """The 413 for an upload above `settings.max_upload_bytes`."""
    mb = settings.max_upload_bytes / (1024 * 1024)
    return ApiError(
        413,
        "payload_too_large",
        f"the upload is larger than the limit of {mb:g} MB",
        nl=f"het bestand is groter dan de grens van {mb:g} MB",
    )


async def read_body(request: Request, limit: int, settings: Settings) -> bytes:
    """The raw body, refusing (413) as soon as it is known to exceed `limit` bytes."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large(settings)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(settings)
        chunks.append(chunk)
    return b"".join(chunks)


def _replay(request: Request, body: bytes) -> Request:
    """A request whose body is `body` (already read with a size limit), for Starlette's form parser."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


def parse_beam(value: Any, default: int = 1) -> int:
    if value is None or value == "":
        return default
    try:
        beam = int(value)
        if isinstance(value, float | bool) or str(value).strip() != str(beam):
            raise ValueError
    except (TypeError, ValueError):
        raise _bad_beam() from None
    if not 1 <= beam <= MAX_BEAM:
        raise _bad_beam()
    return beam


def _bad_beam() -> ApiError:
    return ApiError(
        422,
        "invalid_parameter",
        f"beam must be an integer from 1 to {MAX_BEAM}",
        nl=f"beam moet een geheel getal van 1 tot en met {MAX_BEAM} zijn",
    )


def parse_lang(value: Any) -> str:
    if value is None or value == "":
        return "en"
    if not isinstance(value, str) or value.lower() not in SUPPORTED_LANGS:
        raise ApiError(
            422,
            "invalid_parameter",
            f"lang must be one of {', '.join(SUPPORTED_LANGS)}",
            nl=f"lang moet een van {', '.join(SUPPORTED_LANGS)} zijn",
        )
    return value.lower()


_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def parse_steps(value: Any) -> bool:
    """`steps`: JSON true/false, or a form/query value true/false/1/0/yes/no/on/off."""
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ApiError(422, "invalid_parameter", "steps must be true or false", nl="steps moet true of false zijn")


def parse_line(value: Any) -> int | None:
    """`line`: a positive integer (1 = the top line of writing of a photo), or absent."""
    if value is None or value == "":
        return None
    try:
        line = int(value)
        if isinstance(value, float | bool) or str(value).strip() != str(line):
            raise ValueError
    except (TypeError, ValueError):
        line = 0
    if not 1 <= line <= MAX_LINE:
        raise ApiError(
            422,
            "invalid_parameter",
            f"line must be an integer from 1 to {MAX_LINE} (1 is the top line of writing)",
            nl=f"line moet een geheel getal van 1 tot en met {MAX_LINE} zijn (1 is de bovenste regel)",
        )
    return line


def check_latex(latex: str, settings: Settings) -> str:
    """Typed LaTeX that is worth solving, stripped; 422 when it is empty, too long or unbalanced."""
    text = latex.strip()
    if not text:
        raise ApiError(422, "empty_latex", "the LaTeX is empty", nl="de LaTeX is leeg")
    if len(text) > settings.max_latex_chars:
        raise ApiError(
            422,
            "latex_too_long",
            f"the LaTeX has {len(text)} characters; the limit is {settings.max_latex_chars}",
            nl=f"de LaTeX heeft {len(text)} tekens; de grens is {settings.max_latex_chars}",
        )
    if any(ch in _CONTROL_CHARS for ch in text):
        raise ApiError(
            422, "invalid_latex", "the LaTeX contains control characters", nl="de LaTeX bevat stuurtekens"
        )
    depth = 0
    escaped = False
    for ch in text:
        if escaped:
            escaped = False
            continue
        if ch == "\\":
            escaped = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                break
    if depth != 0:
        raise ApiError(
            422,
            "unbalanced_latex",
            "the LaTeX has unbalanced braces { }",
            nl="de accolades { } in de LaTeX zijn niet in evenwicht",
        )
    return text


async def read_input(request: Request, settings: Settings, allow_latex: bool) -> ImageOrLatex:
    """Parse any accepted body; exactly one of image / strokes / latex is set in the result."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    query = request.query_params
    fields: dict[str, Any] = {}
    image: bytes | None = None
    latex: str | None = None
    strokes: Strokes | None = None
    if ctype == "multipart/form-data":
        body = await read_body(request, settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES, settings)
        try:
            form = await _replay(request, body).form(
                max_files=1, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_FIELD_BYTES
            )
        except StarletteHTTPException as exc:
            raise ApiError(
                422,
                "malformed_request",
                f"cannot parse the multipart body: {exc.detail}",
                nl="het multipart-verzoek is onleesbaar",
            ) from exc
        try:
            for name in FILE_FIELDS:
                part = form.get(name)
                if isinstance(part, UploadFile):
                    image = await part.read()
                    break
                if isinstance(part, str) and part:
                    raise ApiError(
                        422,
                        "invalid_input",
                        f"the form field {name!r} must be a file upload",
                        nl=f"het formulierveld {name!r} moet een bestand zijn",
                    )
            for key in ("latex", "beam", "lang", "steps", "line"):
                value = form.get(key)
                if isinstance(value, str):
                    fields[key] = value
        finally:
            await form.close()
        latex = fields.get("latex")
    elif ctype == "application/json" or ctype.endswith("+json"):
        limit = settings.max_upload_bytes * 4 // 3 + JSON_OVERHEAD_BYTES
        body = await read_body(request, limit, settings)
        try:
            parsed = _JsonBody.model_validate(json.loads(body or b"null"))
        except (ValueError, ValidationError) as exc:
            msg = "the body must be a JSON object with 'image', 'strokes', 'inkml' or 'latex', 'beam', 'lang', 'steps'"
            nl = (
                "het verzoek moet een JSON-object zijn met 'image', 'strokes', 'inkml' of 'latex', "
                "'beam', 'lang', 'steps'"
            )
            raise ApiError(422, "invalid_json", msg, nl=nl) from exc
        # the language first, so that the messages about the ink below are in it
        request.state.lang = parse_lang(parsed.lang if parsed.lang is not None else query.get("lang"))
        given = [k for k in ("image", "strokes", "inkml", "latex") if getattr(parsed, k) is not None]
        if len(given) > 1:
            raise ApiError(
                422,
                "invalid_input",
                f"send one of 'image', 'strokes', 'inkml', 'latex', not {' and '.join(given)}",
                nl=f"stuur één van 'image', 'strokes', 'inkml', 'latex', niet {' en '.join(given)}",
            )
        if parsed.image is not None:
            image = decode_base64_image(parsed.image)
        if parsed.strokes is not None:
            strokes = parse_strokes(parsed.strokes)
        if parsed.inkml is not None:
            strokes = parse_inkml(parsed.inkml)
        latex = parsed.latex
        fields = {"beam": parsed.beam, "lang": parsed.lang, "steps": parsed.steps, "line": parsed.line}
    elif ctype.startswith("image/") or ctype == "application/octet-stream":
        image = await read_body(request, settings.max_upload_bytes, settings)
    else:
        raise ApiError(
            415,
            "unsupported_media_type",
            "send multipart/form-data with a 'file', JSON with 'image' or 'latex', or an image/* body",
            nl="stuur multipart/form-data met een 'file', JSON met 'image' of 'latex', of een image/*-body",
        )
    if image is not None and len(image) > settings.max_upload_bytes:
        raise too_large(settings)
    lang = parse_lang(fields.get("lang") if fields.get("lang") is not None else query.get("lang"))
    request.state.lang = lang  # the language of the errors from here on (api.errors.request_lang)
    beam = parse_beam(
        fields.get("beam") if fields.get("beam") is not None else query.get("beam"), settings.default_beam
    )
    steps = parse_steps(fields.get("steps") if fields.get("steps") is not None else query.get("steps"))
    line = parse_line(fields.get("line") if fields.get("line") is not None else query.get("line"))
    if latex is not None and not allow_latex:
        raise ApiError(
            422,
            "invalid_input",
            "this endpoint takes an image, not LaTeX (use POST /solve)",
            nl="hier hoort een afbeelding, geen LaTeX (gebruik POST /solve)",
        )
    picture = image is not None or strokes is not None
    if latex is not None and picture:
        raise ApiError(
            422, "invalid_input", "send either an image or LaTeX, not both", nl="stuur een afbeelding of LaTeX, niet allebei"
        )
    if latex is None and not picture:
        what = "an image ('file' upload or JSON 'image'), ink (JSON 'strokes' or 'inkml')"
        what += " or JSON 'latex'" if allow_latex else ""
        wat = "een afbeelding ('file' of JSON 'image'), inkt (JSON 'strokes' of 'inkml')"
        wat += " of JSON 'latex'" if allow_latex else ""
        raise ApiError(
            422, "missing_input", f"the request has no input: send {what}", nl=f"het verzoek is leeg: stuur {wat}"
        )
    if latex is not None:
        latex = check_latex(latex, settings)
    return ImageOrLatex(image=image, latex=latex, beam=beam, lang=lang, steps=steps, strokes=strokes, line=line)
