"""LaTeX -> MathML for the browser (latex2mathml), sanitised: only MathML elements and plain attributes
survive, text is re-escaped, so the demo page can insert it as markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET

MAX_MATHML_LATEX_CHARS = 2000  # longer input is not rendered
MATHML_NS = "http://www.w3.org/1998/Math/MathML"
ALLOWED_ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace msup msub msubsup mfrac msqrt mroot mover munder munderover "
    "mtable mtr mtd mstyle mpadded mphantom menclose mfenced semantics annotation".split()
)
ALLOWED_ATTRIBUTES = frozenset(
    "display stretchy mathvariant fence separator accent accentunder movablelimits largeop symmetric "
    "lspace rspace columnalign rowspacing columnspacing linethickness displaystyle scriptlevel width "
    "height depth notation open close separators minsize maxsize form".split()
)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _clean(el: ET.Element) -> ET.Element:
    out = ET.Element(_local(el.tag), {k: v for k, v in el.attrib.items() if k in ALLOWED_ATTRIBUTES})
    out.text = el.text
    for child in el:
        if _local(child.tag) in ALLOWED_ELEMENTS:
            c = _clean(child)
            c.tail = child.tail
            out.append(c)
        else:  # unknown element: keep its text only
            text = "".join(child.itertext()) + (child.tail or "")
            if len(out):
                out[-1].tail = (out[-1].tail or "") + text
            else:
                out.text = (out.text or "") + text
    return out


def latex_to_mathml(latex: str | None, display: str = "block") -> str | None:
    """MathML markup for `latex`, or None when it is empty, too long or cannot be converted."""
    if not latex or not latex.strip() or len(latex) > MAX_MATHML_LATEX_CHARS:
        return None
    try:
        from latex2mathml.converter import convert

        raw = convert(latex, display=display)
        root = ET.fromstring(raw)
    except Exception:  # noqa: BLE001 - any converter failure just means "no rendering"
        return None
    if _local(root.tag) != "math":
        return None
    try:
        clean = _clean(root)
    except RecursionError:
        return None
    clean.set("xmlns", MATHML_NS)
    return ET.tostring(clean, encoding="unicode")
