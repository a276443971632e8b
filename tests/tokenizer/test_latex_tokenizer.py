"""LatexTokenizer: ids, specials, decode repair, HF compatibility, and the full CROHME captions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import PreTrainedTokenizerFast

from tokenizer import LatexTokenizer, build_hf_tokenizer, normalize
from tokenizer.build import SHIPPED


@pytest.fixture(scope="module")
def tok() -> LatexTokenizer:
    return LatexTokenizer.load()


def test_specials_and_size(tok: LatexTokenizer) -> None:
    assert (tok.pad_id, tok.sos_id, tok.eos_id, tok.unk_id) == (0, 1, 2, 3)
    assert tok.vocab_size == 114
    assert tok.vocab[:4] == ["<pad>", "<sos>", "<eos>", "<unk>"]


def test_encode_wraps_with_sos_eos(tok: LatexTokenizer) -> None:
    ids = tok.encode("x^2=1")
    assert ids[0] == tok.sos_id and ids[-1] == tok.eos_id
    assert [tok.id_to_token(i) for i in ids[1:-1]] == "x ^ { 2 } = 1".split()
    assert tok.tokenize("x^2=1") == "x ^ { 2 } = 1".split()


def test_unknown_token_maps_to_unk(tok: LatexTokenizer) -> None:
    ids = tok.encode("\\omega + 1")
    assert tok.unk_id in ids


def test_decode_drops_specials_and_stops_at_eos(tok: LatexTokenizer) -> None:
    x, two = tok.token_to_id("x"), tok.token_to_id("2")
    ids = [tok.sos_id, x, tok.pad_id, tok.unk_id, tok.eos_id, two, two]
    assert tok.decode(ids) == "x"


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        ("x ^ { 2", "x ^ { 2 }"),
        ("} x", "x"),
        ("\\frac { 1 } {", "\\frac { 1 } { }"),
        ("\\sqrt", "\\sqrt { }"),
        ("( x ^", "( x"),
    ],
)
def test_decode_balances_model_output(tok: LatexTokenizer, tokens: str, expected: str) -> None:
    ids = [tok.token_to_id(t) for t in tokens.split()]
    out = tok.decode(ids)
    assert out == expected
    assert out == normalize(out)  # valid under the strict parser, so it compiles


def test_shipped_file_is_the_built_one() -> None:
    built = json.loads(build_hf_tokenizer().to_str())
    shipped = json.loads(SHIPPED.read_text())
    assert built == shipped, "run `python -m tokenizer.build` to refresh tokenizer/tokenizer.json"


def test_save_load_round_trip(tok: LatexTokenizer, tmp_path: Path) -> None:
    path = tok.save(tmp_path)
    again = LatexTokenizer.load(tmp_path)
    assert path.name == "tokenizer.json"
    assert again.vocab == tok.vocab
    assert again.encode("\\sqrt[3]{x}") == tok.encode("\\sqrt[3]{x}")


def test_loads_in_transformers(tok: LatexTokenizer) -> None:
    hf = PreTrainedTokenizerFast(tokenizer_file=str(SHIPPED))
    text = "\\frac { 1 } { 2 } + x ^ { 2 }"
    assert hf.tokenize(text) == text.split()
    assert hf(text)["input_ids"] == tok.encode(text)
    # its own pre-tokenizer splits un-spaced LaTeX the same way
    assert hf("x^{2}+\\alpha")["input_ids"] == tok.encode("x ^ { 2 } + \\alpha")


# --- the full CROHME captions (skipped where ../shared is absent) -------------------------------


def _captions(root: Path) -> list[tuple[str, str]]:
    out = []
    for split in ("train", "2014", "2016"):
        for line in (root / "offline" / split / "caption.txt").read_text().splitlines():
            name, latex = line.split("\t")
            out.append((name, latex))
    return out


def test_every_crohme_caption_round_trips_without_unk(tok: LatexTokenizer, crohme_root: Path) -> None:
    captions = _captions(crohme_root)
    assert len(captions) == 8835 + 986 + 1147
    for name, caption in captions:
        ids = tok.encode(caption)
        assert tok.unk_id not in ids, name
        assert tok.decode(ids) == normalize(caption), name


@pytest.mark.parametrize("split", ["2014", "2016"])
def test_inkml_truth_matches_caption(crohme_root: Path, split: str) -> None:
    from data.inkml import read_inkml

    captions = dict(
        line.split("\t") for line in (crohme_root / "offline" / split / "caption.txt").read_text().splitlines()
    )
    same = 0
    for path in sorted((crohme_root / "inkml" / f"test{split}").glob("*.inkml")):
        truth = read_inkml(path).truth
        try:
            same += normalize(truth) == normalize(captions[path.stem])
        except ValueError:
            pass
    assert same / len(captions) >= 0.95
