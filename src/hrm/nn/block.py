"""The post-norm transformer block both HRM and TRM stack, and a stack with input injection.

A block mixes tokens (self-attention, or TRM's MLP over the sequence axis) then channels (SwiGLU):
    h = rms(h + mix(h));  h = rms(h + mlp(h))
Axis legend: b batch, l sequence (puzzle prefix + cells), d hidden.
"""

from __future__ import annotations

import torch
from torch import nn

from hrm.nn.attention import Attention
from hrm.nn.fused import can_fuse, fused_swiglu_residual_rms_norm, fused_token_mixer
from hrm.nn.rms_norm import rms_norm
from hrm.nn.swiglu import SwiGLU

Rope = tuple[torch.Tensor, torch.Tensor] | None


class Block(nn.Module):
    """`token_mixer="attention"`, or `"mlp"`: a SwiGLU across positions (TRM's `mlp_t`), whose
    residual and RMSNorm act on the transposed [b, d, l] tensor, i.e. normalise over positions."""

    use_fused_kernels = False  # set by hrm.nn.fused.enable: gradient-free CUDA bf16 calls fuse rms(h + mlp(h))

    def __init__(self, dim: int, num_heads: int, expansion: float, eps: float,
                 token_mixer: str = "attention", seq_len: int = 0) -> None:
        super().__init__()
        self.eps = eps
        self.token_mixer = token_mixer
        if token_mixer == "attention":
            self.attention = Attention(dim, num_heads)
        elif token_mixer == "mlp":
            self.token_mlp = SwiGLU(seq_len, expansion)
        else:
            raise ValueError(f"unknown token mixer '{token_mixer}' (want 'attention' or 'mlp')")
        self.mlp = SwiGLU(dim, expansion)

    def forward(self, h: torch.Tensor, rope: Rope = None) -> torch.Tensor:
        fused = self.use_fused_kernels and can_fuse(h)
        if self.token_mixer == "attention":
            h = rms_norm(h + self.attention(h, rope), self.eps)
        elif fused:
            h = fused_token_mixer(self.token_mlp, h, self.eps)
        else:
            h_t = h.transpose(1, 2)  # [b, d, l]
            h = rms_norm(h_t + self.token_mlp(h_t), self.eps).transpose(1, 2)
        if fused:
            return fused_swiglu_residual_rms_norm(self.mlp, h, self.eps)
        return rms_norm(h + self.mlp(h), self.eps)


class BlockStack(nn.Module):
    """f(z, injection) = blocks(z + injection): the authors' `ReasoningModule`."""

    def __init__(self, blocks: list[Block]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)

    def forward(self, z: torch.Tensor, injection: torch.Tensor, rope: Rope = None) -> torch.Tensor:
        z = z + injection
        for block in self.blocks:
            z = block(z, rope)
        return z
