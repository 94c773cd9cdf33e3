"""Numba kernels for Sudoku of any box shape: a rating solver, random grids, puzzle generation, canonical forms.

A box is an int (square boxes, `box x box`) or a `(box_rows, box_cols)` pair (e.g. (2, 3) for 6x6 sudoku): the
grid has `n = box_rows * box_cols` digits, rows and columns, and its boxes are box_rows tall and box_cols wide.
Grids are flat int32 arrays of `n * n` cells, value 0 = blank and 1..n = digits, row-major. Only the canonical
form is square-only (its symmetries include the transpose). Inside the kernels a cell holds a bitmask of its
candidate digits (bit d-1 = digit d).

The solver is a fixed, deterministic DPLL search, so its work is a difficulty rating (Sudoku-Extreme rates puzzles
by tdoku's backtracks; ours is the same idea with a different solver):
  * propagation = naked singles + hidden singles to a fixpoint (the fixpoint does not depend on rule order);
  * branching = the open cell with the fewest candidates, lowest index first; digits in increasing order;
  * the whole tree is searched (that is what proves uniqueness), and every guess whose propagation ends in a
    contradiction counts as one backtrack.
So rating 0 <=> propagation alone solves the puzzle, and a unique puzzle that needs a guess has rating >= 1.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import permutations
from numbers import Integral

import numpy as np
from numba import njit


Box = int | tuple[int, int]


def box_dims(box: Box) -> tuple[int, int]:
    """(box_rows, box_cols) of a box given as an int (square) or a pair; each side in [2, 5], so n <= 25 bits."""
    dims = (box, box) if isinstance(box, Integral) else tuple(box)
    if len(dims) != 2 or not all(isinstance(side, Integral) and 2 <= side <= 5 for side in dims):
        raise ValueError(f"a box is an int in [2, 5] or a (rows, cols) pair of such ints, got {box!r}")
    return int(dims[0]), int(dims[1])


@lru_cache(maxsize=None)
def geometry(box: Box) -> tuple[np.ndarray, np.ndarray]:
    """Units [3n, n] (rows, columns, boxes) and peers [n*n, num_peers] as cell indices.

    Every cell has 2(n-1) + (box_rows-1)(box_cols-1) peers: 20 for 9x9, 12 for 6x6 with 2x3 boxes.
    """
    box_rows, box_cols = box_dims(box)
    n = box_rows * box_cols
    rows = [[r * n + c for c in range(n)] for r in range(n)]
    cols = [[r * n + c for r in range(n)] for c in range(n)]
    boxes = [  # n // box_rows = box_cols bands of boxes, n // box_cols = box_rows stacks
        [(band * box_rows + r) * n + stack * box_cols + c for r in range(box_rows) for c in range(box_cols)]
        for band in range(box_cols) for stack in range(box_rows)
    ]
    units = np.array(rows + cols + boxes, dtype=np.int32)
    peers = np.array(
        [sorted({p for unit in units if cell in unit for p in unit} - {cell}) for cell in range(n * n)],
        dtype=np.int32,
    )
    return units, peers


@lru_cache(maxsize=None)
def permutation_table(size: int) -> np.ndarray:
    """All permutations of range(size) in lexicographic order, [size!, size] int32."""
    return np.array(list(permutations(range(size))), dtype=np.int32)


@njit(cache=True, nogil=True)
def _popcount(mask: int) -> int:
    count = 0
    while mask:
        mask &= mask - 1
        count += 1
    return count


@njit(cache=True, nogil=True)
def _to_masks(grid: np.ndarray, n: int) -> np.ndarray:
    full = (1 << n) - 1
    masks = np.empty(grid.shape[0], dtype=np.int32)
    for cell in range(grid.shape[0]):
        masks[cell] = full if grid[cell] == 0 else 1 << (grid[cell] - 1)
    return masks


@njit(cache=True, nogil=True)
def _to_grid(masks: np.ndarray) -> np.ndarray:
    """Single-candidate masks -> digits (open cells -> 0)."""
    grid = np.zeros(masks.shape[0], dtype=np.int32)
    for cell in range(masks.shape[0]):
        mask = masks[cell]
        if mask and not mask & (mask - 1):
            digit = 1
            while mask > 1:
                mask >>= 1
                digit += 1
            grid[cell] = digit
    return grid


@njit(cache=True, nogil=True)
def _propagate(masks: np.ndarray, units: np.ndarray, peers: np.ndarray) -> bool:
    """Naked + hidden singles in place until nothing changes; False on a contradiction."""
    full = (1 << units.shape[1]) - 1
    queue = np.empty(masks.shape[0], dtype=np.int32)  # decided cells still to remove from their peers
    head = 0
    tail = 0
    for cell in range(masks.shape[0]):
        mask = masks[cell]
        if mask == 0:
            return False
        if not mask & (mask - 1):
            queue[tail] = cell
            tail += 1
    while True:
        while head < tail:  # naked singles; a cell is queued once, when it becomes decided
            cell = queue[head]
            head += 1
            for peer in peers[cell]:
                if masks[peer] & masks[cell]:
                    mask = masks[peer] & ~masks[cell]
                    if mask == 0:
                        return False
                    masks[peer] = mask
                    if not mask & (mask - 1):
                        queue[tail] = peer
                        tail += 1
        for unit in units:  # hidden singles
            once = 0
            twice = 0
            for cell in unit:
                twice |= once & masks[cell]
                once |= masks[cell]
            if once != full:
                return False  # some digit has no place left in this unit
            hidden = once & ~twice
            if hidden:
                for cell in unit:
                    mask = masks[cell] & hidden
                    if mask:
                        if mask & (mask - 1):
                            return False  # the only place for two digits
                        if masks[cell] != mask:
                            masks[cell] = mask
                            queue[tail] = cell
                            tail += 1
        if head == tail:
            return True


@njit(cache=True, nogil=True)
def _branch_cell(masks: np.ndarray) -> int:
    """Open cell with the fewest candidates (lowest index on ties); -1 when every cell is decided."""
    best_cell = -1
    best_count = 1 << 30
    for cell in range(masks.shape[0]):
        mask = masks[cell]
        if mask & (mask - 1):
            count = _popcount(mask)
            if count < best_count:
                best_count = count
                best_cell = cell
    return best_cell


@njit(cache=True, nogil=True)
def _search(masks: np.ndarray, units: np.ndarray, peers: np.ndarray, limit: int) -> tuple[int, int, np.ndarray]:
    """(number of solutions up to `limit`, backtracks, first solution or zeros) from candidate masks."""
    num_cells = masks.shape[0]
    solution = np.zeros(num_cells, dtype=np.int32)
    stack = np.empty((num_cells + 1, num_cells), dtype=np.int32)
    branch_cell = np.empty(num_cells + 1, dtype=np.int32)
    branch_left = np.empty(num_cells + 1, dtype=np.int32)  # digits not yet tried at each depth
    stack[0] = masks
    if not _propagate(stack[0], units, peers):
        return 0, 0, solution
    cell = _branch_cell(stack[0])
    if cell < 0:
        return 1, 0, _to_grid(stack[0])
    num_solutions = 0
    backtracks = 0
    depth = 0
    branch_cell[0] = cell
    branch_left[0] = stack[0][cell]
    while depth >= 0:
        left = branch_left[depth]
        if left == 0:
            depth -= 1
            continue
        bit = left & -left
        branch_left[depth] = left & ~bit
        child = stack[depth + 1]
        child[:] = stack[depth]
        child[branch_cell[depth]] = bit
        if not _propagate(child, units, peers):
            backtracks += 1
            continue
        cell = _branch_cell(child)
        if cell < 0:
            num_solutions += 1
            if num_solutions == 1:
                solution = _to_grid(child)
            if num_solutions >= limit:
                break
            continue
        depth += 1
        branch_cell[depth] = cell
        branch_left[depth] = child[cell]
    return num_solutions, backtracks, solution


@njit(cache=True, nogil=True)
def _random_solution(masks: np.ndarray, units: np.ndarray, peers: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random completion of `masks` (the search with digits tried in random order); zeros if none exists."""
    num_cells = masks.shape[0]
    stack = np.empty((num_cells + 1, num_cells), dtype=np.int32)
    branch_cell = np.empty(num_cells + 1, dtype=np.int32)
    branch_left = np.empty(num_cells + 1, dtype=np.int32)
    stack[0] = masks
    if not _propagate(stack[0], units, peers):
        return np.zeros(num_cells, dtype=np.int32)
    cell = _branch_cell(stack[0])
    if cell < 0:
        return _to_grid(stack[0])
    depth = 0
    branch_cell[0] = cell
    branch_left[0] = stack[0][cell]
    while depth >= 0:
        left = branch_left[depth]
        if left == 0:
            depth -= 1
            continue
        pick = rng.integers(0, _popcount(left))
        bit = left & -left
        for _ in range(pick):
            left &= left - 1
            bit = left & -left
        branch_left[depth] &= ~bit
        child = stack[depth + 1]
        child[:] = stack[depth]
        child[branch_cell[depth]] = bit
        if not _propagate(child, units, peers):
            continue
        cell = _branch_cell(child)
        if cell < 0:
            return _to_grid(child)
        depth += 1
        branch_cell[depth] = cell
        branch_left[depth] = child[cell]
    return np.zeros(num_cells, dtype=np.int32)


