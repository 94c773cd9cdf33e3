"""`hrm solve sudoku`: parse a puzzle, run a trained model with adaptive halting, print the grid."""

from __future__ import annotations

import argparse
import time
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from hrm.errors import PuzzleError
from hrm.eval.evaluate import predict
from hrm.eval.load import load_trained_model
from hrm.eval.verify import sudoku_is_solved, sudoku_units

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
    lines = []
    for r in range(SIDE):
        if r and r % BOX == 0:
            lines.append("------+-------+------")
        row = [str(int(v)) if v else "." for v in grid[r * SIDE:(r + 1) * SIDE]]
        lines.append(" | ".join(" ".join(row[c:c + BOX]) for c in range(0, SIDE, BOX)))
    return "\n".join(lines)


def solve_sudoku(puzzle: np.ndarray, checkpoint: str | Path, device: str = "cpu") -> tuple[np.ndarray, int]:
    loaded = load_trained_model(checkpoint, device)
    model = loaded.model
    if model.config.seq_len != SIDE * SIDE or model.config.vocab_size != 11:
        raise PuzzleError(f"'{checkpoint}' is not a 9x9 sudoku model (seq_len {model.config.seq_len}, "
                          f"vocab {model.config.vocab_size})")
    batch = {"inputs": torch.as_tensor(puzzle + 1).view(1, -1).to(device),  # authors' tokens: 1 blank, 2..10 digits
             "labels": torch.zeros(1, SIDE * SIDE, dtype=torch.int64, device=device),
             "puzzle_identifiers": torch.zeros(1, dtype=torch.int32, device=device)}
    answer, used = predict(model, batch, verify=sudoku_is_solved)  # stop at the first answer that obeys the rules
    return (answer[0].cpu().numpy() - 1).clip(0, 9), int(used[0])


def bundled_sudoku_model() -> Path:
    """The Sudoku model shipped inside the package (`hrm export` of benchmarks/time_to_accuracy.py's run)."""
    path = Path(str(resources.files("hrm") / "assets" / BUNDLED_SUDOKU_MODEL))
    if not path.is_file() or not path.with_suffix(".json").is_file():
        raise PuzzleError(f"the bundled sudoku model '{path}' is missing from this install: "
                          "pass --checkpoint RUN_DIR|CHECKPOINT")
    return path


def solve_from_cli(args: argparse.Namespace) -> None:
    puzzle = parse_sudoku(args.puzzle)
    checkpoint = args.checkpoint or bundled_sudoku_model()
    start = time.perf_counter()
    solution, segments = solve_sudoku(puzzle, checkpoint, args.device)
    seconds = time.perf_counter() - start
    valid = bool(sudoku_is_solved(torch.as_tensor(puzzle + 1)[None], torch.as_tensor(solution + 1)[None]))
    print(format_grid(solution))
    print(f"{'valid solution' if valid else 'NOT a valid solution'} ({segments} segments, {seconds:.2f} s)")
    if not valid:
        raise SystemExit(1)
