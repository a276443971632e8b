"""Several recipes trained side by side in one GPU window: one `train.py` process per arm, all on the
same device and the same clock, each on its own share of the CPU cores (its data preprocessing and its
synthesizer workers run there), each with its own smoke check.

A study is a YAML file (configs/study/*.yaml):

    study: {arm_memory_gib: 24, cores_per_arm: 4, start_seconds: 240, stall_seconds: 120}
    arms:
      - {name: base, config: configs/gpu_stream.yaml}
      - {name: batch64, config: configs/gpu_stream.yaml, set: ["batch_size=64", "lr=0.001"], seed: 0}

`run_study` chooses K (the arms that fit the device's free memory and the cores), starts them, stops an
arm that fails, stalls or overruns without stopping the others, evaluates every finished arm's EMA
(best/) on crohme_val and school_val, packs the best arm by crohme_val as the window's model
(`seq2latex.training.window.pack_model`) and writes study.json (every arm's figures, summary, evaluation
and log rows) and curves.png (every arm's curves) beside it: with eval.json and run.log at most 8 files.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from seq2latex.config import from_dict

STUDY_FILE = "study.json"
CURVES_FILE = "curves.png"
ARM_EVAL_SETS = ("crohme_val", "school_val")  # what every arm is compared on (never the test sets)
POLL_S = 1.0
KILL_GRACE_S = 10.0
EVAL_RESERVE_S = 20.0  # of a window's time, kept for what follows the evaluations (the files' check)
MIN_EVAL_S = 5.0  # an evaluation is started with at least this much time a set left


@dataclass
class ArmSpec:
    """One recipe: a train.py config, `--set` (train) and `--model-set` (model) overrides, a seed and
    optionally a model directory to start from (`--init`, every matching tensor)."""

    name: str
    config: str
    set: list[str] = field(default_factory=list)
    model_set: list[str] = field(default_factory=list)
    seed: int = 0
    init: str = ""


@dataclass
class StudySettings:
    """How arms share the machine and when one is stopped."""

    arm_memory_gib: float = 24.0  # GPU memory an arm may take (window 2's model peaked at 17.7 GiB)
    cores_per_arm: int = 4  # CPU cores of an arm: its training thread, synthesizer and preprocessing
    start_seconds: float = 240.0  # an arm's start-up (data, initial synthetic set) before its first row
    stall_seconds: float = 120.0  # then: an arm whose log.csv gains nothing for this long is stopped
    finish_seconds: float = 120.0  # an arm still running this long after the training time is stopped
    # > 0: the smoke floor of the arms together; each of K arms sharing the GPU stops below this / K
    # (its smoke_min_samples_per_s). 0: each arm keeps its config's floor, as a window of one arm.
    smoke_samples_per_s: float = 0.0


@dataclass
class StudyConfig:
    arms: list[ArmSpec]
    study: StudySettings = field(default_factory=StudySettings)

    @staticmethod
    def load(path: str | Path) -> StudyConfig:
        raw = yaml.safe_load(Path(path).read_text()) or {}
        unknown = set(raw) - {"arms", "study"}
        if unknown:
            raise ValueError(f"{path}: unknown sections {sorted(unknown)} (arms, study)")
        arms = [from_dict(ArmSpec, a) for a in raw.get("arms") or []]
        if not arms:
            raise ValueError(f"{path}: no arms")
        names = [a.name for a in arms]
        if len(set(names)) != len(names):
            raise ValueError(f"{path}: arm names repeat: {names}")
        return StudyConfig(arms, from_dict(StudySettings, raw.get("study") or {}))


@dataclass
class Capacity:
    """What the machine offers the arms."""

    device: str  # e.g. "cuda: NVIDIA H100 80GB HBM3" or "cpu"
    free_gib: float  # free device memory (the host's available memory on the CPU)
    cores: list[int]  # the CPU cores this process may use

    def arms_that_fit(self, settings: StudySettings, wanted: int) -> int:
        by_memory = int(self.free_gib // max(settings.arm_memory_gib, 1e-9))
        by_cores = len(self.cores) // max(1, settings.cores_per_arm)
        return max(1, min(wanted, by_memory, by_cores))


def machine_capacity(device: str) -> Capacity:
    cores = sorted(os.sched_getaffinity(0))
    if device == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info()
        name = torch.cuda.get_device_name()
        return Capacity(f"cuda: {name}", free / 2**30, cores)
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return Capacity("cpu", available / 2**30, cores)


def core_shares(cores: list[int], k: int, per_arm: int) -> list[list[int]]:
    """`per_arm` cores for each of `k` arms, disjoint where there are enough (else shared round-robin)."""
    return [[cores[(i * per_arm + j) % len(cores)] for j in range(per_arm)] for i in range(k)]


@dataclass
class Arm:
    spec: ArmSpec
    out: Path
    cores: list[int]
    proc: subprocess.Popen | None = None
    status: str = "planned"  # planned | running | ok | smoke_failed | failed | stalled | overran
    rc: int | None = None
    started: float = 0.0
    seconds: float = 0.0
    reason: str = ""

    def log_size(self) -> int:
        log = self.out / "log.csv"
        return log.stat().st_size if log.is_file() else -1


def _pipe(prefix: str, stream: Any) -> None:
    """Print a child's output line by line, prefixed by its arm (the window's run.log keeps them all)."""
    for line in iter(stream.readline, ""):
        print(f"[{prefix}] {line}", end="", flush=True)
    stream.close()


def arm_command(
    arm: Arm, data: Path, device: str, train_minutes: float, python: str, repo: Path
) -> list[str]:
    s = arm.spec
    cmd = [
        python, str(repo / "train.py"), "--data", str(data), "--out", str(arm.out),
        "--config", str(repo / s.config if not Path(s.config).is_absolute() else s.config),
        "--device", device, "--max-minutes", f"{train_minutes:g}", "--schedule-minutes", f"{train_minutes:g}",
        "--seed", str(s.seed), "--no-progress", "--threads", str(len(arm.cores)),
        "--set", f"preprocess_workers={len(arm.cores)}",
    ]  # fmt: skip
    for item in s.set:
        cmd += ["--set", item]
    for item in s.model_set:
        cmd += ["--model-set", item]
    if s.init:
        cmd += [
            "--init",
            str(repo / s.init if not Path(s.init).is_absolute() else s.init),
            "--init-scope",
            "all",
        ]
    return cmd


def run_arms(
    arms: list[Arm],
    data: Path,
    device: str,
    train_minutes: float,
    settings: StudySettings,
    python: str = sys.executable,
    repo: Path = Path(__file__).resolve().parents[2],
    extra_env: dict[str, str] | None = None,
) -> None:
    """Start every arm at once and wait for all; an arm that fails, stalls or overruns is stopped (the
    others go on). Sets each arm's status, exit code and seconds."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    pipes = []
    for arm in arms:
        arm.out.mkdir(parents=True, exist_ok=True)
        cores = set(arm.cores)
        arm.proc = subprocess.Popen(
            arm_command(arm, data, device, train_minutes, python, repo),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**env, "OMP_NUM_THREADS": str(len(cores))},
            preexec_fn=lambda cores=cores: os.sched_setaffinity(0, cores),  # its workers inherit it
        )
        arm.started, arm.status = time.monotonic(), "running"
        t = threading.Thread(target=_pipe, args=(arm.spec.name, arm.proc.stdout), daemon=True)
        t.start()
        pipes.append(t)
    last_size = {a.spec.name: (-1, time.monotonic()) for a in arms}
    deadline = 60.0 * train_minutes + settings.start_seconds + settings.finish_seconds
    while any(a.status == "running" for a in arms):
        time.sleep(POLL_S)
        now = time.monotonic()
        for arm in arms:
            if arm.status != "running" or arm.proc is None:
                continue
            rc = arm.proc.poll()
            if rc is not None:
                arm.rc, arm.seconds = rc, now - arm.started
                arm.status = "ok" if rc == 0 else "smoke_failed" if rc == 3 else "failed"
                if rc != 0:
                    arm.reason = f"train.py exited with {rc}"
                    print(f"+ arm {arm.spec.name}: {arm.reason} after {arm.seconds:.0f} s", flush=True)
                continue
            size = arm.log_size()
            seen, since = last_size[arm.spec.name]
            if size != seen:
                last_size[arm.spec.name] = (size, now)
            verdict = watch_verdict(
                size, now - last_size[arm.spec.name][1], now - arm.started, deadline, settings
            )
            if verdict is not None:
                _stop(arm, *verdict)
    for t in pipes:
        t.join(timeout=5.0)