@njit(cache=True, nogil=True)
def _still_unique_without(puzzle: np.ndarray, cell: int, units: np.ndarray, peers: np.ndarray) -> bool:
    """For a unique puzzle: does it stay unique with `cell` blanked? (No completion may put another digit there.)"""
    masks = _to_masks(puzzle, units.shape[1])
    masks[cell] = ((1 << units.shape[1]) - 1) & ~masks[cell]
    return _search(masks, units, peers, 1)[0] == 0


@njit(cache=True, nogil=True)
def _minimal_puzzle(unique_puzzle: np.ndarray, order: np.ndarray, units: np.ndarray, peers: np.ndarray,
                    min_clues: int) -> np.ndarray:
    """Blank the givens of a unique puzzle in `order` while the answer stays unique and `min_clues` givens remain."""
    puzzle = unique_puzzle.copy()
    num_clues = np.count_nonzero(puzzle)
    for cell in order:
        if num_clues <= min_clues:
            break
        if puzzle[cell] == 0:
            continue
        if _still_unique_without(puzzle, cell, units, peers):
            puzzle[cell] = 0
            num_clues -= 1
    return puzzle


@njit(cache=True, nogil=True)
def _harden(puzzle: np.ndarray, solution: np.ndarray, units: np.ndarray, peers: np.ndarray, num_steps: int,
            num_added: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Hill-climb the rating of a unique puzzle over minimal puzzles of the same solution.

    A move gives back `num_added` random solution cells and blanks the givens again in random order while the
    answer stays unique (so the result is minimal); it is kept when the rating does not drop.
    """
    num_cells = puzzle.shape[0]
    best = puzzle.copy()
    best_rating = _search(_to_masks(best, units.shape[1]), units, peers, 2)[1]
    for _ in range(num_steps):
        candidate = best.copy()
        blanks = np.flatnonzero(candidate == 0)
        for cell in rng.permutation(blanks)[:num_added]:
            candidate[cell] = solution[cell]
        candidate = _minimal_puzzle(candidate, rng.permutation(num_cells).astype(np.int32), units, peers, 0)
        rating = _search(_to_masks(candidate, units.shape[1]), units, peers, 2)[1]
        if rating >= best_rating:
            best = candidate
            best_rating = rating
    return best, best_rating


@njit(cache=True, nogil=True)
def _canonical_solution(grid: np.ndarray, box: int, perms: np.ndarray) -> np.ndarray:
    """Lexicographically smallest image of a solved grid [n, n] under the validity-preserving symmetries.

    Symmetries: transpose, band order, row order within bands, stack order, column order within stacks, digit
    relabelling. Digits are relabelled by first appearance, so the first row always reads 1..n. For a fixed
    transpose, first row and column order, the smallest completion is greedy because the rows of a solved grid
    are distinct: the first band's other rows sorted, then the bands ordered by their smallest row, rows sorted.
    """
    n = box * box
    num_perms = perms.shape[0]
    num_column_orders = num_perms ** (box + 1)
    best = np.full((n, n), n + 1, dtype=np.int32)
    relabelled = np.empty((n, n), dtype=np.int32)
    candidate = np.empty((n, n), dtype=np.int32)
    columns = np.empty(n, dtype=np.int32)
    relabel = np.empty(n + 1, dtype=np.int32)
    row_used = np.zeros(n, dtype=np.bool_)
    for transpose in range(2):
        source = grid.T.copy() if transpose else grid.copy()
        for first_row in range(n):
            for code in range(num_column_orders):
                stack_order = perms[code % num_perms]
                rest = code // num_perms
                for s in range(box):
                    within = perms[rest % num_perms]
                    rest //= num_perms
                    for k in range(box):
                        columns[s * box + k] = stack_order[s] * box + within[k]
                for j in range(n):
                    relabel[source[first_row, columns[j]]] = j + 1
                # Cheap cut first: the second row is the smallest other row of first_row's band.
                band_start = (first_row // box) * box
                second = -1
                for r in range(band_start, band_start + box):
                    if r != first_row:
                        for j in range(n):
                            relabelled[r, j] = relabel[source[r, columns[j]]]
                        if second < 0 or _row_less(relabelled[r], relabelled[second], n):
                            second = r
                if _row_less(best[1], relabelled[second], n):
                    continue
                for r in range(n):
                    for j in range(n):
                        relabelled[r, j] = relabel[source[r, columns[j]]]
                # Greedy row order: first_row, the rest of its band sorted, then whole bands by smallest row.
                row_used[:] = False
                row_used[first_row] = True
                candidate[0] = relabelled[first_row]
                out = _emit_band_rows(relabelled, candidate, row_used, first_row // box, box, 1)
                bands_done = 1 << (first_row // box)
                for _ in range(box - 1):
                    smallest = -1
                    for r in range(n):
                        if not (bands_done >> (r // box)) & 1 and (
                                smallest < 0 or _row_less(relabelled[r], relabelled[smallest], n)):
                            smallest = r
                    bands_done |= 1 << (smallest // box)
                    out = _emit_band_rows(relabelled, candidate, row_used, smallest // box, box, out)
                if _grid_less(candidate, best, n):
                    best[:] = candidate
    return best


@njit(cache=True, nogil=True)
def _emit_band_rows(rows: np.ndarray, out_rows: np.ndarray, row_used: np.ndarray, band: int, box: int,
                    out: int) -> int:
    """Append the unused rows of `band` to `out_rows` in increasing order from index `out`; the next index."""
    n = rows.shape[1]
    while True:
        pick = -1
        for r in range(band * box, band * box + box):
            if not row_used[r] and (pick < 0 or _row_less(rows[r], rows[pick], n)):
                pick = r
        if pick < 0:
            return out
        row_used[pick] = True
        out_rows[out] = rows[pick]
        out += 1


@njit(cache=True, nogil=True)
def _row_less(a: np.ndarray, b: np.ndarray, n: int) -> bool:
    for j in range(n):
        if a[j] != b[j]:
            return a[j] < b[j]
    return False


@njit(cache=True, nogil=True)
def _grid_less(a: np.ndarray, b: np.ndarray, n: int) -> bool:
    for r in range(n):
        for j in range(n):
            if a[r, j] != b[r, j]:
                return a[r, j] < b[r, j]
    return False


def _flat_grid(grid: np.ndarray, box: Box) -> np.ndarray:
    """Check a grid ([n, n] or [n*n], 0 = blank, 1..n = digits) and return it flat as int32."""
    box_rows, box_cols = box_dims(box)
    n = box_rows * box_cols
    grid = np.asarray(grid)
    if grid.shape not in ((n, n), (n * n,)) or not np.issubdtype(grid.dtype, np.integer):
        raise ValueError(f"a grid with {box_rows}x{box_cols} boxes must be integers of shape [{n}, {n}] or "
                         f"[{n * n}], got {grid.dtype} {list(grid.shape)}")
    if grid.size and (grid.min() < 0 or grid.max() > n):
        raise ValueError(f"grid values must be 0 (blank) or 1..{n}")
    return np.ascontiguousarray(grid.reshape(-1), dtype=np.int32)


def solve(grid: np.ndarray, box: Box, limit: int = 2) -> tuple[int, int, np.ndarray]:
    """(number of solutions, stopping at `limit`; backtracks; first solution flat [n*n], zeros if none).

    The backtrack count is the difficulty rating (see the module docstring); it covers the whole search tree only
    when the count stays below `limit`, so rate unique puzzles with limit >= 2.
    """
    units, peers = geometry(box)
    return _search(_to_masks(_flat_grid(grid, box), units.shape[1]), units, peers, limit)


def count_solutions(grid: np.ndarray, box: Box, limit: int = 2) -> int:
    """Number of completions of `grid` ([n, n] or [n*n], 0 = blank), counting no further than `limit`."""
    return int(solve(grid, box, limit)[0])


def canonical_solution(solution: np.ndarray, box: Box) -> np.ndarray:
    """Canonical form [n, n] of a solved grid: equal for two grids iff one is a symmetry image of the other."""
    box_rows, box_cols = box_dims(box)
    if box_rows != box_cols:
        raise ValueError(f"canonical_solution needs square boxes: its symmetries include the transpose, which turns "
                         f"{box_rows}x{box_cols} boxes into {box_cols}x{box_rows}")
    n = box_rows * box_cols
    return _canonical_solution(_flat_grid(solution, box).reshape(n, n), box_rows, permutation_table(box_rows))


def minimal_puzzle(unique_puzzle: np.ndarray, box: Box, rng: np.random.Generator, min_clues: int = 0) -> np.ndarray:
    """Blank the givens of a unique puzzle (or solved grid) in random order while the answer stays unique.

    Returns flat [n*n] int32. Stops once only `min_clues` givens are left; with 0 the result is minimal.
    """
    units, peers = geometry(box)
    grid = _flat_grid(unique_puzzle, box)
    return _minimal_puzzle(grid, rng.permutation(grid.shape[0]).astype(np.int32), units, peers, min_clues)


def random_solved_grid(box: Box, rng: np.random.Generator) -> np.ndarray:
    """A random solved grid, flat [n*n] int32 (random digit order in the search: every grid can come out)."""
    units, peers = geometry(box)
    n = units.shape[1]
    return _random_solution(np.full(n * n, (1 << n) - 1, dtype=np.int32), units, peers, rng)


def harden(puzzle: np.ndarray, solution: np.ndarray, box: Box, num_steps: int, num_added: int,
           rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """(a harder minimal puzzle with the same solution, its rating) after `num_steps` hill-climbing moves."""
    units, peers = geometry(box)
    return _harden(_flat_grid(puzzle, box), _flat_grid(solution, box), units, peers, num_steps, num_added, rng)
