"""Shared launch plumbing of the fused kernels: the [batch, rows, k] view and the choice of tiling."""

from __future__ import annotations

import os

import torch
import triton

# Under Triton's CPU interpreter, autotuning has nothing to time and big tiles are only slow.
INTERPRETER_BLOCK_SIZES = {"BLOCK_M": 32, "BLOCK_N": 64, "BLOCK_K": 32, "BLOCK_D": 32, "BLOCK_I": 32}


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def as_batched_rows(x: torch.Tensor) -> torch.Tensor:
    """x [..., k] as a [batch, rows, k] view the kernels address by strides.

    Leading dimensions that merge into one row index give batch 1; a 3-d tensor whose leading dimensions
    do not (the MLP token mixer's transposed [b, d, l] view) keeps its batch axis; anything else is copied.
    """
    try:
        return x.view(1, -1, x.shape[-1])
    except RuntimeError:
        return x if x.dim() == 3 else x.reshape(1, -1, x.shape[-1])


def launch_config(kernel: triton.JITFunction, autotuned: triton.runtime.Autotuner, configs: list[triton.Config],
                  block_sizes: dict[str, int] | None) -> tuple[object, dict[str, int]]:
    """(kernel to launch, its meta-parameters): fixed tiles when given or when interpreting, else autotuned."""
    if block_sizes is None and interpreting():
        block_sizes = {name: INTERPRETER_BLOCK_SIZES[name] for name in configs[0].kwargs}
    if block_sizes is None:
        return autotuned, {}
    return kernel, dict(block_sizes)
