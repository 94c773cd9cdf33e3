"""Test-time voting over the 8 symmetric images of a square-grid puzzle (mazes, sudoku).

A rotated or mirrored maze is the same problem, but the network reads its cells in another order, so its
mistakes differ from image to image. Solving all 8 images, mapping each answer back to the original frame and
returning the answer the most images agree on fixes some of them, at 8 times the inference compute. This is
the maze counterpart of the authors' ARC voting over augmentations (`arc_vote.py`). No label and no solver is
read: ties between distinct answers go to the higher mean halting confidence sigmoid(q_halt), then to the
earlier image (image 0 is the puzzle as given).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from hrm.data.dihedral import DIHEDRAL_INVERSE, NUM_DIHEDRAL, dihedral_transform
from hrm.data.format import DatasetSplit
from hrm.errors import HRMError
from hrm.eval.evaluate import EvalResult, evaluate

# Tasks whose 8 images are the same puzzle with the answer moved the same way (ARC is not: its grids sit in the
# canvas's top-left corner, and ARC has its own voting over colour and symmetry augmentations).
DIHEDRAL_TASKS = ("maze", "sudoku")


def grid_side(seq_len: int) -> int:
    side = math.isqrt(seq_len)
    if side * side != seq_len:
        raise HRMError(f"dihedral voting needs square grids, but a row has {seq_len} cells")
    return side


def transform_rows(rows: np.ndarray, tid: int) -> np.ndarray:
    """Apply dihedral transform `tid` to every row [N, side * side] read as a side x side grid."""
    side = grid_side(rows.shape[-1])
    source_cell = dihedral_transform(np.arange(side * side).reshape(side, side), tid).reshape(-1)
    return np.asarray(rows)[:, source_cell]


def transformed_split(split: DatasetSplit, tid: int) -> DatasetSplit:
    """The split with every input (and label) moved by transform `tid`; puzzles and groups unchanged."""
    sets = {name: replace(puzzles, inputs=transform_rows(puzzles.inputs, tid),
                          labels=transform_rows(puzzles.labels, tid))
            for name, puzzles in split.sets.items()}
    return DatasetSplit(split.path, split.metadata, sets)


@dataclass
class VoteResult:
    predictions: np.ndarray  # [N, L] the winning answer of every row, in the original frame
    agreement: np.ndarray  # [N] how many of the 8 images gave the winning answer


def vote(answers: np.ndarray, q_halt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """answers [V, N, L] (original frame), q_halt [V, N] -> (winners [N, L], votes for the winner [N])."""
    views, rows = answers.shape[:2]
    confidence = 1.0 / (1.0 + np.exp(-np.asarray(q_halt, dtype=np.float64)))
    winners = np.empty_like(answers[0])
    agreement = np.zeros(rows, dtype=np.int64)
    for row in range(rows):
        tally: dict[bytes, list] = {}  # answer -> [votes, summed confidence, first image]
        for view in range(views):
            entry = tally.setdefault(answers[view, row].tobytes(), [0, 0.0, view])
            entry[0] += 1
            entry[1] += confidence[view, row]
        votes, _, first = max(tally.values(), key=lambda e: (e[0], e[1] / e[0], -e[2]))
        winners[row] = answers[first, row]
        agreement[row] = votes
    return winners, agreement


def dihedral_vote(model: torch.nn.Module, split: DatasetSplit, task: str | None, batch_size: int,
                  device: torch.device, max_examples: int = 0, progress: bool = False,
                  identity: EvalResult | None = None) -> VoteResult:
    """Evaluate all 8 images of every example (all segments, as `evaluate`) and vote; `identity`, the
    EvalResult of the puzzles as given, saves evaluating image 0 again."""
    if task not in DIHEDRAL_TASKS:
        raise HRMError(f"dihedral voting is for tasks whose symmetric images are the same puzzle "
                       f"({', '.join(DIHEDRAL_TASKS)}); this dataset's task is {task!r}")
    grid_side(split.metadata.seq_len)
    answers, q_halt, ids = [], [], None
    for tid in range(NUM_DIHEDRAL):
        result = identity if tid == 0 and identity is not None else evaluate(
            model, transformed_split(split, tid), batch_size, device, max_examples=max_examples, progress=progress)
        if ids is not None and not np.array_equal(ids, result.example_ids):
            raise HRMError("dihedral voting: the images were evaluated on different examples")
        ids = result.example_ids
        answers.append(transform_rows(result.predictions, DIHEDRAL_INVERSE[tid]))
        q_halt.append(result.q_halt_logits)
    winners, agreement = vote(np.stack(answers), np.stack(q_halt))
    return VoteResult(winners, agreement)


def vote_metrics(split: DatasetSplit, result: EvalResult, voted: VoteResult,
                 task_scores: Callable[[DatasetSplit, EvalResult], dict[str, float]]) -> dict[str, float]:
    """Exact accuracy of the voted answers, the mean agreement, and the task's own metrics on them (`task_scores`
    is `task_metrics(data_path)`); `result` is the EvalResult of the puzzles as given. Keys start `vote8/`."""
    from hrm.nn.losses import IGNORE_LABEL_ID

    labels = np.asarray(split.sets["all"].labels[result.example_ids]).astype(np.int64)
    if split.metadata.ignore_label_id is not None:
        labels[labels == split.metadata.ignore_label_id] = IGNORE_LABEL_ID
    mask = labels != IGNORE_LABEL_ID
    scored = mask.any(-1)
    if not scored.any():
        return {}
    right = ((voted.predictions == labels) | ~mask).all(-1)
    metrics = {"vote8/exact_accuracy": float(right[scored].mean()),
               "vote8/mean_agreement": float(voted.agreement[scored].mean())}
    extra = task_scores(split, replace(result, predictions=voted.predictions))
    metrics.update({f"vote8/{k}": v for k, v in extra.items()})
    return metrics
