"""RoPE + softmax attention over a short sequence in one Triton kernel, reading the QKV projection in place.

The unfused path makes three passes over the [b, l, 3, h, d] projection: RoPE on q and k (read, write),
the attention kernel (read q, k, v, write out), and a layout change back to [b, l, h * d]. For the
puzzles' short sequences (l <= 128: Sudoku 82-97 positions) the whole of one head's q, k and v fits one
tile, so each program handles one (batch, head): it loads q, k, v by strides from the projection,
rotates q and k in float32 (rounded to bf16, as `apply_rotary` then SDPA see them), computes
softmax(q k^T / sqrt(d)) v without an online rescaling loop, and stores [b, l, h, d], which the output
projection reads as [b, l, h * d] without a copy. No mask (the models' attention is non-causal).

Rotate-half RoPE: with q = [q1, q2] (halves of d), rot(q) = [q1 cos1 - q2 sin1, q2 cos2 + q1 sin2].
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from hrm.nn.fused.availability import ATTENTION_MAX_SEQ_LEN, attention_fits


@triton.jit
def _rope_attention_kernel(
    qkv_ptr, cos_ptr, sin_ptr, out_ptr,
    L, H, scale,
    stride_qb, stride_ql, stride_qh,
    stride_cl, stride_ob, stride_ol, stride_oh,
    HALF: tl.constexpr, BLOCK_L: tl.constexpr,
):
    batch = tl.program_id(0).to(tl.int64)
    head = tl.program_id(1)
    pos = tl.arange(0, BLOCK_L)
    dims = tl.arange(0, HALF)
    pos_ok = pos < L
    tile_ok = pos_ok[:, None]

    base = qkv_ptr + batch * stride_qb + pos[:, None] * stride_ql + dims[None, :]
    q_ptrs = base + head * stride_qh
    k_ptrs = base + (H + head) * stride_qh
    v_ptrs = base + (2 * H + head) * stride_qh
    table = pos[:, None] * stride_cl + dims[None, :]
    cos1 = tl.load(cos_ptr + table, mask=tile_ok, other=0.0)
    cos2 = tl.load(cos_ptr + table + HALF, mask=tile_ok, other=0.0)
    sin1 = tl.load(sin_ptr + table, mask=tile_ok, other=0.0)
    sin2 = tl.load(sin_ptr + table + HALF, mask=tile_ok, other=0.0)

    q1 = tl.load(q_ptrs, mask=tile_ok, other=0.0).to(tl.float32)
    q2 = tl.load(q_ptrs + HALF, mask=tile_ok, other=0.0).to(tl.float32)
    k1 = tl.load(k_ptrs, mask=tile_ok, other=0.0).to(tl.float32)
    k2 = tl.load(k_ptrs + HALF, mask=tile_ok, other=0.0).to(tl.float32)
    dtype = qkv_ptr.dtype.element_ty
    rq1, rq2 = (q1 * cos1 - q2 * sin1).to(dtype), (q2 * cos2 + q1 * sin2).to(dtype)
    rk1, rk2 = (k1 * cos1 - k2 * sin1).to(dtype), (k2 * cos2 + k1 * sin2).to(dtype)

    scores = tl.dot(rq1, tl.trans(rk1))
    scores = tl.dot(rq2, tl.trans(rk2), scores) * scale
    scores = tl.where(pos_ok[None, :], scores, float("-inf"))
    weights = tl.exp(scores - tl.max(scores, axis=1)[:, None])
    weights = weights / tl.sum(weights, axis=1)[:, None]
    probs = weights.to(dtype)

    out_ptrs = out_ptr + batch * stride_ob + pos[:, None] * stride_ol + head * stride_oh + dims[None, :]
    v1 = tl.load(v_ptrs, mask=tile_ok, other=0.0)
    tl.store(out_ptrs, tl.dot(probs, v1).to(dtype), mask=tile_ok)
    v2 = tl.load(v_ptrs + HALF, mask=tile_ok, other=0.0)
    tl.store(out_ptrs + HALF, tl.dot(probs, v2).to(dtype), mask=tile_ok)


def rope_attention(qkv: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, num_heads: int) -> torch.Tensor:
    """qkv [b, l, 3 * h * d] (rows: q heads, k heads, v heads), cos/sin [l, d] float32 -> [b, l, h * d]:
    softmax(rot(q) rot(k)^T / sqrt(d)) v per head, as SDPA after `apply_rotary` computes it."""
    b, l, width = qkv.shape
    head_dim = width // (3 * num_heads)
    if width != 3 * num_heads * head_dim or head_dim % 2 or cos.shape != (l, head_dim) or sin.shape != cos.shape:
        raise ValueError(f"qkv {tuple(qkv.shape)}, {num_heads} heads and RoPE tables {tuple(cos.shape)} do not match")
    if not attention_fits(l, head_dim):
        raise ValueError(f"rope_attention takes l <= {ATTENTION_MAX_SEQ_LEN} and a power-of-two head_dim >= 16, "
                         f"got l {l}, head_dim {head_dim}")
    qkv = qkv.contiguous()
    cos, sin = cos.contiguous(), sin.contiguous()
    out = torch.empty(b, l, num_heads, head_dim, device=qkv.device, dtype=qkv.dtype)
    if out.numel() == 0:
        return out.view(b, l, -1)
    block_l = max(16, triton.next_power_of_2(l))
    _rope_attention_kernel[(b, num_heads)](
        qkv, cos, sin, out, l, num_heads, head_dim ** -0.5,
        qkv.stride(0), qkv.stride(1), head_dim, cos.stride(0), out.stride(0), out.stride(1), out.stride(2),
        HALF=head_dim // 2, BLOCK_L=block_l, num_warps=4 if block_l <= 64 else 8)
    return out.view(b, l, -1)
