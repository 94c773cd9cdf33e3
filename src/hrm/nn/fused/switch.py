"""Switching the fused kernels on and off for a model's SwiGLUs and blocks (off by default)."""

from __future__ import annotations

from torch import nn

from hrm.nn.fused.availability import load_kernels


def _has_bias(mlp: nn.Module) -> bool:
    return mlp.gate_up_proj.bias is not None or mlp.down_proj.bias is not None


def enable(model: nn.Module, rms_norm_epilogue: bool = True) -> bool:
    """Let `model`'s SwiGLUs (and, with `rms_norm_epilogue`, its blocks' `rms(h + mlp(h))`) use the fused
    kernels on gradient-free CUDA bf16 calls. Returns whether the kernels can run on this install
    (Triton importable); where not, the flags are set but every call keeps the PyTorch path.
    """
    from hrm.nn.block import Block
    from hrm.nn.swiglu import SwiGLU

    available = load_kernels()
    for module in model.modules():
        if isinstance(module, SwiGLU):
            module.use_fused_kernels = not _has_bias(module)  # the kernels have no bias term
        elif isinstance(module, Block):
            mlps = [module.mlp] + ([module.token_mlp] if module.token_mixer == "mlp" else [])
            module.use_fused_kernels = rms_norm_epilogue and not any(_has_bias(mlp) for mlp in mlps)
    return available


def disable(model: nn.Module) -> None:
    """Back to the PyTorch path everywhere in `model`."""
    from hrm.nn.block import Block
    from hrm.nn.swiglu import SwiGLU

    for module in model.modules():
        if isinstance(module, (SwiGLU, Block)):
            module.use_fused_kernels = False
