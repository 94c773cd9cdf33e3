"""Maze-Hard: square grid mazes with a long shortest path from S to G (builder, augmentation, metrics).

Generator: the instance procedure of Lehnert et al. 2024 ("Beyond A*", Searchformer `MazeTraceDataset.generate`)
with HRM's difficulty filter (Wang et al. 2025: "retain only those instances whose difficulty exceeds 110"):
  1. draw a wall count uniformly in [n//10*3, n//10*5] (n = size², so 30–50% walls) and put the walls on
     uniformly random cells;
  2. up to 100 times, draw an ordered (start, goal) pair of distinct free cells uniformly; keep the first pair whose
     shortest path has at least `min_path` moves;
  3. if no pair qualifies, draw a new layout. Each layout gives at most one maze.
Path length counts moves (edges), so the path visits length + 1 cells, S and G included; `min_path = 111` is
HRM's "> 110". Searchformer's own "plan length" counts cells, i.e. moves + 1.

Speed: qualifying pairs are rare (order 1e-5 of random pairs at 30×30), so a layout is first checked for whether
any pair in it can qualify. For each connected component a double sweep finds a central cell c, and
d(s, g) <= d(s, c) + d(c, g) <= 2·ecc(c); a component where that bound is below `min_path` is never sampled from,
and a pair whose bound through any of three cells is below `min_path` is rejected without its own search. Every
draw skipped that way would have been rejected anyway, so the maze distribution is that of plain rejection; only
the random stream differs.

Label: the input with the cells of one shortest path marked `o`; S and G keep their own symbols, as in the
authors' 900-character answer grids. The path is chosen deterministically: from S, always step to the first
neighbour, in the order up, down, left, right, that is one move closer to G.

Tokens (authors' `CHARSET = "# SGo"` shifted by one, PAD = 0): 1 wall, 2 open, 3 start, 4 goal, 5 path.
Shapes: n mazes, s grid side, l = s² cells.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from hrm.data.dihedral import NUM_DIHEDRAL, dihedral_transform
from hrm.data.format import DatasetMetadata, PuzzleSet, single_puzzle_set, staged_dataset, write_split
from hrm.data.tasks import TASK_FILE, TASKS, TaskSpec
from hrm.errors import ConfigError, DatasetError

CHARSET = "# SGo"
PAD_ID = 0
WALL_ID, OPEN_ID, START_ID, GOAL_ID, PATH_ID = 1, 2, 3, 4, 5
VOCAB_SIZE = len(CHARSET) + 1

NUM_PAIR_ATTEMPTS = 100  # Searchformer `generate(num_attempts=100)`: (start, goal) draws per wall layout
# ~75x the mean (~1300) at the defaults; running out means --min-path is (nearly) unreachable.
MAX_LAYOUTS_PER_MAZE = 100_000


# ---------------------------------------------------------------------------------------------------------------
# Grid search kernels (numba). They work on a grid padded with a border of walls, width w = s + 2, cell r*w + c
# (r, c in 1..s): neighbours are then cell ∓ w, cell ∓ 1 with no bounds checks, and the BFS runs branch-free
# (about 2.5x faster on random layouts, where the branches are unpredictable). `passable`, `dist`: [w²] arrays.


@numba.njit(cache=True)
def _bfs(passable: np.ndarray, width: int, source: int, dist: np.ndarray, queue: np.ndarray) -> int:
    """Distances from `source` through passable cells into `dist` (which must be -1 on the reached cells).

    Leaves the reached cells in BFS order in queue[:num] and returns num; queue[num - 1] is a farthest cell.
    Neighbour order: up, down, left, right.
    """
    dist[source] = 0
    queue[0] = source
    head, tail = 0, 1
    while head < tail:
        cell = queue[head]
        head += 1
        step = dist[cell] + 1
        for nxt in (cell - width, cell + width, cell - 1, cell + 1):
            is_new = passable[nxt] & (dist[nxt] < 0)
            dist[nxt] = step if is_new else dist[nxt]
            queue[tail] = nxt  # overwritten next time unless is_new
            tail += np.int64(is_new)
    return tail


@numba.njit(cache=True)
def _step_closer(width: int, cell: int, dist: np.ndarray) -> int:
    """The first neighbour (up, down, left, right) one move closer to the BFS source of `dist`."""
    for nxt in (cell - width, cell + width, cell - 1, cell + 1):
        if dist[nxt] == dist[cell] - 1:
            return nxt
    return -1


@numba.njit(cache=True)
def _mark_viable_components(is_open, width, free_cells, min_path, component, is_viable,
                            dist_root, dist_far, dist_centre, queue) -> bool:
    """Label components; a component is viable unless all its pairs are provably < min_path apart.

    Leaves full distance arrays from three cells of each viable component (a root, a far cell, a centre) for the
    pair bound d(s, g) <= d(s, x) + d(x, g). Returns whether any component is viable.
    """
    component[:] = -1
    dist_root[:] = -1
    dist_far[:] = -1
    dist_centre[:] = -1
    num_components = 0
    any_viable = False
    for root in free_cells:
        if component[root] >= 0:
            continue
        size = _bfs(is_open, width, root, dist_root, queue)
        component[queue[:size]] = num_components
        far = queue[size - 1]
        # A path of min_path moves needs min_path + 1 cells; any pair is within 2·ecc(root).
        viable = size > min_path and 2 * dist_root[far] >= min_path
        if viable:
            # Double sweep: the middle of a long far→other path is near the centre, so 2·ecc(centre) is tight.
            other = queue[_bfs(is_open, width, far, dist_far, queue) - 1]
            centre = other
            for _ in range(dist_far[other] // 2):
                centre = _step_closer(width, centre, dist_far)
            viable = 2 * dist_centre[queue[_bfs(is_open, width, centre, dist_centre, queue) - 1]] >= min_path
        is_viable[num_components] = viable
        any_viable = any_viable or viable
        num_components += 1
    return any_viable


@numba.njit(cache=True)
def _sample_maze(rng, side: int, min_path: int, max_layouts: int, is_open: np.ndarray) -> tuple[int, int, int]:
    """Draw layouts until a (start, goal) pair is >= min_path moves apart; the padded layout is left in `is_open`.

    Returns (start, goal, layouts drawn) as padded cells; start is -1 if `max_layouts` ran out. Only
    `rng.random()` is used: numba's Generator gives the same doubles as numpy's and advances the same state.
    """
    width = side + 2
    num_cells = side * side
    min_walls, max_walls = num_cells // 10 * 3, num_cells // 10 * 5
    interior = np.array([(r + 1) * width + c + 1 for r in range(side) for c in range(side)], np.int64)
    cells = np.empty(num_cells, np.int64)
    component = np.empty(width * width, np.int64)
    is_viable = np.empty(num_cells, np.bool_)
    dist_root = np.empty(width * width, np.int64)
    dist_far = np.empty(width * width, np.int64)
    dist_centre = np.empty(width * width, np.int64)
    dist_start = np.empty(width * width, np.int64)
    queue = np.empty(width * width, np.int64)
    for layout in range(1, max_layouts + 1):
        num_walls = min_walls + int(rng.random() * (max_walls - min_walls + 1))
        cells[:] = interior
        for i in range(num_walls):  # partial Fisher-Yates: cells[:num_walls] is a uniform random subset
            j = i + int(rng.random() * (num_cells - i))
            cells[i], cells[j] = cells[j], cells[i]
        is_open[:] = False
        is_open[cells[num_walls:]] = True
        free_cells = cells[num_walls:]
        num_free = num_cells - num_walls
        if num_free < 2 or not _mark_viable_components(is_open, width, free_cells, min_path, component, is_viable,
                                                       dist_root, dist_far, dist_centre, queue):
            continue
        for _ in range(NUM_PAIR_ATTEMPTS):
            i = int(rng.random() * num_free)
            j = int(rng.random() * (num_free - 1))
            if j >= i:
                j += 1
            start, goal = free_cells[i], free_cells[j]
            if component[start] != component[goal] or not is_viable[component[start]]:
                continue
            bound = min(dist_root[start] + dist_root[goal], dist_far[start] + dist_far[goal],
                        dist_centre[start] + dist_centre[goal])
            if bound < min_path:
                continue
            dist_start[:] = -1
            _bfs(is_open, width, start, dist_start, queue)
            if dist_start[goal] >= min_path:
                return start, goal, layout
    return -1, -1, max_layouts


@numba.njit(cache=True)
def _mark_shortest_path(is_open: np.ndarray, width: int, start: int, goal: int, on_path: np.ndarray) -> int:
    """Mark the interior cells of the deterministic shortest path in `on_path`; return its length in moves (-1: none)."""
    dist = np.full(width * width, -1, np.int64)
    _bfs(is_open, width, goal, dist, np.empty(width * width, np.int64))
    if dist[start] < 0:
        return -1
    cell = _step_closer(width, start, dist)
    while cell != goal:
        on_path[cell] = True
        cell = _step_closer(width, cell, dist)
    return dist[start]


@numba.njit(cache=True)
def _count_shortest_paths(is_open: np.ndarray, width: int, start: int, goal: int) -> float:
    """Number of distinct shortest start→goal paths (float: it can exceed int64 on open grids)."""
    dist = np.full(width * width, -1, np.int64)
    queue = np.empty(width * width, np.int64)
    count = np.zeros(width * width, np.float64)
    count[start] = 1.0
    for cell in queue[:_bfs(is_open, width, start, dist, queue)]:
        for nxt in (cell - width, cell + width, cell - 1, cell + 1):
            if dist[nxt] == dist[cell] + 1:
                count[nxt] += count[cell]
    return count[goal]


@numba.njit(cache=True)
def _path_distances(is_open: np.ndarray, on_path: np.ndarray, starts: np.ndarray, goals: np.ndarray,
                    width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the optimal S→G distance through open cells, and the S→G distance through S, G and `on_path` cells
    only (-1 where unreachable). is_open, on_path: [n, w²] bool."""
    num_rows, num_cells = is_open.shape
    optimal = np.empty(num_rows, np.int64)
    along_path = np.empty(num_rows, np.int64)
    dist = np.empty(num_cells, np.int64)
    queue = np.empty(num_cells, np.int64)
    allowed = np.empty(num_cells, np.bool_)
    for row in range(num_rows):
        dist[:] = -1
        _bfs(is_open[row], width, starts[row], dist, queue)
        optimal[row] = dist[goals[row]]
        allowed[:] = on_path[row]
        allowed[goals[row]] = True
        dist[:] = -1
        _bfs(allowed, width, starts[row], dist, queue)
        along_path[row] = dist[goals[row]]
    return optimal, along_path


