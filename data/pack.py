"""Pack the offline CROHME splits into one zip (caption.txt + img/ per split), e.g. to carry the data
to a GPU machine: `python -m data.pack ../shared/crohme runs/gpu_data/crohme_offline.zip`.
The readers take the zip as it is (`train.py --data ZIP`, `seq2latex eval --data ZIP --source offline/2014`).
PNGs are stored (already compressed); captions are deflated."""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

DEFAULT_SPLITS = ("train", "2014", "2016")


def pack_offline(
    root: str | Path, out: str | Path, splits: tuple[str, ...] = DEFAULT_SPLITS
) -> dict[str, int]:
    """Write `out` with `offline/<split>/caption.txt` and `offline/<split>/img/*` -> images per split."""
    root, out = Path(root), Path(out)
    base = root / "offline" if (root / "offline").is_dir() else root
    counts: dict[str, int] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    with zipfile.ZipFile(tmp, "w") as zf:
        for split in splits:
            d = base / split
            captions = d / "caption.txt"
            if not captions.is_file():
                raise FileNotFoundError(f"{captions} not found")
            zf.write(captions, f"offline/{split}/caption.txt", compress_type=zipfile.ZIP_DEFLATED)
            images = sorted(p for p in (d / "img").iterdir() if p.is_file())
            for p in images:
                zf.write(p, f"offline/{split}/img/{p.name}", compress_type=zipfile.ZIP_STORED)
            counts[split] = len(images)
    tmp.replace(out)
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m data.pack", description=__doc__.split("\n")[0])
    p.add_argument("root", type=Path, help="CROHME root (with offline/) or the offline folder itself")
    p.add_argument("out", type=Path, help="zip to write")
    p.add_argument("--splits", nargs="+", default=list(DEFAULT_SPLITS))
    args = p.parse_args(argv)
    counts = pack_offline(args.root, args.out, tuple(args.splits))
    size = args.out.stat().st_size / 2**20
    print(f"{args.out}: {size:.1f} MiB, images {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
