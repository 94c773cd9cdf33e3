"""The Byte Latent Transformer (Pagnoni et al. 2024): bytes -> patches -> latent transformer -> bytes.

    starts = patcher(x)                                 patching.py (entropy model + rule, or fixed size)
    h, P   = local encoder(x, patch ids)                local_encoder.py (with the patcher: front_end.py)
    Z      = latent(P)                                  latent.py, causal over patches: Z_p reads P_0..P_p
    logits = local decoder(h, Z, decoder patch ids)     local_decoder.py

The latent sees one position per patch instead of one per byte. Logits at t depend on x_0..x_t only
(with entropy patching too: the patch structure up to t + 1 is decided by x_0..x_t).

The latent is chosen by `config.latent` (the paper's transformer, or TRM's recursion) or injected: any
module [b, p, latent_dim] -> [b, p, latent_dim] that is causal over p.

Departures from the reference (facebookresearch/blt): post-norm blocks without learned norm scales (the
core's), the cross-attention residual added once, one cross-attention in the encoder (after its last
layer) and one in the decoder (before its first), one position-0 BOS per sequence instead of document
packing with EOS-aware masks, and the entropy model and patcher kept outside the model's parameters.

Axis legend: b batch, t input positions 0..N-1 (ids[:, 0] = BOS), p patches, v vocab.
"""

from __future__ import annotations

import torch
from torch import nn

from hrm.neat.blt.config import BLTConfig
from hrm.neat.blt.front_end import ByteFrontEnd
from hrm.neat.blt.latent import build_latent
from hrm.neat.blt.local_decoder import LocalDecoder
from hrm.neat.blt.patching import Patcher


class BLTModel(nn.Module):
    """ids [b, N] (BOS first) -> next-byte logits [b, N, v]; patches from `starts` [b, N + 1] or the patcher."""

    def __init__(self, config: BLTConfig, *, latent: nn.Module | None = None, patcher: Patcher | None = None
                 ) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.front_end = ByteFrontEnd(config, patcher)
        self.latent = latent if latent is not None else build_latent(config)
        self.decoder = LocalDecoder(config)

    def forward(self, ids: torch.Tensor, starts: torch.Tensor | None = None) -> torch.Tensor:
        patched = self.front_end(ids, starts)
        return self.decoder(patched.byte_states, self.latent(patched.patch_states), patched.decoder_patch_ids)
