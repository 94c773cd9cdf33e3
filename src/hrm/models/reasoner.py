"""What HRM and TRM share: the config fields, input encoding, read-out heads and reset states.

A reasoner maps (z_high, z_low, inputs, puzzle ids) to new states, token logits and two Q logits.
Subclasses define only `recurse`, the order of network calls within one ACT segment.

Axis legend: b batch, l sequence (puzzle prefix p + cells s), d hidden, v vocab.

Names versus the authors' code: hidden_dim = hidden_size, puzzle_emb_dim = puzzle_emb_ndim,
num_puzzle_tokens = puzzle_emb_len, max_segments = halt_max_steps, act_continue = not no_ACT_continue,
z_high / z_low = z_H / z_L, init_high / init_low = H_init / L_init, loss = loss_type.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from hrm.errors import ConfigError
from hrm.nn.block import Block
from hrm.nn.init import trunc_normal_
from hrm.nn.linear import CastedEmbedding, CastedLinear
from hrm.nn.puzzle_embedding import PuzzleEmbedding
from hrm.nn.rope import RotaryEmbedding

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(kw_only=True)
class ReasonerConfig:
    name: str
    hidden_dim: int = 512
    num_heads: int = 8
    expansion: float = 4.0  # SwiGLU width factor (before the 2/3 rule)
    pos_encoding: Literal["rope", "learned", "none"] = "rope"
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    puzzle_emb_dim: int = 512  # width of the per-puzzle embedding; 0 disables it
    num_puzzle_tokens: int = 0  # prefix positions it fills; 0 = ceil(puzzle_emb_dim / hidden_dim)
    max_segments: int = 16  # ACT segments per example (N_sup, halt_max_steps)
    halt_exploration_prob: float = 0.1  # chance of forcing a random minimum segment count in training
    act_continue: bool = True  # Q-learn the continue logit (HRM) or halt-only (TRM)
    loss: Literal["stablemax", "softmax"] = "stablemax"
    forward_dtype: Literal["float32", "bfloat16", "float16"] = "bfloat16"
    extensions: dict[str, dict] = field(default_factory=dict)  # name -> options; see models/extensions.py
    # Filled from the dataset's metadata when the model is built (leave 0 in YAML):
    seq_len: int = 0
    vocab_size: int = 0
    num_puzzle_ids: int = 0

    @classmethod
    def resolve(cls, tree: dict, prefix: str) -> type["ReasonerConfig"]:
        from hrm.models import MODELS

        if cls is not ReasonerConfig:
            return cls
        name = tree.get("name")
        if name not in MODELS:
            near = difflib.get_close_matches(str(name), MODELS.names())
            raise ConfigError(f"'{prefix}name' must name a model {MODELS.names()}, got {name!r}"
                              + (f" (did you mean '{near[0]}'?)" if near else ""))
        return MODELS.get(name).config

    @property
    def puzzle_tokens(self) -> int:
        if self.num_puzzle_tokens:
            return self.num_puzzle_tokens
        return -(self.puzzle_emb_dim // -self.hidden_dim)

    def validate(self) -> None:
        if not 1 <= self.num_heads <= self.hidden_dim:
            raise ConfigError(f"model.num_heads must be in [1, hidden_dim], got {self.num_heads}")
        if self.pos_encoding == "rope" and (self.hidden_dim // self.num_heads) % 2:
            raise ConfigError(f"RoPE needs an even head width, but hidden_dim // num_heads = "
                              f"{self.hidden_dim // self.num_heads}")
        if self.puzzle_emb_dim > self.puzzle_tokens * self.hidden_dim:
            raise ConfigError("model.puzzle_emb_dim does not fit in model.num_puzzle_tokens * model.hidden_dim")
        if self.puzzle_emb_dim == 0 and self.num_puzzle_tokens:
            raise ConfigError("model.num_puzzle_tokens > 0 needs model.puzzle_emb_dim > 0")
        if self.max_segments < 1:
            raise ConfigError("model.max_segments must be >= 1")
        if not 0.0 <= self.halt_exploration_prob <= 1.0:
            raise ConfigError("model.halt_exploration_prob must be in [0, 1]")


class Reasoner(nn.Module):
    """Shared I/O around the recursion; see the module docstring."""

    config: ReasonerConfig

    def __init__(self, config: ReasonerConfig) -> None:
        super().__init__()
        if min(config.seq_len, config.vocab_size) < 1:
            raise ValueError("seq_len and vocab_size must be set (from the dataset metadata) before building")
        self.config = config
        self.dtype = DTYPES[config.forward_dtype]
        self.num_prefix = config.puzzle_tokens if config.puzzle_emb_dim > 0 else 0
        self.total_len = config.seq_len + self.num_prefix
        dim = config.hidden_dim
        self.embed_scale = math.sqrt(dim)

        self.embed_tokens = CastedEmbedding(config.vocab_size, dim, init_std=1 / self.embed_scale, dtype=self.dtype)
        self.lm_head = CastedLinear(dim, config.vocab_size)
        self.q_head = CastedLinear(dim, 2, bias=True)
        with torch.no_grad():  # Q starts near zero probability: weight 0, bias -5 (authors' init)
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)
        if config.puzzle_emb_dim > 0:
            self.puzzle_emb = PuzzleEmbedding(max(config.num_puzzle_ids, 1), config.puzzle_emb_dim, self.dtype)
        if config.pos_encoding == "rope":
            self.rotary = RotaryEmbedding(dim // config.num_heads, self.total_len, config.rope_theta)
        elif config.pos_encoding == "learned":
            self.embed_positions = CastedEmbedding(self.total_len, dim, init_std=1 / self.embed_scale, dtype=self.dtype)
        self.register_buffer("init_high", trunc_normal_(torch.empty(dim), std=1.0).to(self.dtype))
        self.register_buffer("init_low", trunc_normal_(torch.empty(dim), std=1.0).to(self.dtype))

    def make_block(self, token_mixer: str = "attention") -> Block:
        c = self.config
        return Block(c.hidden_dim, c.num_heads, c.expansion, c.rms_norm_eps, token_mixer, seq_len=self.total_len)

    @property
    def rope(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        return (self.rotary.cos, self.rotary.sin) if self.config.pos_encoding == "rope" else None

    def embed(self, inputs: torch.Tensor, puzzle_ids: torch.Tensor) -> torch.Tensor:
        """inputs [b, s] token ids, puzzle_ids [b] -> x [b, l, d], scaled by sqrt(d)."""
        x = self.embed_tokens(inputs.int())
        if self.num_prefix:
            prefix = self.puzzle_emb(puzzle_ids)
            pad = self.num_prefix * self.config.hidden_dim - prefix.shape[-1]
            prefix = nn.functional.pad(prefix, (0, pad)).view(-1, self.num_prefix, self.config.hidden_dim)
            x = torch.cat((prefix, x), dim=-2)
        if self.config.pos_encoding == "learned":
            x = 0.707106781 * (x + self.embed_positions.weight.to(self.dtype))  # 1/sqrt(2) keeps the variance
        return self.embed_scale * x

    def initial_states(self, batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (batch_size, self.total_len, self.config.hidden_dim)
        return (self.init_high.to(device).expand(shape).clone(), self.init_low.to(device).expand(shape).clone())

    def reset(self, mask: torch.Tensor, z_high: torch.Tensor, z_low: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows where mask [b] is set go back to the initial states."""
        m = mask.view(-1, 1, 1)
        return torch.where(m, self.init_high, z_high), torch.where(m, self.init_low, z_low)

    def recurse(self, z_high: torch.Tensor, z_low: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, z_high: torch.Tensor, z_low: torch.Tensor, inputs: torch.Tensor, puzzle_ids: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One ACT segment -> (z_high, z_low detached; logits [b, s, v]; q_halt [b]; q_continue [b])."""
        x = self.embed(inputs, puzzle_ids)
        z_high, z_low = self.recurse(z_high, z_low, x)
        logits = self.lm_head(z_high)[:, self.num_prefix:]
        q = self.q_head(z_high[:, 0]).float()  # the first prefix position acts as a CLS token
        return z_high.detach(), z_low.detach(), logits, q[..., 0], q[..., 1]

    def num_parameters(self) -> int:
        """Trainable parameters (the puzzle-embedding table is a buffer, as in the papers' counts)."""
        return sum(p.numel() for p in self.parameters())
