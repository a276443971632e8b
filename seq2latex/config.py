"""Typed configs for the model and training; saved as JSON beside weights, loadable from YAML."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

T = TypeVar("T")


@dataclass
class EncoderConfig:
    """ViT encoder over height-normalised, variable-width images."""

    img_height: int = 64  # must match the preprocess height
    base_width: int = 512  # nominal width given to timm (any width works at run time)
    patch_size: int = 8  # total stride of the stem; the token grid is (H/p, W/p)
    conv_stem: bool = True  # log2(patch_size) stride-2 convs instead of a linear patch projection
    stem_channels: int = 32  # channels of the first stem conv (doubled per conv)
    stem_norm: Literal["layer", "batch", "none"] = "layer"  # norm after each stem conv
    # "conv": the small stem above. "resnet": a convolutional backbone before the ViT blocks (as timm's
    # hybrid ViTs): a stride-2 conv to stem_channels, then log2(patch_size) - 1 stages of `stem_blocks`
    # timm ResNet BasicBlocks, each stage halving the resolution and doubling the channels, then a 1x1
    # projection to embed_dim; the total stride is still patch_size (8 or 16). Needs conv_stem true.
    stem: Literal["conv", "resnet"] = "conv"
    stem_blocks: int = 2  # resnet stem: residual blocks per stage
    embed_dim: int = 192
    depth: int = 4
    num_heads: int = 4
    mlp_ratio: float = 4.0
    drop_rate: float = 0.0
    drop_path_rate: float = 0.0


@dataclass
class DecoderConfig:
    """Either a pre-LN Transformer decoder or a GRU decoder with Bahdanau attention."""

    kind: Literal["transformer", "gru"] = "transformer"
    d_model: int = 192  # transformer width / GRU embedding size
    num_layers: int = 3  # transformer only
    num_heads: int = 4  # transformer only
    ff_dim: int = 768  # transformer only
    hidden_size: int = 256  # GRU only
    attn_dim: int = 256  # GRU only
    coverage: bool = True  # GRU only: coverage term in the attention energy
    # Transformer only: attention refinement from past alignments (the idea of CoMER's ARM). In each
    # layer's cross-attention the coverage (the sum over earlier steps of this layer's attention and of
    # the layer below's refined attention, per head, as maps over the token grid) goes through a
    # `coverage_kernel` conv to `coverage_dim` channels, ReLU and a 1x1 conv to one map per head, which
    # is subtracted from the attention logits of the current step.
    cross_coverage: bool = False
    coverage_dim: int = 32
    coverage_kernel: int = 5
    dropout: float = 0.1
    max_len: int = 256  # longest token sequence (incl. <sos>/<eos>)
    tie_embeddings: bool = True  # transformer only


@dataclass
class ModelConfig:
    """Everything needed to rebuild `Seq2Latex`."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    vocab_size: int = 114
    num_symbol_classes: int = 0  # 0 disables the symbol classifier and count heads
    pad_id: int = 0
    sos_id: int = 1
    eos_id: int = 2
    preprocess_height: int = 64
    preprocess_max_width: int = 1024
    preprocess_max_height: int = 0  # > preprocess_height: symbol-preserving scale (data.preprocess)
    preprocess_symbol_height: float = 36.0
    symbol_size: int = 64  # side of the square single-symbol crops (symbol classifier input)
    # How traceGroup crops are drawn for the symbol head (data.symbols.SymbolPen): "fixed" stroke width,
    # or "ink", one physical pen per expression, which keeps the symbol's size in its stroke width.
    symbol_pen: Literal["fixed", "ink"] = "fixed"
    # Trained on right-to-left targets too (<eos> y_T ... y_1 <sos>, through the same decoder, as BTTR):
    # training doubles the decoder batch; decoding can rescore hypotheses with both directions.
    bidirectional: bool = False


@dataclass
class SamplingConfig:
    """Annealed scheduled sampling: probability of feeding the model's own prediction."""

    kind: Literal["none", "linear", "exponential", "inverse_sigmoid"] = "none"
    start: float = 0.0
    end: float = 0.25
    warmup_steps: int = 0  # probability stays at `start` for these steps
    ramp_steps: int = 1000  # steps after warm-up to (about) reach `end`


