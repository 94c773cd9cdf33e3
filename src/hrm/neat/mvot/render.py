"""Maze grids as small RGB pictures, and pictures read back as grids.

Each cell becomes a `pixels_per_cell`² square of one colour (a palette indexed by the maze token id), so a
10×10 maze at 4 pixels per cell is a 40×40 picture. Reading a picture back takes each cell's mean colour
and picks the nearest palette colour: that is how decoded visual thoughts are scored cell by cell.

Axis legend: b batch, h/w grid rows/columns (cells), c colour channels (3), y/x pixel rows/columns.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hrm.data.maze import GOAL_ID, OPEN_ID, PAD_ID, PATH_ID, START_ID, WALL_ID

# RGB in [0, 1] by maze token id; PAD (never in a maze) is mid grey so that every id has a colour.
PALETTE = torch.zeros(6, 3)
PALETTE[PAD_ID] = torch.tensor([0.5, 0.5, 0.5])
PALETTE[WALL_ID] = torch.tensor([0.1, 0.1, 0.1])
PALETTE[OPEN_ID] = torch.tensor([1.0, 1.0, 1.0])
PALETTE[START_ID] = torch.tensor([0.1, 0.7, 0.2])
PALETTE[GOAL_ID] = torch.tensor([0.9, 0.15, 0.15])
PALETTE[PATH_ID] = torch.tensor([0.2, 0.4, 1.0])


def render_grids(grids: torch.Tensor, pixels_per_cell: int) -> torch.Tensor:
    """grids [b, h, w] maze token ids -> pictures [b, 3, h·p, w·p] float32 in [0, 1] (p = pixels_per_cell)."""
    if grids.min() < 0 or grids.max() >= len(PALETTE):
        raise ValueError(f"maze token ids must be in [0, {len(PALETTE) - 1}], got [{int(grids.min())}, "
                         f"{int(grids.max())}]")
    colours = PALETTE.to(grids.device)[grids.long()]  # [b, h, w, c]
    pixels = colours.repeat_interleave(pixels_per_cell, dim=1).repeat_interleave(pixels_per_cell, dim=2)
    return pixels.permute(0, 3, 1, 2).contiguous()


def read_cells(pictures: torch.Tensor, pixels_per_cell: int) -> torch.Tensor:
    """pictures [b, 3, y, x] -> grids [b, y/p, x/p] long: per cell, the maze token (wall, open, S, G, path; never
    PAD) whose colour is nearest the cell's mean colour."""
    means = F.avg_pool2d(pictures.float(), pixels_per_cell)  # [b, c, h, w]
    palette = PALETTE[WALL_ID:].to(pictures.device)  # ids WALL_ID..PATH_ID are consecutive
    distances = (means.permute(0, 2, 3, 1).unsqueeze(-2) - palette).square().sum(-1)  # [b, h, w, 5]
    return distances.argmin(-1) + WALL_ID
