"""The run config: what `hrm train --config` reads. Plain values only; see configs/*.yaml.

Training keys sit at the top level (`max_steps=N`, `checkpoint_every=K` work on every config);
the model, data, optimizer and logging have their own sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from hrm.errors import ConfigError
from hrm.models.reasoner import ReasonerConfig


@dataclass(kw_only=True)
class DataConfig:
    path: str = ""  # dataset folder (authors' format); empty = RUN_DIR/data built by `builtin`
    builtin: str = ""  # name of a small built-in dataset to create when `path` is empty (e.g. mini_sudoku)
    augment: str = ""  # on-the-fly augmentation of every training row: "sudoku", "maze" or "dihedral" ("" = none)
    train_split: str = "train"
    eval_split: str = "test"
    eval_max_examples: int = 0  # evaluate on the first N test examples during training (0 = all)
    prefetch: int = 2  # training batches built ahead on a background thread (0 = inline); same batches either way

    def validate(self) -> None:
        if not self.path and not self.builtin:
            raise ConfigError("set data.path (a dataset folder) or data.builtin (a built-in dataset name)")
        if self.prefetch < 0:
            raise ConfigError("data.prefetch must be >= 0 (0 = build batches inline)")


@dataclass(kw_only=True)
class OptimConfig:
    lr: float = 1e-4
    lr_warmup_steps: int = 2000
    lr_min_ratio: float = 1.0  # cosine floor as a fraction of lr; 1.0 = constant after warmup
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.1
    puzzle_emb_lr: float = 1e-2
    puzzle_emb_weight_decay: float = 0.1
    ema: bool = False  # keep an EMA of the weights and evaluate/ship it (TRM)
    ema_decay: float = 0.999

    def validate(self) -> None:
        if self.lr <= 0 or self.puzzle_emb_lr < 0:
            raise ConfigError("optim.lr must be > 0 and optim.puzzle_emb_lr >= 0")
        if not 0.0 <= self.lr_min_ratio <= 1.0:
            raise ConfigError("optim.lr_min_ratio must be in [0, 1]")


@dataclass(kw_only=True)
class LogConfig:
    tensorboard: bool = True
    wandb_project: str = ""  # W&B project; empty = off (W&B is never required)
    plot: bool = True  # RUN_DIR/learning_curves.png
    progress: bool = True  # tqdm bar with rate and ETA


@dataclass(kw_only=True)
class RunConfig:
    model: ReasonerConfig
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    log: LogConfig = field(default_factory=LogConfig)
    global_batch_size: int = 768  # rows (ACT slots) per optimizer step, over all ranks
    epochs: int = 20000  # sets max_steps = epochs * groups * mean examples / batch (authors' rule)
    max_steps: int = 0  # optimizer steps (= ACT segments); > 0 overrides `epochs`
    max_minutes: float = 0.0  # stop (checkpoint, evaluate) after this much training wall-clock; 0 = no limit
    eval_every: int = 0  # steps between evaluations; 0 = only at the end
    eval_batch_size: int = 0  # 0 = global_batch_size
    checkpoint_every: int = 1000  # steps between checkpoints (and one at the end)
    keep_checkpoints: int = 2
    log_every: int = 1  # steps between metrics.jsonl records
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    compile: Literal["auto", "true", "false"] = "auto"  # torch.compile; auto = on CUDA only
    fused_kernels: bool = False  # Triton kernels for gradient-free CUDA bf16 blocks (hrm.nn.fused; TRM-MLP eval 1.3x)
    deterministic: bool = False  # torch.use_deterministic_algorithms (CPU runs are bit-exact anyway)
    halt_caps: list[int] = field(default_factory=list)  # segment caps reported for adaptive halting at eval

    def validate(self) -> None:
        if self.global_batch_size < 1:
            raise ConfigError("global_batch_size must be >= 1")
        if self.max_steps < 0 or self.epochs < 0:
            raise ConfigError("max_steps and epochs must be >= 0")
        if self.checkpoint_every < 1 or self.log_every < 1 or self.eval_every < 0:
            raise ConfigError("checkpoint_every and log_every must be >= 1, eval_every >= 0")
        if self.keep_checkpoints < 1:
            raise ConfigError("keep_checkpoints must be >= 1")


# Keys that may differ when a run is resumed (they do not change the trajectory).
RESUMABLE_CHANGES = {"max_steps", "epochs", "eval_every", "checkpoint_every", "keep_checkpoints", "log_every",
                     "log", "device", "max_minutes", "compile", "eval_batch_size", "halt_caps", "data.eval_max_examples",
                     "data.prefetch"}
