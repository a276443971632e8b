"""The end of a GPU window (`scripts/gpu_train.sh`): evaluate the run's model on the GPU and pack what
must come back through the device tool's $OUT (at most 8 files of at most 16 MiB, flat).

    python -m seq2latex.window_cli finish --run WORK --data ZIP --out OUT [--device cuda]

Leaves in OUT:
    model-fp16.tar          the run's best/ (EMA weights, chosen on crohme_val) as an fp16 model directory
    ema-fp32.tar.partN      the last EMA weights in fp32 as a model directory, tarred and cut into parts
                            (`cat ema-fp32.tar.part* | tar x` gives ema-fp32/: a later window's --init)
    log.csv, curves.png     the training log and its curves
    eval.json               batched greedy ExpRate on crohme_val, CROHME 2014 and 2016 (as found in --data)
run.log, written by the script beside them, makes the set complete. `check_out` verifies the limits.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

MAX_FILES = 8  # the device tool brings back at most 8 files ...
MAX_FILE_MIB = 16.0  # ... of at most 16 MiB each
PART_MIB = 15.0  # parts of a split file (a margin under the limit)
EVAL_SOURCES = (
    ("crohme_val", "offline/train"),
    ("crohme2014", "offline/2014"),
    ("crohme2016", "offline/2016"),
    ("school_val", "offline/school_val"),  # data.synth's crohme_val-writer school maths, when packed
)
EVAL_BATCH = 128


def tar_dir(src: Path, dest: Path, arcname: str) -> Path:
    """An uncompressed tar of a folder (safetensors do not compress)."""
    with tarfile.open(dest, "w") as tf:
        tf.add(src, arcname=arcname)
    return dest


def split_file(path: Path, part_mib: float = PART_MIB) -> list[Path]:
    """Cut `path` into `path.part0`, `path.part1`, ... of at most `part_mib` MiB (the file is removed);
    `cat path.part*` in order restores it (parts are numbered without padding: at most 10 fit anyway)."""
    size = int(part_mib * 2**20)
    parts = []
    with path.open("rb") as f:
        i = 0
        while chunk := f.read(size):
            part = path.with_name(f"{path.name}.part{i}")
            part.write_bytes(chunk)
            parts.append(part)
            i += 1
    path.unlink()
    return parts


def join_parts(first: Path, dest: Path) -> Path:
    """The inverse of `split_file`: concatenate `X.part0`, `X.part1`, ... (given X.part0) into `dest`."""
    stem = first.name.rsplit(".part", 1)[0]
    parts = sorted(first.parent.glob(f"{stem}.part*"), key=lambda p: int(p.name.rsplit(".part", 1)[1]))
    with dest.open("wb") as out:
        for p in parts:
            out.write(p.read_bytes())
    return dest


def check_out(out: Path, max_files: int = MAX_FILES, max_mib: float = MAX_FILE_MIB) -> list[str]:
    """What in `out` breaks the device tool's limits (no problem: an empty list)."""
    files = [p for p in out.rglob("*") if p.is_file()]
    problems = []
    if len(files) > max_files:
        problems.append(f"{len(files)} files (at most {max_files})")
    for p in files:
        if p.stat().st_size > max_mib * 2**20:
            problems.append(f"{p.name}: {p.stat().st_size / 2**20:.1f} MiB (at most {max_mib})")
        if len(p.relative_to(out).parts) > 3:
            problems.append(f"{p.relative_to(out)}: more than 2 folders deep")
    return problems


def evaluate_run(
    model_dir: Path, data: Path, holdout: str, device: str, max_seconds: float
) -> dict[str, Any]:
    """Batched greedy ExpRate of a model directory on crohme_val (the run's holdout) and the test sets
    found in `data`; each set time-boxed to `max_seconds` (its `n` says how many were read)."""
    import torch

    from data.records import discover_sources, read_source
    from data.splits import load_split, partition
    from seq2latex.checkpoint import load_model_dir
    from seq2latex.config import preprocess_config
    from seq2latex.training.validation import greedy_validation, make_val_items

    model, tokenizer, cfg, _ = load_model_dir(model_dir, device)
    dev = torch.device(device)
    sources = {s.name: s for s in discover_sources(data)}

    def autocast() -> Any:
        return torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda")

    report: dict[str, Any] = {"model": str(model_dir), "device": device, "decoding": "greedy, batched"}
    for name, source in EVAL_SOURCES:
        if source not in sources:
            report[name] = None
            continue
        records = read_source(sources[source]).records
        if name == "crohme_val":
            if not holdout:
                report[name] = None
                continue
            _, records = partition(records, load_split(holdout))
        t0 = time.monotonic()
        items = make_val_items(records, tokenizer, preprocess_config(cfg))
        out = greedy_validation(
            model,
            items,
            dev,
            tokenizer.id_to_token,
            tokenizer.pad_id,
            autocast=autocast,
            batch_size=EVAL_BATCH,
            with_loss=True,
            max_seconds=max_seconds,
            lengths=True,
        )
        report[name] = {
            "exprate": round(out["metric"], 2),
            "le1": round(out["le1"], 2),
            "le2": round(out["le2"], 2),
            "loss": round(out["loss"], 4),
            "n": out["n"],
            "of": len(items),
            "by_length": out["by_length"],
            "seconds": round(time.monotonic() - t0, 1),
        }
    return report