def watch_verdict(
    log_size: int, quiet_s: float, running_s: float, deadline_s: float, settings: StudySettings
) -> tuple[str, str] | None:
    """Whether a running arm is stopped: ("stalled" | "overran", why), or None. `log_size` is its log.csv's
    size (-1 before the file exists; 0 while it holds no flushed row: the trainer opens it before its
    smoke check and first rows, so the start-up allowance holds until then), `quiet_s` how long that
    size has stayed the same."""
    limit = settings.start_seconds if log_size <= 0 else settings.stall_seconds
    if quiet_s > limit:
        return "stalled", f"its log gained nothing for {quiet_s:.0f} s"
    if running_s > deadline_s:
        return "overran", f"still running {running_s:.0f} s after its start"
    return None


def _stop(arm: Arm, status: str, reason: str) -> None:
    assert arm.proc is not None
    print(f"+ arm {arm.spec.name}: stopped ({reason})", flush=True)
    arm.proc.terminate()
    try:
        arm.proc.wait(timeout=KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        arm.proc.kill()
        arm.proc.wait()
    arm.status, arm.reason, arm.rc = status, reason, arm.proc.returncode
    arm.seconds = time.monotonic() - arm.started


def read_log(path: Path) -> dict[str, Any]:
    """log.csv as {"columns": [...], "rows": [[...], ...]} with numbers as numbers (blank: null)."""
    if not path.is_file():
        return {"columns": [], "rows": []}
    with path.open() as f:
        reader = csv.reader(f)
        columns = next(reader, [])
        rows = [[float(v) if v not in ("", None) else None for v in row] for row in reader]
    return {"columns": columns, "rows": rows}


def plot_arms(arms: list[dict[str, Any]], png: Path) -> None:
    """One figure of every arm's curves: training loss and validation ExpRate against seconds (PIL)."""
    from PIL import Image, ImageDraw

    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    panels = (("loss", "training loss"), ("val", "crohme_val ExpRate (EMA)"))
    pw, ph, m = 520, 300, 40
    img = Image.new("RGB", (2 * pw, ph + 20 * len(arms) + 10), "white")
    draw = ImageDraw.Draw(img)
    for k, (col, title) in enumerate(panels):
        ox = k * pw
        series = []
        for a in arms:
            cols = a["log"]["columns"]
            if col not in cols or "elapsed_s" not in cols:
                series.append([])
                continue
            i, t = cols.index(col), cols.index("elapsed_s")
            series.append([(r[t], r[i]) for r in a["log"]["rows"] if r[i] is not None and r[t] is not None])
        pts = [p for s in series for p in s]
        draw.text((ox + m, 6), title, fill="black")
        draw.rectangle((ox + m, m, ox + pw - 10, ph - m), outline="#999999")
        if not pts:
            continue
        x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
        y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
        x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
        draw.text((ox + 2, m), f"{y1:.3g}", fill="black")
        draw.text((ox + 2, ph - m - 10), f"{y0:.3g}", fill="black")
        draw.text((ox + pw - 60, ph - m + 4), f"{x1:.0f} s", fill="black")

        def xy(p: tuple[float, float], ox: int = ox, x0: float = x0, x1: float = x1, y0: float = y0,
               y1: float = y1) -> tuple[float, float]:  # fmt: skip
            return (
                ox + m + (p[0] - x0) / (x1 - x0) * (pw - m - 10),
                ph - m - (p[1] - y0) / (y1 - y0) * (ph - 2 * m),
            )

        for j, s in enumerate(series):
            if len(s) > 1:
                draw.line([xy(p) for p in s], fill=colours[j % len(colours)], width=2)
            elif s:
                x, y = xy(s[0])
                draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colours[j % len(colours)])
    for j, a in enumerate(arms):
        y = ph + 5 + 20 * j
        draw.rectangle((m, y + 4, m + 14, y + 12), fill=colours[j % len(colours)])
        val = (a.get("eval") or {}).get("crohme_val") or {}
        draw.text(
            (m + 20, y), f"{a['name']}: {a['status']}, crohme_val {val.get('exprate', '-')}", fill="black"
        )
    img.save(png)


