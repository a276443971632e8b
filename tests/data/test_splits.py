"""The validation split carved from CROHME train: writer-disjoint, deterministic, committed."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from data.splits import (
    DEFAULT_SPLIT,
    SplitEntry,
    build_split,
    load_heldout,
    load_split,
    partition,
    scan_inkml,
    split_path,
    validation_names,
)


def _entries(n_writers: int = 60, per_writer: int = 20) -> list[SplitEntry]:
    rng = random.Random(0)
    out = []
    for w in range(n_writers):
        source = ("HAMEX", "KAIST", "MathBrush")[w % 3]
        for i in range(rng.randint(per_writer // 2, per_writer * 2)):
            if source == "MathBrush":  # no writer annotation: grouped by the file-name session prefix
                out.append(SplitEntry(f"2009{w:02d}-{w}-{i}", source, ""))
            else:
                out.append(SplitEntry(f"{source}_w{w}_e{i}", source, f"writer{w}"))
    return out


def test_split_is_writer_disjoint_about_five_percent_and_order_free() -> None:
    entries = _entries()
    names = build_split(entries)
    held = set(names)
    groups_in = {e.group for e in entries if e.name in held}
    groups_out = {e.group for e in entries if e.name not in held}
    assert groups_in and not groups_in & groups_out  # whole writers only
    assert 0.03 <= len(names) / len(entries) <= 0.08
    shuffled = entries[:]
    random.Random(1).shuffle(shuffled)
    assert build_split(shuffled) == names  # does not depend on file order
    assert build_split(entries, seed=1) != names  # the seed chooses the writers
    assert {e.source for e in entries if e.name in held} == {"HAMEX", "KAIST", "MathBrush"}


def test_groups_fall_back_to_the_file_name_prefix() -> None:
    assert SplitEntry("200922-949-82", "MathBrush", "").group == "MathBrush/prefix:200922-949"
    assert SplitEntry("form003-equation016", "extension", "").group == "extension/prefix:form003"
    assert SplitEntry("x", "KAIST", "User001").group == "KAIST/writer:User001"
    assert SplitEntry("x", "HAMEX", "User001").group != SplitEntry("y", "KAIST", "User001").group


def test_partition_and_split_files(tmp_path: Path) -> None:
    f = tmp_path / "s.txt"
    f.write_text("# comment\na\n\nb\n")
    names = load_split(str(f))
    assert names == {"a", "b"}

    class R:
        def __init__(self, name: str) -> None:
            self.name = name

    kept, held = partition([R("a"), R("c"), R("b")], names)
    assert [r.name for r in kept] == ["c"] and [r.name for r in held] == ["a", "b"]
    with pytest.raises(ValueError):
        split_path("../etc/passwd")
    with pytest.raises(FileNotFoundError):
        load_split("no_such_split")


def test_validation_is_the_held_out_formulas_never_trained_on() -> None:
    entries = [
        SplitEntry("a1", "S", "w1", "x + 1"),
        SplitEntry("a2", "S", "w1", "y = 2"),
        SplitEntry("a3", "S", "w1", ""),
        SplitEntry("b1", "S", "w2", "x + 1"),  # the same formula by a training writer
        SplitEntry("b2", "S", "w2", "z"),
    ]
    assert validation_names(entries, {"a1", "a2", "a3"}) == ["a2"]


def test_split_file_tags(tmp_path: Path) -> None:
    f = tmp_path / "s.txt"
    f.write_text("# c\na\tval\nb\theld\nc\tval\n")
    assert load_split(str(f)) == {"a", "c"} and load_heldout(str(f)) == {"a", "b", "c"}


def test_committed_split_is_five_percent_of_train() -> None:
    held, val = load_heldout(DEFAULT_SPLIT), load_split(DEFAULT_SPLIT)
    assert 400 <= len(held) <= 480  # about 5 % of 8,835 held out of training
    assert val < held and len(val) >= 200  # the formula-new part validates


def test_committed_split_rebuilds_exactly_from_the_inkml(crohme_root: Path) -> None:
    entries = scan_inkml(crohme_root / "inkml" / "train")
    names = build_split(entries)
    assert set(names) == load_heldout(DEFAULT_SPLIT)
    assert set(validation_names(entries, names)) == load_split(DEFAULT_SPLIT)
    held = set(names)
    writers_in = {e.group for e in entries if e.name in held}
    assert not writers_in & {e.group for e in entries if e.name not in held}
    offline = {
        line.split("\t")[0] for line in (crohme_root / "offline/train/caption.txt").read_text().splitlines()
    }
    assert held <= offline  # every held-out name has its offline image
    captions = dict(
        line.split("\t", 1) for line in (crohme_root / "offline/train/caption.txt").read_text().splitlines()
    )
    trained = {c for n, c in captions.items() if n not in held}
    new = [n for n in load_split(DEFAULT_SPLIT) if captions[n] not in trained]
    assert len(new) >= 0.97 * len(load_split(DEFAULT_SPLIT))  # formula-new by the offline captions too
