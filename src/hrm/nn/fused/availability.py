"""When the fused Triton kernels may run: Triton importable, CUDA bf16 activations, gradient off.

The fused kernels are inference-only (no autograd formulas) and written for bf16 on CUDA, so every
other call (gradient enabled, float32, CPU, MPS, no Triton) keeps the plain PyTorch path untouched.
"""

from __future__ import annotations

import importlib

import torch

# Devices the kernels accept. The tests add "cpu" under Triton's CPU interpreter (TRITON_INTERPRET=1)
# to exercise the fused path without a GPU.
FUSED_DEVICE_TYPES: set[str] = {"cuda"}

# Widest row given to the down GEMM with the residual + RMSNorm epilogue; wider rows keep cuBLAS and
# PyTorch's (inductor-fused) add + RMSNorm. Measured on the H100: at 97 (TRM-MLP's token mixer) the fused
# kernel takes 199 us against 837 us; at 512 (the hidden width) 256 us against 206 us.
NORM_EPILOGUE_MAX_ROW = 128

# Most positions the one-kernel MLP token mixer takes (a program holds all positions of its column tile in
# registers): Sudoku's 97 fit; longer sequences (mazes, ARC) keep the SwiGLU-GEMM + norm-epilogue pair.
TOKEN_MIXER_MAX_POSITIONS = 128

# None until `load_kernels` ran, then whether the kernels imported (Triton present and working).
_kernels_loaded: bool | None = None


def load_kernels() -> bool:
    """Import the kernels and register their custom ops (once); False where Triton is missing or broken."""
    global _kernels_loaded
    if _kernels_loaded is None:
        try:
            importlib.import_module("hrm.nn.fused.ops")
            _kernels_loaded = True
        except ImportError:
            _kernels_loaded = False
    return _kernels_loaded


def can_fuse(x: torch.Tensor) -> bool:
    """True where a fused kernel may replace the PyTorch ops for activations `x`."""
    return (bool(_kernels_loaded) and x.device.type in FUSED_DEVICE_TYPES and x.dtype == torch.bfloat16
            and not torch.is_grad_enabled())
