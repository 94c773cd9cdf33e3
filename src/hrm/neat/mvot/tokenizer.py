"""A small VQ-VAE image tokenizer for rendered maze grids (van den Oord et al. 2017, "Neural Discrete
Representation Learning"), trained on CPU in about a minute.

    picture [b, 3, y, x] -> encoder -> z [b, e, h', w'] -> nearest codebook entry -> codes [b, h'·w']
    codes -> codebook embeddings -> decoder -> picture

The encoder downsamples by f = pixels_per_cell · cells_per_token with log2(f) stride-2 convolutions, so one
code covers a cells_per_token² block of maze cells (10×10 maze, 2×2 cells per code: 25 image tokens).
Codebook entries are updated by an exponential moving average of the encoder outputs assigned to them
(the paper's appendix; Razavi et al. 2019), not by gradient; codes left unused are restarted on random
encoder outputs of the batch, which keeps the codebook in use. Training loss: pixel MSE (S and G cells weighted up) +
beta · ||z - sg(quantized)||² (commitment), straight-through gradient to the encoder.

Written here rather than taken from `vector-quantize-pytorch`: the whole tokenizer is ~150 lines, the
codebook used for the token discrepancy loss is a plain buffer, and `hrm` takes no dependency (and its
einops/einx chain) for it.

Axis legend: b batch, e code width, n image tokens (h'·w'), N codebook entries, y/x pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from hrm.data.maze import GOAL_ID, PATH_ID, START_ID
from hrm.errors import ConfigError
from hrm.neat.mvot.path_targets import grid_side
from hrm.neat.mvot.render import read_cells, render_grids


@dataclass(kw_only=True)
class TokenizerConfig:
    pixels_per_cell: int = 4  # side of a cell's square in the rendered picture, >= 1
    cells_per_token: int = 2  # one image token per cells_per_token² block of cells, >= 1
    codebook_size: int = 128  # N, the image vocabulary; >= 2
    code_dim: int = 16  # e, width of a codebook embedding
    channels: int = 32  # width of the convolutions
    commitment_weight: float = 0.25  # beta of the commitment loss (paper: 0.25)
    codebook_decay: float = 0.9  # gamma of the EMA codebook update, in (0, 1); the paper's 0.99 is too slow for
    # a few hundred steps (measured at 400 steps: path cells read back 0.69-0.94 at 0.99, 1.00 at 0.9)
    endpoint_weight: float = 10.0  # pixel-MSE weight of the S and G cells, >= 1: they are 2 of 100 cells, and
    # unweighted every S and G decoded as a wall (measured: all read-back errors were S/G)
    dead_code_threshold: float = 0.5  # restart codes whose EMA count falls below this many uses per batch

    @property
    def downsample(self) -> int:
        return self.pixels_per_cell * self.cells_per_token

    def validate(self) -> None:
        f = self.downsample
        if min(self.pixels_per_cell, self.cells_per_token, self.code_dim, self.channels) < 1 or f < 2 or f & (f - 1):
            raise ConfigError(f"tokenizer: pixels_per_cell * cells_per_token must be a power of two >= 2 (got {f}) "
                              "and all sizes >= 1")
        if self.codebook_size < 2:
            raise ConfigError(f"tokenizer.codebook_size must be >= 2, got {self.codebook_size}")
        if not 0 < self.codebook_decay < 1 or self.commitment_weight < 0 or self.dead_code_threshold < 0:
            raise ConfigError("tokenizer: codebook_decay must be in (0, 1), commitment_weight and "
                              "dead_code_threshold >= 0")
        if self.endpoint_weight < 1:
            raise ConfigError(f"tokenizer.endpoint_weight must be >= 1, got {self.endpoint_weight}")


class VectorQuantizer(nn.Module):
    """Nearest-neighbour quantisation to a codebook [N, e] kept as buffers (EMA-updated by `update`)."""

    def __init__(self, codebook_size: int, code_dim: int, decay: float, dead_code_threshold: float) -> None:
        super().__init__()
        self.decay = decay
        self.dead_code_threshold = dead_code_threshold
        self.register_buffer("codebook", torch.zeros(codebook_size, code_dim))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))  # EMA of uses per batch; 0 = dead
        self.register_buffer("embed_sum", torch.zeros(codebook_size, code_dim))  # EMA of assigned vectors' sum

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """z [m, e] -> codes [m]: index of the nearest codebook entry (squared Euclidean)."""
        distances = z.square().sum(-1, keepdim=True) - 2 * z @ self.codebook.T + self.codebook.square().sum(-1)
        return distances.argmin(-1)

    @torch.no_grad()
    def update(self, z: torch.Tensor, codes: torch.Tensor, generator: torch.Generator) -> None:
        """One EMA step towards the mean of the vectors z [m, e] assigned to each code [m]; dead codes restart
        on random rows of z."""
        counts = torch.bincount(codes, minlength=self.codebook.shape[0]).to(z.dtype)
        sums = torch.zeros_like(self.embed_sum).index_add_(0, codes, z)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        self.embed_sum.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        live = self.cluster_size > 0
        self.codebook[live] = self.embed_sum[live] / self.cluster_size[live].unsqueeze(-1)
        dead = torch.nonzero(self.cluster_size < self.dead_code_threshold).squeeze(-1)
        if dead.numel():
            rows = torch.randint(z.shape[0], (dead.numel(),), generator=generator, device=generator.device)
            self.codebook[dead] = z[rows.to(z.device)]
            self.embed_sum[dead] = z[rows.to(z.device)]
            self.cluster_size[dead] = 1.0

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """z [b, e, h, w] -> (quantized with a straight-through gradient [b, e, h, w], codes [b, h·w],
        commitment ||z - sg(quantized)||² averaged over elements)."""
        b, e, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, e)
        codes = self.nearest(flat.detach())
        quantized = self.codebook[codes]
        commitment = F.mse_loss(flat, quantized)
        quantized = flat + (quantized - flat).detach()
        return quantized.view(b, h, w, e).permute(0, 3, 1, 2), codes.view(b, h * w), commitment


def _sampling_stack(config: TokenizerConfig, first: nn.Module, transpose: bool, last: nn.Module) -> nn.Sequential:
    layers = [first]
    for _ in range(int(math.log2(config.downsample))):
        conv = nn.ConvTranspose2d if transpose else nn.Conv2d
        layers += [nn.SiLU(), conv(config.channels, config.channels, 4, stride=2, padding=1)]
    return nn.Sequential(*layers, nn.SiLU(), last)


class GridTokenizer(nn.Module):
    """Maze grids <-> rendered pictures <-> image tokens; see the module docstring."""

    def __init__(self, config: TokenizerConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        c = config.channels
        self.encoder = _sampling_stack(config, nn.Conv2d(3, c, 3, padding=1), False, nn.Conv2d(c, config.code_dim, 1))
        self.decoder = _sampling_stack(config, nn.Conv2d(config.code_dim, c, 3, padding=1), True,
                                       nn.Conv2d(c, 3, 3, padding=1))
        self.quantizer = VectorQuantizer(config.codebook_size, config.code_dim, config.codebook_decay,
                                         config.dead_code_threshold)

    @property
    def codebook(self) -> torch.Tensor:
        """[N, e] codebook embeddings (the e_t of the token discrepancy loss)."""
        return self.quantizer.codebook

    def forward(self, pictures: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """pictures [b, 3, y, x] -> (reconstruction [b, 3, y, x], codes [b, n], commitment loss, z [b·n, e])."""
        z = self.encoder(2 * pictures - 1)
        quantized, codes, commitment = self.quantizer(z)
        return (self.decoder(quantized) + 1) / 2, codes, commitment, z.permute(0, 2, 3, 1).flatten(0, 2)

    def encode(self, pictures: torch.Tensor) -> torch.Tensor:
        """pictures [b, 3, y, x] -> codes [b, n]."""
        z = self.encoder(2 * pictures - 1)
        return self.quantizer.nearest(z.permute(0, 2, 3, 1).flatten(0, 2)).view(z.shape[0], -1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes [b, n] (a square token grid) -> pictures [b, 3, y, x]."""
        side = grid_side(codes.shape[-1])
        embeddings = self.codebook[codes.long()].view(-1, side, side, self.config.code_dim).permute(0, 3, 1, 2)
        return (self.decoder(embeddings) + 1) / 2

    def tokenize_grids(self, grids: torch.Tensor) -> torch.Tensor:
        """grids [b, l] maze tokens (square) -> image tokens [b, n] of their pictures."""
        side = grid_side(grids.shape[-1])
        if side % self.config.cells_per_token:
            raise ValueError(f"cells_per_token {self.config.cells_per_token} does not divide the grid side {side}")
        return self.encode(render_grids(grids.view(-1, side, side), self.config.pixels_per_cell))

    def decode_grids(self, codes: torch.Tensor) -> torch.Tensor:
        """image tokens [b, n] -> maze grids [b, l] read back from the decoded pictures."""
        return read_cells(self.decode(codes), self.config.pixels_per_cell).flatten(1)


