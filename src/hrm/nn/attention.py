"""Multi-head self-attention with a fused QKV projection, through PyTorch SDPA; non-causal unless masked.

Axis legend: b batch, l sequence, h heads, d head_dim. The fused projection's rows are ordered
q heads, then k heads, then v heads (the authors' layout), so their weights load unchanged.

`attn_mask` (default None: every position sees every other, the models' behaviour) is an optional boolean
[l, l] mask, True where a query may attend a key, handed to SDPA unchanged. It is module state rather than
a forward argument so that a formulation needing it (the `causal_answer` extension in hrm.codegen.causal)
sets it once on a built model without threading it through the block, stack and recursion code; it is a
non-persistent buffer, so it moves with the model between devices and checkpoints are unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hrm.nn.linear import CastedLinear
from hrm.nn.rope import apply_rotary


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.register_buffer("attn_mask", None, persistent=False)
        self.num_heads = num_heads
        self.head_dim = dim // num_heads  # as the authors: heads * head_dim may fall short of dim
        self.qkv_proj = CastedLinear(dim, 3 * num_heads * self.head_dim)
        self.o_proj = CastedLinear(num_heads * self.head_dim, dim)

    def project(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x [b, l, dim] -> q, k, v [b, h, l, d], RoPE (tables for these l positions) applied to q and k. Shared
        with the attention variants that mask or cache differently (Titans, BLT, cached causal decoding)."""
        b, l, _ = x.shape
        q, k, v = self.qkv_proj(x).view(b, l, 3, self.num_heads, self.head_dim).unbind(dim=2)  # each [b, l, h, d]
        if rope is not None:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)

    def merge(self, out: torch.Tensor) -> torch.Tensor:
        """Attention output [b, h, l, d] -> [b, l, dim] through the output projection."""
        b, _, l, _ = out.shape
        return self.o_proj(out.transpose(1, 2).reshape(b, l, -1))

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        q, k, v = self.project(x, rope)
        return self.merge(F.scaled_dot_product_attention(q, k, v, attn_mask=self.attn_mask))