@dataclass
class TrainConfig:
    """Optimisation, data and bookkeeping settings of train.py."""

    stage: Literal["expressions", "symbols"] = "expressions"
    lr: float = 1e-3
    min_lr_ratio: float = 0.05  # cosine floor, as a fraction of lr
    weight_decay: float = 0.05
    warmup_steps: int = 200
    max_steps: int = 20000
    max_minutes: float = 0.0  # 0 = no time limit
    batch_size: int = 32
    grad_clip: float = 1.0
    label_smoothing: float = 0.0
    aux_count_weight: float = 0.1
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    seed: int = 0
    augment_strength: float = 0.0  # 0 disables photo-like augmentation
    train_sources: list[str] = field(default_factory=lambda: ["offline/train"])
    # > 0: the records of synthetic training sources (named synth*, e.g. offline/synth) are drawn
    # to synth_ratio x the real training records (seeded; repeated when too few); 0 = every source as is.
    synth_ratio: float = 0.0
    # Synthetic expressions written while training (data.synth.stream; resident path only): worker
    # processes (`synth_workers`) write fresh ones from the glyph bank `synth_bank`; the resident set
    # starts with synth_stream x the real records of them, and every `synth_refresh_every` steps up to
    # synth_refresh x the samples trained since are replaced by new ones (oldest first), so a window
    # repeats no synthetic expression. Captions of the sources not trained on (test sets, school_val)
    # and of the validation split are never written. 0 = off.
    synth_stream: float = 0.0
    synth_bank: str = ""
    synth_workers: int = 2
    synth_refresh: float = 0.25
    synth_refresh_every: int = 10
    synth_start_timeout_s: float = 600.0  # the initial synthetic set must be made within this
    synth_seed: int = -1  # the stream's draws (-1: `seed`); a study gives each arm its own
    # Validation (model selection, early stop) = the records of val_source named in the committed
    # held-out split (data/splits/<holdout>.txt, writer-disjoint from train); the training sources lose
    # those names. holdout "" validates on all of val_source (only for sources that are not trained on).
    val_source: str = "offline/train"
    holdout: str = "crohme_val"
    schedule_cpu_minutes: float = 0.0  # > 0: the cosine decays over this many training CPU-minutes, not steps
    schedule_minutes: float = 0.0  # > 0: ... over this many wall-clock minutes of this invocation (GPU runs)
    max_cpu_minutes: float = (
        0.0  # budget of training CPU time of this process (0 = none); equal-budget studies
    )
    val_every_cpu_minutes: float = 0.0  # also validate every this many training CPU-minutes (0 = off)
    ema_decay: float = 0.0  # exponential moving average of the weights (0 = off); validated and saved when on
    limit_train: int = 0  # 0 = all
    limit_val: int = 200  # 0 = all
    max_tokens: int = 150  # training captions with more tokens are skipped
    val_max_tokens: int = 0  # validate only on captions of at most this many tokens (0 = all)
    val_every: int = 500  # steps between validations (and at the end)
    target_metric: float = 0.0  # stop once validation reaches this (percent; 0 = never)
    ckpt_minutes: float = 5.0  # minutes between training checkpoints
    log_every: int = 10
    num_workers: int = 0
    preload_images: bool = False  # decode every offline image once before training (GPU runs, zips)
    symbol_sources: list[str] = field(default_factory=lambda: ["inkml/train"])  # symbol crops (traceGroups)
    symbol_val_source: str = "inkml/train"  # its holdout names' crops validate the symbol head
    # Multi-task expression training: every `symbol_every` steps a batch of `symbol_batch_size`
    # traceGroup crops goes through the same encoder and the symbol head, loss weight `symbol_weight`
    # (0 = off), so the one model serves /recognize and /symbol and the head never drifts.
    symbol_weight: float = 0.0
    symbol_every: int = 1
    symbol_batch_size: int = 32
    # The resident path's symbol task: crops packed once (`seq2latex synth symbols`, data.symbol_crops) kept
    # on the device and varied there (data.resident_symbols); "" renders the traceGroups of symbol_sources
    # once instead. `symbol_val_crops` validates the symbol head ("" = the holdout crops of symbol_val_source,
    # or none where crops were given and that source is absent).
    symbol_crops: str = ""
    symbol_val_crops: str = ""
    limit_val_symbols: int = 3000  # validation crops of the symbol head in multi-task training
    # Keep the encoder's weights as they are (--init a model): with stage "symbols" only the symbol head
    # learns, so the model reads formulas exactly as before while its head is retrained.
    freeze_encoder: bool = False
    # Also save every validation's model (the EMA weights when on) as OUT/validations/step_N, with its
    # figures in the card, so that a model can be chosen afterwards on more than one validation figure
    # (e.g. symbol accuracy without a lower ExpRate); best/ stays the ExpRate choice.
    keep_validations: bool = False
    # GPU-efficient path (scripts/gpu_train.sh). "resident": the training images are preprocessed once
    # and kept as uint8 tensors on the training device in `resident_buckets` fixed-width buckets, drawn
    # by index and augmented batch-wise on the device (data.device_augment); no loader workers.
    # "loader": a DataLoader over records, PIL augmentation per image (data.augment).
    data_path: Literal["loader", "resident"] = "loader"
    resident_buckets: int = 10
    # > 0: a resident bucket's batch holds at most this many pixels (fewer samples in tall or wide
    # buckets: symbol-preserving input scale); 0 = every batch `batch_size`
    resident_batch_pixels: int = 0
    preprocess_workers: int = 0  # processes that preprocess the resident images once (0 = cores, <= 16)
    log_rows_every: int = 1  # a log.csv row every N steps, losses averaged (N > 1: no host sync per step)
    val_batch: int = 32  # validation decoder batch
    val_raw: bool = True  # with EMA on, also validate the raw weights (False: the EMA weights only)
    val_max_seconds: float = 0.0  # time box of one validation (0 = none); `val_n` logs how many were read
    compile: bool = False  # torch.compile the encoder blocks (a few fixed shapes on the resident path)
    # CUDA only (seq2latex/training/graphs.py): the whole step (forward, backward, clip, fused AdamW, EMA)
    # captured as one CUDA graph per batch shape and replayed; ignored on the CPU
    cuda_graphs: bool = False
    # recompute the coverage refiners' hidden maps in the backward pass instead of keeping them (the
    # largest activations of a cross_coverage decoder): less memory, one more refiner pass; same gradients
    grad_checkpointing: bool = False
    # Smoke check of a GPU window: after `smoke_seconds` of training, print samples/s and memory; below
    # `smoke_min_samples_per_s` stop with a diagnosis (exit code 3) so that a retry fits the same window.
    smoke_seconds: float = 0.0
    smoke_min_samples_per_s: float = 0.0


