"""Maze-Hard builder, augmentation and metrics.

Label checks use `bfs_distance` below, a plain-Python BFS written independently of the builder's numba kernels.
"""

from __future__ import annotations

import json
from collections import deque

import numpy as np
import pytest
import torch

from hrm.cli import main
from hrm.data.augment import AUGMENTATIONS
from hrm.data import maze
from hrm.data.dihedral import dihedral_transform, inverse_dihedral_transform
from hrm.data.format import read_split
from hrm.errors import DatasetError
from hrm.eval.verify import VERIFIERS

WALL, OPEN, START, GOAL, PATH = "#", " ", "S", "G", "o"


def bfs_distance(rows: list[str], source: tuple[int, int], target: tuple[int, int], passable: str) -> int | None:
    """Moves from source to target stepping only on characters in `passable` (target always allowed)."""
    size = len(rows)
    seen = {source: 0}
    todo = deque([source])
    while todo:
        r, c = todo.popleft()
        if (r, c) == target:
            return seen[(r, c)]
        for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= nr < size and 0 <= nc < size and (nr, nc) not in seen and (
                    rows[nr][nc] in passable or (nr, nc) == target):
                seen[(nr, nc)] = seen[(r, c)] + 1
                todo.append((nr, nc))
    return None


def find(rows: list[str], char: str) -> tuple[int, int]:
    (cell,) = [(r, c) for r, row in enumerate(rows) for c, ch in enumerate(row) if ch == char]
    return cell


def assert_label_is_shortest_path(inputs: np.ndarray, labels: np.ndarray, min_path: int) -> int:
    """Independent check of one maze; returns the shortest path length in moves."""
    maze_rows, label_rows = maze.maze_to_text(inputs), maze.maze_to_text(labels)
    start, goal = find(maze_rows, START), find(maze_rows, GOAL)
    optimal = bfs_distance(maze_rows, start, goal, passable=OPEN)
    assert optimal is not None and optimal >= min_path
    path_cells = [(r, c) for r, row in enumerate(label_rows) for c, ch in enumerate(row) if ch == PATH]
    assert all(maze_rows[r][c] == OPEN for r, c in path_cells), "path cells must be open in the input"
    unpath = ["".join(OPEN if ch == PATH else ch for ch in row) for row in label_rows]
    assert unpath == maze_rows, "the label may change only path cells"
    assert len(path_cells) == optimal - 1
    # The path cells alone (plus S, G) must connect S to G in exactly `optimal` moves.
    assert bfs_distance(label_rows, start, goal, passable=PATH) == optimal
    return optimal


@pytest.fixture(scope="module")
def small_mazes() -> maze.MazeBatch:
    return maze.generate_mazes(40, size=12, min_path=20, rng=np.random.default_rng(0), seen=set())


@pytest.fixture(scope="module")
def hard_mazes() -> maze.MazeBatch:
    return maze.generate_mazes(5, size=30, min_path=111, rng=np.random.default_rng(0), seen=set())


@pytest.mark.parametrize("batch_name, min_path", [("small_mazes", 20), ("hard_mazes", 111)])
def test_labels_are_shortest_paths_above_threshold(request, batch_name, min_path):
    batch = request.getfixturevalue(batch_name)
    for inputs, labels, length in zip(batch.inputs, batch.labels, batch.path_lengths):
        assert assert_label_is_shortest_path(inputs, labels, min_path) == length
    flat = batch.inputs.reshape(len(batch.inputs), -1), batch.labels.reshape(len(batch.labels), -1)
    assert maze.maze_metrics(*flat, flat[1])["valid_shortest_path_accuracy"] == 1.0


