"""Datasets: the authors' on-disk format, task builders and the training/eval loaders."""

from hrm.data.tasks import TASKS, TaskSpec  # noqa: F401

# Each task module registers itself in TASKS on import.
from hrm.data import sudoku, maze, arc  # noqa: F401,E402