def arm_record(arm: Arm) -> dict[str, Any]:
    summary_path = arm.out / "summary.json"
    return {
        "name": arm.spec.name,
        "config": arm.spec.config,
        "set": arm.spec.set,
        "seed": arm.spec.seed,
        "init": arm.spec.init or None,
        "cores": arm.cores,
        "status": arm.status,
        "rc": arm.rc,
        "reason": arm.reason or None,
        "seconds": round(arm.seconds, 1),
        "summary": json.loads(summary_path.read_text()) if summary_path.is_file() else None,
        "log": read_log(arm.out / "log.csv"),
    }


def _holdout(run: Path) -> str:
    """The validation split a run trained with (its train_config.json)."""
    return json.loads((run / "train_config.json").read_text())["train"].get("holdout", "")


def arm_overrides(
    spec: ArmSpec, i: int, k: int, settings: StudySettings, extra_set: list[str] | None = None
) -> list[str]:
    """The train overrides of arm `i` of `k`, later ones winning: its own synthetic draws (the same
    distribution; no expression in two arms), its share of the study's smoke floor, its spec's own
    overrides, then `extra_set` (a dry run's)."""
    floor = settings.smoke_samples_per_s
    shared = [f"smoke_min_samples_per_s={floor / k:g}"] if floor > 0 else []
    return [f"synth_seed={i + 1}", *shared, *spec.set, *(extra_set or [])]


