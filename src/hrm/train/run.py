"""Wires a training run together: config -> dataset -> model -> optimizers -> trainer.

Nothing here is a training decision; see trainer.py for the loop. A run folder holds
config.yaml, metrics.jsonl, tensorboard/, checkpoints/ and learning_curves.png. Starting a run in a
folder that has checkpoints resumes it (architecture and data keys must match the saved config).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from hrm.config import dump_yaml, load_config, read_yaml, to_plain
from hrm.data.augment import AUGMENTATIONS
from hrm.data.format import DatasetSplit, read_split
from hrm.data.loader import TrainLoader
from hrm.data.prefetch import Prefetcher
from hrm.errors import CheckpointError, ConfigError, DatasetError
from hrm.eval.evaluate import evaluate
from hrm.eval.task_metrics import task_metrics
from hrm.models import ACTLoss, ACTModel, build_model
from hrm.train.checkpoint import Checkpointer, load_model_state, new_run_id
from hrm.train.distributed import DistInfo, barrier, init_distributed, shutdown
from hrm.train.ema import EMA
from hrm.train.metrics_log import MetricsLog, plot_curves
from hrm.train.optim import AdamATan2, SignSGD
from hrm.train.run_config import RESUMABLE_CHANGES, RunConfig
from hrm.train.trainer import Trainer, TrainPlan


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(name)


def train_from_cli(config: str, out: str | None, overrides: list[str]) -> dict[str, float]:
    cfg = load_config(RunConfig, config, overrides)
    run_dir = Path(out) if out else Path("runs") / Path(config).stem
    return train(cfg, run_dir)


def check_resume_config(cfg: RunConfig, run_dir: Path) -> None:
    """A resumed run must keep every key that shapes its trajectory."""
    saved_path = run_dir / "config.yaml"
    if not saved_path.exists():
        return
    saved, now = _flatten(read_yaml(saved_path)), _flatten(to_plain(cfg))
    conflicts = [k for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k)
                 and k.split(".")[0] not in RESUMABLE_CHANGES and k not in RESUMABLE_CHANGES]
    if conflicts:
        details = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in conflicts[:4])
        raise ConfigError(f"run folder '{run_dir}' holds a run with a different config ({details}); "
                          "use another --out or the same settings")


def _flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return flat


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def load_datasets(cfg: RunConfig, run_dir: Path, dist_info: DistInfo) -> tuple[DatasetSplit, DatasetSplit | None, Path]:
    data_path = Path(cfg.data.path) if cfg.data.path else run_dir / "data"
    if not cfg.data.path and not (data_path / cfg.data.train_split / "dataset.json").exists():
        if dist_info.is_main:
            from hrm.data.builtin import BUILTIN_DATASETS  # builders need numba; import only when building

            BUILTIN_DATASETS.get(cfg.data.builtin)(data_path, cfg.seed)
        barrier(dist_info)
    train_split = read_split(data_path, cfg.data.train_split)
    eval_split = None
    if (data_path / cfg.data.eval_split).exists():
        eval_split = read_split(data_path, cfg.data.eval_split)
        for key in ("seq_len", "vocab_size"):
            if getattr(eval_split.metadata, key) != getattr(train_split.metadata, key):
                raise DatasetError(f"'{data_path}': {key} differs between {cfg.data.train_split} and {cfg.data.eval_split}")
    return train_split, eval_split, data_path


def fill_model_shape(cfg: RunConfig, split: DatasetSplit) -> None:
    meta = split.metadata
    cfg.model.seq_len = meta.seq_len
    cfg.model.vocab_size = meta.vocab_size
    cfg.model.num_puzzle_ids = meta.num_puzzle_identifiers


def total_steps_of(cfg: RunConfig, split: DatasetSplit) -> int:
    if cfg.max_steps > 0:
        return cfg.max_steps
    meta = split.metadata
    return max(1, int(cfg.epochs * meta.total_groups * meta.mean_puzzle_examples / cfg.global_batch_size))


def build_optimizers(cfg: RunConfig, model: ACTModel) -> tuple[list[torch.optim.Optimizer], list[float]]:
    optimizers: list[torch.optim.Optimizer] = [
        AdamATan2(model.parameters(), lr=0.0, betas=cfg.optim.betas, weight_decay=cfg.optim.weight_decay)]
    base_lrs = [cfg.optim.lr]
    embedding = getattr(model.reasoner, "puzzle_emb", None)
    if embedding is not None:
        optimizers.append(SignSGD(embedding, lr=0.0, weight_decay=cfg.optim.puzzle_emb_weight_decay))
        base_lrs.append(cfg.optim.puzzle_emb_lr)
    return optimizers, base_lrs


def train(cfg: RunConfig, run_dir: str | Path) -> dict[str, float]:
    run_dir = Path(run_dir)
    device = pick_device(cfg.device, int(os.environ.get("LOCAL_RANK", 0)))
    dist_info = init_distributed(device.type)
    try:
        return _train(cfg, run_dir, device, dist_info)
    finally:
        shutdown(dist_info)


def _train(cfg: RunConfig, run_dir: Path, device: torch.device, dist_info: DistInfo) -> dict[str, float]:
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpointer = Checkpointer(run_dir, cfg.keep_checkpoints, dist_info.rank, dist_info.world_size)
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    train_split, eval_split, data_path = load_datasets(cfg, run_dir, dist_info)
    fill_model_shape(cfg, train_split)
    total_steps = total_steps_of(cfg, train_split)
    resume_from = checkpointer.latest()
    if resume_from is not None:
        check_resume_config(cfg, run_dir)

    torch.manual_seed(cfg.seed)  # the same on every rank: identical init and identical global RNG draws
    model = build_model(cfg.model).to(device)
    model.shard = (dist_info.rank, dist_info.world_size)
    if cfg.fused_kernels and device.type == "cuda":
        from hrm.nn.fused import enable

        if not enable(model) and dist_info.is_main:
            print("hrm: fused_kernels=true but Triton does not import here: running the PyTorch path", flush=True)
    optimizers, base_lrs = build_optimizers(cfg, model)
    ema = EMA(model, cfg.optim.ema_decay) if cfg.optim.ema else None
    augment = AUGMENTATIONS.get(cfg.data.augment) if cfg.data.augment else None
    loader = TrainLoader(train_split, cfg.global_batch_size, cfg.seed, dist_info.rank, dist_info.world_size,
                         augment=augment)
    if cfg.data.prefetch > 0:
        loader = Prefetcher(loader, cfg.data.prefetch, pin_memory=device.type == "cuda")

    step_fn = ACTLoss(model)
    if dist_info.enabled:
        from torch.nn.parallel import DistributedDataParallel

        # The puzzle table is a large buffer updated identically on every rank: never broadcast it.
        step_fn = DistributedDataParallel(step_fn, broadcast_buffers=False)
    if cfg.compile == "true" or (cfg.compile == "auto" and device.type == "cuda"):
        step_fn = torch.compile(step_fn, dynamic=False)

    resolved = to_plain(cfg)
    run_id = new_run_id()
    if resume_from is not None:
        state = checkpointer.load(resume_from)
        run_id = state["meta"].get("run_id", run_id)
        load_model_state(model, {k: v.to(device) for k, v in state["model"].items()}, resume_from)
        if len(state["optim"]) != len(optimizers):
            raise CheckpointError(f"checkpoint '{resume_from}' has {len(state['optim'])} optimizer states, "
                                  f"the model needs {len(optimizers)}")
        for optimizer, optim_state in zip(optimizers, state["optim"]):
            optimizer.load_state_dict(optim_state)
        if ema is not None:
            if state["ema"] is None:
                raise CheckpointError(f"checkpoint '{resume_from}' has no EMA but optim.ema is on")
            ema.load_state_dict(state["ema"])
    if dist_info.is_main:
        write_atomic(run_dir / "config.yaml", dump_yaml(cfg))

    log = MetricsLog(run_dir, int(resume_from.name.split("_")[1]) if resume_from else 0, cfg.log.tensorboard,
                     cfg.log.wandb_project, {**resolved, "run_id": run_id}, enabled=dist_info.is_main)

    eval_batch = cfg.eval_batch_size or cfg.global_batch_size
    task = task_metrics(data_path)

    def run_eval(step: int) -> dict[str, float]:
        if eval_split is None:
            return {}
        result = evaluate(model, eval_split, eval_batch, device, cfg.halt_caps or None, cfg.data.eval_max_examples,
                          dist_info, progress=cfg.log.progress and dist_info.is_main)
        return {**result.metrics, **task(eval_split, result)}

    trainer = Trainer(plan=TrainPlan(total_steps, cfg.optim.lr_warmup_steps, cfg.optim.lr_min_ratio, cfg.log_every,
                                     cfg.eval_every, cfg.checkpoint_every, cfg.max_minutes, cfg.log.progress),
                      model=model, step_fn=step_fn, optimizers=optimizers, base_lrs=base_lrs, ema=ema, loader=loader,
                      device=device, dist_info=dist_info, log=log, evaluate=run_eval,
                      save_checkpoint=lambda step: None)

    def save(step: int) -> None:
        meta = {"run_id": run_id, "config": resolved, "data_path": str(data_path.resolve()),
                "num_parameters": model.reasoner.num_parameters(), "torch": torch.__version__}
        checkpointer.save(step, meta, model.state_dict(), ema.state_dict() if ema else None,
                          [o.state_dict() for o in optimizers], trainer.state_dict(), lambda: barrier(dist_info))
        if dist_info.is_main and cfg.log.plot:
            plot_curves(run_dir / "metrics.jsonl", run_dir / "learning_curves.png")

    trainer.save_checkpoint = save
    if resume_from is not None:
        trainer.load_state_dict(state["rank"])
    if dist_info.is_main:
        print(f"hrm: {cfg.model.name} with {model.reasoner.num_parameters():,} parameters on {device}; "
              f"{'resuming at step ' + str(trainer.step) if resume_from else 'starting'}; "
              f"{total_steps} steps; run folder {run_dir}", flush=True)
    try:
        final = trainer.fit()
    finally:
        if isinstance(loader, Prefetcher):
            loader.close()
    log.close()
    if dist_info.is_main:
        if cfg.log.plot:
            plot_curves(run_dir / "metrics.jsonl", run_dir / "learning_curves.png")
        if final:
            write_atomic(run_dir / "eval.json", json.dumps({"step": trainer.step, **final}, indent=1))
    return final
