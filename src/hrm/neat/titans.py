"""The `titans` model extension: a Titans neural memory layer in front of HRM/TRM block stacks.

    model:
      extensions:
        titans: {num_heads: 4, chunk_size: 16}

Each chosen `BlockStack` f(z, injection) = blocks(z + injection) becomes

    h = z + injection;  M = write(M_0, h);  f'(z, injection) = blocks(h + M*(h))

i.e. memory as a layer (MAL) with a residual. The memory is written over the sequence positions
(puzzle prefix, then cells) with the chunked Titans rule, then every position reads the final memory:
the reasoner is not causal, so no position is denied what the others wrote. The output projection
starts at zero, so at initialisation the extended model computes exactly what the base model does.

Memory state and the ACT carry: the memory is per sample and per block-stack call. It starts from the
learned M_0 at every call and never outlives it, so the carry stays (z_high, z_low) and segments,
halting resets, checkpoint resume and data-parallel training are untouched; what the memory contributes
persists across calls and segments through z, like every other layer's output. Keeping the memory's
weights across segments would need a per-row memory state in the carry, reset on halt and saved in
checkpoints: a change to the core ACT wrapper that this extension does not make.
Persistent memory tokens are not added here: the puzzle-embedding prefix already gives the reasoner
learned prefix positions, and extra ones would change the sequence length RoPE and the read-out assume.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from hrm.errors import ConfigError
from hrm.models.extensions import EXTENSIONS, ExtensionSpec
from hrm.models.reasoner import Reasoner
from hrm.nn.block import BlockStack, Rope
from hrm.neat.titans_memory import NeuralMemory, check_memory_options


@dataclass(kw_only=True)
class TitansConfig:
    num_heads: int = 4  # independent memories per position, each hidden_dim / num_heads wide; divides hidden_dim
    num_layers: int = 2  # L_M, layers of the memory MLP (1 = linear memory); >= 1
    expansion: float = 2.0  # hidden width of the memory MLP / head width; > 0
    chunk_size: int = 16  # b (paper section 3.2): positions whose gradients share the chunk-start weights; 1 = exact
    init_step_size: float = 0.02  # theta_t (inner learning rate) at initialisation, in (0, 1); see docs/neat-titans.md
    init_surprise_decay: float = 0.5  # eta_t (momentum of the surprise) at initialisation, in (0, 1)
    init_forget: float = 0.01  # alpha_t (weight decay of the memory) at initialisation, in (0, 1)
    stacks: list[str] = field(default_factory=list)  # BlockStack attributes (TRM: net; HRM: high_net, low_net); [] = all

    def memory_options(self) -> dict:
        return dict(num_heads=self.num_heads, num_layers=self.num_layers, expansion=self.expansion,
                    chunk_size=self.chunk_size, init_step_size=self.init_step_size,
                    init_surprise_decay=self.init_surprise_decay, init_forget=self.init_forget)

    def validate(self) -> None:
        try:
            check_memory_options(**self.memory_options())
        except ValueError as err:
            raise ConfigError(f"model.extensions.titans.{err}") from None


class TitansStack(nn.Module):
    """A BlockStack with a Titans memory layer in front: blocks(h + M*(h)), h = z + injection."""

    def __init__(self, stack: BlockStack, memory: NeuralMemory) -> None:
        super().__init__()
        self.stack = stack
        self.memory = memory

    def forward(self, z: torch.Tensor, injection: torch.Tensor, rope: Rope = None) -> torch.Tensor:
        h = z + injection
        x = h.to(torch.promote_types(h.dtype, torch.float32))  # the inner gradient steps need >= fp32
        retrieved = self.memory.read(x, self.memory.write(x))
        return self.stack(h, retrieved.to(h.dtype), rope)


def attach_titans(reasoner: Reasoner, config: TitansConfig) -> None:
    stacks = {name: module for name, module in reasoner.named_children() if isinstance(module, BlockStack)}
    names = config.stacks or list(stacks)
    unknown = sorted(set(names) - set(stacks))
    if unknown:
        raise ConfigError(f"model.extensions.titans.stacks: {unknown} are not block stacks of "
                          f"{type(reasoner).__name__}; it has {sorted(stacks)}")
    dim = reasoner.config.hidden_dim
    if dim % config.num_heads:
        raise ConfigError(f"model.extensions.titans.num_heads ({config.num_heads}) must divide "
                          f"model.hidden_dim ({dim})")
    for name in names:
        memory = NeuralMemory(dim, **config.memory_options())
        with torch.no_grad():
            memory.out_proj.weight.zero_()
        setattr(reasoner, name, TitansStack(stacks[name], memory))


EXTENSIONS.add("titans", ExtensionSpec(config=TitansConfig, apply=attach_titans))
