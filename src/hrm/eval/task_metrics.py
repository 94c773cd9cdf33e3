"""Task-specific scores, picked by the `hrm_task.json` our builders write at a dataset's root:
maze counts valid shortest paths, ARC votes over augmentations for pass@1/pass@2."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from hrm.data.format import DatasetSplit, read_identifiers
from hrm.data.tasks import TASK_FILE
from hrm.errors import DatasetError
from hrm.registry import Registry


@dataclass
class TaskPredictions:
    root: Path  # dataset folder
    split: DatasetSplit  # the evaluated split
    example_ids: np.ndarray  # [N] rows of the split's set that were evaluated
    predictions: np.ndarray  # [N, L] argmax tokens at the last segment
    q_halt_logits: np.ndarray  # [N]

    def rows(self, field: str) -> np.ndarray:
        return np.asarray(getattr(self.split.sets["all"], field)[self.example_ids])

    def example_puzzle_ids(self) -> np.ndarray:
        """Puzzle identifier of every example of the split's set."""
        puzzles = self.split.sets["all"]
        return np.repeat(puzzles.puzzle_identifiers, np.diff(puzzles.puzzle_indices))


def _maze(p: TaskPredictions) -> dict[str, float]:
    from hrm.data.maze import maze_metrics  # numba kernels: imported only for maze datasets

    return maze_metrics(p.rows("inputs"), p.rows("labels"), p.predictions)


def _arc(p: TaskPredictions) -> dict[str, float]:
    from hrm.eval.arc_vote import vote_arc

    identifiers = read_identifiers(p.root)
    if identifiers is None:
        raise DatasetError(f"ARC dataset '{p.root}' lacks identifiers.json")
    puzzles = p.split.sets["all"]
    all_ids = p.example_puzzle_ids()
    result = vote_arc(inputs=p.rows("inputs"), predictions=p.predictions, q_halt=p.q_halt_logits,
                      puzzle_identifiers=all_ids[p.example_ids], identifiers=identifiers,
                      test_inputs=np.asarray(puzzles.inputs), test_labels=np.asarray(puzzles.labels),
                      test_puzzle_identifiers=all_ids)
    return {k: float(v) for k, v in result.items() if isinstance(v, (int, float))}


TASK_METRICS: Registry[Callable[[TaskPredictions], dict[str, float]]] = Registry("task metric")
TASK_METRICS.add("maze", _maze)
TASK_METRICS.add("arc", _arc)


def task_name(data_path: Path) -> str | None:
    path = Path(data_path) / TASK_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text()).get("task")
    except (json.JSONDecodeError, AttributeError) as err:
        raise DatasetError(f"'{path}' is not valid ({err})") from None


def task_metrics(data_path: Path) -> Callable[[DatasetSplit, object], dict[str, float]]:
    """A function (split, EvalResult) -> extra metrics; {} for tasks without their own metrics."""
    name = task_name(data_path)

    def compute(split: DatasetSplit, result) -> dict[str, float]:
        if name not in TASK_METRICS or result.example_ids.size == 0:
            return {}
        scores = TASK_METRICS.get(name)(TaskPredictions(Path(data_path), split, result.example_ids,
                                                        result.predictions, result.q_halt_logits))
        return {f"{name}/{k}": v for k, v in scores.items()}

    return compute
