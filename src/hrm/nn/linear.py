"""Linear and embedding layers with fp32 master weights cast to the activation dtype per op.

This is the authors' precision scheme (their `CastedLinear`/`CastedEmbedding`): parameters stay
float32 for the optimizer, the forward pass runs in whatever dtype the activations carry (bf16 on GPU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hrm.nn.init import trunc_normal_


class CastedLinear(nn.Module):
    """y = x W^T (+ b), W initialised truncated LeCun-normal (std 1/sqrt(in)), bias zero."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(trunc_normal_(torch.empty(out_dim, in_dim), std=in_dim**-0.5))
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias.to(x.dtype) if self.bias is not None else None
        return F.linear(x, self.weight.to(x.dtype), bias)


class CastedEmbedding(nn.Module):
    """Token lookup returning `dtype` vectors from an fp32 table."""

    def __init__(self, num_embeddings: int, dim: int, init_std: float, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype
        self.weight = nn.Parameter(trunc_normal_(torch.empty(num_embeddings, dim), std=init_std))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight.to(self.dtype))
