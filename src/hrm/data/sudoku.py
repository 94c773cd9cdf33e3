"""Sudoku datasets in the authors' format: generated puzzles with a unique answer, rated, symmetry-split, augmented.

Tokens (authors' `build_sudoku_dataset.py`): cell value + 1, so 1 = blank, 2..n+1 = digits, PAD = 0; every cell is
scored (ignore_label_id 0 never occurs in labels). One group per original puzzle: the original first, then its
augmentations (train only). `hrm data sudoku` builds 9x9 puzzles with a Sudoku-Extreme-like difficulty mix;
`build_small_sudoku` builds small puzzles (4x4, 6x6 with 2x3 boxes, ...) for the CPU demo and tests. Boxes are an
int (square) or a (box_rows, box_cols) pair, as in `sudoku_solver`. See docs/data-sudoku.md.
"""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from hrm.data.format import DatasetMetadata, single_puzzle_set, staged_dataset, write_split
from hrm.data.sudoku_solver import (  # noqa: F401  (count_solutions is part of this module's API)
    Box, box_dims, canonical_solution, count_solutions, geometry, harden, minimal_puzzle, random_solved_grid, solve,
)
from hrm.data.tasks import TASK_FILE, TASKS, TaskSpec
from hrm.errors import DatasetError


# ---------------------------------------------------------------------------------------------------------------
# Symmetries (the authors' `shuffle_sudoku`, generic in the box size, with an exact inverse)


@dataclass(frozen=True)
class SudokuTransform:
    """Validity-preserving symmetries, one or a batch (leading axis B on every array field).

    out[i, j] = digit_map[(grid.T if transpose else grid)[rows[i], cols[j]]]
    Bands are groups of box_rows rows, stacks groups of box_cols columns. Transposing turns box_rows x box_cols
    boxes into box_cols x box_rows ones, so it is valid for square boxes only (checked on construction).
    """

    digit_map: np.ndarray  # [(B,) n + 1], a permutation with digit_map[0] = 0, so blanks stay blank
    transpose: np.ndarray  # [(B,)] bool
    rows: np.ndarray  # [(B,) n], a band order with a row order inside each band
    cols: np.ndarray  # [(B,) n], a stack order with a column order inside each stack
    box: tuple[int, int]  # (box_rows, box_cols) of the grids it applies to

    def __post_init__(self) -> None:
        box_rows, box_cols = self.box
        if box_rows != box_cols and np.any(self.transpose):
            raise ValueError(f"transpose needs square boxes: it turns {box_rows}x{box_cols} boxes into "
                             f"{box_cols}x{box_rows}")


def random_transform(box: Box, rng: np.random.Generator, num: int | None = None) -> SudokuTransform:
    """Uniform digit permutation, band + row order, stack + column order, and (square boxes only) transpose w.p. 0.5.

    `num` = batch size (None: one unbatched transform).
    """
    box_rows, box_cols = box_dims(box)
    n, batch = box_rows * box_cols, 1 if num is None else num

    def line_order(num_blocks: int, block_size: int) -> np.ndarray:  # [batch, n]: blocks, then lines inside each
        blocks = rng.permuted(np.tile(np.arange(num_blocks), (batch, 1)), axis=1)
        inside = rng.permuted(np.tile(np.arange(block_size), (batch, num_blocks, 1)), axis=2)
        return (blocks[:, :, None] * block_size + inside).reshape(batch, n)

    digits = rng.permuted(np.tile(np.arange(1, n + 1), (batch, 1)), axis=1)
    transform = SudokuTransform(
        digit_map=np.concatenate([np.zeros((batch, 1), dtype=digits.dtype), digits], axis=1),
        transpose=rng.random(batch) < 0.5 if box_rows == box_cols else np.zeros(batch, dtype=bool),
        rows=line_order(num_blocks=box_cols, block_size=box_rows),  # n // box_rows = box_cols bands
        cols=line_order(num_blocks=box_rows, block_size=box_cols),
        box=(box_rows, box_cols),
    )
    if num is None:
        return SudokuTransform(transform.digit_map[0], transform.transpose[0], transform.rows[0], transform.cols[0],
                               transform.box)
    return transform


