"""The byte front end: bytes -> patch latents, the part of BLT a reasoner over patches consumes.

    starts    = patcher(x)                    or given: bool [b, N + 1] (patching.py)
    h, P      = local encoder(x, patch ids)   byte states [b, N, d_local], patch states [b, p, d_latent]

A model that reasons over patches (BLT's latent transformer, the TRM recursion of latent.py, a future
code model) reads P, one vector per patch, and hands its outputs with h and `starts` to a
`LocalDecoder` to get next-byte logits. The front end has no parameters of the patcher's entropy model.

Axis legend: b batch, t byte positions 0..N-1 (ids[:, 0] = BOS), p patches, d width.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hrm.neat.blt.config import BLTConfig
from hrm.neat.blt.local_encoder import LocalEncoder
from hrm.neat.blt.patching import Patcher, patch_ids


@dataclass
class PatchedBytes:
    byte_states: torch.Tensor  # h [b, N, d_local]
    patch_states: torch.Tensor  # P [b, p, d_latent], p = the batch's largest patch count
    starts: torch.Tensor  # bool [b, N + 1], True where a patch starts (position N: the byte after the input)
    num_patches: torch.Tensor  # [b] int64, patches per row covering the N inputs (the rest of P is padding)

    @property
    def decoder_patch_ids(self) -> torch.Tensor:
        """[b, N]: the last patch that ends before byte t + 1's patch, which byte t's prediction may read."""
        return patch_ids(self.starts)[:, 1:] - 1


class ByteFrontEnd(nn.Module):
    """ids [b, N] (BOS first) -> `PatchedBytes`; patches from `starts` or the patcher."""

    def __init__(self, config: BLTConfig, patcher: Patcher | None = None) -> None:
        super().__init__()
        config.validate()
        self.patcher = patcher
        self.encoder = LocalEncoder(config)

    def forward(self, ids: torch.Tensor, starts: torch.Tensor | None = None) -> PatchedBytes:
        if starts is None:
            if self.patcher is None:
                raise ValueError("ByteFrontEnd needs patch starts: pass `starts` or build it with a `patcher`")
            starts = self.patcher(ids)
        b, n = ids.shape
        if starts.shape != (b, n + 1) or starts.dtype != torch.bool or not starts[:, :2].all():
            raise ValueError(f"starts must be bool [{b}, {n + 1}] with positions 0 and 1 set (BOS alone in the "
                             f"first patch), got {starts.dtype} {tuple(starts.shape)}")
        input_patch_ids = patch_ids(starts)[:, :n]
        byte_states, patch_states = self.encoder(ids, input_patch_ids)
        return PatchedBytes(byte_states, patch_states, starts, input_patch_ids[:, -1] + 1)