def run_study(
    cfg: StudyConfig,
    data: Path,
    out: Path,
    work: Path,
    device: str = "cuda",
    train_minutes: float = 6.0,
    eval_seconds: float = 20.0,
    part_mib: float | None = None,
    python: str = sys.executable,
    extra_set: list[str] | None = None,
    seconds_left: float | None = None,
) -> dict[str, Any]:
    """Run the study (see the module doc); `work` holds the arms' runs, `out` what comes back;
    `extra_set`: train overrides for every arm (after its own: a dry run's smaller data);
    `seconds_left`: the window's time from now (None: no limit).

    After training, what matters most comes first and is written at once, so that a window cut short
    still brings it back: every arm's crohme_val (the ranking) and study.json with curves.png, then the
    best arm packed, then, while time is left, every arm's school_val and the best one's test sets."""
    from seq2latex.training.window import EVAL_SOURCES, PART_MIB, evaluate_run, pack_model

    t0 = time.monotonic()
    cap = machine_capacity(device)
    s = cfg.study
    k = cap.arms_that_fit(s, len(cfg.arms))
    shares = core_shares(cap.cores, k, s.cores_per_arm)
    arms = [
        Arm(replace(spec, set=arm_overrides(spec, i, k, s, extra_set)), work / spec.name, shares[i])
        for i, spec in enumerate(cfg.arms[:k])
    ]
    print(
        f"+ study: {k} of {len(cfg.arms)} arms on {cap.device} ({cap.free_gib:.0f} GiB free, "
        f"{len(cap.cores)} cores; {s.arm_memory_gib:g} GiB and {s.cores_per_arm} cores an arm): "
        + ", ".join(f"{a.spec.name} on cores {a.cores}" for a in arms),
        flush=True,
    )
    run_arms(arms, data, device, train_minutes, s, python=python)
    records = [arm_record(a) for a in arms]
    finished = [
        (r, a) for r, a in zip(records, arms, strict=True) if (a.out / "best").is_dir() and a.status == "ok"
    ]

    def left() -> float:
        return float("inf") if seconds_left is None else seconds_left - (time.monotonic() - t0)

    def evaluate(into: dict[str, Any], run: Path, sets: tuple[str, ...]) -> None:
        """`sets` of `run`'s best/ into `into`, each time-boxed to what the window has left."""
        box = min(eval_seconds, max(1.0, (left() - EVAL_RESERVE_S) / (2 * len(sets))))
        into.update(evaluate_run(run / "best", data, _holdout(run), device, box, sets))

    for rec, arm in finished:  # the ranking first: crohme_val of every arm
        evaluate(rec.setdefault("eval", {}), arm.out, ARM_EVAL_SETS[:1])
    ranked = [r for r in records if (r.get("eval") or {}).get("crohme_val")]
    ranked.sort(
        key=lambda r: (r["eval"]["crohme_val"]["exprate"], -r["eval"]["crohme_val"]["loss"]), reverse=True
    )
    best = ranked[0]["name"] if ranked else None
    out.mkdir(parents=True, exist_ok=True)
    summaries = [r["summary"] for r in records if r["summary"]]
    report: dict[str, Any] = {
        "device": cap.device,
        "arms": k,
        "arms_planned": [a.name for a in cfg.arms],
        "capacity": {"free_gib": round(cap.free_gib, 1), "cores": len(cap.cores), **vars(s)},
        "train_minutes": train_minutes,
        "aggregate_samples_per_s": round(sum(x["samples_per_s"] for x in summaries), 1),
        # the real expressions are every arm's; the synthetic ones each arm's own draws
        "distinct_expressions": max((x.get("real_expressions") or 0 for x in summaries), default=0)
        + sum(x["synthetic"]["placed"] for x in summaries),
        "best_arm": best,
        "ranking": [r["name"] for r in ranked],
        "skipped": [],  # the evaluations the window's time left out
        "per_arm": records,
    }

    def write() -> None:
        report["seconds"] = round(time.monotonic() - t0, 1)
        (out / STUDY_FILE).write_text(json.dumps(report, indent=1) + "\n")

    write()
    plot_arms(records, out / CURVES_FILE)
    if best is None:
        return report
    run = work / best
    report["parts"] = [p.name for p in pack_model(run, out, part_mib or PART_MIB)]
    write()
    # while time is left: school_val of every arm, then the best arm's test sets (reported, never chosen on)
    tests: dict[str, Any] = {}
    later = [(rec["eval"], arm.out, rec["name"], ARM_EVAL_SETS[1:]) for rec, arm in finished]
    later.append((tests, run, best, tuple(n for n, _ in EVAL_SOURCES if n not in ARM_EVAL_SETS)))
    for into, arm_run, name, sets in later:
        if left() < EVAL_RESERVE_S + MIN_EVAL_S * len(sets):
            report["skipped"].append(f"{name}: {', '.join(sets)}")
            continue
        evaluate(into, arm_run, sets)
    full = {**ranked[0]["eval"], **tests, "arm": best}
    (out / "eval.json").write_text(json.dumps(full, indent=2) + "\n")
    write()
    return report


