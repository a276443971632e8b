"""A GPU window's results: evaluate a run's model, pack what comes back through the device tool's
return folder (at most 8 files of at most 16 MiB, flat), check those limits, and unpack them here.
`seq2latex.cli.window` and `seq2latex.training.study` are its commands."""

from __future__ import annotations

import json
import shutil
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
    model_dir: Path,
    data: Path,
    holdout: str,
    device: str,
    max_seconds: float,
    sets: tuple[str, ...] = tuple(name for name, _ in EVAL_SOURCES),
) -> dict[str, Any]:
    """Batched greedy ExpRate of a model directory on crohme_val (the run's holdout) and the test sets
    found in `data` (those of `sets`); each set time-boxed to `max_seconds` (its `n` says how many were
    read)."""
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
        if name not in sets:
            continue
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


def pack_model(run: Path, out: Path, part_mib: float = PART_MIB) -> list[Path]:
    """`run`'s best/ as OUT/model-fp16.tar and its last EMA weights in fp32 as OUT/ema-fp32.tar.partN
    -> the parts."""
    from seq2latex.checkpoint import load_card, load_model_dir, save_model_dir
    from seq2latex.export import export

    out.mkdir(parents=True, exist_ok=True)
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
        return split_file(tar_dir(last, out / "ema-fp32.tar", "ema-fp32"), part_mib)


def finish(run: Path, data: Path, out: Path, device: str = "cpu", eval_seconds: float = 60.0,
           part_mib: float = PART_MIB) -> dict[str, Any]:  # fmt: skip
    """Evaluate `run`'s best model and pack the window's results into `out` (see `seq2latex.cli.window`)."""
    out.mkdir(parents=True, exist_ok=True)
    # the weights and logs first: should the evaluation overrun the call, they are already in `out`
    for name in ("log.csv", "curves.png"):
        if (run / name).is_file():
            shutil.copy2(run / name, out / name)
    parts = pack_model(run, out, part_mib)
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
