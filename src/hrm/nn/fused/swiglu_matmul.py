"""GEMM with a SwiGLU epilogue: silu(x Wg^T) * (x Wu^T) in one Triton kernel, bf16 in and out.

The unfused SwiGLU writes the [rows, 2 * inner] gate_up product to memory and reads it back for
silu(gate) * up: a memory-bound pass over the largest activation of the model. Here each program owns
one [BLOCK_M, BLOCK_N] tile of the output and accumulates the gate and the up product for the same
columns side by side (float32), so only the [rows, inner] result is ever stored.

The gate_up weight is used as the module holds it, [2 * inner, dim] with the gate rows first (the
order `chunk(2)` splits): the up tile of output column n is weight row inner + n.

Activations are addressed as [batch, rows, k] with arbitrary strides, which lets the MLP token mixer
pass its transposed [b, d, l] view without a copy; a plain [..., k] tensor is batch 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from hrm.nn.fused.launch import as_batched_rows, launch_config

# H100 candidates, kept few because autotuning runs once per shape inside time-to-accuracy: the best of a
# 13-config sweep at HRM's shape (62976 x 512 -> 1536: 256x64x64 455 us, 128x128x64 466 us, cuBLAS + silu
# 490 us) and at TRM-MLP's token mixer (transposed 393216 x 97 -> 512: 128x64x32 641 us). Two fp32
# accumulators per program, so a 128x128 tile is a 128x256 GEMM tile.
SWIGLU_CONFIGS = [
    triton.Config({"BLOCK_M": 256, "BLOCK_N": 64, "BLOCK_K": 64}, num_warps=8, num_stages=3),
    triton.Config({"BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": 64}, num_warps=8, num_stages=3),
    triton.Config({"BLOCK_M": 128, "BLOCK_N": 128, "BLOCK_K": 32}, num_warps=8, num_stages=4),
    triton.Config({"BLOCK_M": 128, "BLOCK_N": 64, "BLOCK_K": 32}, num_warps=4, num_stages=5),
]
# Weight rows padded to a multiple of this many elements (32 bytes), so their loads vectorise: the token
# mixer's k = 97 positions would otherwise leave every row misaligned.
_ROW_ALIGN = 16


@triton.jit
def _swiglu_matmul_kernel(
    x_ptr, w_ptr, out_ptr,
    R, N, K,
    stride_xb, stride_xr, stride_xk,
    stride_wn, stride_wk,
    stride_ob, stride_or, stride_on,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    # Column tiles vary fastest, so programs running together share their x rows in L2.
    pid = tl.program_id(0)
    num_n_tiles = tl.cdiv(N, BLOCK_N)
    pid_m, pid_n = pid // num_n_tiles, pid % num_n_tiles
    batch = tl.program_id(1).to(tl.int64)

    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    ks = tl.arange(0, BLOCK_K)
    row_ok, col_ok = rows < R, cols < N

    x_ptrs = x_ptr + batch * stride_xb + rows[:, None].to(tl.int64) * stride_xr + ks[None, :] * stride_xk
    # Weight tiles loaded as [BLOCK_K, BLOCK_N], i.e. already transposed for x @ W^T.
    gate_ptrs = w_ptr + cols[None, :].to(tl.int64) * stride_wn + ks[:, None] * stride_wk
    up_ptrs = gate_ptrs + N * stride_wn

    gate = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    up = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        k_ok = ks < K - k0
        x = tl.load(x_ptrs, mask=row_ok[:, None] & k_ok[None, :], other=0.0)
        w_mask = k_ok[:, None] & col_ok[None, :]
        gate = tl.dot(x, tl.load(gate_ptrs, mask=w_mask, other=0.0), gate)
        up = tl.dot(x, tl.load(up_ptrs, mask=w_mask, other=0.0), up)
        x_ptrs += BLOCK_K * stride_xk
        gate_ptrs += BLOCK_K * stride_wk
        up_ptrs += BLOCK_K * stride_wk

    out = gate * tl.sigmoid(gate) * up
    out_ptrs = out_ptr + batch * stride_ob + rows[:, None].to(tl.int64) * stride_or + cols[None, :] * stride_on
    tl.store(out_ptrs, out.to(out_ptr.dtype.element_ty), mask=row_ok[:, None] & col_ok[None, :])


_swiglu_matmul_autotuned = triton.autotune(configs=SWIGLU_CONFIGS, key=["R", "N", "K"])(_swiglu_matmul_kernel)


def swiglu_matmul(x: torch.Tensor, gate_up_weight: torch.Tensor,
                  block_sizes: dict[str, int] | None = None) -> torch.Tensor:
    """silu(x @ Wg^T) * (x @ Wu^T) for x [..., k] and gate_up_weight [2 * inner, k]; returns [..., inner].

    `block_sizes` (BLOCK_M, BLOCK_N, BLOCK_K) fixes the tiling instead of autotuning (tests, interpreter).
    """
    two_n, k = gate_up_weight.shape
    if two_n % 2 or x.shape[-1] != k:
        raise ValueError(f"x {tuple(x.shape)} and gate_up weight {tuple(gate_up_weight.shape)} do not match")
    n = two_n // 2
    if k % _ROW_ALIGN:
        gate_up_weight = F.pad(gate_up_weight, (0, _ROW_ALIGN - k % _ROW_ALIGN))  # zeros past k, never read
    x3 = as_batched_rows(x)
    batch, rows, _ = x3.shape
    out = torch.empty(*x.shape[:-1], n, device=x.device, dtype=x.dtype)
    if out.numel() == 0:
        return out
    out3 = out.view(batch, rows, n)
    kernel, meta = launch_config(_swiglu_matmul_kernel, _swiglu_matmul_autotuned, SWIGLU_CONFIGS, block_sizes)

    def grid(m: dict) -> tuple[int, int]:
        return triton.cdiv(rows, m["BLOCK_M"]) * triton.cdiv(n, m["BLOCK_N"]), batch

    kernel[grid](x3, gate_up_weight, out3, rows, n, k, *x3.stride(), *gate_up_weight.stride(), *out3.stride(),
                 **meta)
    return out
