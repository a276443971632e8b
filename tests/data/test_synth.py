"""data.synth: captions in the vocabulary, the writer-split glyph bank, 2-D layout, rendering, packing, mixing."""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data.datasets import ExpressionDataset
from data.pack import pack_offline
from data.preprocess import PreprocessConfig
from data.records import discover_sources, read_source
from data.synth.build import (
    SynthConfig,
    as_record,
    choose_writer,
    read_captions,
    render_offline,
    rewrite,
    synthesize,
    write_offline,
    write_working,
    written_chains,
)
from data.synth.expressions import (
    FAMILIES,
    ExpressionConfig,
    canonical,
    crohme_variation,
    school_expression,
)
from data.synth.glyphs import GlyphBank, build_bank, normalise_glyph
from data.synth.layout import Frac, LayoutConfig, Script, Sqrt, needed_classes, parse, write
from data.synth.mix import is_synthetic, mix_synthetic
from seq2latex.cli.synth import cmd_synth
from tokenizer import LatexTokenizer
from tokenizer.vocab import CROHME_TOKENS

STILL = LayoutConfig(
    size_jitter=0,
    offset_jitter=0,
    angle_jitter=0,
    gap_jitter=0,
    writer_gap_jitter=0,
    drift=0,
    slant=0,
    rotation=0,
)


@pytest.fixture(scope="module")
def tok() -> LatexTokenizer:
    return LatexTokenizer.load()


@pytest.fixture(scope="module")
def fixture_bank(fixtures_dir: Path) -> GlyphBank:
    return build_bank(fixtures_dir / "crohme" / "inkml" / "train", split="all")


def _square_bank(points: int = 5) -> GlyphBank:
    """One writer whose every class is a closed unit square (so positions are easy to read back)."""
    t = np.linspace(0, 1, points, dtype=np.float32)
    square = np.concatenate(
        [np.stack([t, 0 * t], 1), np.stack([0 * t + 1, t], 1), np.stack([1 - t, 0 * t + 1], 1)]
    )  # (3P, 2)
    bar = np.stack([t, 0.05 * t], 1)  # (P, 2)
    glyphs = {c: [[bar if c == "-" else square]] for c in CROHME_TOKENS + ["\\prime"]}
    return GlyphBank(glyphs={"w": glyphs}, sources={"w": "S"}, captions=["x + 1"])


def _bounds(strokes: list[np.ndarray]) -> tuple[float, float, float, float]:
    pts = np.concatenate(strokes)  # (N, 2)
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


# --- captions ------------------------------------------------------------------------------------------


def test_school_expressions_tokenize_without_unk_and_spread_in_length(tok: LatexTokenizer) -> None:
    rng = random.Random(0)
    families, lengths = set(), []
    for _ in range(600):
        family, caption = school_expression(rng)
        ids = tok.encode(caption)
        assert tok.unk_id not in ids, caption
        assert tok.normalize(caption) == caption  # canonical form
        families.add(family)
        lengths.append(len(caption.split()))
    assert families == set(FAMILIES)
    assert min(lengths) <= 5 and max(lengths) >= 40
    assert 0.05 < np.mean(np.array(lengths) >= 20) < 0.6


def test_school_expressions_are_deterministic_per_seed() -> None:
    ra, rb, rc = random.Random(7), random.Random(7), random.Random(8)
    a = [school_expression(ra)[1] for _ in range(20)]
    b = [school_expression(rb)[1] for _ in range(20)]
    c = [school_expression(rc)[1] for _ in range(20)]
    assert a == b
    assert a != c and len(set(c)) > 10


def test_crohme_variations_stay_in_vocabulary_and_change_the_caption(tok: LatexTokenizer) -> None:
    captions = [
        "x ^ { 2 } + 3 x - 4 = 0",
        "\\frac { a + b } { c } \\leq 1 2",
        "\\sqrt { y _ { 1 } } + \\alpha",
    ]
    rng = random.Random(1)
    out = [crohme_variation(rng, captions) for _ in range(60)]
    assert all(tok.unk_id not in tok.encode(c) for c in out)
    assert len(set(out) - set(captions)) > 20


def test_canonical_rejects_what_the_vocabulary_lacks() -> None:
    assert canonical("x^2") == "x ^ { 2 }"
    assert canonical("\\omega + 1") is None
    assert canonical("\\frac{1}{") is None


# --- layout --------------------------------------------------------------------------------------------


