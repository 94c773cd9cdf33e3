"""The entropy model: a small causal byte LM whose next-byte entropy decides where patches start.

    H(x_i) = -sum_v p_e(x_i = v | x_<i) log p_e(x_i = v | x_<i)      (natural log, `patcher.entropy`)

Output position i reads x_0..x_i and predicts x_{i+1}, so `entropies(ids)[:, i]` is H(x_{i+1}): the
reference layout that `patching.patch_starts` expects. The paper's model has 14 layers of width 768 with a
512-byte sliding window (~100M parameters); the defaults here are CPU-sized. The same class, wider, is
the byte-level baseline the benchmark compares BLT with.

Axis legend: b batch, l bytes (BOS first), d width, v vocab (260).
"""

from __future__ import annotations

import torch
from torch import nn

from hrm.neat.blt.byte_vocab import VOCAB_SIZE
from hrm.neat.blt.causal import CausalTransformer
from hrm.nn.init import trunc_normal_
from hrm.nn.linear import CastedLinear


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """logits [..., v] -> entropy in nats [...], computed in at least float32."""
    log_probs = logits.to(torch.promote_types(logits.dtype, torch.float32)).log_softmax(dim=-1)
    return -(log_probs.exp() * log_probs).sum(dim=-1)


class EntropyModel(nn.Module):
    """ids [b, l] -> next-byte logits [b, l, v]; causal, so logits at i depend on ids[:, :i+1] only."""

    def __init__(self, *, dim: int = 64, num_layers: int = 2, num_heads: int = 4, expansion: float = 4.0,
                 window: int = 0, eps: float = 1e-5) -> None:
        super().__init__()
        if dim % num_heads or (dim // num_heads) % 2:
            raise ValueError(f"dim {dim} must split into num_heads {num_heads} heads of even width (RoPE)")
        self.embedding = nn.Embedding(VOCAB_SIZE, dim)
        trunc_normal_(self.embedding.weight, std=dim**-0.5)  # the reference's token-embedding init
        self.transformer = CausalTransformer(dim, num_layers, num_heads, expansion, eps, window)
        self.head = CastedLinear(dim, VOCAB_SIZE)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.transformer(self.embedding(ids)))

    @torch.no_grad()
    def entropies(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [b, l] -> H [b, l] in nats, H[:, i] = entropy of the prediction of ids[:, i + 1]."""
        return entropy(self(ids))
