"""The training loop: one ACT segment and one optimizer step per batch, the carry kept across batches.

The trainer receives built objects (run.py wires them) and never parses config or picks files.
Its own state (step, ACT carry, RNG) is saved with every checkpoint, so a run killed at any moment
resumes from its last checkpoint on the same trajectory, bit for bit on CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch

from hrm.data.loader import TrainLoader
from hrm.data.prefetch import Prefetcher
from hrm.models import ACTModel, Carry
from hrm.train.distributed import DistInfo, all_reduce_sum, barrier
from hrm.train.ema import EMA
from hrm.train.metrics_log import MetricsLog
from hrm.train.schedule import lr_at


@dataclass
class TrainPlan:
    total_steps: int
    warmup_steps: int
    lr_min_ratio: float
    log_every: int
    eval_every: int
    checkpoint_every: int
    max_minutes: float = 0.0
    progress: bool = True


class Trainer:
    def __init__(self, *, plan: TrainPlan, model: ACTModel, step_fn: Callable, optimizers: list[torch.optim.Optimizer],
                 base_lrs: list[float], ema: EMA | None, loader: TrainLoader | Prefetcher, device: torch.device,
                 dist_info: DistInfo, log: MetricsLog, evaluate: Callable[[int], dict[str, float]] | None,
                 save_checkpoint: Callable[[int], None]) -> None:
        self.plan = plan
        self.model = model
        self.step_fn = step_fn
        self.optimizers = optimizers
        self.base_lrs = base_lrs
        self.ema = ema
        self.loader = loader
        self.device = device
        self.dist = dist_info
        self.log = log
        self.evaluate = evaluate
        self.save_checkpoint = save_checkpoint
        self.step = 0
        self.carry: Carry | None = None
        self.last_eval: dict[str, float] = {}

    # ---- state -------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = {"step": self.step, "cpu_rng": torch.get_rng_state(),
                 "loader": self.loader.state_dict()}
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        elif self.device.type == "mps":
            state["mps_rng"] = torch.mps.get_rng_state()
        if self.carry is not None:
            state["carry"] = {k: v.detach().cpu() for k, v in self.carry.state_dict().items()}
        return state

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])
        torch.set_rng_state(state["cpu_rng"])
        if "cuda_rng" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        if "mps_rng" in state and self.device.type == "mps":
            torch.mps.set_rng_state(state["mps_rng"])
        self.loader.load_state_dict(state["loader"])
        self.carry = Carry.from_state_dict(state["carry"]).to(self.device) if "carry" in state else None

    # ---- one step ----------------------------------------------------------------------------
    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self.model.train()
        if self.carry is None:
            self.carry = self.model.initial_carry(batch)
        self.carry, loss, metrics, _ = self.step_fn(self.carry, batch)
        # Per-row losses are summed; dividing by the local batch makes DDP's gradient average the
        # mean over the global batch (the authors divide by the global batch and all-reduce a SUM).
        (loss / batch["inputs"].shape[0]).backward()
        lr_scale = lr_at(self.step + 1, 1.0, self.plan.warmup_steps, self.plan.total_steps, self.plan.lr_min_ratio)
        for optimizer, base_lr in zip(self.optimizers, self.base_lrs):
            for group in optimizer.param_groups:
                group["lr"] = base_lr * lr_scale
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        metrics["lr_scale"] = torch.tensor(lr_scale)
        return metrics

    def reduce_metrics(self, metrics: dict[str, torch.Tensor], global_batch: int) -> dict[str, float]:
        lr_scale = float(metrics.pop("lr_scale"))
        summed = all_reduce_sum(metrics, self.dist)
        count = max(float(summed.pop("count")), 1.0)
        out = {f"train/{k}": float(v) / (global_batch if k.endswith("loss") else count) for k, v in summed.items()}
        out["train/halted_rows"] = count
        out["train/lr"] = self.base_lrs[0] * lr_scale
        return out

    # ---- the loop ----------------------------------------------------------------------------
    def fit(self) -> dict[str, float]:
        plan = self.plan
        bar = None
        if self.dist.is_main and plan.progress:
            from tqdm import tqdm

            bar = tqdm(total=plan.total_steps, initial=self.step, unit="step", dynamic_ncols=True, desc="train")
        start = time.perf_counter()
        examples_per_step = self.loader.global_batch_size
        stopped_early = False
        while self.step < plan.total_steps:
            batch = {k: v.to(self.device, non_blocking=True) for k, v in next(self.loader).items()}
            metrics = self.train_step(batch)
            if self.step % plan.log_every == 0 or self.step == plan.total_steps:
                record = self.reduce_metrics(metrics, examples_per_step)
                record["train/loss"] = record["train/lm_loss"] + 0.5 * (
                    record.get("train/q_halt_loss", 0.0) + record.get("train/q_continue_loss", 0.0))
                record["loss"] = record["train/loss"]
                record["epoch"] = self.loader.epochs_done
                record["elapsed_s"] = time.perf_counter() - start
                self.log.write(self.step, record)
                if bar is not None:
                    bar.set_postfix(loss=f"{record['loss']:.4f}", exact=f"{record.get('train/exact_accuracy', 0):.3f}",
                                    refresh=False)
            if bar is not None:
                bar.update(1)
            out_of_time = plan.max_minutes > 0 and self._elapsed_minutes(start) >= plan.max_minutes
            if out_of_time and self.step < plan.total_steps:
                stopped_early = True
            if plan.eval_every and self.step % plan.eval_every == 0 and self.step < plan.total_steps and not stopped_early:
                self.run_eval()
            if self.step % plan.checkpoint_every == 0 or self.step == plan.total_steps or stopped_early:
                self.save_checkpoint(self.step)
            if stopped_early:
                break
        if bar is not None:
            bar.close()
        self.run_eval()
        return self.last_eval

    def _elapsed_minutes(self, start: float) -> float:
        """Wall-clock minutes, agreed across ranks so every rank stops at the same step."""
        minutes = torch.tensor((time.perf_counter() - start) / 60.0, dtype=torch.float64)
        return float(all_reduce_sum({"t": minutes}, self.dist)["t"]) / self.dist.world_size

    def run_eval(self) -> None:
        if self.evaluate is None:
            return
        barrier(self.dist)
        if self.ema is not None:
            with self.ema.applied(self.model):
                metrics = self.evaluate(self.step)
        else:
            metrics = self.evaluate(self.step)
        self.last_eval = metrics
        self.log.write(self.step, {f"eval/{k}": v for k, v in metrics.items()})