def preprocess_config(cfg: ModelConfig) -> Any:
    """The `data.preprocess.PreprocessConfig` a model reads its images with."""
    from data.preprocess import PreprocessConfig

    return PreprocessConfig(
        height=cfg.preprocess_height,
        max_width=cfg.preprocess_max_width,
        max_height=cfg.preprocess_max_height,
        symbol_height=cfg.preprocess_symbol_height,
    )


def model_preprocess_config(model_dir: str | Path | None = None) -> Any:
    """The `PreprocessConfig` of a model directory (default: the shipped model), from its config.json only."""
    root = Path(model_dir) if model_dir else Path(__file__).resolve().parent / "weights" / "default"
    raw = json.loads((root / "config.json").read_text())
    return preprocess_config(from_dict(ModelConfig, raw["model"]))


def to_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as a JSON-ready dict."""
    return dataclasses.asdict(obj)


def _convert(tp: Any, value: Any) -> Any:
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return from_dict(tp, value)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if dataclasses.is_dataclass(arg) and isinstance(value, dict):
                return from_dict(arg, value)
        return value
    if origin is list and isinstance(value, (list, tuple)):
        (arg,) = typing.get_args(tp) or (Any,)
        return [_convert(arg, v) for v in value]
    if tp is float and isinstance(value, int):
        return float(value)
    if tp is float and isinstance(value, str):  # YAML 1.1 reads `1e-4` (no dot) as a string
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
    return value


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build dataclass `cls` from a (nested) dict; unknown keys raise ValueError."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    return cls(**{k: _convert(hints[k], v) for k, v in data.items()})


def save_json(obj: Any, path: str | Path) -> None:
    Path(path).write_text(json.dumps(to_dict(obj), indent=2, sort_keys=True) + "\n")


MAX_EXTENDS_DEPTH = 8  # `extends:` chain length before a config file is refused


def _read_yaml_config(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, dict[str, Any]]:
    """The `model:` / `train:` sections of a config file, after its `extends:` base (if any).

    `extends: FILE.yaml` (relative to this file) starts from that file's sections; each key given here
    then replaces the base's key as a whole (a nested mapping such as `encoder:` is replaced, not
    merged, so an override never inherits stray keys of another decoder kind)."""
    import yaml

    path = path.resolve()
    if path in chain:
        raise ValueError(f"{path}: `extends:` loops back to itself ({' -> '.join(p.name for p in chain)})")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise ValueError(f"{path}: more than {MAX_EXTENDS_DEPTH} levels of `extends:`")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a config is a mapping with the sections model and train")
    unknown = set(raw) - {"model", "train", "extends"}
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)} (expected model, train, extends)")
    sections: dict[str, dict[str, Any]] = {"model": {}, "train": {}}
    if raw.get("extends") is not None:
        sections = _read_yaml_config(path.parent / str(raw["extends"]), (*chain, path))
    for name in ("model", "train"):
        sections[name] = {**sections[name], **(raw.get(name) or {})}
    return sections


def load_yaml_configs(path: str | Path) -> tuple[ModelConfig, TrainConfig]:
    """Read `{model: {...}, train: {...}}` from a YAML file (missing keys keep their defaults; an
    `extends: BASE.yaml` key starts from another config file)."""
    sections = _read_yaml_config(Path(path))
    return from_dict(ModelConfig, sections["model"]), from_dict(TrainConfig, sections["train"])
