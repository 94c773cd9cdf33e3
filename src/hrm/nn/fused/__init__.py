"""Fused Triton kernels for the gradient-free bf16 forward of the blocks (off unless `enable`d).

    import hrm.nn.fused
    hrm.nn.fused.enable(model)   # Triton kernels where gradient is off on CUDA bf16 activations

Imports without Triton (CPU CI, Apple MPS); Triton itself is imported by `enable`.
"""

from hrm.nn.fused.availability import can_fuse, load_kernels
from hrm.nn.fused.forward import fused_swiglu, fused_swiglu_residual_rms_norm, fused_token_mixer
from hrm.nn.fused.switch import disable, enable

__all__ = ["can_fuse", "disable", "enable", "fused_swiglu", "fused_swiglu_residual_rms_norm", "fused_token_mixer",
           "load_kernels"]
