"""Adaptive computation time around a reasoner: the carry, halting by Q-learning, the ACT loss.

Each call runs ONE segment for every row of the batch. Rows that halted on the previous call are
reset and take the new batch's row; the others keep their example and state (their row of the new
batch is dropped), exactly as the authors' ACT v1 wrapper. Training halts a row when the Q head
says so (q_halt > q_continue, or q_halt > 0 for halt-only TRM), with exploration that can only
postpone halting; evaluation always runs `max_segments` segments.

The Q-continue target (HRM) comes from a second, gradient-free segment from the new carry on the
same data: sigmoid(next q_halt if last segment else max(next q_halt, next q_continue)), no replay
buffer or target network (as PQN).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hrm.models.reasoner import Reasoner
from hrm.nn.losses import IGNORE_LABEL_ID, TOKEN_LOSSES

BATCH_KEYS = ("inputs", "labels", "puzzle_identifiers")


@dataclass
class Carry:
    z_high: torch.Tensor  # [b, l, d]
    z_low: torch.Tensor  # [b, l, d]
    steps: torch.Tensor  # [b] int32, segments run on the current example
    halted: torch.Tensor  # [b] bool, take a new example on the next call
    batch: dict[str, torch.Tensor]  # the examples the rows currently hold

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"z_high": self.z_high, "z_low": self.z_low, "steps": self.steps, "halted": self.halted,
                **{f"batch.{k}": v for k, v in self.batch.items()}}

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> "Carry":
        batch = {k.split(".", 1)[1]: v for k, v in state.items() if k.startswith("batch.")}
        return cls(state["z_high"], state["z_low"], state["steps"], state["halted"], batch)

    def to(self, device: torch.device | str) -> "Carry":
        return Carry(self.z_high.to(device), self.z_low.to(device), self.steps.to(device), self.halted.to(device),
                     {k: v.to(device) for k, v in self.batch.items()})


class ACTModel(nn.Module):
    def __init__(self, reasoner: Reasoner) -> None:
        super().__init__()
        self.reasoner = reasoner
        self.config = reasoner.config
        self.shard = (0, 1)  # (rank, world size) of data-parallel training

    def _global_draw(self, sampler, like: torch.Tensor, *bounds: int) -> torch.Tensor:
        """Random draws for the GLOBAL batch, sliced to this rank's rows: every rank consumes the
        RNG identically, so data-parallel training takes the same decisions as one process."""
        rank, world = self.shard
        size = (like.shape[0] * world,)
        draw = sampler(*bounds, size, dtype=like.dtype, device=like.device)
        return draw[rank * like.shape[0]:(rank + 1) * like.shape[0]]

    def initial_carry(self, batch: dict[str, torch.Tensor]) -> Carry:
        """Every row starts halted, so the first call resets it and takes its example."""
        size, device = batch["inputs"].shape[0], batch["inputs"].device
        z_high, z_low = self.reasoner.initial_states(size, device)
        return Carry(z_high, z_low, torch.zeros(size, dtype=torch.int32, device=device),
                     torch.ones(size, dtype=torch.bool, device=device),
                     {k: torch.zeros_like(v) for k, v in batch.items()})

    def forward(self, carry: Carry, batch: dict[str, torch.Tensor]) -> tuple[Carry, dict[str, torch.Tensor]]:
        z_high, z_low = self.reasoner.reset(carry.halted, carry.z_high, carry.z_low)
        steps = torch.where(carry.halted, 0, carry.steps)
        current = {k: torch.where(carry.halted.view(-1, *[1] * (v.ndim - 1)), batch[k], v) for k, v in carry.batch.items()}

        z_high, z_low, logits, q_halt, q_continue = self.reasoner(z_high, z_low, current["inputs"],
                                                                  current["puzzle_identifiers"])
        outputs = {"logits": logits, "q_halt_logits": q_halt, "q_continue_logits": q_continue}

        with torch.no_grad():
            steps = steps + 1
            is_last = steps >= self.config.max_segments
            halted = is_last
            if self.training and self.config.max_segments > 1:
                wants_halt = q_halt > q_continue if self.config.act_continue else q_halt > 0
                halted = halted | wants_halt
                explore = self._global_draw(torch.rand, q_halt) < self.config.halt_exploration_prob
                min_steps = explore * self._global_draw(torch.randint, steps, 2, self.config.max_segments + 1)
                halted = halted & (steps >= min_steps)
                if self.config.act_continue:
                    *_, next_q_halt, next_q_continue = self.reasoner(z_high, z_low, current["inputs"],
                                                                     current["puzzle_identifiers"])
                    target = torch.where(is_last, next_q_halt, torch.maximum(next_q_halt, next_q_continue))
                    outputs["target_q_continue"] = torch.sigmoid(target)
        return Carry(z_high, z_low, steps, halted, current), outputs


class ACTLoss(nn.Module):
    """Wraps an ACTModel: one segment, then the deep-supervision loss on every row.

    loss = sum_b mean_t CE_bt + 0.5 * (BCE(q_halt, row exactly right) + BCE(q_continue, target)),
    summed (not averaged) over the batch; the trainer divides by the global batch size. Metrics are
    sums over rows that halted on this call (divide by `count`).
    """

    def __init__(self, model: ACTModel) -> None:
        super().__init__()
        self.model = model
        self.token_loss = TOKEN_LOSSES[model.config.loss]

    def forward(self, carry: Carry, batch: dict[str, torch.Tensor]
                ) -> tuple[Carry, torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        carry, outputs = self.model(carry, batch)
        labels = carry.batch["labels"]
        logits = outputs["logits"]

        with torch.no_grad():
            mask = labels != IGNORE_LABEL_ID
            counts = mask.sum(-1)
            divisor = counts.clamp_min(1).unsqueeze(-1)
            correct = mask & (logits.argmax(-1) == labels)
            row_correct = correct.sum(-1) == counts
            scored = carry.halted & (counts > 0)
            metrics = {
                "count": scored.sum(),
                "accuracy": torch.where(scored, (correct.float() / divisor).sum(-1), 0).sum(),
                "exact_accuracy": (scored & row_correct).sum(),
                "q_halt_accuracy": (scored & ((outputs["q_halt_logits"] >= 0) == row_correct)).sum(),
                "steps": torch.where(scored, carry.steps, 0).sum(),
            }

        lm_loss = (self.token_loss(logits, labels) / divisor).sum()
        q_halt_loss = F.binary_cross_entropy_with_logits(outputs["q_halt_logits"], row_correct.float(),
                                                         reduction="sum")
        loss = lm_loss + 0.5 * q_halt_loss
        metrics["lm_loss"] = lm_loss.detach()
        metrics["q_halt_loss"] = q_halt_loss.detach()
        if "target_q_continue" in outputs:
            q_continue_loss = F.binary_cross_entropy_with_logits(outputs["q_continue_logits"],
                                                                 outputs["target_q_continue"], reduction="sum")
            loss = lm_loss + 0.5 * (q_halt_loss + q_continue_loss)
            metrics["q_continue_loss"] = q_continue_loss.detach()
        return carry, loss, metrics, outputs
