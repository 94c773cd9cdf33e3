"""What a maze's visual thought at ACT segment s should show: the path so far.

Target for segment s of S (s = 1..S): the maze with the first min(s·k, n) cells of the label's shortest path
marked `o`, counted from S (n = the path's `o` cells, k = cells_per_thought); the last segment's picture is the
full answer. Each thought thus extends the previous one by a fixed k cells, a local step a segment can learn
(the earlier rule, ceil(s·n / S), made every step depend on the whole path's length). This mirrors MVoT's maze
task, whose visual thought after step i pictures the trajectory after i actions.

Path order: on a shortest path, the i-th `o` cell from S is exactly i moves from S and touches the (i-1)-th,
and no two non-consecutive path cells touch (that would be a shortcut). So growing a region from S through
`o` cells one 4-neighbour step at a time reaches the path cells in order.

Axis legend: b batch, l cells (h·w, row-major), h/w grid rows/columns.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hrm.data.maze import GOAL_ID, OPEN_ID, PATH_ID, START_ID, WALL_ID


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


def bfs_distances(sources: torch.Tensor, passable: torch.Tensor) -> torch.Tensor:
    """sources, passable [b, h, w] bool -> moves from the nearest source through passable cells [b, h, w] long
    (-1 where unreachable)."""
    distance = torch.where(sources, 0, -1)
    reached, step = sources.clone(), 0
    while True:
        new = _grow(reached) & passable & ~reached
        if not new.any():
            return distance
        step += 1
        distance[new] = step
        reached |= new


def shortest_path_prefix(inputs: torch.Tensor, drawn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Is what a picture draws the start of a shortest path? inputs [b, l] bare mazes, drawn [b, l] bool (cells
    drawn as path) -> (valid [b] bool, m [b] long drawn cells). Valid: m >= 1 and the drawn cells are exactly
    the first m cells after S of some shortest S-G path (any of the tied ones): open cells on a shortest path,
    one at each distance 1..m from S, each next to the one before."""
    side = grid_side(inputs.shape[-1])
    cells, drawn = inputs.view(-1, side, side), drawn.view(-1, side, side)
    passable = cells != WALL_ID
    from_start = bfs_distances(cells == START_ID, passable)
    to_goal = bfs_distances(cells == GOAL_ID, passable)
    length = from_start.masked_fill(cells != GOAL_ID, -1).flatten(1).amax(1).view(-1, 1, 1)
    on_shortest = (cells == OPEN_ID) & (from_start > 0) & (to_goal > 0) & (from_start + to_goal == length)
    m = drawn.flatten(1).sum(1)
    level = torch.where(drawn, from_start, 0)  # distance from S of each drawn cell
    counts = torch.zeros(len(m), side * side + 1, dtype=torch.long, device=inputs.device)
    counts.scatter_add_(1, level.flatten(1).clamp_min(0), drawn.flatten(1).long())
    one_per_level = counts[:, 1:].amax(1) <= 1
    padded = F.pad(torch.where(drawn, level, -2), (1, 1, 1, 1), value=-2)
    neighbours = torch.stack((padded[:, :-2, 1:-1], padded[:, 2:, 1:-1], padded[:, 1:-1, :-2], padded[:, 1:-1, 2:]))
    linked = (level == 1) | (neighbours == (level - 1)).any(0)
    valid = ((m >= 1) & (drawn <= on_shortest).flatten(1).all(1) & one_per_level
             & (level.flatten(1).amax(1) == m) & (drawn <= linked).flatten(1).all(1))
    return valid, m


def path_order(inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """inputs, labels [b, l] maze tokens -> order [b, l] long: i for the i-th `o` cell from S (1-based), 0 elsewhere."""
    side = grid_side(inputs.shape[-1])
    on_path = (labels == PATH_ID).view(-1, side, side)
    start = (inputs == START_ID).view(-1, side, side)
    order = bfs_distances(start, on_path | start)  # moves from S along the path: the cell's place on it
    return torch.where(on_path, order.clamp_min(0), 0).view_as(inputs)


def segment_prefix_lengths(num_path_cells: torch.Tensor, segment: torch.Tensor, num_segments: int,
                           cells_per_thought: int) -> torch.Tensor:
    """The path cells shown at segment s [b] (0..S) for paths of n [b] cells: min(s·k, n), and n at s = S."""
    shown = torch.minimum(segment.long() * cells_per_thought, num_path_cells)
    return torch.where(segment == num_segments, num_path_cells, shown)


def path_prefix_grids(inputs: torch.Tensor, labels: torch.Tensor, num_shown: torch.Tensor) -> torch.Tensor:
    """inputs, labels [b, l], num_shown [b] -> grids [b, l]: the input with the first num_shown path cells as `o`."""
    order = path_order(inputs, labels)
    shown = (order > 0) & (order <= num_shown.view(-1, 1))
    return torch.where(shown, PATH_ID, inputs.long())


def segment_target_grids(inputs: torch.Tensor, labels: torch.Tensor, segment: torch.Tensor,
                         num_segments: int, cells_per_thought: int) -> torch.Tensor:
    """The picture each row should imagine after its segment [b] of `num_segments`: grids [b, l]."""
    num_path_cells = (labels == PATH_ID).sum(-1)
    return path_prefix_grids(inputs, labels, segment_prefix_lengths(num_path_cells, segment, num_segments,
                                                                     cells_per_thought))


def random_path_prefixes(inputs: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Grids [b, l] with a uniformly random number (0..n) of path cells shown: every picture a segment can target,
    as training data for the image tokenizer."""
    num_path_cells = (labels == PATH_ID).sum(-1)
    fraction = torch.rand(num_path_cells.shape, generator=generator, device=generator.device)
    return path_prefix_grids(inputs, labels, (fraction * (num_path_cells + 1)).long())
