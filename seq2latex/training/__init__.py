"""The training loop behind train.py, in parts: the trainer (`trainer`), process set-up and the
learning-rate schedule (`environment`), validation and the batched greedy evaluation (`validation`),
and the curves (`plotting`). The GPU-resident data and the device-side augmentation it can train on
live in `data.resident` and `data.device_augment`."""

from seq2latex.training.environment import DistInfo, cleanup_distributed, lr_factor, setup_environment
from seq2latex.training.plotting import plot_curves
from seq2latex.training.trainer import (
    BEST_DIR,
    BEST_RAW_DIR,
    CHECKPOINT_FILE,
    LOG_COLUMNS,
    LOG_FILE,
    PLOT_FILE,
    SMOKE_EXIT_CODE,
    RunOptions,
    SmokeCheckFailed,
    Trainer,
    TrainResult,
)
from seq2latex.training.validation import ValItem, greedy_validation, make_val_items

__all__ = [
    "BEST_DIR",
    "BEST_RAW_DIR",
    "CHECKPOINT_FILE",
    "LOG_COLUMNS",
    "LOG_FILE",
    "PLOT_FILE",
    "SMOKE_EXIT_CODE",
    "DistInfo",
    "RunOptions",
    "SmokeCheckFailed",
    "TrainResult",
    "Trainer",
    "ValItem",
    "cleanup_distributed",
    "greedy_validation",
    "lr_factor",
    "make_val_items",
    "plot_curves",
    "setup_environment",
]
