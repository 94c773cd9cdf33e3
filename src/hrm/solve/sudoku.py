"""`hrm solve sudoku`: a 9x9 puzzle as 81 characters, solved by the bundled TRM (or `--checkpoint`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hrm.errors import PuzzleError
from hrm.eval.verify import sudoku_is_solved, sudoku_units
from hrm.solve.common import SOLVERS, Solver, bundled_model

SIDE, BOX = 9, 3
BUNDLED_SUDOKU_MODEL = "sudoku_trm.safetensors"


def parse_sudoku(text: str) -> np.ndarray:
    """81 characters (digits, 0 or . for blanks; whitespace ignored) -> [81] int 0..9, givens checked."""
    cells = "".join(text.split())
    if len(cells) != SIDE * SIDE:
        raise PuzzleError(f"a sudoku needs 81 cells, got {len(cells)}")
    bad = sorted({c for c in cells if c not in "0123456789."})
    if bad:
        raise PuzzleError(f"invalid character(s) {bad} in puzzle: use digits 1-9 and 0 or . for blanks")
    grid = np.array([0 if c in "0." else int(c) for c in cells], dtype=np.int64)
    conflict = first_conflict(grid)
    if conflict:
        raise PuzzleError(f"the givens break the rules: {conflict}")
    return grid


def units() -> list[tuple[str, list[int]]]:
    """(name, cells) of the 9 rows, 9 columns and 9 boxes, in `sudoku_units` order."""
    kinds = ("row", "column", "box")
    return [(f"{kinds[i // SIDE]} {i % SIDE + 1}", cells.tolist()) for i, cells in enumerate(sudoku_units(SIDE, BOX))]


def first_conflict(grid: np.ndarray) -> str | None:
    """Name of the first unit holding a repeated digit, or None."""
    for name, cells in units():
        digits = grid[cells]
        digits = digits[digits > 0]
        if len(set(digits.tolist())) != len(digits):
            return f"{name} repeats a digit"
    return None


def format_grid(grid: np.ndarray) -> str:
    """A grid of digits 0..9 (0 blank) in rows with box separators."""
    lines = []
    for r in range(SIDE):
        if r and r % BOX == 0:
            lines.append("------+-------+------")
        row = [str(int(v)) if v else "." for v in grid[r * SIDE:(r + 1) * SIDE]]
        lines.append(" | ".join(" ".join(row[c:c + BOX]) for c in range(0, SIDE, BOX)))
    return "\n".join(lines)


def bundled_sudoku_model() -> Path:
    return bundled_model(BUNDLED_SUDOKU_MODEL, "sudoku")


SOLVERS.add("sudoku", Solver(
    name="9x9 sudoku", help="a 9x9 sudoku: 81 characters, 0 or . for blanks",
    argument_help="81 characters: digits 1-9, 0 or . for blanks (whitespace ignored)",
    parse=lambda text: parse_sudoku(text) + 1,  # the authors' tokens: 1 blank, 2..10 digits 1..9
    format=lambda puzzle, answer: format_grid((answer - 1).clip(0, 9)),
    verify=sudoku_is_solved, seq_len=SIDE * SIDE, vocab_size=11, bundled=BUNDLED_SUDOKU_MODEL,
    valid_text="valid solution"))
