"""The fixed validation split carved out of CROHME train (writer-disjoint), and its use.

CROHME 2014/2016/2019 are test sets: they are only ever reported. Model selection, early stopping and
recipe studies use this split instead. About 5 % of the training expressions, whole writers at a time,
are held out of training (`held`), so no writer of the split is seen in training. CROHME train repeats
its formulas across writers (4,822 distinct captions in 8,835 expressions), so half of a writer-disjoint
split would still be formulas the model has read in training, while the test sets are 97 % new
formulas; the validation set (`val`) is therefore the held-out expressions whose normalised LaTeX occurs
nowhere in the rest of train: writer- and formula-disjoint, like a test set. The file
(`data/splits/crohme_val.txt`, one `name<TAB>val|held` a line) is committed;
`python -m data.splits build INKML_TRAIN_DIR` rebuilds it deterministically.

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
    latex: str = ""  # normalised LaTeX truth ("" when unknown)

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


def _read(name: str) -> dict[str, str]:
    path = split_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"no split {name!r} ({path})")
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        entry, _, tag = line.partition("\t")
        out[entry.strip()] = tag.strip() or "val"  # a bare name list is all validation
    return out


def load_split(name: str = DEFAULT_SPLIT) -> frozenset[str]:
    """The validation expressions of a split (lines `name<TAB>val`, or bare names; '#' comments)."""
    return frozenset(n for n, tag in _read(name).items() if tag == "val")


def load_heldout(name: str = DEFAULT_SPLIT) -> frozenset[str]:
    """Every expression a split keeps out of training (its validation set and the rest of its writers)."""
    return frozenset(_read(name))


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


def validation_names(entries: Sequence[SplitEntry], held: Iterable[str]) -> list[str]:
    """The held-out expressions whose LaTeX is in no training expression (formula-disjoint)."""
    held = set(held)
    seen = {e.latex for e in entries if e.name not in held and e.latex}
    return sorted(e.name for e in entries if e.name in held and e.latex and e.latex not in seen)


def _annotations(raw: bytes, name: str) -> tuple[str, str]:
    """(writer, normalised LaTeX truth) of an InkML file; "" where absent or unreadable."""
    from data.inkml import decode_bytes
    from data.records import normalize_latex

    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", decode_bytes(raw), count=1)
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return "", ""
    found = {"writer": "", "truth": ""}
    for child in root:
        tag = child.tag.rsplit("}", 1)[-1]
        kind = (child.get("type") or "").strip().lower()
        if tag == "annotation" and kind in found and not found[kind]:
            found[kind] = (child.text or "").strip()
    latex = normalize_latex(found["truth"], name) if found["truth"] else ""
    return found["writer"], latex


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
        writer, latex = _annotations(raw, path.stem)
        entries.append(SplitEntry(path.stem, source, writer, latex))
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
    val = set(validation_names(entries, names))
    held = set(names)
    groups = {e.group for e in entries if e.name in held}
    header = [
        f"# CROHME train split `{args.name}`: {len(names)} of {len(entries)} expressions held out of training",
        f"# ({len(groups)} whole writer groups, fraction {args.fraction}, seed {args.seed}); `val`: the {len(val)}",
        "# of them whose normalised LaTeX occurs in no training expression (the validation set), `held`:",
        "# the others. Rebuild: python -m data.splits build <crohme>/inkml/train",
    ]
    lines = [f"{n}\t{'val' if n in val else 'held'}" for n in names]
    out = split_path(args.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(header + lines) + "\n")
    print(f"{out}: {len(names)} held out, {len(val)} validation, {len(groups)} groups")
    return 0


if __name__ == "__main__":
    sys.exit(main())