def test_generation_is_seeded_and_distinct(small_mazes):
    again = maze.generate_mazes(40, size=12, min_path=20, rng=np.random.default_rng(0), seen=set())
    other = maze.generate_mazes(40, size=12, min_path=20, rng=np.random.default_rng(1), seen=set())
    assert np.array_equal(again.inputs, small_mazes.inputs) and np.array_equal(again.labels, small_mazes.labels)
    assert not np.array_equal(other.inputs, small_mazes.inputs)
    keys = {maze.canonical_key(grid) for grid in small_mazes.inputs}
    assert len(keys) == len(small_mazes.inputs)
    # Keys already in `seen` are never drawn again.
    more = maze.generate_mazes(5, size=12, min_path=20, rng=np.random.default_rng(0), seen=set(keys))
    assert not keys & {maze.canonical_key(grid) for grid in more.inputs}


def test_wall_fraction_follows_lehnert(small_mazes):
    walls = (small_mazes.inputs == maze.WALL_ID).sum(axis=(1, 2))
    assert walls.min() >= 144 // 10 * 3 and walls.max() <= 144 // 10 * 5


@pytest.mark.parametrize("tid", range(8))
def test_dihedral_transforms_keep_paths_valid_and_invert(small_mazes, tid):
    for grid_in, grid_label in zip(small_mazes.inputs, small_mazes.labels):
        moved_in, moved_label = dihedral_transform(grid_in, tid), dihedral_transform(grid_label, tid)
        assert_label_is_shortest_path(moved_in, moved_label, 20)
        assert np.array_equal(inverse_dihedral_transform(moved_in, tid), grid_in)
        assert np.array_equal(inverse_dihedral_transform(moved_label, tid), grid_label)


def test_maze_augmentation_labels_every_image_by_the_tie_rule(small_mazes):
    inputs, labels = (np.asarray(a).reshape(len(small_mazes.inputs), -1) for a in (small_mazes.inputs,
                                                                                   small_mazes.labels))
    moved, moved_labels = AUGMENTATIONS.get("maze")(inputs, labels, np.random.default_rng(1))
    assert not np.array_equal(moved, inputs)
    assert np.array_equal(moved_labels, maze.relabel(moved))
    for grid_in, grid_label in zip(moved, moved_labels):
        assert_label_is_shortest_path(grid_in.reshape(12, 12), grid_label.reshape(12, 12), 20)
    # why: with ties, moving the label with the maze gives another valid path than the rule picks on the image
    _, dihedral_labels = AUGMENTATIONS.get("dihedral")(inputs, labels, np.random.default_rng(1))
    assert (dihedral_labels != moved_labels).any(axis=1).sum() >= 5


def test_dihedral_images_are_distinct_and_share_a_key(small_mazes):
    grid = small_mazes.inputs[0]
    images = [dihedral_transform(grid, t) for t in range(8)]
    assert len({image.tobytes() for image in images}) == 8
    assert len({maze.canonical_key(image) for image in images}) == 1


# Hand-made 5x5 maze: S to G takes 6 moves by 3 routes (down at column 0, 2 or 4); a detour via row 4 takes 10.
HAND_MAZE = ["S    ",
             " # # ",
             "    G",
             " ### ",
             "     "]
# The builder's label: from S, first neighbour (up, down, left, right) one move closer to G.
HAND_LABEL = ["S    ",
              "o# # ",
              "ooooG",
              " ### ",
              "     "]
PREDICTIONS = {
    "label": (HAND_LABEL, True),
    "equal_alternative": (["Soooo",
                           " # #o",
                           "    G",
                           " ### ",
                           "     "], True),
    "longer_valid_path": (["S    ",
                           "o# # ",
                           "o   G",
                           "o###o",
                           "ooooo"], False),
    "disconnected": (["S    ",
                      "o# # ",
                      "oo oG",
                      " ### ",
                      "    o"], False),
    "through_a_wall": (["So   ",
                        " o # ",
                        " oooG",
                        " ### ",
                        "     "], False),
    "alters_walls": (["S    ",
                      "o# # ",
                      "ooooG",
                      "  ## ",
                      "     "], False),
    "adds_walls": (["S    ",
                    "o# # ",
                    "ooooG",
                    " ### ",
                    "    #"], False),
    "extra_path_cell": (["S    ",
                         "o# # ",
                         "ooooG",
                         " ### ",
                         "    o"], False),
    "start_overwritten": (["o    ",
                           "o# # ",
                           "ooooG",
                           " ### ",
                           "     "], False),
    "no_path": (HAND_MAZE, False),
}


