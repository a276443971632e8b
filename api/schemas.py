"""Response models (they document the API in /docs) and the OpenAPI description of the request bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.limits import (
    DEFAULT_BEAM,
    MAX_BEAM,
    MAX_INK_COORDINATE,
    MAX_INK_POINTS,
    MAX_INK_STROKE_POINTS,
    MAX_INK_STROKES,
)
from seq2latex.solver.config import MAX_CHECK_LINES


class Alternative(BaseModel):
    latex: str
    latex_typed: str = Field(description="`latex` as a person types it (`z^3+2=z`)")
    score: float = Field(
        description="probability of this reading; the alternatives are distinct LaTeX, most probable first, "
        "the first one's score being the confidence"
    )
    mathml: str | None = Field(
        default=None, description="MathML rendering of `latex` (sanitised, inline), or null: the demo shows it"
    )


class TokenProb(BaseModel):
    token: str
    prob: float


class ModelInfo(BaseModel):
    name: str
    version: str


MODEL_INPUT_DOC = (
    "what the model read from the image or ink (after `data.preprocess`: lines removed, cropped, scaled), "
    "as a data: URI PNG with dark ink on white; null for typed LaTeX"
)


class PageInfo(BaseModel):
    """Where the photo path found things, as (x, y) fractions of the image's width and height (after its
    EXIF orientation); each box is four corners: top-left, top-right, bottom-right, bottom-left."""

    sheet: list[list[float]] | None = Field(
        description="the sheet of paper found on the desk; null when the photo is all paper (or a scan)"
    )
    writing: list[list[float]] | None = Field(description="the box of the writing that was read")
    lines: list[list[list[float]]] = Field(description="every line of writing found, top to bottom")
    line: int | None = Field(description="the line that was read (1 = the top one; default the heaviest)")


PAGE_DOC = (
    "a photo (not a clean scan, drawing or ink): the sheet found, the writing read and every line of writing; "
    "ask for another line with `line`"
)


class RecognizeResponse(BaseModel):
    latex: str = Field(description="recognized LaTeX (CROHME tokens separated by spaces)")
    latex_typed: str = Field(description="the same LaTeX as a person types it (`z^3+2=z`)")
    confidence: float = Field(description="model probability of the whole sequence")
    needs_confirmation: bool = Field(
        description="confidence below the threshold of GET /version for this beam width "
        "(`confirmation.by_beam`): the reading is more likely wrong than right; ask the writer to confirm or "
        "correct it before trusting it"
    )
    beam: int = Field(description="the beam width it was read with (1 = greedy)")
    alternatives: list[Alternative]
    tokens: list[TokenProb]
    mathml: str | None = Field(description="MathML rendering of `latex` (sanitised), or null")
    model_input: str | None = Field(default=None, description=MODEL_INPUT_DOC)
    page: PageInfo | None = Field(default=None, description=PAGE_DOC)
    model: ModelInfo
    timings_ms: dict[str, float]


class SolveResponse(BaseModel):
    source: str = Field(description="'image' or 'ink' (recognized) or 'latex' (typed)")
    latex: str
    latex_typed: str = Field(description="the LaTeX as typed (or the recognized tokens written compactly)")
    confidence: float | None = Field(description="null for typed LaTeX")
    needs_confirmation: bool = Field(
        description="a recognized reading whose confidence is below the threshold of GET /version: more likely "
        "wrong than right, so the solution (still computed) is of a formula the writer should confirm first; "
        "false for typed LaTeX"
    )
    beam: int | None = Field(
        description="the beam width the image or ink was read with; null for typed LaTeX"
    )
    alternatives: list[Alternative]
    solution: dict[str, Any] = Field(description="the solver's result (kind, solutions, message, ...)")
    mathml: str | None
    solution_mathml: str | None = Field(description="MathML of solution.result_latex, or null")
    steps_mathml: list[str | None] | None = Field(
        default=None, description='with "steps": true, MathML of each of solution.steps[].latex, or null'
    )
    model_input: str | None = Field(default=None, description=MODEL_INPUT_DOC)
    page: PageInfo | None = Field(default=None, description=PAGE_DOC)
    model: ModelInfo
    timings_ms: dict[str, float]


class SymbolPrediction(BaseModel):
    label: str
    probability: float


class SymbolResponse(BaseModel):
    predictions: list[SymbolPrediction] = Field(
        description="top-5 classes, most probable first; probabilities calibrated with `temperature`"
    )
    temperature: float = Field(
        description="softmax temperature of the symbol head, fitted on the validation split (1 = none fitted)"
    )
    model: ModelInfo
    timings_ms: dict[str, float]


class HealthResponse(BaseModel):
    status: str
    model: ModelInfo
    auth_required: bool


class QueueState(BaseModel):
    running: int
    waiting: int
    capacity: int  # running + waiting at most; more are refused with 503


class ReadyResponse(BaseModel):
    status: str  # "ready"
    model: ModelInfo
    queue: QueueState


_PARAMS = {
    "beam": {"type": "integer", "minimum": 1, "maximum": MAX_BEAM, "default": DEFAULT_BEAM},
    "lang": {"type": "string", "enum": ["en", "nl"], "default": "en"},
}
_LINE = {
    "type": "integer",
    "minimum": 1,
    "description": "a photo with several lines of writing: the line to read (1 = the top one); default the "
    "heaviest, see page.line",
}
_STEPS = {
    "type": "boolean",
    "default": False,
    "description": "add step-by-step working (solution.steps, steps_mathml) where the solver has it",
}


def request_body(allow_latex: bool) -> dict[str, Any]:
    """`openapi_extra` describing the accepted bodies (they are parsed by `api.inputs`)."""
    json_props: dict[str, Any] = {
        "image": {"type": "string", "description": "base64 or a data: URI"},
        "strokes": {
            "type": "array",
            "description": "ink: strokes, each a list of points [x, y] (y downwards; values after y, such as a "
            f"timestamp, are ignored); at most {MAX_INK_STROKES} strokes, {MAX_INK_STROKE_POINTS} points a stroke, "
            f"{MAX_INK_POINTS} points in all, |x|, |y| <= {MAX_INK_COORDINATE:g}",
            "items": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
        },
        "inkml": {"type": "string", "description": "ink as InkML text (its traces; same limits as strokes)"},
    }
    form_props: dict[str, Any] = {"file": {"type": "string", "format": "binary"}}
    if allow_latex:
        json_props["latex"] = {"type": "string", "description": "typed LaTeX: skips recognition"}
        form_props["latex"] = {"type": "string"}
    json_props.update(_PARAMS, line=_LINE)
    form_props.update(_PARAMS, line=_LINE)
    if allow_latex:
        json_props["steps"] = _STEPS
        form_props["steps"] = _STEPS
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": {"type": "object", "properties": form_props}},
                "application/json": {"schema": {"type": "object", "properties": json_props}},
                "image/*": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    }


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    from api.errors import ErrorResponse

    return {s: {"model": ErrorResponse} for s in statuses}


class CheckLine(BaseModel):
    latex: str = Field(description="the line's LaTeX: as typed, or as read from the photo or ink")
    latex_typed: str = Field(description="`latex` as a person types it (recognized tokens written compactly)")
    source: str = Field(description="'typed', 'photo' or 'ink'")
    confidence: float | None = Field(description="the reading's probability; null for a typed line")
    needs_confirmation: bool = Field(
        description="a reading more likely wrong than right (as in /solve): show it to the pupil to correct before "
        "trusting the verdicts around it; false for typed lines"
    )
    readable: bool = Field(description="false when the line cannot be read as maths (its steps are 'unknown')")
    error: str | None = Field(description="why the line cannot be read (a solver error code), or null")
    alternatives: list[Alternative] = Field(description="other readings of a photo or ink line, most probable first")
    box: list[list[float]] | None = Field(
        default=None, description="a photo's line: its box, four (x, y) corners as fractions of the image"
    )
    mathml: str | None = Field(description="MathML rendering of `latex` (sanitised), or null")


class CheckStep(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from", description="the index of the line before (0 = the first line)")
    to: int = Field(description="the index of the line checked against it (from + 1)")
    verdict: str = Field(
        description="'equivalent' (the same solutions, or equal expressions), 'not_equivalent' (SymPy found a value "
        "for which one line holds and the other does not) or 'unknown' (unreadable, undecidable or out of time: "
        "never a guess)"
    )
    explanation: str = Field(description="why, in the request's language, with the maths as plain text")
    solutions_before: str | None = Field(default=None, description="LaTeX of the line before's solution set")
    solutions_after: str | None = Field(default=None, description="LaTeX of this line's solution set")


class CheckResponse(BaseModel):
    source: str = Field(description="'typed', 'photo' or 'ink'")
    lines: list[CheckLine]
    steps: list[CheckStep] = Field(description="one per pair of neighbouring lines, in order")
    first_wrong_line: int | None = Field(
        description="the index of the first line that does not follow from the one before; null when no step is "
        "'not_equivalent' (see the steps for any 'unknown')"
    )
    lang: str
    beam: int | None = Field(description="the beam width the lines were read with; null for typed lines")
    model: ModelInfo
    timings_ms: dict[str, float]


def check_request_body() -> dict[str, Any]:
    """`openapi_extra` describing POST /check's bodies (parsed by `api.check_inputs`)."""
    lines = {
        "type": "array",
        "items": {"type": "string"},
        "minItems": 2,
        "maxItems": MAX_CHECK_LINES,
        "description": "the pupil's working, one step a line, as LaTeX (a Dutch decimal comma as in /solve)",
        "example": ["3(x-2)=9", "3x-2=9", "x=11/3"],
    }
    body = request_body(allow_latex=False)
    content = body["requestBody"]["content"]
    json_props = content["application/json"]["schema"]["properties"]
    json_props.pop("line", None)
    content["multipart/form-data"]["schema"]["properties"].pop("line", None)
    content["application/json"]["schema"]["properties"] = {"lines": lines, **json_props}
    return body