def apply_transform(grid: np.ndarray, transform: SudokuTransform) -> np.ndarray:
    """Transform grids [(B,) n, n] (values 0..n); a batch of transforms needs a batch of grids."""
    grid = np.where(transform.transpose[..., None, None], np.swapaxes(grid, -1, -2), grid)
    grid = np.take_along_axis(grid, transform.rows[..., :, None], axis=-2)
    grid = np.take_along_axis(grid, transform.cols[..., None, :], axis=-1)
    flat = grid.reshape(*grid.shape[:-2], -1)
    return np.take_along_axis(transform.digit_map, flat, axis=-1).reshape(grid.shape)


def invert(grid: np.ndarray, transform: SudokuTransform) -> np.ndarray:
    """Undo `apply_transform`: invert(apply_transform(g, t), t) == g, for one grid or a batch."""
    flat = grid.reshape(*grid.shape[:-2], -1)
    grid = np.take_along_axis(np.argsort(transform.digit_map, axis=-1), flat, axis=-1).reshape(grid.shape)
    grid = np.take_along_axis(grid, np.argsort(transform.cols, axis=-1)[..., None, :], axis=-1)
    grid = np.take_along_axis(grid, np.argsort(transform.rows, axis=-1)[..., :, None], axis=-2)
    return np.where(transform.transpose[..., None, None], np.swapaxes(grid, -1, -2), grid)


def shuffle_sudoku(puzzle: np.ndarray, solution: np.ndarray, box: Box,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, SudokuTransform]:
    """One random augmentation of a puzzle [n, n] and its solution [n, n], plus the transform used."""
    transform = random_transform(box, rng)
    return apply_transform(puzzle, transform), apply_transform(solution, transform), transform


# ---------------------------------------------------------------------------------------------------------------
# Checks


def is_solved_grid(grids: np.ndarray, box: Box) -> np.ndarray:
    """Per grid [N, n*n]: True where every row, column and box holds each digit 1..n exactly once."""
    units, _ = geometry(box)
    n = units.shape[1]
    digit_bit = np.array([0] + [1 << d for d in range(n)], dtype=np.int32)  # value -> candidate bit, blank -> 0
    in_range = np.all((grids >= 1) & (grids <= n), axis=-1)
    solved = np.empty(len(grids), dtype=bool)
    for start in range(0, len(grids), 1 << 16):  # bounded memory for ~1M augmented rows
        bits = digit_bit[np.clip(grids[start:start + (1 << 16)], 0, n)]
        # n cells whose digits together cover all n digits hold each exactly once
        covered = np.bitwise_or.reduce(bits[:, units], axis=-1) == (1 << n) - 1
        solved[start:start + len(bits)] = np.all(covered, axis=-1)
    return solved & in_range


def check_puzzles(puzzles: np.ndarray, solutions: np.ndarray, box: Box, where: str) -> None:
    """Every solution [N, n*n] is a solved grid agreeing with the givens; raises DatasetError otherwise."""
    bad = ~is_solved_grid(solutions, box)
    bad |= np.any((puzzles != 0) & (puzzles != solutions), axis=-1)
    if bad.any():
        raise DatasetError(f"{where}: {int(bad.sum())} label(s) are not a valid solution of their puzzle "
                           f"(first at row {int(np.argmax(bad))})")


def check_unique(puzzles: np.ndarray, solutions: np.ndarray, box: Box, where: str) -> None:
    """Every puzzle [N, n*n] has exactly one solution and it is its label; raises DatasetError otherwise."""
    for index, (puzzle, label) in enumerate(zip(puzzles, solutions)):
        num_solutions, _, solution = solve(puzzle, box)
        if num_solutions != 1 or not np.array_equal(solution, label):
            raise DatasetError(f"{where}: puzzle {index} has {num_solutions} solution(s) or a wrong label")


