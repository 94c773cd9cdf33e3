"""Fused forwards of the SwiGLU and of the block's `rms(h + mlp(h))`, through the custom ops.

Same math as `SwiGLU.forward` and `Block.forward` (fp32 accumulation, the normalisation in fp32);
only the rounding differs: the gate, up and down products are no longer rounded to bf16 in between.
Callers check `can_fuse` first.
"""

from __future__ import annotations

import torch
from torch import nn

from hrm.nn.fused import availability
from hrm.nn.rms_norm import rms_norm


def _swiglu_inner(mlp: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """silu(gate) * up, the [..., inner] input of the down projection, from one fused GEMM."""
    return torch.ops.hrm_fused.swiglu_matmul(x, mlp.gate_up_proj.weight.to(x.dtype))


def fused_swiglu(mlp: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """SwiGLU with silu(gate) * up fused into the gate_up GEMM; the down projection stays a torch matmul."""
    return mlp.down_proj(_swiglu_inner(mlp, x))


def fused_swiglu_residual_rms_norm(mlp: nn.Module, x: torch.Tensor, eps: float) -> torch.Tensor:
    """rms_norm(x + mlp(x)): the SwiGLU-GEMM, then, for rows up to NORM_EPILOGUE_MAX_ROW wide, the down GEMM
    with the residual and RMSNorm as epilogue (wider rows: the down projection and rms_norm as unfused).

    The result has x's memory layout (a transposed x, as in the MLP token mixer, gives a transposed result).
    """
    inner = _swiglu_inner(mlp, x)
    if x.shape[-1] > availability.NORM_EPILOGUE_MAX_ROW:
        return rms_norm(x + mlp.down_proj(inner), eps)
    return torch.ops.hrm_fused.matmul_add_rms_norm(inner, mlp.down_proj.weight.to(x.dtype), x, eps)


def fused_token_mixer(mlp: nn.Module, h: torch.Tensor, eps: float) -> torch.Tensor:
    """The MLP token mixer's `rms_over_l(h + mlp(h^T)^T)` for h [b, l, d]: one kernel for up to
    TOKEN_MIXER_MAX_POSITIONS positions (the intermediate stays on chip), else the two kernels on the
    transposed view."""
    if h.shape[1] > availability.TOKEN_MIXER_MAX_POSITIONS:
        return fused_swiglu_residual_rms_norm(mlp, h.transpose(1, 2), eps).transpose(1, 2)
    return torch.ops.hrm_fused.token_mixer_rms_norm(h, mlp.gate_up_proj.weight.to(h.dtype),
                                                    mlp.down_proj.weight.to(h.dtype), eps)
