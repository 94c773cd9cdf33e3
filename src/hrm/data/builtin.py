"""Small datasets built on the fly into a run folder (configs with `data.builtin`), e.g. for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from hrm.data.sudoku import build_small_sudoku
from hrm.registry import Registry

# (output folder, seed) -> None
BUILTIN_DATASETS: Registry[Callable[[Path, int], None]] = Registry("built-in dataset")
BUILTIN_DATASETS.add("mini_sudoku", lambda out, seed: build_small_sudoku(
    out, 2, num_train=400, num_test=200, seed=seed, min_blanks=8, max_blanks=12))
BUILTIN_DATASETS.add("sudoku6", lambda out, seed: build_small_sudoku(  # 6x6, boxes 2 rows x 3 columns
    out, (2, 3), num_train=2000, num_test=1000, seed=seed, min_blanks=10, max_blanks=18))
