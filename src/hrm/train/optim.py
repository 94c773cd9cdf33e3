"""The authors' two optimizers in plain PyTorch (no CUDA extension to build).

AdamATan2 (the `adam-atan2` package the authors use; Everett et al. 2024 with scales a = b = 1):
    p <- p * (1 - lr * wd)
    m <- m + (1 - b1) (g - m);   v <- v + (1 - b2) (g^2 - v)
    p <- p - lr / (1 - b1^t) * atan2(m, sqrt(v) / sqrt(1 - b2^t))
atan2 replaces m / (sqrt(v) + eps): bounded, scale-invariant, and no epsilon to tune.

SignSGD for the puzzle-embedding table: only the rows seen in this step (all ranks gathered)
change, by p <- p * (1 - lr * wd) - lr * sign(sum of their gradients).
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist

from hrm.nn.puzzle_embedding import PuzzleEmbedding


class AdamATan2(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.95),
                 weight_decay: float = 0.1) -> None:
        if lr < 0 or weight_decay < 0 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"invalid AdamATan2 settings lr={lr} betas={betas} weight_decay={weight_decay}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            beta1, beta2 = group["betas"]
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float64)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
            grads = [p.grad for p in params]
            exp_avgs = [self.state[p]["exp_avg"] for p in params]
            exp_avg_sqs = [self.state[p]["exp_avg_sq"] for p in params]
            if wd:
                torch._foreach_mul_(params, 1 - lr * wd)
            torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
            torch._foreach_mul_(exp_avg_sqs, beta2)
            torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
            for p, m, v in zip(params, exp_avgs, exp_avg_sqs):
                t = float(self.state[p]["step"])
                step_size = lr / (1 - beta1**t)
                p.add_(torch.atan2(m, v.sqrt().div_(math.sqrt(1 - beta2**t))), alpha=-step_size)
        return None


class SignSGD(torch.optim.Optimizer):
    """Sparse sign descent on a PuzzleEmbedding's table; reads the rows' gradient after backward."""

    def __init__(self, embedding: PuzzleEmbedding, lr: float = 1e-2, weight_decay: float = 0.1) -> None:
        super().__init__([embedding.weights], dict(lr=lr, weight_decay=weight_decay))
        self.embedding = embedding

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        grad, ids = self.embedding.local_weights.grad, self.embedding.local_ids
        if grad is None:
            return None
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            grad, ids = _all_gather(grad), _all_gather(ids)
        unique_ids, inverse = ids.long().unique(return_inverse=True)
        summed = torch.zeros(unique_ids.shape[0], grad.shape[1], dtype=grad.dtype, device=grad.device)
        summed.index_add_(0, inverse, grad)
        group = self.param_groups[0]
        lr, wd = group["lr"], group["weight_decay"]
        table = self.embedding.weights
        table[unique_ids] = table[unique_ids] * (1 - lr * wd) - lr * summed.sign()
        return None

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.embedding.local_weights.grad = None


def _all_gather(tensor: torch.Tensor) -> torch.Tensor:
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)
