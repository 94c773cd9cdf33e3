"""Answer checks that need no labels, only the puzzle's own rules ("verified halting").

A sudoku with one solution has exactly one grid that keeps the givens and breaks no rule, so an answer that
passes the check is the answer; a maze answer that marks one shortest S->G path is as good as the label (the
task's metric counts any shortest path). Inference can then stop a puzzle at its first passing segment instead of
trusting the Q head: `predict(..., verify=...)`, `hrm solve`, and `hrm eval` (verified@cap metrics) use it
for every task registered here. No label is ever read.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from hrm.registry import Registry

FIRST_DIGIT_TOKEN = 2  # the authors' sudoku tokens: 0 pad, 1 blank, 2..n+1 digits 1..n

Verifier = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (inputs [b, L], answers [b, L]) -> passes [b]


def sudoku_units(side: int, box: int) -> torch.Tensor:
    """[3 * side, side] cell indices of every row, column and box of a side x side grid with box x box boxes."""
    cells = torch.arange(side * side).view(side, side)
    boxes = cells.view(side // box, box, side // box, box).permute(0, 2, 1, 3).reshape(side, side)
    return torch.cat([cells, cells.T, boxes])


def sudoku_is_solved(inputs: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """True where the answer keeps every given and each row, column and box holds every digit once."""
    side = math.isqrt(inputs.shape[-1])
    box = math.isqrt(side)
    if side * side != inputs.shape[-1] or box * box != side:
        raise ValueError(f"sudoku check needs a square grid with square boxes, got {inputs.shape[-1]} cells")
    digits = answers.long() - FIRST_DIGIT_TOKEN
    in_range = ((digits >= 0) & (digits < side)).all(-1)
    given = inputs >= FIRST_DIGIT_TOKEN
    keeps_givens = ((answers == inputs) | ~given).all(-1)
    one_hot = torch.nn.functional.one_hot(digits.clamp(0, side - 1), side)  # [b, L, side]
    per_unit = one_hot[:, sudoku_units(side, box).to(inputs.device)].sum(2)  # [b, units, side]
    return in_range & keeps_givens & (per_unit == 1).all(-1).all(-1)


def maze_is_solved(inputs: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
    """True where the answer keeps the maze and marks exactly one shortest S->G path (BFS on the input)."""
    from hrm.data.maze import valid_shortest_paths  # numba kernels: imported only when a maze is checked

    valid = valid_shortest_paths(inputs.cpu().numpy(), answers.cpu().numpy())
    return torch.from_numpy(valid).to(inputs.device)


VERIFIERS: Registry[Verifier] = Registry("answer verifier")
VERIFIERS.add("sudoku", sudoku_is_solved)
VERIFIERS.add("maze", maze_is_solved)
