"""Causal self-attention for BLT's byte and patch transformers, built on the core layers.

The core `Attention` is non-causal (HRM/TRM see whole puzzles). A byte LM must not see the byte it
predicts, so `CausalAttention` keeps the core's fused QKV layout and RoPE and adds a causal, optionally
sliding-window, mask; `CausalBlock` is the core post-norm `Block` with that attention, so a stack of
them drops into the core `BlockStack` (how a TRM-style recursion becomes a latent over patches).

Axis legend: b batch, l sequence (bytes or patches), h heads, d head_dim / model width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hrm.nn.attention import Attention
from hrm.nn.block import Block
from hrm.nn.rope import RotaryEmbedding

Rope = tuple[torch.Tensor, torch.Tensor]


def causal_mask(length: int, window: int = 0, device: torch.device | None = None) -> torch.Tensor:
    """[l, l] bool, True where query i may attend key j: j <= i and, if window > 0, i - j < window
    (the reference's local block-causal attention within one document)."""
    i = torch.arange(length, device=device)[:, None]
    j = torch.arange(length, device=device)[None, :]
    allowed = j <= i
    return allowed & (i - j < window) if window else allowed


def rope_tables(head_dim: int, like: torch.Tensor) -> Rope:
    """RoPE (cos, sin) [l, d] for positions 0..l-1 of `like` [b, l, ...], rebuilt per call (tiny next to
    the attention); float64 inputs get float64 tables so double-precision tests stay double."""
    rotary = RotaryEmbedding(head_dim, like.shape[1]).to(like.device)
    dtype = torch.promote_types(like.dtype, torch.float32)
    return rotary.cos.to(dtype), rotary.sin.to(dtype)


class CausalAttention(Attention):
    """The core attention (same parameters) with a causal mask; RoPE tables may be longer than l."""

    def __init__(self, dim: int, num_heads: int, window: int = 0) -> None:
        super().__init__(dim, num_heads)
        self.window = window

    def forward(self, x: torch.Tensor, rope: Rope | None) -> torch.Tensor:
        l = x.shape[1]
        q, k, v = self.project(x, None if rope is None else (rope[0][:l], rope[1][:l]))
        return self.merge(F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(l, self.window, x.device)))


class CausalBlock(Block):
    """The core post-norm block, h = rms(h + attn(h)); h = rms(h + mlp(h)), with causal attention.
    Parameter names and shapes are the core block's."""

    def __init__(self, dim: int, num_heads: int, expansion: float, eps: float, window: int = 0) -> None:
        super().__init__(dim, num_heads, expansion, eps)
        self.attention = CausalAttention(dim, num_heads, window)


class CausalTransformer(nn.Module):
    """x [b, l, d] -> [b, l, d]: causal blocks with RoPE over positions 0..l-1 (post-norm, so the output
    is RMS-normalised). Output position i depends on inputs 0..i only."""

    def __init__(self, dim: int, num_layers: int, num_heads: int, expansion: float, eps: float,
                 window: int = 0) -> None:
        super().__init__()
        self.head_dim = dim // num_heads
        self.blocks = nn.ModuleList(CausalBlock(dim, num_heads, expansion, eps, window) for _ in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rope = rope_tables(self.head_dim, x)
        for block in self.blocks:
            x = block(x, rope)
        return x
