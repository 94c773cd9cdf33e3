"""Sudoku builder: uniqueness and ratings against an independent pure-Python solver, symmetries, split, format."""

from __future__ import annotations

import json
from itertools import permutations, product

import numpy as np
import pytest

from hrm.cli import main
from hrm.data.format import read_split
from hrm.data.sudoku import (
    SudokuProfile, all_solved_grids, apply_transform, build_mini_sudoku, canonical_solution, check_puzzles,
    count_solutions, invert, is_solved_grid, make_puzzle, random_transform, shuffle_sudoku, solve,
)
from hrm.data.sudoku import _puzzles_from_grids
from hrm.data.sudoku_solver import random_solved_grid
from hrm.errors import DatasetError

# ---------------------------------------------------------------------------------------------------------------
# An independent reference written for the tests: Python sets, no bitmasks, no shared code with the package.


def _units(box: int) -> list[list[int]]:
    n = box * box
    rows = [[r * n + c for c in range(n)] for r in range(n)]
    cols = [[r * n + c for r in range(n)] for c in range(n)]
    boxes = [[(br * box + r) * n + bc * box + c for r in range(box) for c in range(box)]
             for br in range(box) for bc in range(box)]
    return rows + cols + boxes


def plain_count(grid: np.ndarray, box: int, limit: int = 2) -> int:
    """Plain backtracking without propagation: the empty cell with fewest legal digits, each legal digit."""
    n = box * box
    cells = [int(v) for v in np.asarray(grid).reshape(-1)]
    peers = [set() for _ in range(n * n)]
    for unit in _units(box):
        for cell in unit:
            peers[cell].update(unit)
    for cell in range(n * n):
        peers[cell].discard(cell)
        if cells[cell] and any(cells[p] == cells[cell] for p in peers[cell]):
            return 0

    def legal(cell: int) -> list[int]:
        used = {cells[p] for p in peers[cell]}
        return [digit for digit in range(1, n + 1) if digit not in used]

    def count(found: int) -> int:
        empty = [cell for cell in range(n * n) if cells[cell] == 0]
        if not empty:
            return found + 1
        cell = min(empty, key=lambda k: len(legal(k)))  # the most constrained empty cell
        for digit in legal(cell):
            cells[cell] = digit
            found = count(found)
            cells[cell] = 0
            if found >= limit:
                break
        return found

    return count(0)


def singles_fixpoint(candidates: list[set[int]], box: int) -> list[set[int]] | None:
    """Naked and hidden singles until nothing changes; None on a contradiction."""
    n = box * box
    units = _units(box)
    candidates = [set(c) for c in candidates]
    changed = True
    while changed:
        changed = False
        for unit in units:
            for cell in unit:
                if len(candidates[cell]) == 1:
                    for other in unit:
                        if other != cell and candidates[cell] & candidates[other]:
                            candidates[other] -= candidates[cell]
                            changed = True
            for digit in range(1, n + 1):
                places = [cell for cell in unit if digit in candidates[cell]]
                if not places:
                    return None
                if len(places) == 1 and candidates[places[0]] != {digit}:
                    candidates[places[0]] = {digit}
                    changed = True
        if any(not c for c in candidates):
            return None
    return candidates


def reference_rating(grid: np.ndarray, box: int) -> int:
    """The documented rating: dead-end guesses over the whole tree, branching on the fewest-candidate cell."""
    n = box * box
    start = [set(range(1, n + 1)) if v == 0 else {int(v)} for v in np.asarray(grid).reshape(-1)]
    root = singles_fixpoint(start, box)
    backtracks = 0

    def explore(state: list[set[int]]) -> None:
        nonlocal backtracks
        open_cells = [cell for cell, c in enumerate(state) if len(c) > 1]
        if not open_cells:
            return
        cell = min(open_cells, key=lambda k: (len(state[k]), k))
        for digit in sorted(state[cell]):
            child = [set(c) for c in state]
            child[cell] = {digit}
            child = singles_fixpoint(child, box)
            if child is None:
                backtracks += 1
            else:
                explore(child)

    if root is not None:
        explore(root)
    return backtracks


