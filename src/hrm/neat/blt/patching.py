"""Where patches start: BLT's entropy rules (paper section 2.3) and the fixed-size baseline.

Layout (as the reference `find_entropy_patch_start_ids` with `include_next_token=True`). The model reads
ids x_0..x_{N-1} (x_0 = BOS) and predicts x_1..x_N, so patching covers the N + 1 positions 0..N, position
N being the next byte after the input. `entropies[:, i]` is the entropy model's output at position i, the
entropy of x_{i+1}; write H_t = entropies[:, t - 1] for the entropy of x_t. A patch starts at t when

    t = 0 (BOS) or t = 1 (the first byte)                    always: BOS is alone in the first patch
    global:     H_t > threshold                              for t >= 2 (entropies[:, 0] = H_1 is unused)
    monotonic:  t = 2, or H_t - H_{t-1} > threshold          for t >= 3 (the reference forces t = 2 because
                                                             it drops H_1 before differencing)
    fixed:      t = 1 + k * patch_size                       BOS alone, then patches of patch_size bytes

Comparisons are strict (a value equal to the threshold does not start a patch). Whether t starts a patch
depends on H_t and H_{t-1} only, i.e. on x_0..x_{t-1}, so patching is incremental: a prefix's starts are
the full sequence's starts restricted to it, and the start at N is known before x_N is seen.
Representation: a bool mask `starts` [b, N + 1]; patch ids are its cumulative count minus one.

Not implemented from the reference: the combined rule (`threshold_add`), top-k patching with a fixed
count, `max_patch_length` splitting, space/BPE patching, and the paper's entropy-context reset at newlines.

Axis legend: b batch, t position 0..N (N = number of input ids), p patch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from hrm.errors import ConfigError
from hrm.neat.blt.entropy_model import EntropyModel

Rule = Literal["global", "monotonic", "fixed"]
RULES = ("global", "monotonic", "fixed")
REFERENCE_THRESHOLD = 1.335442066192627  # PatcherArgs.threshold in facebookresearch/blt
NUM_FORCED_STARTS = {"global": 2, "monotonic": 3}  # starts the rule sets whatever the entropies


def patch_starts(entropies: torch.Tensor, rule: Literal["global", "monotonic"], threshold: float) -> torch.Tensor:
    """entropies [b, N] (entropies[:, i] = H(x_{i+1})) -> starts [b, N + 1] bool; see the module docstring."""
    if entropies.ndim != 2 or entropies.shape[1] < 1:
        raise ValueError(f"entropies must be [batch, length >= 1], got shape {tuple(entropies.shape)}")
    if rule not in NUM_FORCED_STARTS:
        raise ValueError(f"unknown entropy patching rule '{rule}' (want 'global' or 'monotonic')")
    b, n = entropies.shape
    starts = torch.zeros(b, n + 1, dtype=torch.bool, device=entropies.device)
    forced = min(NUM_FORCED_STARTS[rule], n + 1)
    starts[:, :forced] = True
    if rule == "global":
        starts[:, 2:] = entropies[:, 1:] > threshold
    else:
        starts[:, 3:] = entropies[:, 2:] - entropies[:, 1:-1] > threshold
    return starts


def fixed_patch_starts(batch_size: int, length: int, patch_size: int, device: torch.device | None = None
                       ) -> torch.Tensor:
    """starts [b, length + 1] with BOS alone, then patches of `patch_size` (the reference's static
    patching with patch_size - 1 BOE ids prepended partitions the bytes the same way)."""
    if patch_size < 1 or length < 1:
        raise ValueError(f"need patch_size >= 1 and length >= 1, got {patch_size} and {length}")
    t = torch.arange(length + 1, device=device)
    starts = (t == 0) | ((t - 1) % patch_size == 0)
    return starts.expand(batch_size, -1).clone()


def patch_ids(starts: torch.Tensor) -> torch.Tensor:
    """starts [b, N + 1] -> the patch index of every position [b, N + 1] (int64)."""
    return starts.long().cumsum(dim=1) - 1


def patch_lengths(starts: torch.Tensor) -> torch.Tensor:
    """starts [b, N + 1] -> lengths [b, max patches] (int64), zero-padded on the right; each row sums to N + 1."""
    ids = patch_ids(starts)
    lengths = torch.zeros(starts.shape[0], int(ids.max()) + 1, dtype=torch.long, device=starts.device)
    return lengths.scatter_add_(1, ids, torch.ones_like(ids))


def threshold_for_mean_patch_size(entropies: torch.Tensor, rule: Literal["global", "monotonic"],
                                  mean_patch_size: float) -> float:
    """The threshold at which `patch_starts(entropies, rule, threshold)` gives about `mean_patch_size`
    positions per patch over these sequences (a quantile of the tested values; the paper also picks its
    thresholds to reach a target patch size)."""
    if rule not in NUM_FORCED_STARTS:
        raise ValueError(f"unknown entropy patching rule '{rule}' (want 'global' or 'monotonic')")
    b, n = entropies.shape
    tested = entropies[:, 1:] if rule == "global" else entropies[:, 2:] - entropies[:, 1:-1]
    free_starts = (n + 1) / mean_patch_size - NUM_FORCED_STARTS[rule]
    if tested.numel() == 0 or not 0 <= free_starts <= tested.shape[1]:
        raise ValueError(f"mean patch size {mean_patch_size} is out of reach for sequences of {n} ids")
    return torch.quantile(tested.double().flatten(), 1 - free_starts / tested.shape[1]).item()


@dataclass
class Patcher:
    """ids [b, N] -> starts [b, N + 1] by one rule. The entropy model is held, not owned: it is not a
    submodule of the BLT that uses this patcher, so its weights stay frozen and out of that model's state."""

    rule: Rule = "global"
    threshold: float = REFERENCE_THRESHOLD  # nats (global) or nats of increase (monotonic)
    patch_size: int = 4  # bytes per patch for the fixed rule
    entropy_model: EntropyModel | None = None

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ConfigError(f"patching rule must be one of {list(RULES)}, got '{self.rule}'")
        if self.rule == "fixed" and self.patch_size < 1:
            raise ConfigError(f"fixed patching needs patch_size >= 1, got {self.patch_size}")
        if self.rule != "fixed" and (self.entropy_model is None or not math.isfinite(self.threshold)):
            raise ConfigError(f"'{self.rule}' patching needs an entropy_model and a finite threshold")

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        if self.rule == "fixed":
            return fixed_patch_starts(ids.shape[0], ids.shape[1], self.patch_size, ids.device)
        return patch_starts(self.entropy_model.entropies(ids), self.rule, self.threshold)