def bench_study(
    cfg: StudyConfig,
    data: Path,
    work: Path,
    ks: list[int],
    seconds: float,
    device: str = "cuda",
    python: str = sys.executable,
) -> dict[str, Any]:
    """Samples/s of the study's first arm run K times side by side, for each K of `ks` (no evaluation):
    {"device", "runs": [{"k", "per_arm": [...], "aggregate_samples_per_s"}]}."""
    cap = machine_capacity(device)
    base = cfg.arms[0]
    runs = []
    for k in ks:
        shares = core_shares(cap.cores, k, max(1, len(cap.cores) // k) if k else 1)
        arms = [
            Arm(
                ArmSpec(f"{base.name}-{i}", base.config, [*base.set, "val_every=1000000000"], base.seed + i),
                work / f"k{k}" / str(i),
                shares[i],
            )  # fmt: skip
            for i in range(k)
        ]
        run_arms(arms, data, device, seconds / 60.0, cfg.study, python=python)
        rates = [(arm_record(a)["summary"] or {}).get("samples_per_s", 0.0) for a in arms]
        runs.append({"k": k, "per_arm": rates, "status": [a.status for a in arms],
                     "aggregate_samples_per_s": round(sum(rates), 1)})  # fmt: skip
    return {"device": cap.device, "cores": len(cap.cores), "seconds": seconds, "runs": runs}