# ---------------------------------------------------------------------------------------------------------------
# Generator and rating


@pytest.fixture(scope="module")
def generated() -> list[tuple[np.ndarray, np.ndarray, int, bool]]:
    profile = SudokuProfile(hard_steps=10)
    made = []
    for index in range(12):
        is_hard = index % 3 != 0
        puzzle, solution, rating = make_puzzle(is_hard, profile, np.random.default_rng([7, index]))
        made.append((puzzle, solution, rating, is_hard))
    return made


def test_generated_puzzles_have_one_solution(generated):
    for puzzle, solution, _, _ in generated:
        assert plain_count(puzzle, 3) == 1
        assert count_solutions(puzzle, 3) == 1
        assert np.array_equal(solve(puzzle, 3)[2], solution)
        assert np.all((puzzle == 0) | (puzzle == solution))
        assert 45 <= np.sum(puzzle == 0) <= 64


def test_rating_matches_independent_solver(generated):
    for puzzle, _, rating, is_hard in generated:
        assert (rating > 0) == is_hard
        assert rating == reference_rating(puzzle, 3)
        # rating 0 exactly when singles propagation alone solves it
        fixpoint = singles_fixpoint([set(range(1, 10)) if v == 0 else {int(v)} for v in puzzle], 3)
        assert (rating == 0) == all(len(c) == 1 for c in fixpoint)


def test_count_solutions_against_plain_backtracking():
    rng = np.random.default_rng(3)
    for box in (2, 3):
        n = box * box
        for _ in range(10):
            grid = random_solved_grid(box, rng)
            puzzle = np.where(rng.random(n * n) < (0.7 if box == 2 else 0.55), 0, grid)
            assert count_solutions(puzzle, box, limit=3) == plain_count(puzzle, box, limit=3)
    bad = np.zeros(16, dtype=np.int32)
    bad[:2] = 1  # the same digit twice in a row
    assert count_solutions(bad, 2) == 0
    with pytest.raises(ValueError):
        count_solutions(np.zeros(15, dtype=np.int32), 2)


# ---------------------------------------------------------------------------------------------------------------
# Symmetries


@pytest.mark.parametrize("box", [2, 3])
def test_augmentation_preserves_validity_and_inverts(box):
    n = box * box
    rng = np.random.default_rng(box)
    solution = random_solved_grid(box, rng).reshape(n, n)
    puzzle = np.where(rng.random((n, n)) < 0.5, 0, solution)
    for _ in range(20):
        new_puzzle, new_solution, transform = shuffle_sudoku(puzzle, solution, box, rng)
        assert is_solved_grid(new_solution.reshape(1, -1), box).all()
        source = puzzle.T if transform.transpose else puzzle
        for i, j in product(range(n), repeat=2):  # the documented meaning of a transform
            assert new_puzzle[i, j] == transform.digit_map[source[transform.rows[i], transform.cols[j]]]
        assert count_solutions(new_puzzle, box, limit=3) == count_solutions(puzzle, box, limit=3)
        assert np.array_equal(invert(new_puzzle, transform), puzzle)
        assert np.array_equal(invert(new_solution, transform), solution)
    batch = random_transform(box, rng, 50)
    grids = np.broadcast_to(solution, (50, n, n))
    moved = apply_transform(grids, batch)
    assert is_solved_grid(moved.reshape(50, -1), box).all()
    assert np.array_equal(invert(moved, batch), grids)
    assert 0 < batch.transpose.sum() < 50


def _brute_force_canonical(grid: np.ndarray, box: int) -> np.ndarray:
    """Smallest relabelled image over every transpose, band/row and stack/column order (small boxes only)."""
    n = box * box
    line_orders = [np.array([b * box + r for b, inside in zip(blocks, insides) for r in inside])
                   for blocks in permutations(range(box))
                   for insides in product(permutations(range(box)), repeat=box)]
    best = None
    for source in (grid, grid.T):
        for rows in line_orders:
            for cols in line_orders:
                image = source[rows][:, cols]
                relabel = np.zeros(n + 1, dtype=int)
                relabel[image[0]] = np.arange(1, n + 1)
                image = relabel[image]
                if best is None or tuple(image.reshape(-1)) < tuple(best.reshape(-1)):
                    best = image
    return best


