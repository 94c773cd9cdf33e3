"""`hrm solve maze`: the parser's checks (one clear error each) and the bundled Maze-Hard model end to end."""

import subprocess
import sys

import numpy as np
import pytest

from hrm.data.maze import OPEN_ID, generate_mazes, maze_to_text
from hrm.errors import PuzzleError
from hrm.solve import parse_maze


def maze_rows(seed: int = 2026, index: int = 1) -> tuple[list[str], int]:
    """A fresh Maze-Hard maze (30x30, shortest path > 110 moves) and its shortest path length in moves."""
    batch = generate_mazes(index + 1, size=30, min_path=110, rng=np.random.default_rng(seed), seen=set())
    return maze_to_text(batch.inputs[index]), int(batch.path_lengths[index])


@pytest.fixture(scope="module")
def maze():
    return maze_rows()


def test_parse_reads_dots_and_spaces_as_open(maze):
    rows, _ = maze
    tokens = parse_maze("\n".join(rows) + "\n")
    assert tokens.shape == (900,) and (tokens == OPEN_ID).sum() == "".join(rows).count(" ")
    assert np.array_equal(parse_maze("\n".join(row.replace(" ", ".") for row in rows)), tokens)


@pytest.mark.parametrize("edit,message", [
    (lambda rows: rows[:-1], "needs 30 rows of 30 cells, got 29 rows"),
    (lambda rows: [rows[0][:-1]] + rows[1:], "lengths [29, 30]"),
    (lambda rows: [rows[0][:-1] + "x"] + rows[1:], "invalid character(s) ['x']"),
    (lambda rows: [rows[0][:-1] + "o"] + rows[1:], "invalid character(s) ['o']"),  # a puzzle holds no path
    (lambda rows: [row.replace("G", " ") for row in rows], "exactly one G, got 0"),
])
def test_parse_rejects_malformed_mazes(maze, edit, message):
    with pytest.raises(PuzzleError) as err:
        parse_maze("\n".join(edit(list(maze[0]))))
    assert message in str(err.value)


def test_parse_rejects_two_starts_and_walled_in_goals(maze):
    rows = list(maze[0])
    spot = rows[0].index(" ") if " " in rows[0] else None
    assert spot is not None
    two_starts = [rows[0][:spot] + "S" + rows[0][spot + 1:]] + rows[1:]
    with pytest.raises(PuzzleError, match="exactly one S, got 2"):
        parse_maze("\n".join(two_starts))
    grid = [list(row) for row in rows]
    r, c = next((i, row.index("G")) for i, row in enumerate(rows) if "G" in row)
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        if 0 <= r + dr < 30 and 0 <= c + dc < 30:
            grid[r + dr][c + dc] = "#"
    with pytest.raises(PuzzleError, match="no path from S to G"):
        parse_maze("\n".join("".join(row) for row in grid))


def test_cli_missing_file_is_one_error_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "hrm", "solve", "maze", str(tmp_path / "nope.txt")],
                            capture_output=True, text=True)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "does not exist" in lines[0], result.stderr


def test_bundled_model_solves_an_unseen_maze_from_stdin(maze):
    """The shipped TRM (Maze-Hard's 1,000 test mazes: README) on a maze generated here."""
    rows, moves = maze
    result = subprocess.run([sys.executable, "-m", "hrm", "solve", "maze", "-"], input="\n".join(rows) + "\n",
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[-1].startswith("valid shortest path (1 segments")
    answer = lines[:-1]
    assert len(answer) == 30 and "".join(answer).count("o") == moves - 1
    # the answer keeps the maze: every cell off the path is the input's (open cells printed as '.')
    assert [row.replace("o", ".") for row in answer] == [row.replace(" ", ".") for row in rows]


def test_more_latent_recursions_or_the_vote_solve_a_maze_the_trained_pass_gets_wrong():
    """Maze 2 of seed 7: the bundled model at its trained n = 4 gives a wrong path (exit 1, said so). Its card's
    inference setting (more latent recursions, chosen on fresh mazes) solves it in one pass, and so does
    voting over the maze's 8 rotated/mirrored images at n = 4."""
    rows, moves = maze_rows(seed=7, index=2)
    text = "\n".join(rows) + "\n"

    def solve(*flags):
        return subprocess.run([sys.executable, "-m", "hrm", "solve", "maze", "-", *flags], input=text,
                              capture_output=True, text=True)

    trained = solve("--latent-recursions", "4")
    assert trained.returncode == 1 and trained.stdout.strip().splitlines()[-1].startswith("NOT a valid shortest path")
    for result in (solve(), solve("--latent-recursions", "4", "--dihedral-vote")):
        assert result.returncode == 0, result.stderr[-2000:]
        lines = result.stdout.strip().splitlines()
        assert lines[-1].startswith("valid shortest path")
        assert "".join(lines[:-1]).count("o") == moves - 1


def test_latent_recursions_below_one_is_one_error_line(maze):
    result = subprocess.run([sys.executable, "-m", "hrm", "solve", "maze", "-", "--latent-recursions", "0"],
                            input="\n".join(maze[0]) + "\n", capture_output=True, text=True)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "latent recursions must be >= 1, got 0" in lines[0]
