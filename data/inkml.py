"""InkML reader: pen traces, LaTeX truth and per-symbol traceGroups.

Tolerant of the CROHME variants: 2 or 3 (or more) values per point whatever `<traceFormat>`
says, no `<traceFormat>` at all, CRLF line endings, spaces inside attributes, non-UTF-8 bytes
and any (or no) XML namespace. Only the x, y columns are kept.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# XML 1.0 forbids most C0 control characters; a few real files carry stray ones.
_BAD_XML_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# One value of the InkML trace grammar, with its optional difference prefix (! ' ").
_VALUE = re.compile(r"([!'\"]?)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")
_BARE_AMP = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)")
_SEGMENTATION_LABELS = frozenset({"segmentation"})


class InkmlError(ValueError):
    """The file cannot be read as InkML (empty, not XML, no traces)."""


@dataclass
class Symbol:
    """One symbol of the segmentation: its label and the ids of its traces."""

    label: str
    trace_ids: list[str]


@dataclass
class InkmlRecord:
    """Everything read from one InkML file."""

    name: str
    strokes: list[np.ndarray]  # each (N, 2) float32 x, y (y grows downwards)
    trace_ids: list[str]
    truth: str  # raw LaTeX truth ("" when the file has none)
    symbols: list[Symbol] = field(default_factory=list)

    def strokes_by_id(self) -> dict[str, np.ndarray]:
        return dict(zip(self.trace_ids, self.strokes, strict=True))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag


def _attr(el: ET.Element, name: str) -> str | None:
    """Attribute lookup ignoring namespaces (`xml:id` and `id` both match `id`)."""
    for key, value in el.attrib.items():
        if _local(key) == name:
            return value.strip()
    return None


def decode_bytes(raw: bytes) -> str:
    """UTF-16 when it has a BOM, UTF-8 (with or without BOM), else Latin-1 (maps every byte)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _parse_points_slow(text: str) -> np.ndarray:
    """Full InkML trace grammar: explicit (!), first (') and second (") differences."""
    rows: list[list[float]] = []
    prev: list[float] = []
    vel: list[float] = []
    mode: list[str] = []
    for chunk in text.split(","):
        vals = _VALUE.findall(chunk)
        if not vals:
            continue
        point: list[float] = []
        for i, (prefix, number) in enumerate(vals):
            v = float(number)
            while len(mode) <= i:
                mode.append("!")
            if prefix:
                mode[i] = prefix
            if mode[i] == "'" and i < len(prev):
                vel_i = v
                v = prev[i] + vel_i
            elif mode[i] == '"' and i < len(prev):
                vel_i = (vel[i] if i < len(vel) else 0.0) + v
                v = prev[i] + vel_i
            else:
                vel_i = v - prev[i] if i < len(prev) else 0.0
            if i < len(vel):
                vel[i] = vel_i
            else:
                vel.append(vel_i)
            point.append(v)
        prev = point
        rows.append(point[:2] if len(point) >= 2 else [point[0], 0.0])
    if not rows:
        return np.zeros((0, 2), dtype=np.float32)
    return np.asarray(rows, dtype=np.float32)


def parse_points(text: str | None) -> np.ndarray:
    """Trace text -> (N, 2) float32 x, y; extra channels (T, F, ...) are dropped."""
    if not text or not text.strip():
        return np.zeros((0, 2), dtype=np.float32)
    points = [p.split() for p in text.strip().strip(",").split(",")]
    width = len(points[0])
    if width >= 2 and all(len(p) == width for p in points):
        try:
            arr = np.asarray(points, dtype=np.float64)  # (N, C)
            return np.ascontiguousarray(arr[:, :2], dtype=np.float32)  # (N, 2)
        except ValueError:
            pass
    return _parse_points_slow(text)


def _truth_of(el: ET.Element) -> str | None:
    for child in el:
        if _local(child.tag) == "annotation" and (_attr(child, "type") or "").lower() == "truth":
            return (child.text or "").strip()
    return None


def _collect_symbols(el: ET.Element, out: list[Symbol]) -> None:
    """Leaf traceGroups (those with traceViews) are symbols; containers are walked."""
    for child in el:
        if _local(child.tag) != "traceGroup":
            continue
        refs = [
            ref
            for view in child
            if _local(view.tag) == "traceView" and (ref := _attr(view, "traceDataRef")) is not None
        ]
        if refs:
            label = _truth_of(child)
            if label is not None and label.strip().lower() not in _SEGMENTATION_LABELS:
                out.append(Symbol(label=label.strip(), trace_ids=refs))
        _collect_symbols(child, out)


def read_inkml(source: str | Path | bytes, name: str | None = None) -> InkmlRecord:
    """Read one InkML file (path or raw bytes); raise `InkmlError` when it cannot be read."""
    if isinstance(source, bytes | bytearray):
        raw = bytes(source)
        name = name or "<bytes>"
    else:
        path = Path(source)
        name = name or path.stem
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise InkmlError(f"{name}: cannot read file ({exc})") from exc
    if not raw.strip():
        raise InkmlError(f"{name}: empty file")
    text = _BAD_XML_CHARS.sub("", decode_bytes(raw))
    # An encoding declaration would contradict the already decoded str; drop it.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        # Second chance: HTML entities / bare ampersands (e.g. `&nbsp;`, `a & b` in a truth).
        try:
            root = ET.fromstring(_BARE_AMP.sub("&amp;", text))
        except ET.ParseError:
            raise InkmlError(f"{name}: not well-formed XML ({exc})") from exc

    strokes: list[np.ndarray] = []
    trace_ids: list[str] = []
    truth: str | None = None
    for child in root:
        tag = _local(child.tag)
        if tag == "annotation" and truth is None and (_attr(child, "type") or "").lower() == "truth":
            truth = (child.text or "").strip()
    for el in root.iter():
        if _local(el.tag) == "trace":
            pts = parse_points(el.text)
            if len(pts) == 0:
                continue
            trace_ids.append(_attr(el, "id") or str(len(trace_ids)))
            strokes.append(pts)
    if not strokes:
        raise InkmlError(f"{name}: no traces")
    symbols: list[Symbol] = []
    _collect_symbols(root, symbols)
    return InkmlRecord(name=name, strokes=strokes, trace_ids=trace_ids, truth=truth or "", symbols=symbols)
