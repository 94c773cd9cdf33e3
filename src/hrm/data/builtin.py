"""Small datasets built on the fly into a run folder (configs with `data.builtin`), e.g. for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from hrm.data.sudoku import build_mini_sudoku
from hrm.registry import Registry

# (output folder, seed) -> None
BUILTIN_DATASETS: Registry[Callable[[Path, int], None]] = Registry("built-in dataset")
BUILTIN_DATASETS.add("mini_sudoku", lambda out, seed: build_mini_sudoku(out, num_train=400, num_test=200, seed=seed))