def finish(run: Path, data: Path, out: Path, device: str = "cpu", eval_seconds: float = 60.0,
           part_mib: float = PART_MIB) -> dict[str, Any]:  # fmt: skip
    """Evaluate `run`'s best model and pack the window's results into `out` (see the module doc)."""
    from seq2latex.checkpoint import load_card, load_model_dir, save_model_dir
    from seq2latex.export_cli import export

    out.mkdir(parents=True, exist_ok=True)
    # the weights and logs first: should the evaluation overrun the call, they are already in `out`
    for name in ("log.csv", "curves.png"):
        if (run / name).is_file():
            shutil.copy2(run / name, out / name)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        model, tokenizer, _, classes = load_model_dir(run / "best")
        save_model_dir(tmp_dir / "model-fp16", model, tokenizer, classes, load_card(run / "best"), fp16=True)
        tar_dir(tmp_dir / "model-fp16", out / "model-fp16.tar", "model-fp16")
        last = tmp_dir / "ema-fp32"
        export(  # fp32: a continuation wants the full-precision EMA
            last,
            checkpoint=run / "checkpoint.pt",
            weights="ema",
            card={"weights_for": "a later window's --init"},
            fp16=False,
        )
        parts = split_file(tar_dir(last, out / "ema-fp32.tar", "ema-fp32"), part_mib)
    config = json.loads((run / "train_config.json").read_text())
    t0 = time.monotonic()
    report = evaluate_run(run / "best", data, config["train"].get("holdout", ""), device, eval_seconds)
    report["eval_seconds"] = round(time.monotonic() - t0, 1)
    (out / "eval.json").write_text(json.dumps(report, indent=2) + "\n")
    return {"eval": report, "parts": [p.name for p in parts]}


def unpack(files: Path, dest: Path) -> dict[str, Path]:
    """The model directories of a window's $OUT (as fetched): {"fp16": dest/model-fp16, "fp32": dest/ema-fp32}."""
    dest.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    if (files / "model-fp16.tar").is_file():
        with tarfile.open(files / "model-fp16.tar") as tf:
            tf.extractall(dest, filter="data")
        found["fp16"] = dest / "model-fp16"
    first = files / "ema-fp32.tar.part0"
    if first.is_file():
        joined = join_parts(first, dest / "ema-fp32.tar")
        with tarfile.open(joined) as tf:
            tf.extractall(dest, filter="data")
        joined.unlink()
        found["fp32"] = dest / "ema-fp32"
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m seq2latex.window_cli", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("finish", help="evaluate a window's run and pack its results for $OUT")
    f.add_argument("--run", type=Path, required=True, help="train.py's output folder")
    f.add_argument("--data", type=Path, required=True, help="the data the run read (zip or CROHME root)")
    f.add_argument("--out", type=Path, required=True)
    f.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    f.add_argument("--eval-seconds", type=float, default=60.0, help="time box of each evaluated set")
    f.add_argument("--part-mib", type=float, default=PART_MIB, help="size of the fp32 weights' parts")
    c = sub.add_parser("check", help="does a folder fit the device tool's limits? (exit 1 if not)")
    c.add_argument("out", type=Path)
    u = sub.add_parser("unpack", help="model directories from a fetched window's files")
    u.add_argument("files", type=Path)
    u.add_argument("dest", type=Path)
    args = p.parse_args(argv)
    if args.command == "finish":
        result = finish(args.run, args.data, args.out, args.device, args.eval_seconds, args.part_mib)
        print(
            json.dumps(
                {k: v for k, v in result["eval"].items() if k.startswith(("crohme", "school"))}, indent=None
            )
        )
        return 0
    if args.command == "check":
        problems = check_out(args.out)
        for p_ in sorted(args.out.rglob("*")):
            if p_.is_file():
                print(f"{p_.stat().st_size / 2**20:8.2f} MiB  {p_.relative_to(args.out)}")
        for problem in problems:
            print(f"over the limits: {problem}", file=sys.stderr)
        return 1 if problems else 0
    found = unpack(args.files, args.dest)
    print(json.dumps({k: str(v) for k, v in found.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
