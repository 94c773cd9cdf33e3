"""What a maze's visual thought at ACT segment s should show: the path so far.

Target for segment s of S (s = 1..S): the maze with the first ceil(s·n / S) cells of the label's shortest path
marked `o`, counted from S (n = the path's `o` cells). The last segment's picture is the full answer. This
mirrors MVoT's maze task, whose visual thought after step i pictures the trajectory after i actions.

Path order: on a shortest path, the i-th `o` cell from S is exactly i moves from S and touches the (i-1)-th,
and no two non-consecutive path cells touch (that would be a shortcut). So growing a region from S through
`o` cells one 4-neighbour step at a time reaches the path cells in order.

Axis legend: b batch, l cells (h·w, row-major), h/w grid rows/columns.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hrm.data.maze import PATH_ID, START_ID


def grid_side(num_cells: int) -> int:
    """The side of a square grid of `num_cells` cells; raises if there is none."""
    side = math.isqrt(num_cells)
    if side * side != num_cells:
        raise ValueError(f"maze sequences are square grids; {num_cells} cells is not a square")
    return side


def _grow(region: torch.Tensor) -> torch.Tensor:
    """region [b, h, w] bool -> the region plus its 4-neighbours."""
    padded = F.pad(region.float().unsqueeze(1), (1, 1, 1, 1)).squeeze(1)
    return (region | (padded[:, :-2, 1:-1] > 0) | (padded[:, 2:, 1:-1] > 0)
            | (padded[:, 1:-1, :-2] > 0) | (padded[:, 1:-1, 2:] > 0))


def path_order(inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """inputs, labels [b, l] maze tokens -> order [b, l] long: i for the i-th `o` cell from S (1-based), 0 elsewhere."""
    side = grid_side(inputs.shape[-1])
    on_path = (labels == PATH_ID).view(-1, side, side)
    reached = (inputs == START_ID).view(-1, side, side)
    order = torch.zeros(on_path.shape, dtype=torch.long, device=inputs.device)
    for step in range(1, int(on_path.sum((1, 2)).max()) + 1):
        new = _grow(reached) & on_path & ~reached
        order[new] = step
        reached |= new
    return order.view_as(inputs)


def segment_prefix_lengths(num_path_cells: torch.Tensor, segment: torch.Tensor, num_segments: int) -> torch.Tensor:
    """ceil(s·n / S): the path cells shown at segment s [b] (1..S) for paths of n [b] cells."""
    return (segment.long() * num_path_cells + num_segments - 1) // num_segments


def path_prefix_grids(inputs: torch.Tensor, labels: torch.Tensor, num_shown: torch.Tensor) -> torch.Tensor:
    """inputs, labels [b, l], num_shown [b] -> grids [b, l]: the input with the first num_shown path cells as `o`."""
    order = path_order(inputs, labels)
    shown = (order > 0) & (order <= num_shown.view(-1, 1))
    return torch.where(shown, PATH_ID, inputs.long())


def segment_target_grids(inputs: torch.Tensor, labels: torch.Tensor, segment: torch.Tensor,
                         num_segments: int) -> torch.Tensor:
    """The picture each row should imagine after its segment [b] of `num_segments`: grids [b, l]."""
    num_path_cells = (labels == PATH_ID).sum(-1)
    return path_prefix_grids(inputs, labels, segment_prefix_lengths(num_path_cells, segment, num_segments))


def random_path_prefixes(inputs: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Grids [b, l] with a uniformly random number (0..n) of path cells shown: every picture a segment can target,
    as training data for the image tokenizer."""
    num_path_cells = (labels == PATH_ID).sum(-1)
    fraction = torch.rand(num_path_cells.shape, generator=generator, device=generator.device)
    return path_prefix_grids(inputs, labels, (fraction * (num_path_cells + 1)).long())