def test_canonical_form_matches_brute_force_on_4x4():
    grids = all_solved_grids(2)
    assert len(grids) == 288
    classes = set()
    for grid in grids[::7]:
        canonical = canonical_solution(grid, 2)
        assert np.array_equal(canonical, _brute_force_canonical(grid.reshape(4, 4), 2))
        classes.add(canonical.tobytes())
    assert len({canonical_solution(g, 2).tobytes() for g in grids}) == 2  # the two essentially different 4x4 grids


def test_canonical_form_is_symmetry_invariant_on_9x9():
    rng = np.random.default_rng(11)
    grids = [random_solved_grid(3, rng).reshape(9, 9) for _ in range(4)]
    forms = [canonical_solution(g, 3) for g in grids]
    assert len({f.tobytes() for f in forms}) == 4  # random grids fall in different classes
    for grid, form in zip(grids, forms):
        assert is_solved_grid(form.reshape(1, -1), 3).all()
        assert np.array_equal(form[0], np.arange(1, 10))
        for _ in range(3):
            assert np.array_equal(canonical_solution(apply_transform(grid, random_transform(3, rng)), 3), form)


# ---------------------------------------------------------------------------------------------------------------
# Datasets on disk


def _originals(root, split: str) -> tuple[np.ndarray, np.ndarray]:
    data = read_split(root, split).sets["all"]
    first = data.puzzle_indices[data.group_indices[:-1]]
    return np.asarray(data.inputs[first]).astype(np.int32) - 1, np.asarray(data.labels[first]).astype(np.int32) - 1


def test_cli_builds_readable_disjoint_dataset(tmp_path):
    def build(out, num_workers: int) -> None:
        assert main(["data", "sudoku", "--out", str(out), "--train-size", "20", "--test-size", "20", "--aug", "3",
                     "--hard-steps", "5", "--workers", str(num_workers)]) == 0

    out = tmp_path / "sudoku"
    build(out, num_workers=2)
    train, test = read_split(out, "train"), read_split(out, "test")
    for split, num_examples in ((train, 80), (test, 20)):
        meta = split.metadata
        assert (meta.vocab_size, meta.seq_len, meta.pad_id, meta.ignore_label_id) == (11, 81, 0, 0)
        assert (meta.num_puzzle_identifiers, meta.total_groups, meta.sets) == (1, 20, ["all"])
        data = split.sets["all"]
        assert data.num_examples == num_examples and data.num_groups == 20
        assert set(np.unique(data.inputs)) <= set(range(1, 11)) and set(np.unique(data.labels)) <= set(range(2, 11))
        check_puzzles(np.asarray(data.inputs) - 1, np.asarray(data.labels) - 1, 3, "read back")
    assert np.array_equal(train.sets["all"].group_indices, np.arange(0, 81, 4))
    train_puzzles, train_solutions = _originals(out, "train")
    test_puzzles, test_solutions = _originals(out, "test")
    train_classes = {canonical_solution(s, 3).tobytes() for s in train_solutions}
    test_classes = {canonical_solution(s, 3).tobytes() for s in test_solutions}
    assert len(train_classes) == len(test_classes) == 20 and not train_classes & test_classes
    for puzzle in test_puzzles[:5]:
        assert plain_count(puzzle, 3) == 1
    assert json.loads((out / "identifiers.json").read_text()) == ["<blank>"]
    assert json.loads((out / "hrm_task.json").read_text()) == {"task": "sudoku"}
    report = json.loads((out / "difficulty.json").read_text())
    assert report["splits"]["test"]["easy_fraction"] == 0.25  # round(0.25 * 20) easy slots
    assert sum(report["splits"]["train"]["rating_histogram"].values()) == 20
    assert (out / "difficulty.png").stat().st_size > 0

    # The worker count does not change the data.
    again = tmp_path / "again"
    build(again, num_workers=1)
    for split in ("train", "test"):
        assert np.array_equal(read_split(out, split).sets["all"].inputs, read_split(again, split).sets["all"].inputs)


