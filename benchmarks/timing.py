"""Timing GPU work with CUDA events: warm-up calls first, then the mean over `repeats` back-to-back calls."""

from __future__ import annotations

from typing import Callable

import torch


def cuda_ms(fn: Callable[[], object], warmup: int = 5, repeats: int = 20) -> float:
    """Milliseconds per call of `fn` on the current CUDA device."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / repeats
