"""Importing this module registers every task builder in TASKS (explicit, no plugin scanning)."""

from hrm.data import arc, maze, sudoku  # noqa: F401
from hrm.data.tasks import TASKS  # noqa: F401