@pytest.mark.parametrize("flag, value, message", [
    ("--train-size", "-1", "train size must be >= 1"),
    ("--aug", "-2", "augmentation count must be >= 0"),
    ("--max-blanks", "70", "max blanks <= 64"),
    ("--easy-fraction", "1.5", "easy fraction must be in [0, 1]"),
])
def test_cli_rejects_bad_input(tmp_path, capsys, flag, value, message):
    assert main(["data", "sudoku", "--out", str(tmp_path / "x"), flag, value]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hrm: error:") and message in err and "\n" not in err
    assert not (tmp_path / "x").exists()


def test_interrupted_build_leaves_nothing(tmp_path, monkeypatch):
    import hrm.data.sudoku as sudoku

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sudoku, "write_sudoku_splits", fail)
    with pytest.raises(KeyboardInterrupt):
        build_mini_sudoku(tmp_path / "mini", num_train=5, num_test=5, seed=0)
    assert list(tmp_path.iterdir()) == []


def test_truncated_file_gives_dataset_error(tmp_path):
    build_mini_sudoku(tmp_path / "mini", num_train=10, num_test=5, seed=0)
    path = tmp_path / "mini" / "train" / "all__inputs.npy"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DatasetError, match="corrupt or truncated"):
        read_split(tmp_path / "mini", "train")


# ---------------------------------------------------------------------------------------------------------------
# Mini sudoku


@pytest.mark.parametrize("num_aug", [0, 4])
def test_mini_sudoku(tmp_path, num_aug):
    out = tmp_path / "mini"
    build_mini_sudoku(out, num_train=300, num_test=60, seed=1, min_blanks=8, max_blanks=12, num_aug=num_aug)
    train, test = read_split(out, "train"), read_split(out, "test")
    assert (train.metadata.vocab_size, train.metadata.seq_len) == (6, 16)
    assert train.sets["all"].num_examples == 300 * (1 + num_aug) and test.sets["all"].num_examples == 60
    for split in (train, test):
        data = split.sets["all"]
        check_puzzles(np.asarray(data.inputs) - 1, np.asarray(data.labels) - 1, 2, "mini")
    train_puzzles, _ = _originals(out, "train")
    test_puzzles, _ = _originals(out, "test")
    for puzzles in (train_puzzles, test_puzzles):
        assert len({p.tobytes() for p in puzzles}) == len(puzzles)
        blanks = np.sum(puzzles == 0, axis=1)
        assert blanks.min() >= 8 and blanks.max() <= 12
        assert all(plain_count(p, 2) == 1 for p in puzzles)
    all_train_grids = {g.tobytes() for g in np.asarray(train.sets["all"].labels)}  # augmented copies included
    test_grids = {g.tobytes() for g in np.asarray(test.sets["all"].labels)}
    assert not all_train_grids & test_grids
    assert len(all_train_grids | test_grids) <= 288

    build_mini_sudoku(tmp_path / "same", num_train=300, num_test=60, seed=1, num_aug=num_aug)
    assert np.array_equal(read_split(tmp_path / "same", "train").sets["all"].inputs, train.sets["all"].inputs)


def test_mini_sudoku_rejects_impossible_requests(tmp_path):
    with pytest.raises(DatasetError, match="max blanks <= 12"):
        build_mini_sudoku(tmp_path / "a", num_train=5, num_test=5, seed=0, max_blanks=13)
    few_grids = all_solved_grids(2)[:3]  # about 270 distinct 12-blank puzzles exist on three grids
    with pytest.raises(DatasetError, match="distinct puzzles"):
        _puzzles_from_grids(few_grids, 1000, 2, 12, 12, np.random.default_rng(0), "mini train")
