"""Per-puzzle embedding table, trained sparsely with SignSGD (the authors' `CastedSparseEmbedding`).

The table is a buffer, not a parameter: for ARC it has ~1M rows and only the rows of the current
batch change each step, so keeping it out of Adam saves two table-sized moment buffers. In
training, the rows of the batch are copied into `local_weights`, a leaf that collects their
gradient; `hrm.train.optim.SignSGD` then applies sign(grad) to those rows only.
"""

from __future__ import annotations

import torch
from torch import nn


class PuzzleEmbedding(nn.Module):
    def __init__(self, num_ids: int, dim: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype
        self.register_buffer("weights", torch.zeros(num_ids, dim))  # zero init, as the authors
        self.register_buffer("local_weights", torch.zeros(0, dim, requires_grad=True), persistent=False)
        self.register_buffer("local_ids", torch.zeros(0, dtype=torch.int32), persistent=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [b] -> [b, dim] in the activation dtype."""
        if not self.training:
            return self.weights[ids].to(self.dtype)
        if self.local_weights.shape[0] != ids.shape[0] or self.local_weights.device != ids.device:
            self.local_weights = torch.zeros(ids.shape[0], self.weights.shape[1], device=ids.device, requires_grad=True)
            self.local_ids = torch.zeros(ids.shape[0], dtype=torch.int32, device=ids.device)
        with torch.no_grad():
            self.local_weights.copy_(self.weights[ids])
            self.local_ids.copy_(ids)
        return self.local_weights.to(self.dtype)
