"""HRM, the Hierarchical Reasoning Model (Wang et al. 2025), exactly as the authors' ACT v1 code.

A slow high-level network and a fast low-level network, each a stack of post-norm blocks with
separate weights. One ACT segment runs high_cycles x low_cycles low updates and high_cycles high
updates; all but the last low and last high update run without gradient (the "1-step gradient",
an IFT/DEQ-style approximation):

    for each high cycle:  low_cycles x  z_low = f_low(z_low + z_high + x);  z_high = f_high(z_high + z_low)

Names versus the authors' code: high_cycles/low_cycles = H_cycles/L_cycles, high_layers/low_layers =
H_layers/L_layers, high_net/low_net = H_level/L_level (see reasoner.py for the shared names).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hrm.errors import ConfigError
from hrm.models.reasoner import Reasoner, ReasonerConfig
from hrm.nn.block import BlockStack


@dataclass(kw_only=True)
class HRMConfig(ReasonerConfig):
    name: str = "hrm"
    high_cycles: int = 2  # N in the paper: high-level updates per segment
    low_cycles: int = 2  # T in the paper: low-level updates per high-level update
    high_layers: int = 4
    low_layers: int = 4
    act_continue: bool = True

    def validate(self) -> None:
        super().validate()
        if min(self.high_cycles, self.low_cycles, self.high_layers, self.low_layers) < 1:
            raise ConfigError("model.high_cycles, low_cycles, high_layers and low_layers must be >= 1")
        if self.pos_encoding == "none":
            raise ConfigError("HRM needs model.pos_encoding 'rope' or 'learned'")


class HRM(Reasoner):
    config: HRMConfig

    def __init__(self, config: HRMConfig) -> None:
        super().__init__(config)
        self.high_net = BlockStack([self.make_block() for _ in range(config.high_layers)])
        self.low_net = BlockStack([self.make_block() for _ in range(config.low_layers)])

    def recurse(self, z_high: torch.Tensor, z_low: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c, rope = self.config, self.rope
        with torch.no_grad():
            for high_step in range(c.high_cycles):
                last_high = high_step == c.high_cycles - 1
                for low_step in range(c.low_cycles - 1 if last_high else c.low_cycles):
                    z_low = self.low_net(z_low, z_high + x, rope)
                if not last_high:
                    z_high = self.high_net(z_high, z_low, rope)
        z_low = self.low_net(z_low, z_high + x, rope)
        z_high = self.high_net(z_high, z_low, rope)
        return z_high, z_low
