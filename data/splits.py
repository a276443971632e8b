"""The fixed validation split carved out of CROHME train (writer-disjoint), and its use.

CROHME 2014/2016/2019 are test sets: they are only ever reported. Model selection, early stopping and
recipe studies use this split instead: about 5 % of the training expressions, whole writers at a time,
so no writer of the validation split is seen in training. The name list is committed
(`data/splits/crohme_val.txt`); `python -m data.splits build INKML_TRAIN_DIR` rebuilds it
deterministically.

Writer groups: the `<annotation type="writer">` of the InkML file (5,842 training files carry one),
namespaced by its source folder; files without one (MathBrush, a few "extension" and MfrDB files) are
grouped by source and file-name prefix: the stem up to its last `-` or `_` (MathBrush
`200922-949-82` -> session `200922-949`, `form003-equation016` -> `form003`).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

SPLIT_DIR = Path(__file__).parent / "splits"
DEFAULT_SPLIT = "crohme_val"
VAL_FRACTION = 0.05
SPLIT_SEED = 0
# Stem up to its last separator: the writing session / form of files without a writer annotation.
_PREFIX = re.compile(r"^(.*)[-_][^-_]*$")

R = TypeVar("R")


@dataclass(frozen=True)
class SplitEntry:
    """One training expression as the split sees it."""

    name: str  # file stem (= offline image stem = caption name)
    source: str  # source folder (HAMEX, KAIST, MathBrush, MfrDB, expressmatch, extension)
    writer: str  # the writer annotation, "" when the file has none

    @property
    def group(self) -> str:
        if self.writer:
            return f"{self.source}/writer:{self.writer}"
        m = _PREFIX.match(self.name)
        return f"{self.source}/prefix:{m.group(1) if m else self.name}"


def split_path(name: str = DEFAULT_SPLIT) -> Path:
    """A committed split by name (`crohme_val`), or any name-list file given by its path (`*.txt`)."""
    if name.endswith(".txt"):
        return Path(name)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"bad split name {name!r}")
    return SPLIT_DIR / f"{name}.txt"


def load_split(name: str = DEFAULT_SPLIT) -> frozenset[str]:
    """The expression names of a split (one per line; comment lines start with '#')."""
    path = split_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"no split {name!r} ({path})")
    lines = (line.strip() for line in path.read_text().splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def partition(records: Iterable[R], names: frozenset[str], key: str = "name") -> tuple[list[R], list[R]]:
    """(records whose name is not in `names`, records whose name is)."""
    kept: list[R] = []
    held: list[R] = []
    for r in records:
        (held if getattr(r, key) in names else kept).append(r)
    return kept, held


def _rank(group: str, seed: int) -> str:
    return hashlib.sha1(f"{seed}:{group}".encode()).hexdigest()


def build_split(
    entries: Sequence[SplitEntry], fraction: float = VAL_FRACTION, seed: int = SPLIT_SEED
) -> list[str]:
    """Names of the validation split: per source, whole writer groups in a seeded hash order until
    the source's share reaches `fraction` of its expressions (the group that crosses the target is
    taken only when that lands nearer to it). Deterministic; depends on no file order."""
    if not 0 < fraction < 1:
        raise ValueError("fraction must be in (0, 1)")
    by_source: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for e in entries:
        by_source[e.source][e.group].append(e.name)
    chosen: list[str] = []
    for source in sorted(by_source):
        groups = by_source[source]
        total = sum(len(v) for v in groups.values())
        target = fraction * total
        taken = 0
        for group in sorted(groups, key=lambda g: _rank(g, seed)):
            size = len(groups[group])
            if taken + size > target and abs(taken + size - target) > abs(taken - target):
                continue  # would overshoot more than it helps; a smaller group may fit
            chosen.extend(groups[group])
            taken += size
            if taken >= target:
                break
    return sorted(chosen)


def _writer(raw: bytes) -> str:
    from data.inkml import decode_bytes

    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", decode_bytes(raw), count=1)
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return ""
    for child in root:
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "annotation" and (child.get("type") or "").strip().lower() == "writer":
            return (child.text or "").strip()
    return ""


def scan_inkml(folder: str | Path) -> list[SplitEntry]:
    """SplitEntry per non-empty `*.inkml` under `folder` (`<folder>/<source>/<name>.inkml`)."""
    folder = Path(folder)
    entries = []
    for path in sorted(folder.rglob("*.inkml")):
        raw = path.read_bytes()
        if not raw.strip():
            print(f"warning: {path}: empty file, left out", file=sys.stderr)
            continue
        source = path.parent.name if path.parent != folder else "."
        entries.append(SplitEntry(path.stem, source, _writer(raw)))
    return entries


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m data.splits", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="rebuild the split file from the InkML training folder")
    b.add_argument("inkml", type=Path, help="e.g. ../shared/crohme/inkml/train")
    b.add_argument("--name", default=DEFAULT_SPLIT)
    b.add_argument("--fraction", type=float, default=VAL_FRACTION)
    b.add_argument("--seed", type=int, default=SPLIT_SEED)
    args = p.parse_args(argv)
    entries = scan_inkml(args.inkml)
    names = build_split(entries, args.fraction, args.seed)
    held = set(names)
    groups = {e.group for e in entries if e.name in held}
    header = [
        f"# CROHME train validation split `{args.name}`: {len(names)} of {len(entries)} expressions,",
        f"# {len(groups)} whole writer groups (writer-disjoint from the rest of train), fraction {args.fraction},",
        f"# seed {args.seed}. Rebuild: python -m data.splits build <crohme>/inkml/train",
    ]
    out = split_path(args.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(header + names) + "\n")
    print(f"{out}: {len(names)} names, {len(groups)} groups")
    return 0


if __name__ == "__main__":
    sys.exit(main())
