"""The local decoder: byte states + latent patch states -> next-byte logits (paper section 3.3).

    M = W_patch(latent patch states), as k vectors of width d_local per patch
    h = h_enc + W_o softmax(Q(h_enc) K(M)^T / sqrt(d_h) + decoder mask) V(M)   (byte t sees complete patches)
    logits = W_head rms(l_D causal byte layers (h))

The decoder starts from the encoder's byte states (the reference's `dec_embeds = h_encoder`) and
cross-attends once, before its first layer (the reference default). See cross_attention.py for which
patches byte t sees.

Axis legend: b batch, t byte positions, p patches, k keys per patch, d local width, v vocab.
"""

from __future__ import annotations

import torch
from torch import nn

from hrm.neat.blt.byte_vocab import VOCAB_SIZE
from hrm.neat.blt.causal import CausalTransformer
from hrm.neat.blt.config import BLTConfig
from hrm.neat.blt.cross_attention import CrossAttention, decoder_cross_mask
from hrm.nn.linear import CastedLinear


class LocalDecoder(nn.Module):
    def __init__(self, config: BLTConfig) -> None:
        super().__init__()
        d, k = config.local_dim, config.keys_per_patch
        self.keys_per_patch, self.patch_window = k, config.decoder_patch_window
        self.patch_proj = CastedLinear(config.latent_dim, k * d)
        self.cross_attention = CrossAttention(d, config.num_cross_heads, config.rms_norm_eps)
        self.transformer = CausalTransformer(d, config.num_decoder_layers, config.num_local_heads, config.expansion,
                                             config.rms_norm_eps, config.local_window)
        self.head = CastedLinear(d, VOCAB_SIZE)

    def forward(self, byte_states: torch.Tensor, patch_states: torch.Tensor, decoder_patch_ids: torch.Tensor
                ) -> torch.Tensor:
        """byte_states [b, t, d], patch_states [b, p, d_latent], decoder_patch_ids [b, t] -> logits [b, t, v]."""
        b, p, _ = patch_states.shape
        memory = self.patch_proj(patch_states).view(b, p * self.keys_per_patch, -1)
        mask = decoder_cross_mask(decoder_patch_ids, p, self.keys_per_patch, self.patch_window)
        return self.head(self.transformer(self.cross_attention(byte_states, memory, mask)))
