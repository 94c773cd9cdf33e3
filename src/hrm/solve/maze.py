"""`hrm solve maze`: a 30x30 maze as a text file (or - for stdin), solved by the bundled TRM (or `--checkpoint`).

One row per line: `#` wall, `.` or space open, `S` start, `G` goal (the authors' charset, with `.` as a
visible open cell). The answer marks the path with `o`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from hrm.data.maze import CHARSET, GOAL_ID, START_ID, VOCAB_SIZE, count_shortest_paths, maze_to_text
from hrm.errors import PuzzleError
from hrm.eval.verify import maze_is_solved
from hrm.solve.common import SOLVERS, Solver

SIDE = 30
BUNDLED_MAZE_MODEL = "maze_trm.safetensors"
INPUT_CHARS = "# SG"  # a puzzle has no path cells: `o` is the answer's


def read_maze_text(source: str) -> str:
    """The text of a maze file, or of stdin for '-'."""
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    if not path.is_file():
        raise PuzzleError(f"maze file '{source}' does not exist (give a text file of {SIDE} rows, or - for stdin)")
    return path.read_text()


def parse_maze(text: str) -> np.ndarray:
    """Rows of `#`, `.` or space, one `S`, one `G` -> [side * side] tokens; shape and a path S->G checked."""
    rows = [row.rstrip("\n").replace(".", " ") for row in text.strip("\n").split("\n")]
    if len(rows) != SIDE or any(len(row) != SIDE for row in rows):
        lengths = sorted({len(row) for row in rows})
        raise PuzzleError(f"a maze needs {SIDE} rows of {SIDE} cells, got {len(rows)} rows of lengths {lengths}")
    bad = sorted(set("".join(rows)) - set(INPUT_CHARS))
    if bad:
        raise PuzzleError(f"invalid character(s) {bad} in maze: use # for walls, . or space for open cells, S, G")
    tokens = np.array([CHARSET.index(ch) + 1 for row in rows for ch in row], dtype=np.int64)
    for token, name in ((START_ID, "S"), (GOAL_ID, "G")):
        if int((tokens == token).sum()) != 1:
            raise PuzzleError(f"a maze needs exactly one {name}, got {int((tokens == token).sum())}")
    if count_shortest_paths(tokens.reshape(SIDE, SIDE)) == 0:
        raise PuzzleError("the maze has no path from S to G")
    return tokens


def format_maze(puzzle: np.ndarray, answer: np.ndarray) -> str:
    """The answer grid, open cells shown as `.` so the path's `o` stands out."""
    return "\n".join(row.replace(" ", ".") for row in maze_to_text(answer))


SOLVERS.add("maze", Solver(
    name=f"{SIDE}x{SIDE} maze",
    help=f"a {SIDE}x{SIDE} maze in a text file (- for stdin): # wall, . or space open, S start, G goal",
    argument_help="text file of the maze, or - to read stdin",
    parse=lambda source: parse_maze(read_maze_text(source)),
    format=format_maze, verify=maze_is_solved, seq_len=SIDE * SIDE, vocab_size=VOCAB_SIZE,
    bundled=BUNDLED_MAZE_MODEL, valid_text="valid shortest path"))
