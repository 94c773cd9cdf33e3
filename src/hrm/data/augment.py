"""On-the-fly training augmentation: each row of a batch gets its own random validity-preserving transform.

The authors store 1000 augmented copies per puzzle on disk; drawing a fresh transform for every row of
every batch instead gives unlimited variety from the 1000 originals (`data.augment=sudoku`, with a dataset
built with `--aug 0`). Randomness is keyed by (seed, epoch, offset) of the batch in the training stream, so
resumed runs see the same augmented batches.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from hrm.registry import Registry

# (inputs [n, L], labels [n, L], rng) -> (inputs, labels); token arrays in the authors' encoding
Augmentation = Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]
AUGMENTATIONS: Registry[Augmentation] = Registry("augmentation")


def _sudoku(inputs: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Digit permutation, band/row and stack/column shuffles, transpose (square boxes): tokens 1 = blank, 2.. digits."""
    from hrm.data.sudoku import apply_transform, random_transform

    side = int(round(inputs.shape[1] ** 0.5))
    box = int(round(side ** 0.5))
    if side * side != inputs.shape[1] or box * box != side:
        raise ValueError(f"sudoku augmentation needs square boxes; got {inputs.shape[1]} cells")
    transform = random_transform(box, rng, num=inputs.shape[0])

    def move(tokens: np.ndarray) -> np.ndarray:
        values = tokens.reshape(-1, side, side).astype(np.int64) - 1  # blank 0, digits 1..n
        return (apply_transform(values, transform) + 1).reshape(tokens.shape).astype(tokens.dtype)

    return move(inputs), move(labels)


def _dihedral(inputs: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One of the 8 rotations/reflections per row, the same for input and label (mazes)."""
    from hrm.data.dihedral import NUM_DIHEDRAL, dihedral_transform

    side = int(round(inputs.shape[1] ** 0.5))
    tids = rng.integers(NUM_DIHEDRAL, size=inputs.shape[0])
    out_inputs, out_labels = inputs.copy(), labels.copy()
    for tid in np.unique(tids):
        rows = tids == tid
        for source, target in ((inputs, out_inputs), (labels, out_labels)):
            grids = source[rows].reshape(-1, side, side)
            target[rows] = np.stack([dihedral_transform(g, int(tid)) for g in grids]).reshape(-1, side * side)
    return out_inputs, out_labels


def _maze(inputs: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A dihedral image of each maze, relabelled by the generator's deterministic shortest path. Moving the label
    with the maze would keep a valid path but break the tie rule (neighbour order up, down, left, right) wherever
    shortest paths tie (over half of Maze-Hard's images), so one input pattern would get contradictory targets."""
    from hrm.data.maze import relabel

    moved, _ = _dihedral(inputs, labels, rng)
    return moved, relabel(moved)


AUGMENTATIONS.add("sudoku", _sudoku)
AUGMENTATIONS.add("dihedral", _dihedral)
AUGMENTATIONS.add("maze", _maze)
