"""Batches from a dataset split: training stream (resumable) and sequential evaluation batches.

Training follows the authors' sampling: each epoch visits every group once in a random order; for
each group one puzzle (augmented variant) is drawn and all its examples are taken in random order.
Departures: the epochs form one continuous stream, so no partial batch is dropped and a puzzle cut
at a batch boundary continues in the next batch; all randomness comes from a generator keyed by
(seed, epoch), so the stream is a pure function of (seed, epoch, offset) and resumes exactly.
Every rank computes the same global batch and keeps its slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from hrm.data.augment import Augmentation
from hrm.data.format import DatasetSplit, PuzzleSet
from hrm.nn.losses import IGNORE_LABEL_ID


def collate(split: DatasetSplit, inputs: np.ndarray, labels: np.ndarray, puzzle_ids: np.ndarray,
            pad_to: int) -> dict[str, torch.Tensor]:
    """int32 tensors; ignore_label_id -> -100; rows padded to `pad_to` with PAD / -100 / blank id."""
    meta = split.metadata
    labels = labels.astype(np.int32)
    if meta.ignore_label_id is not None:
        labels[labels == meta.ignore_label_id] = IGNORE_LABEL_ID
    batch = {"inputs": inputs.astype(np.int32), "labels": labels, "puzzle_identifiers": puzzle_ids.astype(np.int32)}
    missing = pad_to - batch["inputs"].shape[0]
    if missing > 0:
        fill = {"inputs": meta.pad_id, "labels": IGNORE_LABEL_ID, "puzzle_identifiers": meta.blank_identifier_id}
        batch = {k: np.pad(v, ((0, missing),) + ((0, 0),) * (v.ndim - 1), constant_values=fill[k])
                 for k, v in batch.items()}
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in batch.items()}


def epoch_stream(puzzles: PuzzleSet, seed: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """(example indices, puzzle indices) of one epoch, in training order."""
    rng = np.random.Generator(np.random.Philox(key=[seed & 0xFFFFFFFFFFFFFFFF, epoch]))
    groups = puzzles.group_indices
    order = rng.permutation(puzzles.num_groups)
    chosen = rng.integers(groups[order], groups[order + 1])  # one puzzle of each group
    starts = puzzles.puzzle_indices[chosen].astype(np.int64)
    sizes = (puzzles.puzzle_indices[chosen + 1] - puzzles.puzzle_indices[chosen]).astype(np.int64)
    owner = np.repeat(np.arange(chosen.shape[0]), sizes)
    offsets = np.arange(owner.shape[0]) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    shuffle = np.lexsort((rng.random(owner.shape[0]), owner))  # random order within each puzzle
    return (starts[owner] + offsets)[shuffle], chosen[owner][shuffle]


@dataclass
class StreamPosition:
    epoch: int = 0
    offset: int = 0


class TrainLoader:
    """Endless training batches of `global_batch_size`, this rank's slice; `state_dict` resumes exactly."""

    def __init__(self, split: DatasetSplit, global_batch_size: int, seed: int, rank: int = 0,
                 world_size: int = 1, set_name: str = "all", augment: Augmentation | None = None) -> None:
        if global_batch_size % world_size:
            raise ValueError(f"global batch {global_batch_size} is not divisible by {world_size} ranks")
        self.split = split
        self.puzzles = split.sets[set_name]
        if self.puzzles.num_groups < 1:
            raise ValueError(f"training set '{split.path}' has no groups")
        self.global_batch_size = global_batch_size
        self.local_batch_size = global_batch_size // world_size
        self.rank = rank
        self.seed = seed
        self.augment = augment
        self.position = StreamPosition()
        self._cache: tuple[int, np.ndarray, np.ndarray] | None = None

    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is None or self._cache[0] != epoch:
            self._cache = (epoch, *epoch_stream(self.puzzles, self.seed, epoch))
        return self._cache[1], self._cache[2]

    def next_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """The next global batch's (example, puzzle) indices; advances the position."""
        examples, owners, need = [], [], self.global_batch_size
        while need:
            ex, pz = self._epoch(self.position.epoch)
            take = min(need, ex.shape[0] - self.position.offset)
            examples.append(ex[self.position.offset:self.position.offset + take])
            owners.append(pz[self.position.offset:self.position.offset + take])
            self.position.offset += take
            need -= take
            if self.position.offset == ex.shape[0]:
                self.position = StreamPosition(self.position.epoch + 1, 0)
        return np.concatenate(examples), np.concatenate(owners)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        start = (self.position.epoch, self.position.offset)
        examples, owners = self.next_indices()
        lo, hi = self.rank * self.local_batch_size, (self.rank + 1) * self.local_batch_size
        sort = np.argsort(examples, kind="stable")  # mmap reads in index order, then restore
        unsort = np.argsort(sort, kind="stable")
        inputs = self.puzzles.inputs[examples[sort]][unsort]
        labels = self.puzzles.labels[examples[sort]][unsort]
        if self.augment is not None:  # drawn for the global batch, so every rank agrees
            rng = np.random.default_rng([self.seed & 0xFFFFFFFF, *start, 0xA0])
            inputs, labels = self.augment(inputs, labels, rng)
        inputs, labels, owners = inputs[lo:hi], labels[lo:hi], owners[lo:hi]
        return collate(self.split, inputs, labels, self.puzzles.puzzle_identifiers[owners], self.local_batch_size)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.position.epoch, "offset": self.position.offset, "seed": self.seed,
                "global_batch_size": self.global_batch_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state["seed"] != self.seed or state["global_batch_size"] != self.global_batch_size:
            raise ValueError("loader state was saved with a different seed or global batch size")
        self.position = StreamPosition(int(state["epoch"]), int(state["offset"]))

    @property
    def epochs_done(self) -> float:
        return self.position.epoch + self.position.offset / max(1, self._epoch(self.position.epoch)[0].shape[0])


@dataclass
class EvalBatch:
    batch: dict[str, torch.Tensor]
    example_ids: np.ndarray  # [num real rows] indices into the set's examples
    num_real: int  # rows before padding


def eval_batches(split: DatasetSplit, global_batch_size: int, rank: int = 0, world_size: int = 1,
                 max_examples: int = 0, set_name: str = "all") -> Iterator[EvalBatch]:
    """Sequential chunks of the set; each rank takes its slice, padded to the local batch size."""
    puzzles = split.sets[set_name]
    total = puzzles.num_examples if max_examples <= 0 else min(max_examples, puzzles.num_examples)
    local = global_batch_size // world_size
    owner_of = np.searchsorted(puzzles.puzzle_indices, np.arange(total), side="right") - 1
    for start in range(0, total, global_batch_size):
        lo = min(total, start + rank * local)
        hi = min(total, start + (rank + 1) * local)
        ids = np.arange(lo, hi)
        batch = collate(split, np.asarray(puzzles.inputs[lo:hi]), np.asarray(puzzles.labels[lo:hi]),
                        puzzles.puzzle_identifiers[owner_of[lo:hi]], local)
        yield EvalBatch(batch, ids, hi - lo)