def test_hand_maze_label_and_ties():
    grid = maze.maze_from_text(HAND_MAZE)
    assert maze.maze_to_text(maze.shortest_path_label(grid)) == HAND_LABEL
    assert maze.count_shortest_paths(grid) == 3.0


@pytest.mark.parametrize("case", sorted(PREDICTIONS))
def test_maze_metrics_hand_cases(case):
    rows, expect_valid = PREDICTIONS[case]
    flat = [maze.maze_from_text(r).reshape(1, -1) for r in (HAND_MAZE, HAND_LABEL, rows)]
    scores = maze.maze_metrics(*flat)
    assert scores["valid_shortest_path_accuracy"] == float(expect_valid)
    assert scores["exact_match_accuracy"] == float(case == "label")


def test_maze_metrics_averages_over_rows():
    cases = sorted(PREDICTIONS)
    inputs, labels, predictions = (
        np.stack([maze.maze_from_text(rows).reshape(-1) for rows in column])
        for column in ([HAND_MAZE] * len(cases), [HAND_LABEL] * len(cases), [PREDICTIONS[c][0] for c in cases])
    )
    scores = maze.maze_metrics(inputs, labels, predictions.astype(np.int64))
    num_valid = sum(PREDICTIONS[c][1] for c in cases)
    assert scores == {"valid_shortest_path_accuracy": num_valid / len(cases),
                      "exact_match_accuracy": 1 / len(cases)}


def test_maze_metrics_rejects_malformed_input():
    grid = maze.maze_from_text(HAND_MAZE).reshape(1, -1)
    with pytest.raises(ValueError, match="one shape"):
        maze.maze_metrics(grid, grid, grid[:, :-1])
    no_start = np.where(grid == maze.START_ID, maze.OPEN_ID, grid)
    with pytest.raises(ValueError, match="'S'"):
        maze.maze_metrics(no_start, no_start, no_start)


def build(tmp_path, *extra: str) -> tuple[int, str]:
    out = tmp_path / "maze"
    code = main(["data", "maze", "--out", str(out), "--train-size", "10", "--test-size", "10", "--size", "12",
                 "--min-path", "20", *extra])
    return code, str(out)


def test_cli_builds_a_readable_dataset(tmp_path, capsys):
    code, out = build(tmp_path)
    assert code == 0
    splits = {name: read_split(out, name) for name in ("train", "test")}
    keys = {}
    for name, split in splits.items():
        meta, puzzles = split.metadata, split.sets["all"]
        assert (meta.vocab_size, meta.seq_len, meta.pad_id, meta.ignore_label_id) == (6, 144, 0, 0)
        assert (meta.num_puzzle_identifiers, meta.total_groups, puzzles.num_examples) == (1, 10, 10)
        assert puzzles.inputs.dtype == np.uint8 and not np.any(puzzles.puzzle_identifiers)
        for inputs, labels in zip(puzzles.inputs, puzzles.labels):
            assert_label_is_shortest_path(inputs, labels, 20)
        keys[name] = {maze.canonical_key(np.asarray(g).reshape(12, 12)) for g in puzzles.inputs}
    assert not keys["train"] & keys["test"]
    assert json.loads((tmp_path / "maze" / "hrm_task.json").read_text()) == {"task": "maze"}
    assert json.loads((tmp_path / "maze" / "identifiers.json").read_text()) == ["<blank>"]
    stats = json.loads((tmp_path / "maze" / "path_lengths.json").read_text())
    assert sum(stats["test"]["histogram"].values()) == 10 and stats["test"]["path_length_min"] >= 20
    assert (tmp_path / "maze" / "path_lengths.png").stat().st_size > 0
    assert "maze: wrote" in capsys.readouterr().out


