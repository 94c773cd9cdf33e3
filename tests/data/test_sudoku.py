"""Sudoku builder: uniqueness and ratings against an independent pure-Python solver, symmetries, split, format.

Boxes are square (an int) or rectangular ((rows, cols), e.g. 6x6 sudoku with boxes 2 rows tall, 3 columns wide).
"""

from __future__ import annotations

import json
from itertools import permutations, product

import numpy as np
import pytest

from hrm.cli import main
from hrm.data.format import read_split
from hrm.data.sudoku import (
    SudokuProfile, SudokuTransform, all_solved_grids, apply_transform, build_small_sudoku,
    canonical_solution, check_puzzles, count_solutions, invert, is_solved_grid, make_puzzle, random_transform,
    shuffle_sudoku, solve, write_sudoku_splits,
)
from hrm.data.sudoku import _puzzles_from_grids
from hrm.data.sudoku_solver import box_dims, geometry, minimal_puzzle, random_solved_grid
from hrm.errors import DatasetError

# ---------------------------------------------------------------------------------------------------------------
# An independent reference written for the tests: Python sets, no bitmasks, no shared code with the package.


def _side(box) -> int:
    """Digits per unit: box * box, or rows * cols for a (rows, cols) box."""
    return box * box if isinstance(box, int) else box[0] * box[1]


