"""Train seq2latex: symbol pre-training or expression training (see seq2latex/training/).

    python train.py --data ../shared/crohme --out runs/x [--decoder transformer|gru]
        [--stage symbols|expressions] [--max-steps N] [--max-minutes M] [--batch-size B]
        [--limit-train N] [--limit-val N] [--device auto|cpu|cuda] [--resume] [--init DIR]
        [--config FILE.yaml]
    torchrun --nproc_per_node 2 train.py ...   (DDP; gloo on CPU, nccl on CUDA)

Command-line flags override the YAML config, which overrides the defaults in seq2latex/config.py.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from seq2latex.config import ModelConfig, TrainConfig, load_yaml_configs


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="train.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data", required=True, type=Path, help="CROHME root (or a source folder / zip)")
    p.add_argument(
        "--out", required=True, type=Path, help="output folder (checkpoint, best/, log.csv, curves.png)"
    )
    p.add_argument("--decoder", choices=["transformer", "gru"], default=None)
    p.add_argument("--stage", choices=["symbols", "expressions"], default=None)
    p.add_argument(
        "--freeze-encoder",
        action="store_const",
        const=True,
        default=None,
        help="keep the encoder's weights (with --stage symbols and --init: retrain only the symbol head)",
    )
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--max-minutes", type=float, default=None, help="time budget of this invocation")
    p.add_argument(
        "--max-cpu-minutes",
        type=float,
        default=None,
        help="training CPU-time budget of this invocation (equal-budget studies; robust to a busy machine)",
    )
    p.add_argument(
        "--schedule-minutes",
        type=float,
        default=None,
        help="cosine learning-rate decay over this many wall-clock minutes of this run (not steps)",
    )
    p.add_argument(
        "--schedule-cpu-minutes",
        type=float,
        default=None,
        help="cosine learning-rate decay over this many training CPU-minutes (give it your --max-cpu-minutes)",
    )
    p.add_argument(
        "--holdout",
        default=None,
        help="validation split: a committed name (default crohme_val) or a name-list .txt; '' = none",
    )
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--limit-train", type=int, default=None)
    p.add_argument("--limit-val", type=int, default=None)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt if present")
    p.add_argument("--init", type=Path, default=None, help="model directory to initialise the encoder from")
    p.add_argument(
        "--init-scope",
        choices=["encoder", "all"],
        default="encoder",
        help="what --init copies: encoder + symbol heads (default), or all matching tensors (fine-tune)",
    )
    p.add_argument("--config", type=Path, default=None, help="YAML with `model:` and `train:` sections")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--val-every", type=int, default=None)
    p.add_argument("--ckpt-minutes", type=float, default=None)
    p.add_argument("--sampling", choices=["none", "linear", "exponential", "inverse_sigmoid"], default=None)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any train config key, e.g. --set batch_size=512 --set compile=true (YAML values; repeatable)",
    )
    p.add_argument(
        "--model-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any model config key, dotted for the parts, e.g. --model-set decoder.dropout=0.3 (repeatable)",
    )
    p.add_argument("--threads", type=int, default=0, help="CPU threads per process (0 = auto)")
    p.add_argument("--stop-at-step", type=int, default=0, help=argparse.SUPPRESS)  # simulated kill (tests)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def resolve_configs(args: argparse.Namespace) -> tuple[ModelConfig, TrainConfig]:
    model_cfg, train_cfg = load_yaml_configs(args.config) if args.config else (ModelConfig(), TrainConfig())
    if args.decoder:
        model_cfg = replace(model_cfg, decoder=replace(model_cfg.decoder, kind=args.decoder))
    overrides = {
        "stage": args.stage,
        "max_steps": args.max_steps,
        "max_minutes": args.max_minutes,
        "max_cpu_minutes": args.max_cpu_minutes,
        "holdout": args.holdout,
        "schedule_minutes": args.schedule_minutes,
        "schedule_cpu_minutes": args.schedule_cpu_minutes,
        "batch_size": args.batch_size,
        "limit_train": args.limit_train,
        "limit_val": args.limit_val,
        "seed": args.seed,
        "lr": args.lr,
        "val_every": args.val_every,
        "ckpt_minutes": args.ckpt_minutes,
        "freeze_encoder": args.freeze_encoder,
    }
    train_cfg = replace(train_cfg, **{k: v for k, v in overrides.items() if v is not None})
    if args.set:
        import yaml

        from seq2latex.config import from_dict, to_dict

        pairs = {}
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep:
                raise SystemExit(f"--set takes KEY=VALUE, not {item!r}")
            pairs[key.strip()] = yaml.safe_load(value)
        try:
            train_cfg = from_dict(TrainConfig, {**to_dict(train_cfg), **pairs})
        except (ValueError, TypeError) as exc:
            raise SystemExit(f"--set: {exc}") from None
    if args.model_set:
        model_cfg = _model_overrides(model_cfg, args.model_set)
    if args.sampling:
        train_cfg = replace(train_cfg, sampling=replace(train_cfg.sampling, kind=args.sampling))
    return model_cfg, train_cfg


def _model_overrides(model_cfg: ModelConfig, items: list[str]) -> ModelConfig:
    """`--model-set decoder.dropout=0.3 --model-set preprocess_max_height=256`: YAML values by dotted key."""
    import yaml

    from seq2latex.config import from_dict, to_dict

    tree = to_dict(model_cfg)
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--model-set takes KEY=VALUE, not {item!r}")
        *parents, leaf = key.strip().split(".")
        node = tree
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise SystemExit(f"--model-set: no model config part {part!r} in {key!r}")
            node = node[part]
        node[leaf] = yaml.safe_load(value)
    try:
        return from_dict(ModelConfig, tree)
    except (ValueError, TypeError) as exc:
        raise SystemExit(f"--model-set: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from seq2latex.training import SMOKE_EXIT_CODE, RunOptions, SmokeCheckFailed, Trainer, cleanup_distributed

    model_cfg, train_cfg = resolve_configs(args)
    opts = RunOptions(
        data=args.data,
        out=args.out,
        device=args.device,
        resume=args.resume,
        init=args.init,
        init_scope=args.init_scope,
        stop_at_step=args.stop_at_step,
        progress=not args.no_progress,
        threads=args.threads,
    )
    try:
        trainer = Trainer(model_cfg, train_cfg, opts)
        result = trainer.run()
    except SmokeCheckFailed as exc:
        print(f"smoke check failed: {exc}", file=sys.stderr, flush=True)
        return SMOKE_EXIT_CODE
    finally:
        cleanup_distributed()
    if trainer.dist.main:
        metric = "symbol accuracy" if train_cfg.stage == "symbols" else "ExpRate"
        print(
            f"step {result.step}: best val {metric} {result.best_metric:.2f} "
            f"(last {result.last_metric}) -> {result.out}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
