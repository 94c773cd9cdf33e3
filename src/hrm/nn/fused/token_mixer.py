"""TRM's MLP token mixer, `rms_over_l(h + W_down (silu(W_gate h) * W_up h))`, in one Triton kernel.

The mixer multiplies along the sequence axis, so its intermediate is [2 inner, d] per example: at Sudoku's
shape (l = 97, inner 512, d = 512) ten times the size of h. Unfused, that intermediate goes through memory
twice (~2.8 GB a call at batch 768, ~1.2 ms on an H100, for ~0.17 ms of matmuls). Here a program owns one
example and a tile of d columns with all l positions: it loads that tile of h once (as [columns, positions]);
for each chunk of the inner width it multiplies out gate and up (K = l), forms silu(gate) * up and adds the down
projection into an fp32 tile of h's tile shape; the residual add and the RMSNorm over positions are its epilogue.
The intermediate never leaves the chip. Rounding differs from the unfused path only in what is not rounded:
gate, up, the down output and the residual sum stay fp32 (silu(gate) * up is rounded to bf16 for the matmul).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from hrm.nn.fused.availability import TOKEN_MIXER_MAX_POSITIONS
from hrm.nn.fused.launch import launch_config

# The five fastest of a 54-tiling sweep on the H100 at Sudoku's shape (`benchmarks/token_mixer_kernel.py`:
# 793-876 us; the SwiGLU-GEMM + norm-GEMM pair 914 us, torch.compile 1,209 us).
TOKEN_MIXER_CONFIGS = [
    triton.Config({"BLOCK_D": 128, "BLOCK_I": 32}, num_warps=8, num_stages=2),
    triton.Config({"BLOCK_D": 128, "BLOCK_I": 32}, num_warps=8, num_stages=3),
    triton.Config({"BLOCK_D": 64, "BLOCK_I": 32}, num_warps=4, num_stages=3),
    triton.Config({"BLOCK_D": 64, "BLOCK_I": 32}, num_warps=4, num_stages=2),
    triton.Config({"BLOCK_D": 64, "BLOCK_I": 64}, num_warps=4, num_stages=1),
]


@triton.jit
def _token_mixer_kernel(
    h_ptr, gate_up_ptr, down_ptr, out_ptr,
    L, D, INNER, eps,
    stride_hb, stride_hl, stride_hd,
    stride_gi, stride_gl,
    stride_dl, stride_di,
    stride_ob, stride_ol, stride_od,
    BLOCK_L: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_I: tl.constexpr,
):
    # Tiles are [columns, positions] (h transposed): the products chain as in flash attention, the
    # silu(gate) * up tile staying in registers as the left operand of the down product.
    example = tl.program_id(1).to(tl.int64)
    cols = tl.program_id(0) * BLOCK_D + tl.arange(0, BLOCK_D)
    positions = tl.arange(0, BLOCK_L)
    inner = tl.arange(0, BLOCK_I)
    col_ok, pos_ok = cols < D, positions < L
    tile_ok = col_ok[:, None] & pos_ok[None, :]

    h_t = tl.load(h_ptr + example * stride_hb + cols[:, None] * stride_hd + positions[None, :] * stride_hl,
                  mask=tile_ok, other=0.0)  # [BLOCK_D, BLOCK_L]
    gate_ptrs = gate_up_ptr + positions[:, None] * stride_gl + inner[None, :] * stride_gi  # [BLOCK_L, BLOCK_I]
    up_ptrs = gate_ptrs + INNER * stride_gi
    down_ptrs = down_ptr + inner[:, None] * stride_di + positions[None, :] * stride_dl  # [BLOCK_I, BLOCK_L]
    acc = tl.zeros((BLOCK_D, BLOCK_L), dtype=tl.float32)
    for i0 in range(0, INNER, BLOCK_I):
        inner_ok = inner < INNER - i0
        weight_ok = pos_ok[:, None] & inner_ok[None, :]
        gate = tl.dot(h_t, tl.load(gate_ptrs, mask=weight_ok, other=0.0))  # [BLOCK_D, BLOCK_I]
        up = tl.dot(h_t, tl.load(up_ptrs, mask=weight_ok, other=0.0))
        hidden = (gate * tl.sigmoid(gate) * up).to(h_t.dtype)  # masked inner columns: silu(0) * 0 = 0
        down = tl.load(down_ptrs, mask=inner_ok[:, None] & pos_ok[None, :], other=0.0)
        acc = tl.dot(hidden, down, acc)
        gate_ptrs += BLOCK_I * stride_gi
        up_ptrs += BLOCK_I * stride_gi
        down_ptrs += BLOCK_I * stride_di

    total = acc + h_t.to(tl.float32)  # padded positions are 0 in both, so the sum over positions ignores them
    inv_rms = tl.rsqrt(tl.sum(total * total, axis=1) / L + eps)
    out = total * inv_rms[:, None]
    tl.store(out_ptr + example * stride_ob + cols[:, None] * stride_od + positions[None, :] * stride_ol,
             out.to(out_ptr.dtype.element_ty), mask=tile_ok)


_token_mixer_autotuned = triton.autotune(configs=TOKEN_MIXER_CONFIGS, key=["L", "D", "INNER"])(_token_mixer_kernel)


def token_mixer_rms_norm(h: torch.Tensor, gate_up_weight: torch.Tensor, down_weight: torch.Tensor, eps: float,
                         block_sizes: dict[str, int] | None = None) -> torch.Tensor:
    """rms_over_l(h + down (silu(gate h) * (up h))) for h [b, l, d], gate_up_weight [2 inner, l] (gate rows
    first), down_weight [l, inner]; l <= TOKEN_MIXER_MAX_POSITIONS. Returns a contiguous [b, l, d] tensor in
    h's dtype. `block_sizes` (BLOCK_D, BLOCK_I) fixes the tiling instead of autotuning."""
    batch, positions, width = h.shape
    two_inner, weight_positions = gate_up_weight.shape
    inner = two_inner // 2
    if weight_positions != positions or down_weight.shape != (positions, inner) or two_inner % 2:
        raise ValueError(f"h {tuple(h.shape)}, gate_up {tuple(gate_up_weight.shape)} and down "
                         f"{tuple(down_weight.shape)} do not match")
    if positions > TOKEN_MIXER_MAX_POSITIONS:
        raise ValueError(f"{positions} positions exceed the fused token mixer's limit of "
                         f"{TOKEN_MIXER_MAX_POSITIONS}")
    out = torch.empty(h.shape, dtype=h.dtype, device=h.device)
    if out.numel() == 0:
        return out
    block_l = max(16, triton.next_power_of_2(positions))
    kernel, meta = launch_config(_token_mixer_kernel, _token_mixer_autotuned, TOKEN_MIXER_CONFIGS, block_sizes)

    def grid(m: dict) -> tuple[int, int]:
        return triton.cdiv(width, m["BLOCK_D"]), batch

    kernel[grid](h, gate_up_weight, down_weight, out, positions, width, inner, eps, *h.stride(),
                 *gate_up_weight.stride(), *down_weight.stride(), *out.stride(), BLOCK_L=block_l, **meta)
    return out
