"""SwiGLU feed-forward: down(silu(gate) * up), gate and up from one fused projection."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hrm.nn.fused import can_fuse, fused_swiglu
from hrm.nn.linear import CastedLinear


def swiglu_width(dim: int, expansion: float) -> int:
    """Inner width: round(expansion * dim * 2/3) rounded up to a multiple of 256 (authors' rule)."""
    width = round(expansion * dim * 2 / 3)
    return -(width // -256) * 256


class SwiGLU(nn.Module):
    use_fused_kernels = False  # set by hrm.nn.fused.enable: gradient-free CUDA bf16 calls use the SwiGLU-GEMM

    def __init__(self, dim: int, expansion: float) -> None:
        super().__init__()
        inner = swiglu_width(dim, expansion)
        self.gate_up_proj = CastedLinear(dim, 2 * inner)
        self.down_proj = CastedLinear(inner, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_fused_kernels and can_fuse(x):
            return fused_swiglu(self, x)
        gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        return self.down_proj(F.silu(gate) * up)
