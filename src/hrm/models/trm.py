"""TRM, the Tiny Recursive Model (Jolicoeur-Martineau 2025), as the author's ACT code.

One small network serves both roles. A latent recursion updates the reasoning state n times with
the question injected, then the answer state once without it:

    n x  z_low = net(z_low + z_high + x);   z_high = net(z_high + z_low)

A segment runs T latent recursions: T-1 without gradient, the last with full backpropagation
through all n+1 network calls. Halting is learned from the halt logit alone (no second forward).

Names versus the author's code: deep_recursions = H_cycles (T), latent_recursions = L_cycles (n),
num_layers = L_layers, net = L_level, token_mixer "mlp" = mlp_t (with pos_encodings "none").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from hrm.errors import ConfigError
from hrm.models.reasoner import Reasoner, ReasonerConfig
from hrm.nn.block import BlockStack


@dataclass(kw_only=True)
class TRMConfig(ReasonerConfig):
    name: str = "trm"
    deep_recursions: int = 3  # T: latent recursions per segment, the last one with gradient
    latent_recursions: int = 6  # n: reasoning-state updates per latent recursion
    num_layers: int = 2
    token_mixer: Literal["attention", "mlp"] = "attention"
    num_puzzle_tokens: int = 16
    act_continue: bool = False

    def validate(self) -> None:
        super().validate()
        if min(self.deep_recursions, self.latent_recursions, self.num_layers) < 1:
            raise ConfigError("model.deep_recursions, latent_recursions and num_layers must be >= 1")


class TRM(Reasoner):
    config: TRMConfig

    def __init__(self, config: TRMConfig) -> None:
        super().__init__(config)
        self.net = BlockStack([self.make_block(config.token_mixer) for _ in range(config.num_layers)])

    def latent_recursion(self, z_high: torch.Tensor, z_low: torch.Tensor, x: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        rope = self.rope
        for _ in range(self.config.latent_recursions):
            z_low = self.net(z_low, z_high + x, rope)
        return self.net(z_high, z_low, rope), z_low

    def recurse(self, z_high: torch.Tensor, z_low: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            for _ in range(self.config.deep_recursions - 1):
                z_high, z_low = self.latent_recursion(z_high, z_low, x)
        return self.latent_recursion(z_high, z_low, x)