def train_tokenizer(tokenizer: GridTokenizer, grid_batches: Iterator[torch.Tensor], num_steps: int, lr: float = 2e-3,
                    seed: int = 0) -> list[dict[str, float]]:
    """Fit the tokenizer on pictures of `num_steps` batches of grids [b, l]; per-step {loss, recon_mse, commitment}.
    Adam on encoder/decoder, loss = pixel MSE (S and G cells weighted by endpoint_weight) + beta * commitment;
    the codebook follows by EMA (dead-code restarts drawn from `seed`)."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(list(tokenizer.encoder.parameters()) + list(tokenizer.decoder.parameters()), lr=lr)
    pixels_per_cell = tokenizer.config.pixels_per_cell
    history = []
    tokenizer.train()
    for _ in range(num_steps):
        grids = next(grid_batches)
        side = grid_side(grids.shape[-1])
        cells = grids.view(-1, side, side)
        pictures = render_grids(cells, pixels_per_cell)
        reconstruction, codes, commitment, z = tokenizer(pictures)
        is_endpoint = (cells == START_ID) | (cells == GOAL_ID)
        weights = 1 + (tokenizer.config.endpoint_weight - 1) * is_endpoint.float()
        weights = weights.repeat_interleave(pixels_per_cell, 1).repeat_interleave(pixels_per_cell, 2).unsqueeze(1)
        recon_mse = F.mse_loss(reconstruction, pictures)
        loss = ((reconstruction - pictures).square() * weights).mean() + tokenizer.config.commitment_weight * commitment
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        tokenizer.quantizer.update(z.detach(), codes.flatten(), generator)
        history.append({"loss": loss.item(), "recon_mse": recon_mse.item(), "commitment": commitment.item()})
    tokenizer.eval()
    return history


@torch.no_grad()
def tokenizer_quality(tokenizer: GridTokenizer, grids: torch.Tensor) -> dict[str, float]:
    """Round trip grids [b, l] -> tokens -> pictures -> grids: per-cell accuracy, the same on path cells (what
    a visual thought adds to the maze), whole-picture exact rate, and codebook usage (fraction of the N codes
    used, and the perplexity of their frequencies)."""
    codes = tokenizer.tokenize_grids(grids)
    decoded = tokenizer.decode_grids(codes)
    correct = decoded == grids
    counts = torch.bincount(codes.flatten(), minlength=tokenizer.config.codebook_size).double()
    probs = counts / counts.sum()
    entropy = -(probs[probs > 0] * probs[probs > 0].log()).sum()
    return {
        "cell_accuracy": correct.float().mean().item(),
        "path_cell_accuracy": correct[grids == PATH_ID].float().mean().item(),
        "picture_exact": correct.all(-1).float().mean().item(),
        "codebook_usage": (counts > 0).double().mean().item(),
        "codebook_perplexity": entropy.exp().item(),
    }
