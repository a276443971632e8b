"""InkML reader edge cases, on real CROHME files committed under tests/fixtures/crohme."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from data.inkml import InkmlError, decode_bytes, parse_points, read_inkml


@pytest.fixture(scope="module")
def train(fixtures_dir: Path) -> Path:
    return fixtures_dir / "crohme" / "inkml" / "train"


def test_three_values_per_point_keep_x_y(train: Path) -> None:
    raw = (train / "MfrDB" / "MfrDB0206.inkml").read_text()
    assert '"T"' in raw  # X Y T file
    rec = read_inkml(train / "MfrDB" / "MfrDB0206.inkml")
    assert rec.strokes and all(s.shape[1] == 2 and s.dtype == np.float32 for s in rec.strokes)
    first = raw.split('<trace id="0">', 1)[1].split(",")[0].split()
    assert len(first) == 3
    np.testing.assert_allclose(rec.strokes[0][0], [float(first[0]), float(first[1])])
    assert rec.truth and rec.symbols


def test_declared_xyf_but_two_values(train: Path) -> None:
    path = train / "MfrDB" / "MfrDB2895.inkml"
    assert '"F"' in path.read_text()
    rec = read_inkml(path)
    assert all(s.shape[1] == 2 for s in rec.strokes)
    assert len(rec.symbols) > 5


def test_mathbrush_without_traceformat(train: Path) -> None:
    files = sorted((train / "MathBrush").glob("*.inkml"))
    assert files and all("traceFormat" not in f.read_text() for f in files)
    for f in files:
        rec = read_inkml(f)
        assert rec.strokes and rec.symbols and rec.truth


def test_rit_spaced_attributes(fixtures_dir: Path) -> None:
    path = fixtures_dir / "crohme" / "inkml" / "test2014" / "RIT_2014_97.inkml"
    assert "id = " in path.read_text()
    rec = read_inkml(path)
    ids = set(rec.trace_ids)
    assert rec.symbols and all(t in ids for s in rec.symbols for t in s.trace_ids)


def test_crlf_file(fixtures_dir: Path) -> None:
    path = fixtures_dir / "crohme" / "inkml" / "test2014" / "502_em_12.inkml"
    assert b"\r\n" in path.read_bytes()
    rec = read_inkml(path)
    assert rec.strokes and "\r" not in rec.truth


def test_bad_byte_file_is_read_with_fallback(train: Path) -> None:
    raw = (train / "MfrDB" / "MfrDB0104.inkml").read_bytes()
    assert raw[623] == 0xB7
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    rec = read_inkml(train / "MfrDB" / "MfrDB0104.inkml")
    assert "\\cdot" in rec.truth and "sqrt" in rec.truth
    assert len(rec.symbols) >= 15


def test_empty_file_raises_inkml_error(train: Path) -> None:
    path = train / "MfrDB" / "MfrDB3088.inkml"
    assert path.stat().st_size == 0
    with pytest.raises(InkmlError, match="empty"):
        read_inkml(path)
    assert issubclass(InkmlError, ValueError)


def test_container_groups_are_not_symbols(train: Path) -> None:
    path = sorted((train / "expressmatch").glob("*.inkml"))[0]
    assert "From ITF" in path.read_text()
    rec = read_inkml(path)
    labels = [s.label for s in rec.symbols]
    assert "From ITF" not in labels and "Segmentation" not in labels
    assert all(s.trace_ids for s in rec.symbols)


def test_bytes_input_no_namespace_and_difference_encoding() -> None:
    xml = (
        b"<?xml version='1.0' encoding='ISO-8859-1'?>\n<ink>"
        b"<annotation type='truth'>$x^2$</annotation>"
        b"<trace id='a'>10 20, '1 '1, 1 1</trace><trace id='b'>5 5</trace>"
        b"<traceGroup><annotation type='truth'>x</annotation><traceView traceDataRef='a'/></traceGroup>"
        b"</ink>"
    )
    rec = read_inkml(xml, name="mini")
    assert rec.name == "mini" and rec.truth == "$x^2$"
    np.testing.assert_allclose(rec.strokes[0], [[10, 20], [11, 21], [12, 22]])
    assert rec.strokes[1].shape == (1, 2)
    assert [(s.label, s.trace_ids) for s in rec.symbols] == [("x", ["a"])]


@pytest.mark.parametrize("raw", [b"", b"   \n", b"<ink><trace>1 2", b"not xml at all", b"<ink></ink>"])
def test_unreadable_inputs(raw: bytes) -> None:
    with pytest.raises(InkmlError):
        read_inkml(raw, name="bad")


def test_parse_points_and_decode_helpers() -> None:
    assert parse_points("1 2 3, 4 5 6").tolist() == [[1, 2], [4, 5]]
    assert parse_points("1.5 2e1,\n-3 .5").tolist() == [[1.5, 20.0], [-3.0, 0.5]]
    assert parse_points("").shape == (0, 2)
    assert decode_bytes("é".encode("latin-1")) == "é"
    assert decode_bytes("é".encode()) == "é"


def test_utf16_and_bare_ampersand_recovered() -> None:
    xml = "<ink><annotation type='truth'>a &amp; b &nbsp; c</annotation><trace>1 2, 3 4</trace></ink>"
    rec = read_inkml(xml.encode("utf-16"), name="u16")
    assert rec.truth == "a & b &nbsp; c" and rec.trace_ids == ["0"]
    with pytest.raises(InkmlError):
        read_inkml(b"<ink><trace>1 2</trace>", name="truncated")
