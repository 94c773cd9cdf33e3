"""Cross-attention between bytes and patches, and the masks that keep it local and causal.

    out = queries + W_o softmax(Q K^T / sqrt(d_h) + mask) V,   Q = rms(queries) W_q,  K, V = rms(memory) W_k, W_v

(pre-norm on both sides, no RoPE: the reference `CrossAttention`, whose caller then adds the residual a
second time; here the residual is added once, as the paper writes P_l = P_{l-1} + ...). Every patch is
`keys_per_patch` vectors of the local width (the reference's `cross_attn_k`), so the masks repeat a patch's
row or column that many times.

Encoder (patches query bytes): patch p sees exactly the bytes with patch id p. A padding patch (a row with
fewer patches than the batch's most) has no bytes; it sees position 0 so its softmax is defined.
Decoder (bytes query patches): byte t, which predicts x_{t+1}, sees the patches q - window < p <= q with
q = patch_id(t + 1) - 1, the last patch that ends before x_{t+1}'s patch starts: every byte it covers is at
most t, so no byte sees a later patch's content (window 0: all patches up to q; the reference default,
window None, is 1: patch q alone).

Axis legend: b batch, t byte positions, p patches, k keys per patch, d width, h heads, e head width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hrm.nn.linear import CastedLinear
from hrm.nn.rms_norm import rms_norm


def encoder_cross_mask(byte_patch_ids: torch.Tensor, num_patches: int, keys_per_patch: int) -> torch.Tensor:
    """byte_patch_ids [b, t] -> mask [b, p * k, t]: query row of patch p sees the bytes of patch p."""
    patches = torch.arange(num_patches, device=byte_patch_ids.device)
    mask = byte_patch_ids[:, None, :] == patches[None, :, None]  # [b, p, t]
    mask[:, :, 0] |= ~mask.any(dim=-1)  # padding patches
    return mask.repeat_interleave(keys_per_patch, dim=1)


def decoder_cross_mask(decoder_patch_ids: torch.Tensor, num_patches: int, keys_per_patch: int,
                       window: int) -> torch.Tensor:
    """decoder_patch_ids [b, t] (q above) -> mask [b, t, p * k]: byte t sees patches q - window < p <= q."""
    patches = torch.arange(num_patches, device=decoder_patch_ids.device)[None, None, :]
    latest = decoder_patch_ids[:, :, None]
    mask = patches <= latest
    if window:
        mask &= patches > latest - window
    return mask.repeat_interleave(keys_per_patch, dim=2)


class CrossAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int, eps: float) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"cross-attention width {dim} is not divisible by {num_heads} heads")
        self.num_heads, self.eps = num_heads, eps
        self.q_proj = CastedLinear(dim, dim)
        self.kv_proj = CastedLinear(dim, 2 * dim)
        self.o_proj = CastedLinear(dim, dim)

    def forward(self, queries: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """queries [b, q, d], memory [b, m, d], mask [b, q, m] bool (every row with a True) -> [b, q, d]."""
        b, q_len, d = queries.shape
        q = self.q_proj(rms_norm(queries, self.eps)).view(b, q_len, self.num_heads, -1).transpose(1, 2)
        k, v = self.kv_proj(rms_norm(memory, self.eps)).view(b, memory.shape[1], 2, self.num_heads, -1).unbind(2)
        out = F.scaled_dot_product_attention(q, k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask[:, None])
        return queries + self.o_proj(out.transpose(1, 2).reshape(b, q_len, d))
