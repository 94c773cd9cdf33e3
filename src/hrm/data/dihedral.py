"""The 8 symmetries of the square (dihedral group D4) acting on 2-D grids, and their inverses.

Transform ids follow the authors' `dataset/common.py`, so augmentation names written by their builders and
ours mean the same thing:

    0 identity   1 rot90   2 rot180   3 rot270   4 fliplr   5 flipud   6 transpose   7 anti-transpose

`np.rot90` turns counter-clockwise. Every transform returns a view of its input (no copy).
"""

from __future__ import annotations

import numpy as np

NUM_DIHEDRAL = 8

# DIHEDRAL_INVERSE[tid] undoes tid: the rotations by 90 and 270 degrees undo each other, the rest are involutions.
DIHEDRAL_INVERSE = (0, 3, 2, 1, 4, 5, 6, 7)


def dihedral_transform(grid: np.ndarray, tid: int) -> np.ndarray:
    """Apply dihedral transform `tid` (0..7) to a 2-D grid [H, W]; ids 1, 3, 6 and 7 give [W, H].

    Written as slices (equal to `np.rot90`, `np.fliplr`, ... as the tests check) because the ARC builder calls
    this millions of times and the numpy helpers cost several times more per call.
    """
    if tid == 0:
        return grid
    if tid == 1:
        return grid[:, ::-1].T  # np.rot90(grid, 1)
    if tid == 2:
        return grid[::-1, ::-1]  # np.rot90(grid, 2)
    if tid == 3:
        return grid.T[:, ::-1]  # np.rot90(grid, 3)
    if tid == 4:
        return grid[:, ::-1]  # np.fliplr
    if tid == 5:
        return grid[::-1]  # np.flipud
    if tid == 6:
        return grid.T
    if tid == 7:
        return grid[::-1, ::-1].T  # reflection in the anti-diagonal: np.fliplr(np.rot90(grid))
    raise ValueError(f"dihedral transform id must be in [0, {NUM_DIHEDRAL}), got {tid}")


def inverse_dihedral_transform(grid: np.ndarray, tid: int) -> np.ndarray:
    """Undo `dihedral_transform(·, tid)`."""
    if not 0 <= tid < NUM_DIHEDRAL:
        raise ValueError(f"dihedral transform id must be in [0, {NUM_DIHEDRAL}), got {tid}")
    return dihedral_transform(grid, DIHEDRAL_INVERSE[tid])
