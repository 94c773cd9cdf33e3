"""RMSNorm without a learned scale, computed in float32 (as the authors' `rms_norm`)."""

from __future__ import annotations

import torch


def rms_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    dtype = x.dtype
    x = x.float()
    x = x * torch.rsqrt(x.square().mean(-1, keepdim=True) + eps)
    return x.to(dtype)