# ---------------------------------------------------------------------------------------------------------------
# Writing a dataset


@dataclass
class SudokuSplit:
    """Original (unaugmented) puzzles of one split: values 0..n, flat [N, n*n], with their ratings [N]."""

    puzzles: np.ndarray
    solutions: np.ndarray
    ratings: np.ndarray


def _augmented(split: SudokuSplit, box: Box, num_aug: int, rng: np.random.Generator,
               avoid_solutions: set[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Each original followed by `num_aug` augmentations: [N * (1 + num_aug), n*n] puzzles and solutions.

    Augmentations whose solution grid is in `avoid_solutions` (the test answers) are redrawn: small boxes have
    few grids, and a symmetry image of a training grid may be a test grid.
    """
    box_rows, box_cols = box_dims(box)
    n = box_rows * box_cols
    puzzles, solutions = [], []
    for puzzle, solution in zip(split.puzzles, split.solutions):
        kept_puzzles, kept_solutions = [puzzle[None]], [solution[None]]
        num_missing = num_aug
        while num_missing:
            transform = random_transform(box, rng, num_missing)
            new_puzzles, new_solutions = (
                apply_transform(np.broadcast_to(grid.reshape(n, n), (num_missing, n, n)), transform)
                .reshape(num_missing, n * n).astype(np.int32)
                for grid in (puzzle, solution)
            )
            keep = np.array([grid.tobytes() not in avoid_solutions for grid in new_solutions], dtype=bool)
            new_puzzles, new_solutions = new_puzzles[keep], new_solutions[keep]
            kept_puzzles.append(new_puzzles)
            kept_solutions.append(new_solutions)
            num_missing -= len(new_puzzles)
        puzzles.append(np.concatenate(kept_puzzles))
        solutions.append(np.concatenate(kept_solutions))
    return np.concatenate(puzzles), np.concatenate(solutions)


def _difficulty(split: SudokuSplit) -> dict:
    """Rating and blank-count statistics of a split's originals (what `difficulty.json` holds per split)."""
    ratings, blanks = split.ratings, np.sum(split.puzzles == 0, axis=1)
    rating_values, rating_counts = np.unique(ratings, return_counts=True)
    blank_values, blank_counts = np.unique(blanks, return_counts=True)
    return {
        "num_puzzles": int(len(ratings)),
        "easy_fraction": float(np.mean(ratings == 0)),
        "hard_fraction": float(np.mean(ratings > 0)),
        "mean_rating": float(np.mean(ratings)),
        "mean_rating_hard": float(np.mean(ratings[ratings > 0])) if np.any(ratings > 0) else 0.0,
        "median_rating": float(np.median(ratings)),
        "max_rating": int(ratings.max()),
        "mean_blanks": float(np.mean(blanks)),
        "rating_histogram": {str(int(v)): int(c) for v, c in zip(rating_values, rating_counts)},
        "blank_histogram": {str(int(v)): int(c) for v, c in zip(blank_values, blank_counts)},
    }


def _plot_difficulty(report: dict, path: Path) -> None:
    """Grouped bars per split: ratings in power-of-two bins (0, 1, 2-3, 4-7, ...) and blank counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = report["splits"]
    top_rating = max(stats["max_rating"] for stats in splits.values())
    edges = [0, 1] + [2 ** k for k in range(1, max(1, top_rating).bit_length() + 1)]  # bin i = [edges[i], edges[i+1])
    rating_labels = ["0", "1"] + [f"{lo}-{hi - 1}" for lo, hi in zip(edges[2:-1], edges[3:])]
    blank_values = sorted({int(v) for stats in splits.values() for v in stats["blank_histogram"]})
    width = 0.8 / len(splits)
    fig, (ax_rating, ax_blank) = plt.subplots(1, 2, figsize=(12, 4))
    for k, (name, stats) in enumerate(splits.items()):
        ratings = np.array([int(v) for v in stats["rating_histogram"]])
        counts = np.array(list(stats["rating_histogram"].values()))
        binned = np.bincount(np.searchsorted(edges, ratings, side="right") - 1, counts, len(rating_labels))
        label = f"{name} (n={stats['num_puzzles']}, mean {stats['mean_rating']:.1f})"
        ax_rating.bar(np.arange(len(rating_labels)) + k * width, binned / stats["num_puzzles"], width, label=label)
        blanks = [stats["blank_histogram"].get(str(v), 0) / stats["num_puzzles"] for v in blank_values]
        ax_blank.bar(np.array(blank_values) + k * width, blanks, width,
                     label=f"{name} (mean {stats['mean_blanks']:.1f})")
    ax_rating.set_xticks(np.arange(len(rating_labels)) + 0.4 - width / 2, rating_labels, rotation=45)
    ax_rating.set(xlabel="rating (solver backtracks)", ylabel="fraction of puzzles", title="difficulty")
    ax_blank.set(xlabel="blank cells", ylabel="fraction of puzzles", title="blanks")
    ax_blank.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    for ax in (ax_rating, ax_blank):
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_sudoku_splits(staging: Path, box: Box, splits: dict[str, SudokuSplit], num_aug: int,
                        rng: np.random.Generator) -> None:
    """Validate and write the "train" and "test" `splits` (train augmented `num_aug` times), identifiers, task
    file, difficulty report.

    No training label, augmented or not, equals a test answer: an original one is an error, an augmented one is
    redrawn. `staging` is the folder from `staged_dataset`, so nothing that looks complete exists until this
    returns.
    """
    box_rows, box_cols = box_dims(box)
    n = box_rows * box_cols
    test_solutions = {grid.tobytes() for grid in splits["test"].solutions}
    if any(grid.tobytes() in test_solutions for grid in splits["train"].solutions):
        raise DatasetError("a training solution grid is also a test solution grid")
    report = {"box": box, "rating": "backtracks of hrm.data.sudoku_solver (whole search tree)", "splits": {}}
    for name, split in splits.items():
        check_unique(split.puzzles, split.solutions, box, f"{name} originals")
        split_aug = num_aug if name == "train" else 0
        puzzles, solutions = _augmented(split, box, split_aug, rng, test_solutions)
        check_puzzles(puzzles, solutions, box, f"{name} examples")
        meta = DatasetMetadata(
            pad_id=0, ignore_label_id=0, blank_identifier_id=0, vocab_size=n + 2, seq_len=n * n,
            num_puzzle_identifiers=1, total_groups=len(split.puzzles), mean_puzzle_examples=1.0, sets=["all"],
        )
        puzzle_set = single_puzzle_set((puzzles + 1).astype(np.uint8), (solutions + 1).astype(np.uint8),
                                       group_sizes=np.full(len(split.puzzles), 1 + split_aug))
        write_split(staging / name, meta, {"all": puzzle_set})
        report["splits"][name] = _difficulty(split)
    (staging / "identifiers.json").write_text(json.dumps(["<blank>"]))
    (staging / TASK_FILE).write_text(json.dumps({"task": "sudoku"}))
    (staging / "difficulty.json").write_text(json.dumps(report, indent=2))
    _plot_difficulty(report, staging / "difficulty.png")


# ---------------------------------------------------------------------------------------------------------------
# Small sudoku (4x4, 6x6, ...) for the CPU demo and tests

MAX_FAILURES_IN_A_ROW = 20_000  # ~0.3 s of misses before the small builder gives up
TRAIN_GRID_FRACTION = 0.7  # 4x4 only: share of the 288 solved grids reserved for training


def all_solved_grids(box: Box) -> np.ndarray:
    """Every solved grid of box size `box` in lexicographic order, [num_grids, n*n] (288 for box 2)."""
    if box_dims(box) != (2, 2):
        raise ValueError(f"enumerating all solved grids is only practical for 2x2 boxes (288 grids), got {box!r}")
    units, peers = geometry(box)
    n = units.shape[1]
    grid = np.zeros(n * n, dtype=np.int32)
    found = []

    def fill(cell: int) -> None:
        if cell == n * n:
            found.append(grid.copy())
            return
        for digit in range(1, n + 1):
            if digit not in grid[peers[cell]]:
                grid[cell] = digit
                fill(cell + 1)
                grid[cell] = 0

    fill(0)
    return np.stack(found)


def _puzzles_from_grids(draw_grid: Callable[[], np.ndarray], num: int, box: Box, min_blanks: int, max_blanks: int,
                        rng: np.random.Generator, where: str, avoid_grids: frozenset[bytes] = frozenset(),
                        ) -> SudokuSplit:
    """`num` distinct unique-answer puzzles with blanks in [min_blanks, max_blanks], each from a `draw_grid()`.

    A drawn grid in `avoid_grids` is a miss, like a puzzle that stops short of its blank count or repeats.
    """
    num_cells = geometry(box)[1].shape[0]
    seen: set[bytes] = set()
    puzzles, solutions, ratings = [], [], []
    num_failures = 0  # in a row: a long run means the space of such puzzles is (nearly) used up
    while len(puzzles) < num:
        solution = draw_grid()
        target_blanks = int(rng.integers(min_blanks, max_blanks + 1))
        puzzle = minimal_puzzle(solution, box, rng, min_clues=num_cells - target_blanks)
        if (int(np.sum(puzzle == 0)) != target_blanks or puzzle.tobytes() in seen
                or solution.tobytes() in avoid_grids):
            num_failures += 1
            if num_failures == MAX_FAILURES_IN_A_ROW:
                raise DatasetError(f"{where}: found only {len(puzzles)} of {num} distinct puzzles with "
                                   f"{min_blanks}..{max_blanks} blanks; ask for fewer or widen the blank range")
            continue
        num_failures = 0
        seen.add(puzzle.tobytes())
        puzzles.append(puzzle)
        solutions.append(solution)
        ratings.append(solve(puzzle, box)[1])
    return SudokuSplit(np.stack(puzzles), np.stack(solutions), np.array(ratings, dtype=np.int64))


def _small_splits(box: Box, num_train: int, num_test: int, min_blanks: int, max_blanks: int,
                  rng: np.random.Generator) -> dict[str, SudokuSplit]:
    """Train and test puzzles whose solution grids are disjoint.

    4x4 has only 288 grids (all symmetry images of 2 classes), so the grids themselves are split 70/30 at random
    and each puzzle draws from its side. Larger boxes have millions of grids (28,200,960 for 6x6): every puzzle
    gets a fresh random grid, and a test grid equal to a training grid is redrawn.
    """
    def draw_from(grids: np.ndarray) -> Callable[[], np.ndarray]:
        return lambda: grids[rng.integers(len(grids))]

    if box_dims(box) == (2, 2):
        grids = all_solved_grids(box)
        grids = grids[rng.permutation(len(grids))]
        train_grids, test_grids = np.split(grids, [round(TRAIN_GRID_FRACTION * len(grids))])
        draw_train, draw_test = draw_from(train_grids), draw_from(test_grids)
    else:
        draw_train = draw_test = partial(random_solved_grid, box, rng)
    train = _puzzles_from_grids(draw_train, num_train, box, min_blanks, max_blanks, rng, "small train")
    test = _puzzles_from_grids(draw_test, num_test, box, min_blanks, max_blanks, rng, "small test",
                               avoid_grids=frozenset(grid.tobytes() for grid in train.solutions))
    return {"train": train, "test": test}


def build_small_sudoku(out_dir: str | Path, box: Box, num_train: int, num_test: int, seed: int, min_blanks: int,
                       max_blanks: int, num_aug: int = 0, overwrite: bool = False) -> None:
    """Small sudoku (vocab n + 2, seq_len n*n) with unique answers; test solution grids never occur in training.

    `box` = 2 gives 4x4, (2, 3) gives 6x6 with boxes 2 rows tall and 3 columns wide. Puzzles are distinct within
    each split; augmented training copies (`num_aug` per puzzle) avoid the test solution grids too.
    """
    box_rows, box_cols = box_dims(box)
    n = box_rows * box_cols
    _check_request(num_train, num_test, num_aug, seed)
    # With fewer than n - 1 givens two digits are missing and can be swapped, so the answer is not unique.
    most_blanks = n * n - (n - 1)
    if not 0 <= min_blanks <= max_blanks <= most_blanks:
        raise DatasetError(f"need 0 <= min blanks <= max blanks <= {most_blanks}, got {min_blanks}..{max_blanks}")
    rng = np.random.default_rng(seed)
    with staged_dataset(out_dir, overwrite=overwrite) as staging:
        splits = _small_splits(box, num_train, num_test, min_blanks, max_blanks, rng)
        write_sudoku_splits(staging, box, splits, num_aug, rng)


def _check_request(num_train: int, num_test: int, num_aug: int, seed: int) -> None:
    for name, value, least in (("train size", num_train, 1), ("test size", num_test, 1),
                               ("augmentation count", num_aug, 0), ("seed", seed, 0)):
        if value < least:
            raise DatasetError(f"{name} must be >= {least}, got {value}")


# ---------------------------------------------------------------------------------------------------------------
# 9x9 puzzles with a Sudoku-Extreme-like difficulty mix

# Clues given back per hill-climbing move in `harden`: with 60 moves, 4 reached mean rating 26.6 and 2 reached 19.4
# at about the same time per move (60 puzzles; docs/data-sudoku.md).
HARD_NUM_ADDED = 4
MAX_ATTEMPTS_PER_PUZZLE = 1000
RANDOM_STREAMS = {"train": 0, "test": 1, "augment": 2}  # second seed word of each random stream


@dataclass(kw_only=True)
class SudokuProfile:
    """The puzzle mix to generate; defaults follow Sudoku-Extreme (docs/trm-and-later-work.md section 4.2)."""

    easy_fraction: float = 0.25
    """Share of rating-0 puzzles (propagation alone solves them), in [0, 1]; Sudoku-Extreme has ~27%."""
    min_blanks: int = 45
    """Fewest blank cells per puzzle; Sudoku-Extreme's test set spans 45..64 (mean 55.8)."""
    max_blanks: int = 64
    """Most blank cells per puzzle (17 givens, the fewest a unique 9x9 puzzle can have, is 64 blanks)."""
    hard_steps: int = 60
    """Hill-climbing moves per hard puzzle (`harden`); more makes harder puzzles, linearly slower."""
    random_minimal: bool = False
    """Plain random minimal puzzles instead (the TRM time-to-accuracy anchor's data): a random grid with clues
    removed in random order while the answer stays unique; no hardening, no clues given back, any rating.
    The other fields are then ignored."""

    def validate(self) -> None:
        if not 0.0 <= self.easy_fraction <= 1.0:
            raise DatasetError(f"easy fraction must be in [0, 1], got {self.easy_fraction}")
        if not 0 <= self.min_blanks <= self.max_blanks <= 64:
            raise DatasetError(f"need 0 <= min blanks <= max blanks <= 64, got {self.min_blanks}..{self.max_blanks}")
        if self.hard_steps < 0:
            raise DatasetError(f"hard steps must be >= 0, got {self.hard_steps}")


def _give_back(puzzle: np.ndarray, solution: np.ndarray, num_clues: int, rng: np.random.Generator) -> np.ndarray:
    """Fill `num_clues` random blank cells from the solution (a unique puzzle stays unique)."""
    puzzle = puzzle.copy()
    cells = rng.permutation(np.flatnonzero(puzzle == 0))[:num_clues]
    puzzle[cells] = solution[cells]
    return puzzle


def make_puzzle(is_hard: bool, profile: SudokuProfile, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """One 9x9 puzzle, flat [81] int32, with a unique solution [81] and its rating (>= 1 iff `is_hard`).

    Random solved grid -> minimal puzzle -> (hard only) hill-climb the rating -> give clues back to a blank count in
    [min_blanks, max_blanks] (hard: as many blanks as allowed; easy: uniform) -> keep if the rating fits the kind.
    """
    box = 3
    for _ in range(MAX_ATTEMPTS_PER_PUZZLE):
        solution = random_solved_grid(box, rng)
        puzzle = minimal_puzzle(solution, box, rng)
        if profile.random_minimal:
            return puzzle, solution, int(solve(puzzle, box)[1])
        if is_hard:
            puzzle, _ = harden(puzzle, solution, box, profile.hard_steps, HARD_NUM_ADDED, rng)
        num_blanks = int(np.sum(puzzle == 0))
        most_blanks = min(profile.max_blanks, num_blanks)
        if most_blanks < profile.min_blanks:
            continue
        target = most_blanks if is_hard else int(rng.integers(profile.min_blanks, most_blanks + 1))
        puzzle = _give_back(puzzle, solution, num_blanks - target, rng)
        rating = int(solve(puzzle, box)[1])
        if (rating > 0) == is_hard:
            return puzzle, solution, rating
    kind = "hard" if is_hard else "easy"
    raise DatasetError(f"no {kind} puzzle with {profile.min_blanks}..{profile.max_blanks} blanks in "
                       f"{MAX_ATTEMPTS_PER_PUZZLE} attempts; widen the blank range")


def _make_slots(seed: int, stream: int, attempt: int, slots: list[tuple[int, bool]],
                profile: SudokuProfile) -> list[tuple[np.ndarray, np.ndarray, int, bytes]]:
    """Puzzles for (index, is_hard) slots; each slot has its own generator, so results ignore worker count.

    Runs in worker threads: the numba kernels release the GIL.
    """
    made = []
    for index, is_hard in slots:
        rng = np.random.default_rng([seed, stream, index, attempt])
        puzzle, solution, rating = make_puzzle(is_hard, profile, rng)
        made.append((puzzle, solution, rating, canonical_solution(solution, 3).tobytes()))
    return made


def generate_puzzles(num: int, profile: SudokuProfile, seed: int, split_name: str, num_workers: int = 1,
                     avoid_classes: set[bytes] | None = None) -> tuple[SudokuSplit, list[bytes]]:
    """`num` 9x9 puzzles whose solution grids lie in distinct symmetry classes outside `avoid_classes`.

    Returns the split and each puzzle's class (canonical solution bytes). Random streams depend on (seed, split
    name, slot), so train and test differ and the worker count does not matter. A slot whose class is taken is
    redrawn with its next attempt number.
    """
    stream = RANDOM_STREAMS[split_name]
    num_easy = round(profile.easy_fraction * num)
    is_hard = np.random.default_rng([seed, stream]).permutation(np.arange(num) >= num_easy)
    taken = set(avoid_classes or ())
    results: list[tuple | None] = [None] * num
    pending = list(range(num))
    attempt = 0
    progress = tqdm(total=num, desc=f"sudoku {split_name}", unit="puzzle")
    with ThreadPoolExecutor(num_workers) as pool, progress:
        while pending:
            chunk_size = max(1, min(64, len(pending) // (4 * num_workers)))
            chunks = [pending[i:i + chunk_size] for i in range(0, len(pending), chunk_size)]
            futures = [pool.submit(_make_slots, seed, stream, attempt, [(i, bool(is_hard[i])) for i in chunk],
                                   profile) for chunk in chunks]
            retry = []
            for chunk, future in zip(chunks, futures):
                for index, made in zip(chunk, future.result()):
                    if made[3] in taken:
                        retry.append(index)
                        continue
                    taken.add(made[3])
                    results[index] = made
                    progress.update(1)
            pending, attempt = retry, attempt + 1
    puzzles, solutions, ratings, classes = zip(*results)
    split = SudokuSplit(np.stack(puzzles), np.stack(solutions), np.array(ratings, dtype=np.int64))
    return split, list(classes)


def build_sudoku(out_dir: str | Path, num_train: int = 1000, num_test: int = 5000, num_aug: int = 1000, seed: int = 0,
                 profile: SudokuProfile | None = None, num_workers: int = 1, overwrite: bool = False) -> None:
    """9x9 dataset: generated puzzles, test solution grids in symmetry classes disjoint from train's."""
    profile = profile or SudokuProfile()
    profile.validate()
    _check_request(num_train, num_test, num_aug, seed)
    if num_workers < 1:
        raise DatasetError(f"workers must be >= 1, got {num_workers}")
    with staged_dataset(out_dir, overwrite=overwrite) as staging:
        train, train_classes = generate_puzzles(num_train, profile, seed, "train", num_workers)
        test, test_classes = generate_puzzles(num_test, profile, seed, "test", num_workers, set(train_classes))
        if set(train_classes) & set(test_classes):
            raise DatasetError("internal error: a test solution grid is a symmetry image of a training one")
        augment_rng = np.random.default_rng([seed, RANDOM_STREAMS["augment"]])
        write_sudoku_splits(staging, 3, {"train": train, "test": test}, num_aug, augment_rng)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = SudokuProfile()
    parser.add_argument("--out", required=True, help="output dataset folder")
    parser.add_argument("--train-size", type=int, default=1000, help="original training puzzles (default 1000)")
    parser.add_argument("--test-size", type=int, default=5000, help="test puzzles, never augmented (default 5000)")
    parser.add_argument("--aug", type=int, default=1000, help="augmented copies per training puzzle (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random stream (default 0)")
    parser.add_argument("--easy-fraction", type=float, default=defaults.easy_fraction,
                        help="share of puzzles solved by propagation alone (default %(default)s)")
    parser.add_argument("--min-blanks", type=int, default=defaults.min_blanks,
                        help="fewest blank cells per puzzle (default %(default)s)")
    parser.add_argument("--max-blanks", type=int, default=defaults.max_blanks,
                        help="most blank cells per puzzle (default %(default)s; minimal puzzles reach ~61)")
    parser.add_argument("--hard-steps", type=int, default=defaults.hard_steps,
                        help="hill-climbing moves per hard puzzle; more = harder and slower (default %(default)s)")
    parser.add_argument("--random-minimal", action="store_true",
                        help="plain random minimal puzzles (easier; the TRM anchor's data) instead of the profile")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="generator threads (default: all cores, %(default)s here)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")


def _build(args: argparse.Namespace) -> None:
    profile = SudokuProfile(easy_fraction=args.easy_fraction, min_blanks=args.min_blanks, max_blanks=args.max_blanks,
                            hard_steps=args.hard_steps, random_minimal=args.random_minimal)
    build_sudoku(args.out, num_train=args.train_size, num_test=args.test_size, num_aug=args.aug, seed=args.seed,
                 profile=profile, num_workers=args.workers, overwrite=args.overwrite)
    print(f"wrote {args.out}")


TASKS.add("sudoku", TaskSpec(
    name="sudoku",
    help="9x9 sudoku: generated unique-answer puzzles, Sudoku-Extreme-like difficulty mix",
    add_arguments=_add_arguments,
    build=_build,
))
