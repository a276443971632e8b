"""Pack the offline CROHME splits into one zip (caption.txt + img/ per split), e.g. to carry the data
to a GPU machine: `python -m data.pack ../shared/crohme runs/gpu_data/crohme_offline.zip`.
The readers take the zip as it is (`train.py --data ZIP`, `seq2latex eval --data ZIP --source offline/2014`).
PNGs are stored (already compressed); captions are deflated. `--add NAME=DIR` packs any other offline
folder (caption.txt + img/, e.g. synthetic expressions from `python -m data.synth build`) as
`offline/NAME`, a source `train.py` selects with `train_sources` (`offline/synth`)."""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

DEFAULT_SPLITS = ("train", "2014", "2016")
WINDOW_LIMIT_MIB = 64  # what a GPU window may carry
EXTRA_FILES = ("meta.jsonl",)  # packed beside caption.txt when an added folder has them


def pack_offline(
    root: str | Path,
    out: str | Path,
    splits: tuple[str, ...] = DEFAULT_SPLITS,
    extra: dict[str, Path] | None = None,
) -> dict[str, int]:
    """Write `out` with `offline/<split>/caption.txt` and `offline/<split>/img/*` -> images per split;
    `extra` adds other offline folders by name (`{"synth": Path("runs/synth/train")}` -> `offline/synth`)."""
    root, out = Path(root), Path(out)
    base = root / "offline" if (root / "offline").is_dir() else root
    folders = {split: base / split for split in splits} | {k: Path(v) for k, v in (extra or {}).items()}
    counts: dict[str, int] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    with zipfile.ZipFile(tmp, "w") as zf:
        for split, d in folders.items():
            captions = d / "caption.txt"
            if not captions.is_file():
                raise FileNotFoundError(f"{captions} not found")
            zf.write(captions, f"offline/{split}/caption.txt", compress_type=zipfile.ZIP_DEFLATED)
            for name in EXTRA_FILES:
                if split not in splits and (d / name).is_file():
                    zf.write(d / name, f"offline/{split}/{name}", compress_type=zipfile.ZIP_DEFLATED)
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
    p.add_argument(
        "--add",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="also pack the offline folder DIR (caption.txt + img/) as offline/NAME; repeatable",
    )
    args = p.parse_args(argv)
    extra: dict[str, Path] = {}
    for item in args.add:
        name, sep, folder = item.partition("=")
        if not sep or not name or "/" in name or name in args.splits:
            p.error(f"--add wants NAME=DIR with a new NAME without '/', not {item!r}")
        extra[name] = Path(folder)
    counts = pack_offline(args.root, args.out, tuple(args.splits), extra)
    size = args.out.stat().st_size / 2**20
    print(f"{args.out}: {size:.1f} MiB, images {counts}")
    if size > WINDOW_LIMIT_MIB:
        print(f"warning: over the {WINDOW_LIMIT_MIB} MiB a GPU window may carry", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