def _pad(grids: np.ndarray) -> np.ndarray:
    """[..., s, s] bool -> [..., (s+2)²] with a False (wall) border, the kernels' layout."""
    padded = np.pad(grids, [(0, 0)] * (grids.ndim - 2) + [(1, 1), (1, 1)], constant_values=False)
    return padded.reshape(*grids.shape[:-2], -1)


def _unpad(padded: np.ndarray, side: int) -> np.ndarray:
    """[..., (s+2)²] -> [..., s, s]: drop the border."""
    return padded.reshape(*padded.shape[:-1], side + 2, side + 2)[..., 1:-1, 1:-1]


def _padded_cell(cell: np.ndarray | int, side: int) -> np.ndarray | int:
    """Flat index r*s + c -> padded index (r+1)*(s+2) + c + 1."""
    return (cell // side + 1) * (side + 2) + cell % side + 1


# ---------------------------------------------------------------------------------------------------------------
# Grids, transforms and metrics (numpy).


def maze_from_text(rows: list[str]) -> np.ndarray:
    """Token grid [s, s] uint8 from rows of CHARSET characters (handy for tests and examples)."""
    if not rows or any(len(row) != len(rows) for row in rows):
        raise ValueError(f"a maze must be square: got {len(rows)} rows of lengths {sorted({len(r) for r in rows})}")
    unknown = set("".join(rows)) - set(CHARSET)
    if unknown:
        raise ValueError(f"maze characters must be in {CHARSET!r}, got {sorted(unknown)}")
    return np.array([[CHARSET.index(ch) + 1 for ch in row] for row in rows], dtype=np.uint8)


def maze_to_text(grid: np.ndarray) -> list[str]:
    """Rows of CHARSET characters from a token grid [s, s] or sequence [l]; PAD shows as '?'."""
    grid = np.asarray(grid)
    grid = grid.reshape(_grid_side(grid.size), -1)
    return ["".join("?" if t == PAD_ID else CHARSET[t - 1] for t in row) for row in grid.tolist()]


def canonical_key(grid: np.ndarray) -> bytes:
    """The same bytes for a maze [s, s] and all its dihedral images: used to keep train and test disjoint."""
    return min(dihedral_transform(grid, tid).tobytes() for tid in range(NUM_DIHEDRAL))


def _grid_side(num_cells: int) -> int:
    side = math.isqrt(num_cells)
    if side * side != num_cells:
        raise ValueError(f"a maze sequence must have a square length, got {num_cells}")
    return side


def _endpoints(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of S and G per row of inputs [n, l]; each row must hold exactly one of each."""
    for token, name in ((START_ID, "S"), (GOAL_ID, "G")):
        counts = (inputs == token).sum(axis=1)
        if np.any(counts != 1):
            row = int(np.flatnonzero(counts != 1)[0])
            raise ValueError(f"maze input {row} has {int(counts[row])} '{name}' cells, expected exactly 1")
    return (inputs == START_ID).argmax(axis=1), (inputs == GOAL_ID).argmax(axis=1)


def _padded_maze(maze: np.ndarray) -> tuple[np.ndarray, int, int]:
    """A token grid [s, s] as the kernels want it: padded open mask, padded start and goal cells."""
    side = maze.shape[-1]
    start, goal = _endpoints(maze.reshape(1, -1))
    return _pad(maze != WALL_ID), int(_padded_cell(start[0], side)), int(_padded_cell(goal[0], side))


def shortest_path_label(maze: np.ndarray) -> np.ndarray:
    """The label [s, s] of a maze [s, s] (tokens, one S, one G): the deterministic shortest path's cells set to `o`."""
    side = maze.shape[-1]
    is_open, start, goal = _padded_maze(maze)
    on_path = np.zeros_like(is_open)
    if _mark_shortest_path(is_open, side + 2, start, goal, on_path) < 0:
        raise ValueError("maze has no path from S to G")
    return np.where(_unpad(on_path, side), PATH_ID, maze).astype(maze.dtype)


def relabel(inputs: np.ndarray) -> np.ndarray:
    """Labels [n, l] for maze inputs [n, l]: each row's deterministic shortest path (`shortest_path_label`)."""
    side = _grid_side(inputs.shape[1])
    return np.stack([shortest_path_label(row.reshape(side, side)).reshape(-1) for row in inputs])


def count_shortest_paths(maze: np.ndarray) -> float:
    """How many distinct shortest S→G paths a maze [s, s] has (0 if none); > 1 means ties."""
    is_open, start, goal = _padded_maze(maze)
    return _count_shortest_paths(is_open, maze.shape[-1] + 2, start, goal)


def valid_shortest_paths(inputs: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """[n] bool: which predictions are a valid shortest path of their maze (no label is read).

    inputs, predictions: [n, l] token ids. A prediction is a valid shortest path when (1) every cell it does not
    mark `o` equals the input, and every `o` sits on an input open cell (walls, S, G unchanged, no PAD), and (2)
    its `o` cells link S to G, and there are exactly optimal - 1 of them, the optimal length coming from a BFS on
    the input. (2) makes the `o` cells exactly one shortest path: a connected S→G route through them has at least
    `optimal` moves, so it uses every `o` cell and nothing else.
    """
    inputs, predictions = np.asarray(inputs), np.asarray(predictions)
    if inputs.ndim != 2 or predictions.shape != inputs.shape:
        raise ValueError(f"maze inputs and predictions must be [n, l] arrays of one shape, got {inputs.shape}, "
                         f"{predictions.shape}")
    if inputs.shape[0] == 0:
        raise ValueError("maze scoring needs at least one example")
    side = _grid_side(inputs.shape[1])
    starts, goals = _endpoints(inputs)
    on_path = predictions == PATH_ID
    keeps_maze = (np.where(on_path, OPEN_ID, predictions) == inputs).all(axis=1)
    grids = (-1, side, side)
    optimal, along_path = _path_distances(_pad((inputs != WALL_ID).reshape(grids)), _pad(on_path.reshape(grids)),
                                          _padded_cell(starts, side), _padded_cell(goals, side), side + 2)
    if np.any(optimal < 0):
        raise ValueError(f"maze input {int(np.flatnonzero(optimal < 0)[0])} has no path from S to G")
    return keeps_maze & (along_path >= 0) & (on_path.sum(axis=1) == optimal - 1)


def maze_metrics(inputs: np.ndarray, labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """Fractions of predictions that are a valid shortest path (`valid_shortest_paths`), and that equal the label."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape:
        raise ValueError(f"maze labels and predictions must have one shape, got {labels.shape}, {predictions.shape}")
    return {
        "valid_shortest_path_accuracy": float(valid_shortest_paths(inputs, predictions).mean()),
        "exact_match_accuracy": float((predictions == labels).all(axis=1).mean()),
    }


# ---------------------------------------------------------------------------------------------------------------
# Generation and the dataset builder.


@dataclass
class MazeBatch:
    """Generated mazes: inputs and labels [n, s, s] uint8 tokens, shortest path lengths [n] in moves."""

    inputs: np.ndarray
    labels: np.ndarray
    path_lengths: np.ndarray
    num_shortest_paths: np.ndarray  # [n] float: > 1 means the label is one of several optimal answers
    num_layouts: int  # wall layouts drawn in total, rejected ones included


def generate_mazes(num_mazes: int, *, size: int, min_path: int, rng: np.random.Generator,
                   seen: set[bytes]) -> MazeBatch:
    """Draw `num_mazes` distinct mazes: a draw whose `canonical_key` is in `seen` is skipped; new keys join `seen`."""
    inputs = np.empty((num_mazes, size, size), np.uint8)
    labels = np.empty_like(inputs)
    path_lengths = np.empty(num_mazes, np.int64)
    num_shortest_paths = np.empty(num_mazes, np.float64)
    is_open = np.empty((size + 2) ** 2, np.bool_)  # padded layout, see the kernels
    num_layouts, kept = 0, 0
    while kept < num_mazes:
        start, goal, drawn = _sample_maze(rng, size, min_path, MAX_LAYOUTS_PER_MAZE, is_open)
        num_layouts += drawn
        if start < 0:
            raise ConfigError(f"no {size}x{size} maze with a shortest path of >= {min_path} moves in "
                              f"{MAX_LAYOUTS_PER_MAZE} random layouts; lower --min-path")
        padded = np.where(is_open, OPEN_ID, WALL_ID).astype(np.uint8)
        padded[start], padded[goal] = START_ID, GOAL_ID
        maze = _unpad(padded, size)
        key = canonical_key(maze)
        if key in seen:
            continue
        seen.add(key)
        inputs[kept] = maze
        labels[kept] = shortest_path_label(maze)
        path_lengths[kept] = (labels[kept] == PATH_ID).sum() + 1
        num_shortest_paths[kept] = count_shortest_paths(maze)
        kept += 1
    return MazeBatch(inputs, labels, path_lengths, num_shortest_paths, num_layouts)


def _split_stats(batch: MazeBatch) -> dict:
    lengths = batch.path_lengths
    values, counts = np.unique(lengths, return_counts=True)
    num_tied = int((batch.num_shortest_paths > 1).sum())
    return {
        "num_mazes": int(lengths.size),
        "num_layouts_drawn": batch.num_layouts,
        "path_length_min": int(lengths.min()),
        "path_length_max": int(lengths.max()),
        "path_length_mean": round(float(lengths.mean()), 2),
        "path_length_median": float(np.median(lengths)),
        "histogram": {str(v): int(c) for v, c in zip(values, counts)},
        "num_with_tied_shortest_paths": num_tied,
        "tie_fraction": round(num_tied / lengths.size, 4),
        "min_num_shortest_paths": float(batch.num_shortest_paths.min()),
        "median_num_shortest_paths": float(np.median(batch.num_shortest_paths)),
    }


def _plot_path_lengths(batches: dict[str, MazeBatch], min_path: int, path: Path) -> None:
    from matplotlib.figure import Figure  # Agg canvas without pyplot's global state

    fig = Figure(figsize=(5 * len(batches), 3.5), layout="constrained")
    axes = fig.subplots(1, len(batches), squeeze=False)[0]
    for ax, (split, batch) in zip(axes, batches.items()):
        lengths = batch.path_lengths
        ax.hist(lengths, bins=np.arange(lengths.min(), lengths.max() + 2) - 0.5)
        ax.set_title(f"{split}: {lengths.size} mazes, mean {lengths.mean():.1f}")
        ax.set_xlabel(f"shortest path length (moves, >= {min_path})")
        ax.set_ylabel("mazes")
    fig.savefig(path, dpi=100)


def _check_labels(inputs: np.ndarray, labels: np.ndarray, split: str) -> None:
    """Every label must itself score as a valid shortest path; anything else is a generator bug."""
    score = maze_metrics(inputs, labels, labels)["valid_shortest_path_accuracy"]
    if score != 1.0:
        raise DatasetError(f"maze {split} labels: only {score:.4f} are valid shortest paths (generator bug)")


def _to_puzzle_set(batch: MazeBatch, use_aug: bool) -> PuzzleSet:
    """Flatten to [n, l]; with `use_aug` each maze becomes a group of its 8 dihedral images (in id order), each
    labelled by the deterministic rule on the image itself (see `relabel`; a moved label breaks its ties)."""
    num_mazes = batch.inputs.shape[0]
    if not use_aug:
        return single_puzzle_set(batch.inputs.reshape(num_mazes, -1), batch.labels.reshape(num_mazes, -1))
    inputs = np.stack([dihedral_transform(grid, tid) for grid in batch.inputs for tid in range(NUM_DIHEDRAL)]
                      ).reshape(num_mazes * NUM_DIHEDRAL, -1)
    return single_puzzle_set(inputs, relabel(inputs), group_sizes=[NUM_DIHEDRAL] * num_mazes)


def build_maze_dataset(out_dir: str | Path, *, train_size: int = 1000, test_size: int = 1000, size: int = 30,
                       min_path: int = 111, use_aug: bool = False, seed: int = 0, overwrite: bool = False) -> dict:
    """Generate Maze-Hard into `out_dir` (authors' format) and return the per-split statistics.

    Test and train draw from two streams spawned from `seed`, so the test set does not depend on --train-size.
    Train mazes that equal a test maze up to a dihedral transform are redrawn.
    """
    for name, value, low in (("--train-size", train_size, 1), ("--test-size", test_size, 1), ("--size", size, 2),
                             ("--min-path", min_path, 1), ("--seed", seed, 0)):
        if value < low:
            raise ConfigError(f"maze: {name} must be >= {low}, got {value}")
    max_free = size * size - size * size // 10 * 3
    if min_path > max_free - 1:
        raise ConfigError(f"maze: --min-path {min_path} is impossible on a {size}x{size} grid (at least "
                          f"{size * size - max_free} walls leave at most {max_free} free cells)")
    began = time.perf_counter()
    test_rng, train_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    with staged_dataset(out_dir, overwrite=overwrite) as staging:
        seen: set[bytes] = set()
        test = generate_mazes(test_size, size=size, min_path=min_path, rng=test_rng, seen=seen)
        train = generate_mazes(train_size, size=size, min_path=min_path, rng=train_rng, seen=seen)
        batches = {"train": train, "test": test}
        for split, batch in batches.items():
            puzzle_set = _to_puzzle_set(batch, use_aug=use_aug and split == "train")
            _check_labels(puzzle_set.inputs, puzzle_set.labels, split)
            meta = DatasetMetadata(
                pad_id=PAD_ID, ignore_label_id=0, blank_identifier_id=0, vocab_size=VOCAB_SIZE, seq_len=size * size,
                num_puzzle_identifiers=1, total_groups=puzzle_set.num_groups, mean_puzzle_examples=1.0, sets=["all"],
            )
            write_split(staging / split, meta, {"all": puzzle_set})
        stats = {"length_unit": "moves", "min_path": min_path, "size": size, "seed": seed,
                 **{split: _split_stats(batch) for split, batch in batches.items()}}
        (staging / TASK_FILE).write_text(json.dumps({"task": "maze"}))
        (staging / "identifiers.json").write_text(json.dumps(["<blank>"]))
        (staging / "path_lengths.json").write_text(json.dumps(stats, indent=2))
        _plot_path_lengths(batches, min_path, staging / "path_lengths.png")
    stats["build_seconds"] = round(time.perf_counter() - began, 1)
    return stats


# ---------------------------------------------------------------------------------------------------------------
# CLI: `hrm data maze`.


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="dataset folder to create")
    parser.add_argument("--train-size", type=int, default=1000, help="training mazes (before augmentation)")
    parser.add_argument("--test-size", type=int, default=1000, help="test mazes")
    parser.add_argument("--size", type=int, default=30, help="grid side (Maze-Hard: 30)")
    parser.add_argument("--min-path", type=int, default=111,
                        help="keep mazes whose shortest path has at least this many moves (HRM: > 110)")
    parser.add_argument("--aug", action="store_true",
                        help="add the 8 dihedral transforms of each training maze (authors' option, off by default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing non-empty --out folder")


def _build(args: argparse.Namespace) -> None:
    stats = build_maze_dataset(args.out, train_size=args.train_size, test_size=args.test_size, size=args.size,
                               min_path=args.min_path, use_aug=args.aug, seed=args.seed, overwrite=args.overwrite)
    for split in ("train", "test"):
        s = stats[split]
        print(f"maze {split}: {s['num_mazes']} mazes, path length {s['path_length_min']}-{s['path_length_max']} "
              f"moves (mean {s['path_length_mean']}), ties {s['tie_fraction']:.1%}, "
              f"{s['num_layouts_drawn']} layouts drawn")
    print(f"maze: wrote {args.out} in {stats['build_seconds']} s")


TASKS.add("maze", TaskSpec(
    name="maze",
    help="Maze-Hard: random 30-50%%-wall grids whose shortest S->G path is long (HRM/TRM benchmark)",
    add_arguments=_add_arguments,
    build=_build,
))
