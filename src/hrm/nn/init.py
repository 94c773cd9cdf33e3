"""Truncated-normal initialisation whose *actual* standard deviation equals `std` (JAX style).

torch.nn.init.trunc_normal_ truncates at absolute bounds and leaves the std shrunk; the authors'
models rely on the corrected std (e.g. H_init/L_init with std 1, LeCun-normal linears).
"""

from __future__ import annotations

import math

import torch


def trunc_normal_(tensor: torch.Tensor, std: float = 1.0, lower: float = -2.0, upper: float = 2.0) -> torch.Tensor:
    """Fill `tensor` in place from N(0, std^2) truncated to [lower, upper] standard deviations."""
    with torch.no_grad():
        if std == 0:
            return tensor.zero_()
        sqrt2 = math.sqrt(2.0)
        erf_low, erf_high = math.erf(lower / sqrt2), math.erf(upper / sqrt2)
        mass = (erf_high - erf_low) / 2
        density = 1.0 / math.sqrt(2 * math.pi)
        pdf_low = density * math.exp(-0.5 * lower**2)
        pdf_high = density * math.exp(-0.5 * upper**2)
        truncated_var = 1 - (upper * pdf_high - lower * pdf_low) / mass - ((pdf_high - pdf_low) / mass) ** 2
        corrected_std = std / math.sqrt(truncated_var)
        tensor.uniform_(erf_low, erf_high)
        tensor.erfinv_()
        tensor.mul_(sqrt2 * corrected_std)
        tensor.clip_(lower * corrected_std, upper * corrected_std)
    return tensor
