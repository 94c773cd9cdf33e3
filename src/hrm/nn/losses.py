"""Per-token cross-entropies used by the ACT loss: stablemax (default) and softmax.

Stablemax (Prieto et al., "Grokking at the edge of numerical stability") replaces exp with
s(x) = x + 1 for x >= 0 and 1 / (1 - x) for x < 0; computed in float64 (float32 on MPS, which
has no float64), as the authors do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_LABEL_ID = -100


def stablemax_log_probs(logits: torch.Tensor) -> torch.Tensor:
    s = torch.where(logits < 0, 1 / (1 - logits + 1e-30), logits + 1)
    return torch.log(s / s.sum(dim=-1, keepdim=True))


def stablemax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """logits [..., v], labels [...] (IGNORE_LABEL_ID = not scored) -> per-token loss [...]."""
    dtype = torch.float32 if logits.device.type == "mps" else torch.float64
    log_probs = stablemax_log_probs(logits.to(dtype))
    valid = labels != IGNORE_LABEL_ID
    picked = log_probs.gather(-1, torch.where(valid, labels, 0).long().unsqueeze(-1)).squeeze(-1)
    return -torch.where(valid, picked, 0)


def softmax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    flat = F.cross_entropy(logits.float().flatten(0, -2), labels.long().flatten(),
                           ignore_index=IGNORE_LABEL_ID, reduction="none")
    return flat.view(labels.shape)


TOKEN_LOSSES = {"stablemax": stablemax_cross_entropy, "softmax": softmax_cross_entropy}
