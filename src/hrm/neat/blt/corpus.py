"""Byte windows of Python source code, the corpus the BLT tests and benchmark train on offline.

The source files are every *.py file of the running interpreter's standard library (`sysconfig` "stdlib"
path, subpackages and tests included, third-party `site-packages` excluded), sorted by relative path, with
exact duplicates dropped so that no file's text lands in both splits; every `held_out_every`-th file
(index 0, k, 2k, ...) is held out for evaluation. A window is BOS followed by `length` consecutive bytes
of the files joined with newlines: ids [length + 1], the model reads ids[:-1] and predicts ids[1:].

Training reads non-overlapping window slots in a seeded random order (`window_slots`), so a run never
sees a byte twice, and every model given the same slots trains on the same bytes.

Axis legend: b batch, l window length + 1.
"""

from __future__ import annotations

import hashlib
import os
import sysconfig
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from hrm.neat.blt.byte_vocab import BOS_ID, OFFSET

EXCLUDED_DIRS = ("site-packages", "dist-packages", "__pycache__")  # third-party code and bytecode


def python_sources(root: Path, held_out_every: int = 10) -> tuple[list[Path], list[Path]]:
    """(training files, held-out files): the distinct-content *.py files under `root`, held out by file."""
    files = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if name not in EXCLUDED_DIRS]
        files += [Path(folder, name) for name in names if name.endswith(".py")]
    files.sort(key=lambda path: path.relative_to(root).as_posix())
    seen, distinct = set(), []
    for path in files:  # an exact copy in both splits would leak held-out text into training
        digest = hashlib.sha256(path.read_bytes()).digest()
        if digest not in seen:
            seen.add(digest)
            distinct.append(path)
    if not distinct:
        raise FileNotFoundError(f"no *.py files under {root}")
    held_out = set(distinct[::held_out_every])
    return [path for path in distinct if path not in held_out], distinct[::held_out_every]


def stdlib_sources(held_out_every: int = 10) -> tuple[list[Path], list[Path]]:
    """(training files, held-out files) of the running interpreter's standard library."""
    return python_sources(Path(sysconfig.get_paths()["stdlib"]), held_out_every)


class ByteCorpus:
    """The bytes of some files, as BOS-prefixed id windows."""

    def __init__(self, files: list[Path]) -> None:
        contents = [path.read_bytes() for path in files]
        sizes = torch.tensor([0] + [len(text) + 1 for text in contents[:-1]])  # + 1: the joining newline
        self.file_starts = sizes.cumsum(0)  # [files] offset of each file's first byte
        self.data = torch.frombuffer(bytearray(b"\n".join(contents)), dtype=torch.uint8)  # raw bytes, 1 per byte

    def __len__(self) -> int:
        return self.data.numel()

    def windows_at(self, offsets: torch.Tensor, length: int) -> torch.Tensor:
        """offsets [b] -> ids [b, length + 1]: BOS, then the ids of data[offset : offset + length]."""
        spans = self.data[offsets[:, None] + torch.arange(length)].long() + OFFSET
        return torch.cat((torch.full_like(spans[:, :1], BOS_ID), spans), dim=1)

    def file_of(self, offsets: torch.Tensor) -> torch.Tensor:
        """offsets [b] -> index [b] of the file each offset falls in (its joining newline counts as its)."""
        return torch.searchsorted(self.file_starts, offsets, right=True) - 1

    def window_slots(self, length: int, generator: torch.Generator) -> torch.Tensor:
        """Offsets of all len // length non-overlapping windows, in a random order: reading them in order
        never repeats a byte."""
        return torch.randperm(len(self) // length, generator=generator) * length

    def spread_offsets(self, count: int, length: int) -> torch.Tensor:
        """`count` evenly spaced window offsets over the whole corpus (a fixed evaluation set)."""
        return torch.linspace(0, len(self) - length - 1, count).long()


def next_byte_loss(logits_of: Callable[[torch.Tensor], torch.Tensor], windows: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy in nats of predicting windows[:, 1:] from windows[:, :-1] (windows [b, l]);
    logits_of maps ids [b, l - 1] to logits [b, l - 1, v]. Divide by ln 2 for bits per byte."""
    logits = logits_of(windows[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1).float(), windows[:, 1:].flatten())
