"""Interleaved visual thoughts for HRM/TRM on mazes (MVoT, Li et al. 2025, arXiv 2501.07542).

One unified sequence and vocabulary, as MVoT's Chameleon/Anole model has:

    positions   [ maze cells (l = s²) | image slots (n visual tokens) ]
    vocabulary  [ maze tokens 0..5 (PAD # space S G o) | image codes 6 .. 6 + N - 1 ]

Segment t of T (T = model.max_segments; every example runs all T, the ACT evaluation regime) reads the maze and,
in the image slots, the codes of the previous visual thought v_{t-1} (v_0: the bare maze's picture, the
"initial image" MVoT keeps in context). It writes answer logits at the cells and the visual thought v_t at the
slots. The reasoning state (z_high, z_low) carries across segments, detached, as in HRM's deep supervision:

    v_t ~ P(v | maze, v_{t-1}, z_{t-1})       target: picture of the maze with the first min(t·k, n) of the
                                              label path's n cells drawn, all n at t = T (`path_targets.py`)

Inference feeds back the model's own argmax thought; training feeds the target picture of the previous segment
(teacher forcing, as MVoT trains on the true interleaved images) unless teacher_forcing is off. Each segment's
loss is CE over the whole unified sequence (answer cells and image slots, full vocabulary, as MVoT's LM loss)
+ discrepancy_weight · L_D on the image slots (`discrepancy.py`), followed by one optimizer step (deep
supervision). Halting is not learned: the q head is unused. With use_visual_thoughts off the sequence is the
maze alone (the text-only baseline).

Departures from MVoT: one fixed-size picture per segment instead of generated <boi> ... <eoi> spans of a
causal LM; a reasoner that is not autoregressive writes all visual tokens of a thought at once.

Axis legend: b batch, l maze cells, n visual tokens per picture, T segments, v unified vocabulary, N codes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hrm.config import build
from hrm.data.maze import VOCAB_SIZE as MAZE_VOCAB_SIZE
from hrm.errors import ConfigError
from hrm.models import build_model
from hrm.models.reasoner import ReasonerConfig
from hrm.neat.mvot.discrepancy import Distance, codebook_distances, token_discrepancy_loss
from hrm.neat.mvot.path_targets import segment_target_grids
from hrm.neat.mvot.tokenizer import GridTokenizer, TokenizerConfig

IMAGE_OFFSET = MAZE_VOCAB_SIZE  # id of image code 0 in the unified vocabulary

TINY_TRM = dict(name="trm", hidden_dim=64, num_heads=4, expansion=2.0, num_layers=2, deep_recursions=1,
                latent_recursions=4, puzzle_emb_dim=0, num_puzzle_tokens=0, max_segments=4, loss="softmax",
                forward_dtype="float32")


@dataclass(kw_only=True)
class MVoTConfig:
    model: dict[str, Any] = field(default_factory=lambda: dict(TINY_TRM))  # reasoner options; name: trm or hrm
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    maze_size: int = 10  # s, grid side; a multiple of tokenizer.cells_per_token
    cells_per_thought: int = 2  # k, path cells each visual thought adds to the previous one; >= 1
    use_visual_thoughts: bool = True  # False: the text-only baseline (no image slots, no L_D)
    discrepancy_weight: float = 1.0  # weight of L_D (MVoT: 1); 0 = CE alone; >= 0
    distance: Distance = "euclidean"  # S: "euclidean" (MVoT's code) or "squared" / e (the paper's MSE)
    teacher_forcing: bool = True  # training feeds segment t the TARGET v_{t-1} (MVoT trains on true interleaved
    # images); False feeds the model's own argmax thought, as inference always does

    def reasoner_config(self) -> ReasonerConfig:
        """The reasoner's config with the unified sequence length and vocabulary filled in."""
        config = build(ReasonerConfig, dict(self.model), "mvot.model.")
        num_cells = self.maze_size ** 2
        if self.use_visual_thoughts:
            return dataclasses.replace(config, seq_len=num_cells + self.num_image_tokens,
                                       vocab_size=IMAGE_OFFSET + self.tokenizer.codebook_size, num_puzzle_ids=1)
        return dataclasses.replace(config, seq_len=num_cells, vocab_size=IMAGE_OFFSET, num_puzzle_ids=1)

    @property
    def num_image_tokens(self) -> int:
        return (self.maze_size // self.tokenizer.cells_per_token) ** 2

    def validate(self) -> None:
        self.tokenizer.validate()
        if self.maze_size < 2 or self.maze_size % self.tokenizer.cells_per_token:
            raise ConfigError(f"mvot.maze_size ({self.maze_size}) must be >= 2 and a multiple of "
                              f"mvot.tokenizer.cells_per_token ({self.tokenizer.cells_per_token})")
        if self.cells_per_thought < 1:
            raise ConfigError(f"mvot.cells_per_thought must be >= 1, got {self.cells_per_thought}")
        if self.discrepancy_weight < 0:
            raise ConfigError(f"mvot.discrepancy_weight must be >= 0, got {self.discrepancy_weight}")
        if self.distance not in ("euclidean", "squared"):
            raise ConfigError(f"mvot.distance must be 'euclidean' or 'squared', got {self.distance!r}")
        if not isinstance(self.model, dict) or "name" not in self.model:
            raise ConfigError("mvot.model must be a mapping with a 'name' (trm or hrm)")
        self.reasoner_config()  # unknown or bad reasoner options raise ConfigError here


class VisualThoughtReasoner(nn.Module):
    """A registered reasoner (built by configuration) plus a frozen image tokenizer; see the module docstring."""

    def __init__(self, config: MVoTConfig, tokenizer: GridTokenizer | None) -> None:
        super().__init__()
        config.validate()
        if config.use_visual_thoughts and (tokenizer is None or tokenizer.config != config.tokenizer):
            raise ValueError("visual thoughts need the trained tokenizer that mvot.tokenizer describes")
        self.config = config
        self.reasoner = build_model(config.reasoner_config()).reasoner
        self.num_segments = self.reasoner.config.max_segments
        self.num_cells = config.maze_size ** 2
        if config.use_visual_thoughts:
            self.tokenizer = tokenizer.requires_grad_(False).eval()
            self.register_buffer("distances", codebook_distances(tokenizer.codebook, config.distance).float())

    @torch.no_grad()
    def thought_targets(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """inputs, labels [b, l] -> codes [b, T + 1, n] of the pictures of segments 0 (bare maze) .. T (answer)."""
        pictures = [segment_target_grids(inputs, labels, torch.full_like(inputs[:, 0], t), self.num_segments,
                                         self.config.cells_per_thought) for t in range(self.num_segments + 1)]
        return torch.stack([self.tokenizer.tokenize_grids(grids) for grids in pictures], dim=1)

    def segment(self, z_high: torch.Tensor, z_low: torch.Tensor, inputs: torch.Tensor,
                thought: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One segment: inputs [b, l] maze tokens, thought [b, n] codes of v_{t-1} (None without visual thoughts)
        -> (z_high, z_low detached, logits [b, l (+ n), v])."""
        sequence = inputs if thought is None else torch.cat((inputs, IMAGE_OFFSET + thought), dim=-1)
        puzzle_ids = torch.zeros(inputs.shape[0], dtype=torch.long, device=inputs.device)
        z_high, z_low, logits, _, _ = self.reasoner(z_high, z_low, sequence, puzzle_ids)
        return z_high, z_low, logits.float()

    def next_thought(self, logits: torch.Tensor) -> torch.Tensor:
        """logits [b, l + n, v] -> the visual thought [b, n]: argmax over the image codes at the image slots."""
        return logits[:, self.num_cells:, IMAGE_OFFSET:].argmax(-1)

    def segment_loss(self, logits: torch.Tensor, labels: torch.Tensor, target: torch.Tensor | None
                     ) -> tuple[torch.Tensor, dict[str, float]]:
        """CE over the unified sequence + discrepancy_weight · L_D over its image slots.
        labels [b, l] answer; target [b, n] codes of this segment's picture (None without visual thoughts)."""
        if target is None:
            ce = F.cross_entropy(logits.flatten(0, 1), labels.flatten())
            return ce, {"ce": ce.item()}
        sequence_labels = torch.cat((labels, IMAGE_OFFSET + target), dim=-1)
        is_image = torch.zeros_like(sequence_labels, dtype=torch.bool)
        is_image[:, self.num_cells:] = True
        token_ce = F.cross_entropy(logits.flatten(0, 1), sequence_labels.flatten(), reduction="none").view_as(is_image)
        ce = token_ce.mean()
        discrepancy = token_discrepancy_loss(logits, sequence_labels, is_image, self.distances, IMAGE_OFFSET)
        loss = ce + self.config.discrepancy_weight * discrepancy
        return loss, {"ce": ce.item(), "ce_answer": token_ce[~is_image].mean().item(),
                      "ce_thought": token_ce[is_image].mean().item(), "discrepancy": discrepancy.item()}

    @torch.no_grad()
    def solve(self, inputs: torch.Tensor, first_thought: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run all T segments: inputs [b, l] (and v_0 [b, n]) -> (answers [b, T, l], thoughts [b, T, n] or None)."""
        z_high, z_low = self.reasoner.initial_states(inputs.shape[0], inputs.device)
        thought, answers, thoughts = first_thought, [], []
        for _ in range(self.num_segments):
            z_high, z_low, logits = self.segment(z_high, z_low, inputs, thought)
            answers.append(logits[:, :self.num_cells, :IMAGE_OFFSET].argmax(-1))
            if thought is not None:
                thought = self.next_thought(logits)
                thoughts.append(thought)
        return torch.stack(answers, 1), torch.stack(thoughts, 1) if thoughts else None


def train_on_batch(model: VisualThoughtReasoner, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
                   labels: torch.Tensor, targets: torch.Tensor | None) -> list[dict[str, float]]:
    """Deep supervision on one batch: T segments, one loss and one optimizer step each, carry detached between;
    segment t reads the target v_{t-1} (teacher forcing) or the model's own previous thought.
    inputs, labels [b, l]; targets [b, T + 1, n] from `thought_targets` (None without visual thoughts).
    Returns each segment's loss parts."""
    z_high, z_low = model.reasoner.initial_states(inputs.shape[0], inputs.device)
    thought = None if targets is None else targets[:, 0]
    history = []
    for t in range(1, model.num_segments + 1):
        z_high, z_low, logits = model.segment(z_high, z_low, inputs, thought)
        loss, parts = model.segment_loss(logits, labels, None if targets is None else targets[:, t])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if targets is not None:
            thought = targets[:, t] if model.config.teacher_forcing else model.next_thought(logits.detach())
        history.append({"loss": loss.item(), **parts})
    return history