def _units(box) -> list[list[int]]:
    """Rows, columns and boxes as cell lists; a box is the cells whose (row // rows, col // cols) agree."""
    box_rows, box_cols = (box, box) if isinstance(box, int) else box
    n = _side(box)
    rows = [[r * n + c for c in range(n)] for r in range(n)]
    cols = [[r * n + c for r in range(n)] for c in range(n)]
    boxes: dict[tuple[int, int], list[int]] = {}
    for cell in range(n * n):
        boxes.setdefault((cell // n // box_rows, cell % n // box_cols), []).append(cell)
    return rows + cols + list(boxes.values())


def is_valid_solution(grid: np.ndarray, box) -> bool:
    """Every row, column and box holds the digits 1..n once each."""
    cells = np.asarray(grid).reshape(-1)
    return all(sorted(cells[unit]) == list(range(1, _side(box) + 1)) for unit in _units(box))


def plain_count(grid: np.ndarray, box, limit: int = 2) -> int:
    """Plain backtracking without propagation: the empty cell with fewest legal digits, each legal digit."""
    n = _side(box)
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


def singles_fixpoint(candidates: list[set[int]], box) -> list[set[int]] | None:
    """Naked and hidden singles until nothing changes; None on a contradiction."""
    n = _side(box)
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


def reference_rating(grid: np.ndarray, box) -> int:
    """The documented rating: dead-end guesses over the whole tree, branching on the fewest-candidate cell."""
    n = _side(box)
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


@pytest.mark.parametrize("box, num_peers", [(2, 7), ((2, 3), 12), ((3, 2), 12), (3, 20)])
def test_geometry_matches_reference_units(box, num_peers):
    # 2x3 boxes: 5 row + 5 column peers, plus the 2 box cells in neither the cell's row nor its column = 12
    n = _side(box)
    units, peers = geometry(box)
    assert sorted(map(sorted, units.tolist())) == sorted(map(sorted, _units(box)))
    assert peers.shape == (n * n, num_peers)
    for cell in range(n * n):
        expected = set().union(*(unit for unit in _units(box) if cell in unit)) - {cell}
        assert set(peers[cell].tolist()) == expected


def test_box_dims():
    assert box_dims(3) == (3, 3) and box_dims((2, 3)) == (2, 3) and box_dims(np.int64(2)) == (2, 2)
    for bad in (1, 6, (1, 6), (2, 3, 4), (2.0, 3)):
        with pytest.raises(ValueError, match="a box is an int in"):
            box_dims(bad)


def test_count_solutions_against_plain_backtracking():
    rng = np.random.default_rng(3)
    for box, blank_fraction in ((2, 0.7), ((2, 3), 0.6), ((3, 2), 0.6), (3, 0.55)):
        n = _side(box)
        for _ in range(10):
            grid = random_solved_grid(box, rng)
            assert is_valid_solution(grid, box)
            puzzle = np.where(rng.random(n * n) < blank_fraction, 0, grid)
            assert count_solutions(puzzle, box, limit=3) == plain_count(puzzle, box, limit=3)
    bad = np.zeros(16, dtype=np.int32)
    bad[:2] = 1  # the same digit twice in a row
    assert count_solutions(bad, 2) == 0
    with pytest.raises(ValueError):
        count_solutions(np.zeros(15, dtype=np.int32), 2)
    with pytest.raises(ValueError, match="2x3 boxes must be integers of shape"):
        count_solutions(np.zeros(16, dtype=np.int32), (2, 3))



def test_random_minimal_profile_makes_unique_minimal_puzzles_of_any_rating():
    profile = SudokuProfile(random_minimal=True, easy_fraction=1.0)  # the kind fields are ignored in this mode
    for index in range(6):
        puzzle, solution, rating = make_puzzle(index % 2 == 0, profile, np.random.default_rng([3, index]))
        assert count_solutions(puzzle, 3) == 1 and np.array_equal(solve(puzzle, 3)[2], solution)
        assert rating == reference_rating(puzzle, 3)
        for cell in np.flatnonzero(puzzle)[:8]:  # minimal: blanking a given breaks uniqueness
            assert count_solutions(np.where(np.arange(81) == cell, 0, puzzle).astype(puzzle.dtype), 3) >= 2

def test_rectangular_minimal_puzzles_match_independent_solver():
    box = (2, 3)
    rng = np.random.default_rng(5)
    ratings = []
    for index in range(60):  # about 5% of minimal 6x6 puzzles need a guess
        grid = random_solved_grid(box, rng)
        puzzle = minimal_puzzle(grid, box, rng)  # as many blanks as uniqueness allows: the hardest 6x6 we make
        num_solutions, rating, solution = solve(puzzle, box)
        assert num_solutions == 1 == plain_count(puzzle, box) and np.array_equal(solution, grid)
        assert rating == reference_rating(puzzle, box)
        ratings.append(rating)
        if index < 10:  # minimal: blanking any given breaks uniqueness
            for cell in np.flatnonzero(puzzle):
                assert plain_count(np.where(np.arange(36) == cell, 0, puzzle), box) == 2
    assert sum(rating > 0 for rating in ratings) >= 2


# ---------------------------------------------------------------------------------------------------------------
# Symmetries


@pytest.mark.parametrize("box", [2, 3, (2, 3), (3, 2)])
def test_augmentation_preserves_validity_and_inverts(box):
    box_rows, box_cols = (box, box) if isinstance(box, int) else box
    n = _side(box)
    rng = np.random.default_rng(box)
    solution = random_solved_grid(box, rng).reshape(n, n)
    puzzle = np.where(rng.random((n, n)) < 0.5, 0, solution)
    for _ in range(20):
        new_puzzle, new_solution, transform = shuffle_sudoku(puzzle, solution, box, rng)
        assert is_solved_grid(new_solution.reshape(1, -1), box).all() and is_valid_solution(new_solution, box)
        # rows move in bands of box_rows rows, columns in stacks of box_cols columns
        assert all(len(set(band)) == 1 for band in (transform.rows // box_rows).reshape(-1, box_rows))
        assert all(len(set(stack)) == 1 for stack in (transform.cols // box_cols).reshape(-1, box_cols))
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
    if box_rows == box_cols:
        assert 0 < batch.transpose.sum() < 50
    else:
        assert not batch.transpose.any()
        assert len({grid.tobytes() for grid in moved}) == 50  # bands, stacks and digits alone still vary a lot


def test_square_only_operations_refuse_rectangular_boxes():
    box = (2, 3)
    grid = random_solved_grid(box, np.random.default_rng(0)).reshape(6, 6)
    assert not is_valid_solution(grid.T, box)  # why: the transpose has 3x2 boxes
    with pytest.raises(ValueError, match="transpose needs square boxes: it turns 2x3 boxes into 3x2"):
        SudokuTransform(np.arange(7), np.array(True), np.arange(6), np.arange(6), box=(2, 3))
    with pytest.raises(ValueError, match="canonical_solution needs square boxes"):
        canonical_solution(grid, box)
    with pytest.raises(ValueError, match="only practical for 2x2 boxes"):
        all_solved_grids(box)


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
        build_small_sudoku(tmp_path / "mini", 2, num_train=5, num_test=5, seed=0, min_blanks=8, max_blanks=12)
    assert list(tmp_path.iterdir()) == []


def test_truncated_file_gives_dataset_error(tmp_path):
    build_small_sudoku(tmp_path / "mini", 2, num_train=10, num_test=5, seed=0, min_blanks=8, max_blanks=12)
    path = tmp_path / "mini" / "train" / "all__inputs.npy"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DatasetError, match="corrupt or truncated"):
        read_split(tmp_path / "mini", "train")


# ---------------------------------------------------------------------------------------------------------------
# Small sudoku (4x4, 6x6)


@pytest.mark.parametrize("box, min_blanks, max_blanks, num_aug", [
    (2, 8, 12, 0), (2, 8, 12, 4), ((2, 3), 10, 18, 0), ((2, 3), 10, 18, 3),
])
def test_small_sudoku(tmp_path, box, min_blanks, max_blanks, num_aug):
    n = _side(box)
    out = tmp_path / "small"
    build_small_sudoku(out, box, num_train=300, num_test=60, seed=1, min_blanks=min_blanks, max_blanks=max_blanks,
                       num_aug=num_aug)
    train, test = read_split(out, "train"), read_split(out, "test")
    assert (train.metadata.vocab_size, train.metadata.seq_len) == (n + 2, n * n)
    assert train.sets["all"].num_examples == 300 * (1 + num_aug) and test.sets["all"].num_examples == 60
    for split in (train, test):
        data = split.sets["all"]
        labels = np.asarray(data.labels).astype(np.int32) - 1
        givens = np.asarray(data.inputs).astype(np.int32) - 1
        assert all(is_valid_solution(label, box) for label in labels)
        assert np.all((givens == 0) | (givens == labels))
    train_puzzles, _ = _originals(out, "train")
    test_puzzles, _ = _originals(out, "test")
    for puzzles in (train_puzzles, test_puzzles):
        assert len({p.tobytes() for p in puzzles}) == len(puzzles)
        blanks = np.sum(puzzles == 0, axis=1)
        assert blanks.min() >= min_blanks and blanks.max() <= max_blanks
        assert all(plain_count(p, box) == 1 for p in puzzles)
    all_train_grids = {g.tobytes() for g in np.asarray(train.sets["all"].labels)}  # augmented copies included
    test_grids = {g.tobytes() for g in np.asarray(test.sets["all"].labels)}
    assert not all_train_grids & test_grids

    build_small_sudoku(tmp_path / "same", box, num_train=300, num_test=60, seed=1, min_blanks=min_blanks,
                       max_blanks=max_blanks, num_aug=num_aug)
    assert np.array_equal(read_split(tmp_path / "same", "train").sets["all"].inputs, train.sets["all"].inputs)


def test_test_grids_avoid_training_grids(tmp_path):
    box = (2, 3)
    rng = np.random.default_rng(0)
    grids = [random_solved_grid(box, rng) for _ in range(2)]
    split = _puzzles_from_grids(lambda: grids[rng.integers(2)], 20, box, 10, 18, rng, "test",
                                avoid_grids=frozenset({grids[0].tobytes()}))
    assert all(np.array_equal(solution, grids[1]) for solution in split.solutions)
    with pytest.raises(DatasetError, match="also a test solution grid"):
        write_sudoku_splits(tmp_path, box, {"train": split, "test": split}, 0, rng)


@pytest.mark.parametrize("box, most_blanks", [(2, 13), ((2, 3), 31)])
def test_small_sudoku_rejects_impossible_requests(tmp_path, box, most_blanks):
    with pytest.raises(DatasetError, match=f"max blanks <= {most_blanks}"):
        build_small_sudoku(tmp_path / "a", box, num_train=5, num_test=5, seed=0, min_blanks=8,
                           max_blanks=most_blanks + 1)
    assert not (tmp_path / "a").exists()


def test_small_sudoku_stops_when_the_puzzle_space_is_used_up():
    few_grids = all_solved_grids(2)[:3]  # the builder finds 268 distinct 12-blank puzzles on these
    rng = np.random.default_rng(0)
    with pytest.raises(DatasetError, match="distinct puzzles"):
        _puzzles_from_grids(lambda: few_grids[rng.integers(3)], 1000, 2, 12, 12, rng, "small train")
