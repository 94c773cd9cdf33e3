"""Byte windows of Python source code, the corpus the BLT tests and benchmark train on offline.

The source files are the standard library's top-level modules (`sysconfig` "stdlib" path, *.py), in
sorted order; every `held_out_every`-th file (index 0, k, 2k, ...) is held out for evaluation. A window is
BOS followed by `length` consecutive bytes of the files joined with newlines: ids [length + 1], the model
reads ids[:-1] and predicts ids[1:].

Axis legend: b batch, l window length + 1.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

from typing import Callable

import torch
import torch.nn.functional as F

from hrm.neat.blt.byte_vocab import BOS_ID, OFFSET


def stdlib_sources(held_out_every: int = 10) -> tuple[list[Path], list[Path]]:
    """(training files, held-out files) of the running interpreter's standard library."""
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    if not files:
        raise FileNotFoundError(f"no *.py files under {sysconfig.get_paths()['stdlib']}")
    held_out = files[::held_out_every]
    return [f for f in files if f not in held_out], held_out


class ByteCorpus:
    """The bytes of some files, as BOS-prefixed id windows."""

    def __init__(self, files: list[Path]) -> None:
        data = b"\n".join(path.read_bytes() for path in files)
        self.data = torch.frombuffer(bytearray(data), dtype=torch.uint8).long() + OFFSET

    def __len__(self) -> int:
        return self.data.numel()

    def windows_at(self, offsets: torch.Tensor, length: int) -> torch.Tensor:
        """offsets [b] -> ids [b, length + 1]: BOS, then data[offset : offset + length]."""
        spans = self.data[offsets[:, None] + torch.arange(length)]
        return torch.cat((torch.full_like(spans[:, :1], BOS_ID), spans), dim=1)

    def random_windows(self, batch_size: int, length: int, generator: torch.Generator) -> torch.Tensor:
        return self.windows_at(torch.randint(0, len(self) - length, (batch_size,), generator=generator), length)

    def spread_windows(self, count: int, length: int) -> torch.Tensor:
        """`count` windows at evenly spaced offsets (a fixed evaluation set)."""
        return self.windows_at(torch.linspace(0, len(self) - length - 1, count).long(), length)


def next_byte_loss(logits_of: Callable[[torch.Tensor], torch.Tensor], windows: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy in nats of predicting windows[:, 1:] from windows[:, :-1] (windows [b, l]);
    logits_of maps ids [b, l - 1] to logits [b, l - 1, v]. Divide by ln 2 for bits per byte."""
    logits = logits_of(windows[:, :-1])
    return F.cross_entropy(logits.flatten(0, 1).float(), windows[:, 1:].flatten())
