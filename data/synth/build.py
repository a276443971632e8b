"""Synthetic handwritten expressions: caption -> writer -> ink -> image, and offline sources of them.

`python -m data.synth bank INKML_TRAIN OUT.npz [--split train|heldout]` caches a glyph bank (`.npz`:
the compact form a GPU window carries; `.pkl`: a pickle);
`python -m data.synth build BANK OUT_DIR --n N` writes an offline source (`caption.txt`, `img/*.png` and
`meta.jsonl` with each expression's kind and writer) that every reader, `data.pack` and `train.py` take as
they take `offline/train`. Built from the `heldout` bank with `--school-only`, it is the writer-disjoint
school-maths evaluation set (crohme_val writers only, never trained on). `--exclude CAPTIONS` keeps given
captions out (an evaluation set's, the test sets'); `--captions CAPTIONS` writes given captions instead
of drawn ones (e.g. the crohme_val captions in synthetic ink, to compare with their real ink).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from data.records import Record, normalize_latex
from data.render import MAX_RENDER_ASPECT, MIN_EXTENT, RenderConfig, render_strokes
from data.splits import load_split
from data.synth.expressions import ExpressionConfig, draw_caption
from data.synth.glyphs import GlyphBank, build_bank
from data.synth.layout import LayoutConfig, needed_classes, write

# The scale of the CROHME offline images, as `api/ink.py` draws ink (which data/ cannot import): the
# median stroke spans 28 px, a 12 px blank border.
OFFLINE_STROKE_EXTENT_PX = 28.0
OFFLINE_PAD_PX = 12
MIN_RENDER_HEIGHT = 32
MAX_RENDER_HEIGHT = 640
MAX_REDRAWS = 200


@dataclass
class SynthConfig:
    """How many synthetic expressions, from which draws."""

    n: int = 1000
    seed: int = 0
    prefix: str = "synth"  # record names: <prefix>_<seed>_<index>
    # The writer of an expression: of this many writers drawn at random, the one who wrote most of the
    # classes it needs (fewer glyphs borrowed from other writers); 1 = any writer.
    writer_candidates: int = 8
    expressions: ExpressionConfig = field(default_factory=ExpressionConfig)
    layout: LayoutConfig = field(default_factory=LayoutConfig)


@dataclass
class SynthRecord:
    name: str
    latex: str
    kind: str  # the school family, or "crohme" for a CROHME variation
    writer: str
    strokes: list[np.ndarray]  # each (N, 2) float32


def as_record(r: SynthRecord, source: str = "synth") -> Record:
    """The expression as an ink `Record` (strokes, no image): the datasets render it like any InkML record."""
    return Record(name=r.name, latex=r.latex, strokes=r.strokes, source=source)


def render_offline(strokes: Sequence[np.ndarray], pen_width: float = RenderConfig.pen_width) -> Image.Image:
    """Ink drawn as the CROHME offline images are (and as the API draws ink): the median stroke 28 px."""
    strokes = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes if len(s)]  # each (N, 2)
    if not strokes:
        return render_strokes([], height=MIN_RENDER_HEIGHT, pen_width=pen_width, pad=OFFLINE_PAD_PX)
    pts = np.concatenate(strokes, axis=0)  # (N, 2)
    w, h = np.ptp(pts, axis=0)
    extents = [e for e in (float(np.ptp(s, axis=0).max()) for s in strokes) if e > MIN_EXTENT]
    scale = OFFLINE_STROKE_EXTENT_PX / float(np.median(extents)) if extents else 1.0
    height = round(max(float(h), float(w) / MAX_RENDER_ASPECT) * scale + 2 * OFFLINE_PAD_PX + pen_width)
    height = min(max(height, MIN_RENDER_HEIGHT), MAX_RENDER_HEIGHT)
    return render_strokes(strokes, height=height, pen_width=pen_width, pad=OFFLINE_PAD_PX)


def choose_writer(
    rng: random.Random, bank: GlyphBank, writers: Sequence[str], needed: set[str], candidates: int
) -> str:
    """Of `candidates` writers drawn at random, one who wrote the most of the `needed` classes."""
    drawn = [rng.choice(writers) for _ in range(max(1, candidates))]
    return max(drawn, key=lambda w: len(needed & bank.glyphs[w].keys()))


def write_working(
    captions: Sequence[str], bank: GlyphBank, rng: random.Random, candidates: int = 8
) -> list[Image.Image] | None:
    """A pupil's lines of working in one hand: one writer (of `candidates` drawn, one who wrote the most of
    the symbols needed), each line drawn at the scale `render_offline` gives every line of one hand (for
    `data.photo_render.page_photo`'s "working" layout). None when the bank lacks a symbol the lines need."""
    needs = [needed_classes(c) for c in captions]
    if not all(need <= bank.classes() for need in needs):
        return None
    writer = choose_writer(rng, bank, bank.writers, set().union(*needs), candidates)
    return [render_offline(write(c, bank, writer, rng)) for c in captions]


def written_chains(
    chains: Sequence[dict], bank: GlyphBank, seed: int
) -> Iterator[tuple[int, dict, list[str], list[Image.Image] | None]]:
    """Chains of working (rows with "lines", as in benchmarks/check_chains.jsonl) as a held-out hand writes
    them: each chain's index, its row, its lines in canonical form and their drawings (`write_working`, one
    random stream per chain and seed), or None for a chain that has not 2-4 lines the bank can write."""
    from tokenizer import normalize

    for i, chain in enumerate(chains):
        try:
            captions = [normalize(line.replace("{,}", ",")) for line in chain["lines"]]
        except ValueError:
            captions = []
        ok = 2 <= len(captions) <= 4
        yield i, chain, captions, write_working(captions, bank, random.Random(f"{seed}-{i}")) if ok else None


def synthesize(
    bank: GlyphBank,
    cfg: SynthConfig,
    captions: Sequence[str] | None = None,
    exclude: frozenset[str] = frozenset(),
) -> Iterator[SynthRecord]:
    """`cfg.n` expressions, one writer of the bank each; deterministic given the bank and `cfg.seed`.

    `captions`: the CROHME captions to vary (default: the bank's own, i.e. its writers' expressions);
    `exclude`: captions never written (an evaluation set's, the test sets'), drawn again instead."""
    rng = random.Random(cfg.seed)
    captions = bank.captions if captions is None else captions
    writers = bank.writers
    if not writers:
        raise ValueError("the glyph bank has no writer")
    classes = bank.classes()
    for i in range(cfg.n):
        for _ in range(MAX_REDRAWS):  # a small bank (tests, one source) lacks some classes altogether
            kind, latex = draw_caption(rng, captions, cfg.expressions)
            if latex not in exclude and needed_classes(latex) <= classes:
                break
        else:
            raise ValueError(f"the glyph bank cannot write the captions drawn (e.g. {latex!r})")
        writer = choose_writer(rng, bank, writers, needed_classes(latex), cfg.writer_candidates)
        strokes = write(latex, bank, writer, rng, cfg.layout)
        yield SynthRecord(f"{cfg.prefix}_{cfg.seed}_{i:06d}", latex, kind, writer, strokes)


def rewrite(bank: GlyphBank, items: Sequence[tuple[str, str]], cfg: SynthConfig) -> Iterator[SynthRecord]:
    """Given (name, caption) pairs written once each in the bank's hands (kind "rewrite"): e.g. the
    crohme_val captions in synthetic ink, to compare a model's reading of them with the real ink."""
    rng = random.Random(cfg.seed)
    classes = bank.classes()
    for name, latex in items:
        need = needed_classes(latex)
        if not need <= classes:
            continue  # a class no writer of the bank wrote
        writer = choose_writer(rng, bank, bank.writers, need, cfg.writer_candidates)
        strokes = write(latex, bank, writer, rng, cfg.layout)
        yield SynthRecord(f"{cfg.prefix}_{name}", latex, "rewrite", writer, strokes)


def write_offline(records: Iterator[SynthRecord], out: str | Path) -> dict[str, int]:
    """An offline source at `out`: caption.txt, img/<name>.png, meta.jsonl -> counts per kind."""
    out = Path(out)
    (out / "img").mkdir(parents=True, exist_ok=True)
    kinds: dict[str, int] = {}
    with (out / "caption.txt").open("w") as cap, (out / "meta.jsonl").open("w") as meta:
        for r in records:
            render_offline(r.strokes).save(out / "img" / f"{r.name}.png", optimize=True)
            cap.write(f"{r.name}\t{r.latex}\n")
            meta.write(
                json.dumps(
                    {"name": r.name, "kind": r.kind, "writer": r.writer, "tokens": len(r.latex.split())}
                )
                + "\n"
            )
            kinds[r.kind] = kinds.get(r.kind, 0) + 1
    return kinds


def read_captions(paths: Sequence[Path]) -> frozenset[str]:
    """The captions of caption.txt files (`name<TAB>latex` lines, or bare LaTeX lines), normalised."""
    out: set[str] = set()
    for path in paths:
        for line in path.read_text().splitlines():
            latex = line.split("\t", 1)[-1].strip()
            if latex:
                out.add(normalize_latex(latex))
    return frozenset(out)


def load_bank(path: str | Path) -> GlyphBank:
    return GlyphBank.load(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m data.synth", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bank", help="cache the glyph bank of the InkML training folder")
    b.add_argument("inkml", type=Path, help="e.g. ../shared/crohme/inkml/train")
    b.add_argument("out", type=Path, help="bank pickle to write")
    b.add_argument(
        "--split",
        choices=["train", "heldout", "all"],
        default="train",
        help="train: crohme_val writers left out; heldout: only crohme_val writers",
    )
    c = sub.add_parser("symbols", help="pack single-symbol crops of a bank's glyphs (the GPU's symbol task)")
    c.add_argument("bank", type=Path, help="a bank (python -m data.synth bank)")
    c.add_argument("out", type=Path, help="the .npz to write (data.symbol_crops.SymbolCrops)")
    c.add_argument("--per-class", type=int, default=300, help="at most this many crops of a class (0 = all)")
    c.add_argument("--size", type=int, default=64, help="crop side (the model's symbol_size)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--workers", type=int, default=1, help="rendering processes")
    g = sub.add_parser("build", help="write N synthetic expressions as an offline source folder")
    g.add_argument("bank", type=Path, help="a bank pickle (python -m data.synth bank)")
    g.add_argument("out", type=Path, help="folder to write (caption.txt, img/, meta.jsonl)")
    g.add_argument("--n", type=int, default=1000)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--prefix", default="synth")
    g.add_argument("--school-only", action="store_true", help="no CROHME variations (the evaluation set)")
    g.add_argument(
        "--captions",
        type=Path,
        default=None,
        help="write these captions (a caption.txt) once each instead of drawn ones (--n ignored)",
    )
    g.add_argument(
        "--exclude",
        type=Path,
        action="append",
        default=[],
        help="a caption.txt whose captions are never written (school_val's, the test sets'); repeatable",
    )
    g.add_argument(
        "--only-split", default=None, help="with --captions: only the names of this split's val set"
    )
    args = p.parse_args(argv)
    t0 = time.monotonic()
    if args.cmd == "bank":
        bank = build_bank(args.inkml, args.split)
        bank.save(args.out)
        print(
            f"{args.out}: {len(bank.writers)} writers, {bank.count()} glyphs, {len(bank.classes())} classes, "
            f"{time.monotonic() - t0:.1f} s"
        )
        return 0
    bank = load_bank(args.bank)
    if args.cmd == "symbols":
        from data.symbol_crops import crops_from_bank
        from data.symbols import CROHME_SYMBOL_CLASSES

        crops = crops_from_bank(
            bank, list(CROHME_SYMBOL_CLASSES), args.size, args.per_class, args.seed, args.workers
        )
        crops.save(args.out)
        size_mib = args.out.stat().st_size / 2**20
        print(f"{args.out}: {len(crops)} crops of {len(set(crops.labels.tolist()))} classes, {size_mib:.1f} MiB, "
              f"{time.monotonic() - t0:.1f} s")  # fmt: skip
        return 0
    expr = ExpressionConfig(school_fraction=1.0) if args.school_only else ExpressionConfig()
    cfg = SynthConfig(n=args.n, seed=args.seed, prefix=args.prefix, expressions=expr)
    if args.captions is not None:
        items = [
            tuple(line.split("\t", 1)) for line in args.captions.read_text().splitlines() if "\t" in line
        ]
        if args.only_split:
            keep = load_split(args.only_split)
            items = [it for it in items if it[0] in keep]
        args.n = len(items)
        records = rewrite(bank, [(n, normalize_latex(c, n)) for n, c in items], cfg)
    else:
        records = synthesize(bank, cfg, exclude=read_captions(args.exclude))
    kinds = write_offline(records, args.out)
    dt = time.monotonic() - t0
    size = sum(f.stat().st_size for f in (args.out / "img").iterdir()) / 2**20
    print(
        f"{args.out}: {args.n} expressions in {dt:.1f} s ({args.n / dt:.1f}/s), images {size:.1f} MiB; {kinds}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
