"""The latent transformer over patches: a causal stack (the paper's l_G layers), or TRM's recursion.

    transformer:  Z = l_G causal layers (P)
    trm:          z_high = z_low = 0
                  T x [ n x  z_low = net(z_low + z_high + P);   z_high = net(z_high + z_low) ]
                  Z = z_high

`trm` is the recursion of `hrm.models.trm` (latent_recursions n, deep_recursions T, the first T - 1 under
no-grad) with one weight-shared core `BlockStack` of causal blocks as `net`. This is how a TRM-style
reasoner sits behind the byte front end: it reasons over patch latents instead of bytes. Every step is a
causal block or a per-position sum, so Z_p still depends on P_0..P_p only. Departures from TRM: zero
initial states (TRM uses fixed random vectors), no ACT halting or carry between calls, no puzzle prefix.

Axis legend: b batch, p patches, d latent width.
"""

from __future__ import annotations

import torch
from torch import nn

from hrm.neat.blt.causal import CausalBlock, CausalTransformer, rope_tables
from hrm.neat.blt.config import BLTConfig
from hrm.nn.block import BlockStack


class RecursiveLatent(nn.Module):
    """P [b, p, d] -> Z [b, p, d] by TRM's recursion over one causal `BlockStack`."""

    def __init__(self, dim: int, num_layers: int, num_heads: int, expansion: float, eps: float,
                 latent_recursions: int, deep_recursions: int) -> None:
        super().__init__()
        self.head_dim = dim // num_heads
        self.latent_recursions, self.deep_recursions = latent_recursions, deep_recursions
        self.net = BlockStack([CausalBlock(dim, num_heads, expansion, eps) for _ in range(num_layers)])

    def latent_recursion(self, z_high: torch.Tensor, z_low: torch.Tensor, x: torch.Tensor, rope
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        for _ in range(self.latent_recursions):
            z_low = self.net(z_low, z_high + x, rope)
        return self.net(z_high, z_low, rope), z_low

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        rope = rope_tables(self.head_dim, patches)
        z_high, z_low = torch.zeros_like(patches), torch.zeros_like(patches)
        with torch.no_grad():
            for _ in range(self.deep_recursions - 1):
                z_high, z_low = self.latent_recursion(z_high, z_low, patches, rope)
        return self.latent_recursion(z_high, z_low, patches, rope)[0]


def build_latent(config: BLTConfig) -> nn.Module:
    """The latent named by `config.latent`."""
    c = config
    if c.latent == "trm":
        return RecursiveLatent(c.latent_dim, c.num_latent_layers, c.num_latent_heads, c.expansion, c.rms_norm_eps,
                               c.latent_recursions, c.deep_recursions)
    return CausalTransformer(c.latent_dim, c.num_latent_layers, c.num_latent_heads, c.expansion, c.rms_norm_eps)
