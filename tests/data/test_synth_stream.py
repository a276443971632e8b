"""data.synth.stream and the compact glyph bank: fresh synthetic expressions written by worker processes
during training, fed into the resident set in place of the oldest synthetic ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from data.preprocess import PreprocessConfig
from data.records import discover_sources, read_source
from data.resident import ResidentData
from data.synth.glyphs import GlyphBank, build_bank
from data.synth.layout import needed_classes
from data.synth.stream import StreamConfig, SynthStream, chunk_seed
from tokenizer import LatexTokenizer


@pytest.fixture(scope="module")
def bank_npz(fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    bank = build_bank(fixtures_dir / "crohme" / "inkml" / "train", split="all")
    return bank.save(tmp_path_factory.mktemp("bank") / "glyphs.npz")


@pytest.fixture(scope="module")
def records(fixtures_dir: Path) -> list:
    (src,) = [s for s in discover_sources(fixtures_dir / "crohme") if s.name == "offline/train"]
    return read_source(src).records


def test_compact_bank_keeps_every_glyph_within_its_quantisation(fixtures_dir: Path, bank_npz: Path) -> None:
    bank = build_bank(fixtures_dir / "crohme" / "inkml" / "train", split="all")
    pickled = bank.save(bank_npz.with_name("glyphs.pkl"))
    back = GlyphBank.load(bank_npz)
    assert back.writers == bank.writers and back.sources == bank.sources and back.captions == bank.captions
    assert back.count() == bank.count() and back.classes() == bank.classes()
    for w in bank.writers:
        for cls, glyphs in bank.glyphs[w].items():
            for a, b in zip(glyphs, back.glyphs[w][cls], strict=True):
                assert [len(s) for s in a] == [len(s) for s in b]
                np.testing.assert_allclose(np.concatenate(a), np.concatenate(b), atol=0.5 / 255 + 1e-6)
    assert bank_npz.stat().st_size < pickled.stat().st_size / 3


def test_stream_writes_new_well_formed_expressions_and_never_an_excluded_caption(
    bank_npz: Path, records: list
) -> None:
    tok = LatexTokenizer.load()
    bank = GlyphBank.load(bank_npz)
    exclude = frozenset(bank.captions[:10])  # e.g. a test set's captions
    pre = PreprocessConfig()
    cfg = StreamConfig(bank=str(bank_npz), workers=2, chunk=8, seed=5, max_tokens=40)
    with SynthStream(cfg, pre, exclude) as stream:
        first = stream.take(24, timeout=120)
        later = stream.take(24, timeout=120)
    assert len(first) == len(later) == 24 and stream.taken == 48
    samples = first + later
    names = [s.name for s in samples]
    assert len(set(names)) == len(names)  # two workers, several chunks: no draw repeats
    # which worker made what depends on timing; each chunk is a draw of its own
    assert {s.name.split("_")[0] for s in samples} <= {"stream5w0", "stream5w1"}
    assert len({chunk_seed(5, w, c) for w in range(4) for c in range(1000)}) == 4000
    real = {r.latex for r in records}
    assert len({s.latex for s in samples} - real) > 0  # new captions, not only the training ones
    for s in samples:
        assert s.latex not in exclude and 0 < len(s.latex.split()) <= 40
        assert needed_classes(s.latex) <= bank.classes()
        ids = tok.encode(s.latex)
        assert ids[0] == tok.sos_id and ids[-1] == tok.eos_id and tok.unk_id not in ids
        assert s.image.dtype == np.uint8 and s.image.shape[0] == pre.height
        assert s.image.shape[1] % pre.width_multiple == 0 and s.image.max() > 200  # ink
    assert not stream.alive()  # closed: no worker left behind


def test_fresh_samples_replace_the_oldest_synthetic_slots_only(bank_npz: Path, records: list) -> None:
    tok = LatexTokenizer.load()
    pre = PreprocessConfig()
    with SynthStream(StreamConfig(bank=str(bank_npz), workers=1, chunk=8, max_tokens=30), pre) as stream:
        initial = stream.take(12, timeout=120)
        fresh = stream.take(8, timeout=120)
    resident = ResidentData.build(
        records,
        tok.encode,
        tok.pad_id,
        pre,
        num_buckets=3,
        min_bucket_size=4,
        fresh=[(s.name, s.latex, s.image) for s in initial],
        symbol_classes=["x", "2", "+"],
    )
    assert len(resident) == len(records) + 12 and resident.replaceable() == 12
    real_before = {
        n: (b.images[j].clone(), b.tokens[j].clone())
        for b in resident.buckets
        for j, n in enumerate(b.names)
        if not n.startswith("stream")
    }
    placed = resident.replace(
        [s.image for s in fresh],
        [tok.encode(s.latex) for s in fresh],
        [s.name for s in fresh],
        [np.zeros(3, np.float32) for _ in fresh],
    )
    assert 0 < placed <= 8
    names = [n for b in resident.buckets for n in b.names]
    assert sum(n in {s.name for s in fresh} for n in names) == placed
    assert sum(n in {s.name for s in initial} for n in names) == 12 - placed  # the oldest went
    by_name = {s.name: s for s in fresh}
    for b in resident.buckets:
        for j, n in enumerate(b.names):
            if n in real_before:  # the real samples are untouched
                assert torch.equal(b.images[j], real_before[n][0]) and torch.equal(
                    b.tokens[j], real_before[n][1]
                )
            elif n in by_name:  # a fresh one is there, as made: image, width, tokens, box
                im = by_name[n].image
                assert int(b.widths[j]) == im.shape[1]
                assert torch.equal(b.images[j, :, : im.shape[1]], torch.from_numpy(im))
                assert int(b.images[j, :, im.shape[1] :].sum()) == 0
                ids = [t for t in b.tokens[j].tolist() if t != tok.pad_id]
                assert ids == tok.encode(by_name[n].latex)
                assert b.counts is not None and float(b.counts[j].sum()) == 0.0
    assert len(real_before) == len(records)
