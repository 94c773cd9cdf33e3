"""GEMM with a residual-add + RMSNorm epilogue: rms_norm(residual + x W^T) in one Triton kernel.

This is the second half of the post-norm block, `rms(h + down_proj(inner))`. Unfused, the down
projection's output is written, read back with the residual by a normalisation kernel, and the
result written again. RMSNorm needs the whole row, so each program owns full output rows: a
[BLOCK_M, next_pow2(N)] tile, which is practical for the hidden widths here (N = 512: a 64 x 512 fp32
accumulator is as large as a common 128 x 256 GEMM tile). The sum, the mean square and the scaling
run in float32 (as `hrm.nn.rms_norm`); only the normalised row is stored, in the activation dtype.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from hrm.nn.fused.launch import as_batched_rows, launch_config

# Widest row a program holds (registers run out beyond).
MAX_ROW = 1024

# Output elements per program that fit the register file at 8 warps (64 x 512, one fp32 accumulator).
_MAX_TILE = 64 * 512

# Best of a 10-config sweep on the H100 at n = 512 (64x64 w8 s3: 256 us) and at n = 97 (128x64 w8 s3: 199 us).
NORM_CONFIGS = [
    triton.Config({"BLOCK_M": 64, "BLOCK_K": 64}, num_warps=8, num_stages=3),
    triton.Config({"BLOCK_M": 64, "BLOCK_K": 32}, num_warps=8, num_stages=4),
    triton.Config({"BLOCK_M": 128, "BLOCK_K": 64}, num_warps=8, num_stages=3),  # narrow rows (token mixer)
]


def _configs_that_fit(configs: list[triton.Config], named_args: dict, **kwargs) -> list[triton.Config]:
    """Autotune prune: drop tilings whose full-row accumulator would spill registers."""
    block_n = kwargs["BLOCK_N"]
    fitting = [c for c in configs if c.kwargs["BLOCK_M"] * block_n <= _MAX_TILE]
    return fitting or [min(configs, key=lambda c: c.kwargs["BLOCK_M"])]


@triton.jit
def _matmul_add_rms_norm_kernel(
    x_ptr, w_ptr, res_ptr, out_ptr,
    R, N, K, eps,
    stride_xb, stride_xr, stride_xk,
    stride_wn, stride_wk,
    stride_rb, stride_rr, stride_rn,
    stride_ob, stride_or, stride_on,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    batch = tl.program_id(1).to(tl.int64)
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.arange(0, BLOCK_N)
    ks = tl.arange(0, BLOCK_K)
    row_ok, col_ok = rows < R, cols < N
    rows64 = rows[:, None].to(tl.int64)

    x_ptrs = x_ptr + batch * stride_xb + rows64 * stride_xr + ks[None, :] * stride_xk
    w_ptrs = w_ptr + cols[None, :] * stride_wn + ks[:, None] * stride_wk  # [BLOCK_K, BLOCK_N] = W^T tile
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        k_ok = ks < K - k0
        x = tl.load(x_ptrs, mask=row_ok[:, None] & k_ok[None, :], other=0.0)
        w = tl.load(w_ptrs, mask=k_ok[:, None] & col_ok[None, :], other=0.0)
        acc = tl.dot(x, w, acc)
        x_ptrs += BLOCK_K * stride_xk
        w_ptrs += BLOCK_K * stride_wk

    tile_ok = row_ok[:, None] & col_ok[None, :]
    residual = tl.load(res_ptr + batch * stride_rb + rows64 * stride_rr + cols[None, :] * stride_rn,
                       mask=tile_ok, other=0.0)
    total = acc + residual.to(tl.float32)  # padded columns are 0 in both, so they add nothing below
    inv_rms = tl.rsqrt(tl.sum(total * total, axis=1) / N + eps)
    out = total * inv_rms[:, None]
    tl.store(out_ptr + batch * stride_ob + rows64 * stride_or + cols[None, :] * stride_on,
             out.to(out_ptr.dtype.element_ty), mask=tile_ok)


_matmul_add_rms_norm_autotuned = triton.autotune(
    configs=NORM_CONFIGS, key=["R", "N", "K"], prune_configs_by={"early_config_prune": _configs_that_fit},
)(_matmul_add_rms_norm_kernel)


def matmul_add_rms_norm(x: torch.Tensor, weight: torch.Tensor, residual: torch.Tensor, eps: float,
                        block_sizes: dict[str, int] | None = None) -> torch.Tensor:
    """rms_norm(residual + x @ weight^T) for x [..., k], weight [n, k], residual [..., n] (n <= MAX_ROW).

    The result has residual's shape and memory layout (so a transposed residual gives a transposed
    result). `block_sizes` (BLOCK_M, BLOCK_K) fixes the tiling instead of autotuning.
    """
    n, k = weight.shape
    if x.shape[-1] != k or residual.shape != (*x.shape[:-1], n):
        raise ValueError(f"x {tuple(x.shape)}, weight {tuple(weight.shape)} and residual "
                         f"{tuple(residual.shape)} do not match")
    if n > MAX_ROW:
        raise ValueError(f"rows of {n} exceed the fused RMSNorm limit of {MAX_ROW}")
    res3 = as_batched_rows(residual)
    batch, rows, _ = res3.shape
    x3 = x.reshape(batch, rows, k)
    out = torch.empty_like(residual)
    if out.numel() == 0:
        return out
    out3 = out.view(batch, rows, n)
    block_n = max(16, triton.next_power_of_2(n))
    kernel, meta = launch_config(_matmul_add_rms_norm_kernel, _matmul_add_rms_norm_autotuned, NORM_CONFIGS,
                                 block_sizes)

    def grid(m: dict) -> tuple[int, int]:
        return triton.cdiv(rows, m["BLOCK_M"]), batch

    kernel[grid](x3, weight, res3, out3, rows, n, k, eps, *x3.stride(), *weight.stride(), *res3.stride(),
                 *out3.stride(), BLOCK_N=block_n, **meta)
    return out