def test_cli_aug_groups_the_eight_transforms(tmp_path):
    code, out = build(tmp_path, "--aug")
    assert code == 0
    train, test = (read_split(out, name).sets["all"] for name in ("train", "test"))
    assert (train.num_examples, train.num_groups, test.num_examples) == (80, 10, 10)
    assert np.array_equal(train.group_indices, np.arange(0, 81, 8))
    grids = np.asarray(train.inputs).reshape(10, 8, 12, 12)
    for original, images in zip(grids[:, 0], grids):
        for tid, image in enumerate(images):
            assert np.array_equal(inverse_dihedral_transform(image, tid), original)
    assert np.array_equal(np.asarray(train.labels), maze.relabel(np.asarray(train.inputs)))  # the tie rule per image
    # The test split depends on neither --aug nor --train-size (its own random stream, drawn first).
    code, plain = build(tmp_path / "plain", "--train-size", "3")
    assert np.array_equal(read_split(plain, "test").sets["all"].inputs, test.inputs)


@pytest.mark.parametrize("args, message", [
    (["--size", "1"], "--size must be >= 2"),
    (["--train-size", "0"], "--train-size must be >= 1"),
    (["--min-path", "200"], "impossible on a 12x12 grid"),
    (["--min-path", "100"], "lower --min-path"),
])
def test_cli_bad_input_is_one_error_line(tmp_path, capsys, args, message):
    code, out = build(tmp_path, *args)
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1 and err.startswith("hrm: error:")
    assert not (tmp_path / "maze").exists()


def test_cli_refuses_to_overwrite(tmp_path, capsys):
    assert build(tmp_path)[0] == 0
    code, _ = build(tmp_path)
    assert code == 2 and "--overwrite" in capsys.readouterr().err
    assert build(tmp_path, "--overwrite", "--seed", "1")[0] == 0


def test_corrupt_dataset_is_one_dataset_error(tmp_path):
    _, out = build(tmp_path)
    inputs_path = tmp_path / "maze" / "test" / "all__inputs.npy"
    inputs_path.write_bytes(inputs_path.read_bytes()[:200])
    with pytest.raises(DatasetError, match="corrupt or truncated"):
        read_split(out, "test")
    labels_path = tmp_path / "maze" / "train" / "all__labels.npy"
    labels = np.load(labels_path)
    labels[0, 0] = 9
    np.save(labels_path, labels)
    with pytest.raises(DatasetError, match="outside vocab"):
        read_split(out, "train")


@pytest.mark.slow
def test_full_size_build(tmp_path):
    """Maze-Hard at its real size (30x30, > 110 moves), 200 + 200 mazes, every label checked independently."""
    out = tmp_path / "maze30"
    assert main(["data", "maze", "--out", str(out), "--train-size", "200", "--test-size", "200"]) == 0
    for name in ("train", "test"):
        puzzles = read_split(out, name).sets["all"]
        assert puzzles.inputs.shape == (200, 900)
        for inputs, labels in zip(puzzles.inputs, puzzles.labels):
            assert_label_is_shortest_path(inputs, labels, 111)


def test_maze_verifier_reads_no_label_and_agrees_with_the_metric():
    """Verified halting's maze check: every hand case as `maze_metrics` judges it, from the input alone."""
    cases = sorted(PREDICTIONS)
    inputs = torch.as_tensor(np.stack([maze.maze_from_text(HAND_MAZE).reshape(-1)] * len(cases)).astype(np.int64))
    answers = torch.as_tensor(np.stack([maze.maze_from_text(PREDICTIONS[c][0]).reshape(-1) for c in cases])
                              .astype(np.int64))
    assert VERIFIERS.get("maze")(inputs, answers).tolist() == [PREDICTIONS[c][1] for c in cases]