def test_parse_builds_the_tree_and_rejects_broken_captions() -> None:
    tree = parse("\\frac { x ^ { 2 } } { \\sqrt [ 3 ] { y } } + 1")
    assert isinstance(tree[0], Frac) and tree[1:] == ["+", "1"]
    assert tree[0].num[0] == "x" and isinstance(tree[0].num[1], Script)
    root = tree[0].den[0]
    assert isinstance(root, Sqrt) and root.index == ["3"] and root.arg == ["y"]
    with pytest.raises(ValueError):
        parse("\\frac { 1 } { 2")
    with pytest.raises(ValueError):
        parse("x } + 1")
    assert needed_classes("\\frac { 1 } { x ' }") == {"-", "1", "x", "\\prime"}


def test_fraction_bar_spans_its_parts_and_centres_them() -> None:
    bank = _square_bank()
    strokes = write("\\frac { 1 2 3 } { 4 }", bank, "w", random.Random(0), STILL)
    bar, num, den = strokes[0], strokes[1:4], strokes[4:]
    bx0, by0, bx1, by1 = _bounds([bar])
    nx0, ny0, nx1, ny1 = _bounds(num)
    dx0, dy0, dx1, dy1 = _bounds(den)
    assert bx0 <= nx0 and nx1 <= bx1 and bx0 <= dx0 and dx1 <= bx1  # bar as wide as both parts
    assert ny1 < by0 and by1 < dy0  # numerator above, denominator below
    assert abs((nx0 + nx1) / 2 - (bx0 + bx1) / 2) < 0.05  # centred
    assert abs((dx0 + dx1) / 2 - (bx0 + bx1) / 2) < 0.05


def test_scripts_are_smaller_and_raised_or_lowered() -> None:
    bank = _square_bank()
    x, sub, sup = write("x _ { 1 } ^ { 2 }", bank, "w", random.Random(0), STILL)
    bx, bs, bu = _bounds([x]), _bounds([sub]), _bounds([sup])
    assert bs[0] >= bx[2] and bu[0] >= bx[2]  # right of the nucleus
    assert bs[3] - bs[1] < 0.7 and bu[3] - bu[1] < 0.7  # a digit is 1.0 high, a script's 0.62
    assert bs[3] > bx[3] and bu[1] < bx[1]  # sub below the baseline, sup above the nucleus
    lim, sub2 = write("\\sum _ { k }", bank, "w", random.Random(0), STILL)
    assert _bounds([sub2])[1] > _bounds([lim])[3]  # under \sum, not beside it


def test_radical_covers_its_argument_and_brackets_grow_with_content() -> None:
    bank = _square_bank()
    strokes = write("\\sqrt { 1 2 3 4 }", bank, "w", random.Random(0), STILL)
    rx0, ry0, rx1, ry1 = _bounds(strokes[:1])
    ax0, ay0, ax1, ay1 = _bounds(strokes[1:])
    assert rx0 < ax0 and rx1 >= ax1 - 1e-3 and ry0 < ay0  # over and beyond the argument
    small = write("( 1 )", bank, "w", random.Random(0), STILL)
    tall = write("( \\frac { 1 } { 2 } )", bank, "w", random.Random(0), STILL)
    h_small = _bounds(small[:1])[3] - _bounds(small[:1])[1]
    h_tall = _bounds(tall[:1])[3] - _bounds(tall[:1])[1]
    inner = _bounds(tall[1:-1])
    assert h_tall > 1.3 * h_small
    assert _bounds(tall[:1])[1] <= inner[1] and _bounds(tall[:1])[3] >= inner[3]


def test_jitter_changes_the_ink_and_a_seed_repeats_it(fixture_bank: GlyphBank) -> None:
    writer = fixture_bank.writers[0]
    a = write("2 x + 3 = 7", fixture_bank, writer, random.Random(3))
    b = write("2 x + 3 = 7", fixture_bank, writer, random.Random(3))
    c = write("2 x + 3 = 7", fixture_bank, writer, random.Random(4))
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert len(a) != len(c) or not all(np.allclose(p, q) for p, q in zip(a, c, strict=True))


# --- glyph bank ----------------------------------------------------------------------------------------


def test_bank_from_fixture_inkml_groups_glyphs_by_writer(fixture_bank: GlyphBank) -> None:
    assert len(fixture_bank.writers) > 5 and {"1", "2", "x", "+", "="} <= fixture_bank.classes()
    glyph = fixture_bank.glyphs[fixture_bank.writers[0]]
    g = next(iter(glyph.values()))[0]
    pts = np.concatenate(g)  # (N, 2)
    assert pts.min() >= -1e-6 and abs(float((pts.max(axis=0) - pts.min(axis=0)).max()) - 1) < 1e-5
    assert normalise_glyph([np.zeros((0, 2), np.float32)]) is None


