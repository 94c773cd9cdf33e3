"""The paper authors' on-disk puzzle dataset format: read, validate, write atomically.

Layout (one folder per split, e.g. `train/`, `test/`; every set is usually named `all`):

    <root>/<split>/dataset.json               metadata (PuzzleDatasetMetadata in the authors' code)
    <root>/<split>/<set>__inputs.npy          [num_examples, seq_len] token ids
    <root>/<split>/<set>__labels.npy          [num_examples, seq_len] token ids (ignore_label_id = not scored)
    <root>/<split>/<set>__puzzle_identifiers.npy  [num_puzzles] int32, one embedding id per puzzle
    <root>/<split>/<set>__puzzle_indices.npy  [num_puzzles + 1] int32 CSR offsets into examples
    <root>/<split>/<set>__group_indices.npy   [num_groups + 1] int32 CSR offsets into puzzles
    <root>/identifiers.json                   id -> name (optional)

A group is one original puzzle with all its augmented versions; a puzzle holds one or more examples
(ARC: the demonstration pairs). Datasets written by the authors' builders load unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from hrm.errors import DatasetError

VALIDATE_ROWS = 65536
ARRAY_FIELDS = ("inputs", "labels", "puzzle_identifiers", "puzzle_indices", "group_indices")


@dataclass(kw_only=True)
class DatasetMetadata:
    """Contents of `dataset.json`, field for field as the authors write it."""

    pad_id: int
    ignore_label_id: int | None
    blank_identifier_id: int
    vocab_size: int
    seq_len: int
    num_puzzle_identifiers: int
    total_groups: int
    mean_puzzle_examples: float
    sets: list[str]

    @classmethod
    def from_json(cls, path: Path) -> "DatasetMetadata":
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise DatasetError(f"dataset metadata '{path}' is missing") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DatasetError(f"dataset metadata '{path}' is not valid JSON ({err})") from None
        if not isinstance(raw, dict):
            raise DatasetError(f"dataset metadata '{path}' must be a JSON object")
        names = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(names - raw.keys())
        if missing:
            raise DatasetError(f"dataset metadata '{path}' lacks field(s) {missing}")
        values = {k: raw[k] for k in names}
        meta = cls(**values)
        meta.check(str(path))
        return meta

    def check(self, where: str) -> None:
        ints = ("pad_id", "blank_identifier_id", "vocab_size", "seq_len", "num_puzzle_identifiers", "total_groups")
        for name in ints:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise DatasetError(f"{where}: '{name}' must be a non-negative integer, got {value!r}")
        if self.vocab_size < 1 or self.seq_len < 1:
            raise DatasetError(f"{where}: vocab_size and seq_len must be positive")
        if not isinstance(self.sets, list) or not self.sets or not all(isinstance(s, str) for s in self.sets):
            raise DatasetError(f"{where}: 'sets' must be a non-empty list of names")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)


@dataclass
class PuzzleSet:
    """One set of one split: examples grouped into puzzles grouped into groups (CSR offsets)."""

    inputs: np.ndarray
    labels: np.ndarray
    puzzle_identifiers: np.ndarray
    puzzle_indices: np.ndarray
    group_indices: np.ndarray

    @property
    def num_examples(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def num_puzzles(self) -> int:
        return int(self.puzzle_identifiers.shape[0])

    @property
    def num_groups(self) -> int:
        return int(self.group_indices.shape[0]) - 1

    def validate(self, meta: DatasetMetadata, where: str) -> None:
        """Shapes, vocabulary range, id range and CSR monotonicity; raises DatasetError."""
        inputs, labels = self.inputs, self.labels
        if inputs.ndim != 2 or inputs.shape[1] != meta.seq_len:
            raise DatasetError(f"{where}: inputs must be [N, {meta.seq_len}], got {list(inputs.shape)}")
        if labels.shape != inputs.shape:
            raise DatasetError(f"{where}: labels {list(labels.shape)} do not match inputs {list(inputs.shape)}")
        for name in ("inputs", "labels"):
            arr = getattr(self, name)
            if not np.issubdtype(arr.dtype, np.integer):
                raise DatasetError(f"{where}: {name} must hold integers, got {arr.dtype}")
        for start in range(0, inputs.shape[0], VALIDATE_ROWS):  # in chunks: ARC arrays are gigabytes
            _check_vocab(np.asarray(inputs[start:start + VALIDATE_ROWS]), None, meta.vocab_size, "input", where)
            _check_vocab(np.asarray(labels[start:start + VALIDATE_ROWS]), meta.ignore_label_id, meta.vocab_size,
                         "label", where)
        for name in ("puzzle_identifiers", "puzzle_indices", "group_indices"):
            arr = getattr(self, name)
            if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
                raise DatasetError(f"{where}: {name} must be a 1-D integer array, got {arr.dtype} {list(arr.shape)}")
        _check_offsets(self.puzzle_indices, self.num_examples, "puzzle_indices", "examples", where)
        if self.puzzle_indices.shape[0] != self.num_puzzles + 1:
            raise DatasetError(
                f"{where}: puzzle_indices has {self.puzzle_indices.shape[0]} entries for {self.num_puzzles} puzzles (want +1)"
            )
        _check_offsets(self.group_indices, self.num_puzzles, "group_indices", "puzzles", where)
        if self.num_puzzles:
            ids = self.puzzle_identifiers
            if int(ids.min()) < 0 or int(ids.max()) >= meta.num_puzzle_identifiers:
                raise DatasetError(
                    f"{where}: puzzle identifiers span [{int(ids.min())}, {int(ids.max())}], "
                    f"outside [0, {meta.num_puzzle_identifiers})"
                )


def _check_vocab(tokens: np.ndarray, ignored: int | None, vocab_size: int, name: str, where: str) -> None:
    valid = tokens if ignored is None else tokens[tokens != ignored]
    if valid.size and (int(valid.min()) < 0 or int(valid.max()) >= vocab_size):
        raise DatasetError(f"{where}: {name} token ids span [{int(valid.min())}, {int(valid.max())}], "
                           f"outside vocab [0, {vocab_size})")


def _check_offsets(offsets: np.ndarray, total: int, name: str, unit: str, where: str) -> None:
    if offsets.shape[0] < 1 or int(offsets[0]) != 0:
        raise DatasetError(f"{where}: {name} must start at 0")
    if int(offsets[-1]) != total:
        raise DatasetError(f"{where}: {name} ends at {int(offsets[-1])} but there are {total} {unit}")
    if offsets.shape[0] > 1 and np.any(np.diff(offsets) < 0):
        raise DatasetError(f"{where}: {name} must be non-decreasing")


def _load_array(path: Path, mmap: bool) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise DatasetError(f"dataset file '{path}' is missing") from None
    except (ValueError, OSError, EOFError) as err:
        raise DatasetError(f"dataset file '{path}' is corrupt or truncated ({err})") from None


@dataclass
class DatasetSplit:
    """A validated split folder: its metadata and its sets."""

    path: Path
    metadata: DatasetMetadata
    sets: dict[str, PuzzleSet]


def read_split(root: str | Path, split: str, mmap: bool = True) -> DatasetSplit:
    """Load and validate `<root>/<split>`; any inconsistency raises one DatasetError."""
    root = Path(root)
    folder = root / split
    if not root.is_dir():
        raise DatasetError(f"dataset folder '{root}' does not exist")
    if not folder.is_dir():
        raise DatasetError(f"dataset '{root}' has no '{split}' split")
    meta = DatasetMetadata.from_json(folder / "dataset.json")
    sets = {}
    for set_name in meta.sets:
        arrays = {
            field: _load_array(folder / f"{set_name}__{field}.npy", mmap=mmap and field in ("inputs", "labels"))
            for field in ARRAY_FIELDS
        }
        puzzle_set = PuzzleSet(**arrays)
        puzzle_set.validate(meta, f"{folder}/{set_name}")
        sets[set_name] = puzzle_set
    return DatasetSplit(folder, meta, sets)


def read_identifiers(root: str | Path) -> list[str] | None:
    path = Path(root) / "identifiers.json"
    if not path.exists():
        return None
    try:
        names = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(f"'{path}' is not valid JSON ({err})") from None
    if not isinstance(names, list):
        raise DatasetError(f"'{path}' must be a JSON list of names")
    return names


def write_split(folder: Path, meta: DatasetMetadata, sets: dict[str, PuzzleSet]) -> None:
    """Write one split into `folder` (inside a staging directory; see `staged_dataset`)."""
    if sorted(meta.sets) != sorted(sets):
        raise ValueError(f"metadata sets {meta.sets} differ from arrays {sorted(sets)}")
    folder.mkdir(parents=True, exist_ok=True)
    for set_name, puzzle_set in sets.items():
        puzzle_set.validate(meta, f"{folder}/{set_name}")
        for field in ARRAY_FIELDS:
            np.save(folder / f"{set_name}__{field}.npy", getattr(puzzle_set, field))
    (folder / "dataset.json").write_text(meta.to_json())


@contextmanager
def staged_dataset(out_dir: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a staging folder; on success it is renamed to `out_dir` in one step.

    An interrupted build leaves only `<out_dir>.partial-*`, never a folder that looks complete.
    """
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise DatasetError(f"output folder '{out}' already exists and is not empty (pass --overwrite)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
        if out.exists():
            trash = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out, trash)
            os.replace(staging, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def single_puzzle_set(inputs: np.ndarray, labels: np.ndarray, group_sizes: list[int] | np.ndarray | None = None,
                      puzzle_identifiers: np.ndarray | None = None) -> PuzzleSet:
    """A set where every puzzle is one example; `group_sizes` counts puzzles per group (default 1 each)."""
    num = inputs.shape[0]
    sizes = np.ones(num, dtype=np.int64) if group_sizes is None else np.asarray(group_sizes, dtype=np.int64)
    if int(sizes.sum()) != num:
        raise ValueError(f"group sizes sum to {int(sizes.sum())}, expected {num}")
    return PuzzleSet(
        inputs=inputs,
        labels=labels,
        puzzle_identifiers=np.zeros(num, dtype=np.int32) if puzzle_identifiers is None else puzzle_identifiers.astype(np.int32),
        puzzle_indices=np.arange(num + 1, dtype=np.int32),
        group_indices=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32),
    )
