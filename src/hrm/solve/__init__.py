"""`hrm solve KIND PUZZLE`: parse one puzzle, run a trained model (the one shipped in the package unless
`--checkpoint` names another), print the answer and whether it obeys the task's rules (exit status 1 if not).

A kind is a `Solver` in `SOLVERS` (sudoku.py, maze.py); the command line gets one subcommand per kind.
"""

from hrm.solve.common import SOLVERS, Solver, bundled_model, solve_from_cli
from hrm.solve.maze import parse_maze
from hrm.solve.sudoku import bundled_sudoku_model, parse_sudoku

__all__ = ["SOLVERS", "Solver", "bundled_model", "bundled_sudoku_model", "parse_maze", "parse_sudoku",
           "solve_from_cli"]