def test_pick_falls_back_to_another_writer_never_to_another_class(fixture_bank: GlyphBank) -> None:
    rng = random.Random(0)
    writer = next(w for w in fixture_bank.writers if "7" not in fixture_bank.glyphs[w])
    sevens = [g for w in fixture_bank.writers for g in fixture_bank.glyphs[w].get("7", [])]
    assert sevens
    for _ in range(5):
        assert any(fixture_bank.pick(rng, writer, "7") is g for g in sevens)
    with pytest.raises(KeyError):
        fixture_bank.pick(rng, writer, "\\exists-not-a-class")


def test_train_bank_leaves_out_every_held_writer(fixtures_dir: Path, tmp_path: Path) -> None:
    inkml = fixtures_dir / "crohme" / "inkml" / "train"
    split = tmp_path / "held.txt"
    split.write_text("formulaire033-equation071\tval\n")  # one HAMEX file: its writer's group is held
    train = build_bank(inkml, "train", holdout=str(split))
    held = build_bank(inkml, "heldout", holdout=str(split))
    assert held.writers and not set(held.writers) & set(train.writers)
    assert len(train.writers) + len(held.writers) == len(build_bank(inkml, "all").writers)


# --- rendering, sources, packing, mixing ---------------------------------------------------------------


def test_synthesize_writes_an_offline_source_that_packs_and_reads_back(
    fixture_bank: GlyphBank, fixtures_dir: Path, tmp_path: Path, tok: LatexTokenizer
) -> None:
    cfg = SynthConfig(n=6, seed=2, expressions=ExpressionConfig(school_fraction=0.5))
    records = list(synthesize(fixture_bank, cfg))
    assert len({r.name for r in records}) == 6 and all(r.writer in fixture_bank.writers for r in records)
    image = render_offline(records[0].strokes)
    assert image.mode == "L" and image.height >= 32 and np.asarray(image).max() == 255
    ink = as_record(records[0])
    assert ink.kind == "inkml" and ink.latex == records[0].latex and is_synthetic(ink.source)
    assert np.asarray(ExpressionDataset([ink], tok, PreprocessConfig()).raw_image(0)).max() == 255
    kinds = write_offline(iter(records), tmp_path / "synth")
    assert sum(kinds.values()) == 6
    out = pack_offline(
        fixtures_dir / "crohme", tmp_path / "data.zip", ("train",), {"synth": tmp_path / "synth"}
    )
    assert out == {"train": len(list((fixtures_dir / "crohme/offline/train/img").iterdir())), "synth": 6}
    sources = {s.name: s for s in discover_sources(tmp_path / "data.zip")}
    assert set(sources) == {"offline/train", "offline/synth"}
    back = read_source(sources["offline/synth"]).records
    assert {r.latex for r in back} == {r.latex for r in records}
    assert all(r.image is not None and tok.unk_id not in tok.encode(r.latex) for r in back)


def test_rewrite_writes_given_captions_once_and_skips_unwritable_ones(fixture_bank: GlyphBank) -> None:
    items = [("a", "x + 1 = 2"), ("b", "\\frac { 1 } { x }"), ("c", "\\exists \\forall \\Delta \\infty")]
    unwritable = not {"\\exists", "\\forall", "\\Delta", "\\infty"} <= fixture_bank.classes()
    out = list(rewrite(fixture_bank, items, SynthConfig(prefix="rw")))
    assert [r.name for r in out] == ["rw_a", "rw_b"] + ([] if unwritable else ["rw_c"])
    assert [r.latex for r in out[:2]] == ["x + 1 = 2", "\\frac { 1 } { x }"]
    assert all(r.kind == "rewrite" and r.strokes for r in out)


def test_excluded_captions_are_never_written(fixture_bank: GlyphBank, tmp_path: Path) -> None:
    cfg = SynthConfig(n=40, seed=5, expressions=ExpressionConfig(school_fraction=1.0))
    first = [r.latex for r in synthesize(fixture_bank, cfg)]
    banned = tmp_path / "caption.txt"
    banned.write_text("".join(f"e{i}\t{c}\n" for i, c in enumerate(first[:10])))
    exclude = read_captions([banned])
    assert exclude == frozenset(first[:10])
    again = [r.latex for r in synthesize(fixture_bank, cfg, exclude=exclude)]
    assert len(again) == 40 and not set(again) & exclude


def test_choose_writer_prefers_the_hand_that_wrote_the_classes() -> None:
    square = [np.zeros((2, 2), np.float32)]
    bank = GlyphBank(glyphs={"full": {"x": [square], "7": [square]}, "part": {"x": [square]}})
    picks = {choose_writer(random.Random(i), bank, ["full", "part"], {"x", "7"}, 8) for i in range(20)}
    assert picks == {"full"}
    anyone = {choose_writer(random.Random(i), bank, ["full", "part"], {"x", "7"}, 1) for i in range(20)}
    assert anyone == {"full", "part"}


class _Rec:
    def __init__(self, name: str, source: str) -> None:
        self.name, self.source = name, source


