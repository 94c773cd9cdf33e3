"""The fused kernels as PyTorch custom ops, so torch.compile keeps them as opaque calls in its graph.

Importing this module imports Triton; `hrm.nn.fused.availability.load_kernels` does it on demand.
No autograd formula is registered: the ops only run where gradient is off (see `can_fuse`).
"""

from __future__ import annotations

import torch

from hrm.nn.fused.matmul_rms_norm import matmul_add_rms_norm
from hrm.nn.fused.swiglu_matmul import swiglu_matmul
from hrm.nn.fused.token_mixer import token_mixer_rms_norm


@torch.library.custom_op("hrm_fused::swiglu_matmul", mutates_args=())
def swiglu_matmul_op(x: torch.Tensor, gate_up_weight: torch.Tensor) -> torch.Tensor:
    return swiglu_matmul(x, gate_up_weight)


@swiglu_matmul_op.register_fake
def _swiglu_matmul_shape(x: torch.Tensor, gate_up_weight: torch.Tensor) -> torch.Tensor:
    return x.new_empty(*x.shape[:-1], gate_up_weight.shape[0] // 2)


@torch.library.custom_op("hrm_fused::matmul_add_rms_norm", mutates_args=())
def matmul_add_rms_norm_op(x: torch.Tensor, weight: torch.Tensor, residual: torch.Tensor, eps: float
                           ) -> torch.Tensor:
    return matmul_add_rms_norm(x, weight, residual, eps)


@matmul_add_rms_norm_op.register_fake
def _matmul_add_rms_norm_shape(x: torch.Tensor, weight: torch.Tensor, residual: torch.Tensor, eps: float
                               ) -> torch.Tensor:
    return torch.empty_like(residual)


@torch.library.custom_op("hrm_fused::token_mixer_rms_norm", mutates_args=())
def token_mixer_rms_norm_op(h: torch.Tensor, gate_up_weight: torch.Tensor, down_weight: torch.Tensor, eps: float
                            ) -> torch.Tensor:
    return token_mixer_rms_norm(h, gate_up_weight, down_weight, eps)


@token_mixer_rms_norm_op.register_fake
def _token_mixer_rms_norm_shape(h: torch.Tensor, gate_up_weight: torch.Tensor, down_weight: torch.Tensor,
                                eps: float) -> torch.Tensor:
    return h.new_empty(h.shape)