def test_mix_synthetic_by_ratio_and_default_unchanged() -> None:
    real = [_Rec(f"r{i}", "offline/train") for i in range(10)]
    synth = [_Rec(f"s{i}", "offline/synth") for i in range(4)]
    both = real + synth
    assert mix_synthetic(both, 0.0) == both and mix_synthetic(both, 0.0, limit=3) == both[:3]
    mixed = mix_synthetic(both, 0.5, seed=1)
    assert mixed[:10] == real and len(mixed) == 15 and all(is_synthetic(r.source) for r in mixed[10:])
    assert {r.name for r in mixed[10:14]} == {r.name for r in synth}  # each once before any repeat
    assert len(mix_synthetic(both, 1.0, limit=4)) == 8
    with pytest.raises(ValueError):
        mix_synthetic(real, 1.0)
    assert not is_synthetic("offline/train") and is_synthetic("synth") and not is_synthetic("inkml/train")


def test_synth_cli_writes_a_grid(fixtures_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "grid.png"
    args = argparse.Namespace(
        n=6,
        out=out,
        seed=0,
        bank=None,
        inkml=fixtures_dir / "crohme/inkml/train",
        split="train",
        school_only=False,
    )
    assert cmd_synth(args) == 0
    with Image.open(out) as im:
        assert im.size[0] > 1000 and im.size[1] >= 2 * 100
        assert np.asarray(im.convert("L")).min() == 0  # ink drawn


def test_full_crohme_banks_are_writer_disjoint(crohme_root: Path) -> None:
    train = build_bank(crohme_root / "inkml" / "train", "train", limit=400)
    held = build_bank(crohme_root / "inkml" / "train", "heldout")
    assert len(held.writers) >= 20 and not set(held.writers) & set(train.writers)
    records = list(synthesize(held, SynthConfig(n=20, expressions=ExpressionConfig(school_fraction=1.0))))
    assert all(r.writer in held.writers for r in records)


def test_gpu_synth_config_is_gpu_yaml_plus_the_synthetic_source() -> None:
    from dataclasses import asdict

    from seq2latex.config import TrainConfig, load_yaml_configs

    root = Path(__file__).resolve().parents[2] / "configs"
    model, train = load_yaml_configs(root / "gpu_synth.yaml")
    base_model, base_train = load_yaml_configs(root / "gpu.yaml")
    assert TrainConfig().synth_ratio == 0.0 and base_train.synth_ratio == 0.0  # today's training unchanged
    assert train.synth_ratio > 0 and any(is_synthetic(s) for s in train.train_sources)
    assert not any(is_synthetic(s) for s in base_train.train_sources) and train.val_source == "offline/train"
    changed = {k for k, v in asdict(train).items() if asdict(base_train)[k] != v}
    assert changed == {"train_sources", "synth_ratio"} and model == base_model


def test_lines_of_working_are_one_hand_at_one_scale(fixture_bank: GlyphBank) -> None:
    from data.preprocess import estimate_symbol_height

    lines = ["2 x + 3 = 7", "2 x = 4", "x = 2"]
    inks = write_working(lines, fixture_bank, random.Random(0))
    assert inks is not None and len(inks) == 3
    # one hand: the same digits come out the same size in every line (not each line scaled to a height)
    sizes = [estimate_symbol_height(np.asarray(ink, dtype=np.float32) / 255.0) for ink in inks]
    assert max(sizes) / min(sizes) < 1.5, sizes
    assert inks[0].width > inks[1].width > inks[2].width  # longer lines are wider, at one scale
    assert write_working(["x = \\alpha \\beta \\gamma \\omega"], fixture_bank, random.Random(0)) is None


def test_chains_of_working_are_written_or_left_out(fixture_bank: GlyphBank) -> None:
    chains = [
        {"lines": ["2x+3=7", "2x=4", "x=2"]},
        {"lines": ["x=2"]},  # one line: no working to check
        {"lines": ["x=\\alpha", "\\alpha=\\omega"]},  # symbols the bank lacks
        {"lines": ["2x=3{,}5", "x=1{,}75"]},  # a Dutch decimal comma
    ]
    got = list(written_chains(chains, fixture_bank, seed=0))
    assert [i for i, *_ in got] == [0, 1, 2, 3]
    assert got[0][2] == ["2 x + 3 = 7", "2 x = 4", "x = 2"] and len(got[0][3]) == 3
    assert got[1][3] is None and got[2][3] is None
    assert got[3][2] == ["2 x = 3 , 5", "x = 1 , 7 5"]  # the comma as the model writes it
    again = list(written_chains(chains, fixture_bank, seed=0))
    assert again[0][3][0].tobytes() == got[0][3][0].tobytes()  # one random stream per chain and seed
