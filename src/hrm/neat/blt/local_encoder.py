"""The local encoder: bytes -> byte states and patch states (paper section 3.2).

    e_t = E_byte(x_t) + hash n-gram embeddings          (hash_embeddings.py)
    h   = l_E causal byte layers (e)
    P_0 = W_pool maxpool_{t in patch p} h_t, as k vectors of width d_local per patch
    P   = P_0 + W_o softmax(Q(P_0) K(h)^T / sqrt(d_h) + encoder mask) V(h)      (patch p sees its own bytes)

P, reshaped to [b, p, k * d_local] = [b, p, d_latent], goes to the latent transformer; h goes to the
decoder. As the reference (`cross_attn_init_by_pooling`, `downsampling_by_pooling: max`, cross-attention
after the last layer only).

Axis legend: b batch, t byte positions, p patches, k keys per patch, d local width.
"""

from __future__ import annotations

import torch
from torch import nn

from hrm.neat.blt.byte_vocab import VOCAB_SIZE
from hrm.neat.blt.causal import CausalTransformer
from hrm.neat.blt.config import BLTConfig
from hrm.neat.blt.cross_attention import CrossAttention, encoder_cross_mask
from hrm.neat.blt.hash_embeddings import HashNgramEmbedding
from hrm.nn.init import trunc_normal_
from hrm.nn.linear import CastedLinear


class LocalEncoder(nn.Module):
    def __init__(self, config: BLTConfig) -> None:
        super().__init__()
        d, k = config.local_dim, config.keys_per_patch
        self.keys_per_patch = k
        self.byte_embedding = nn.Embedding(VOCAB_SIZE, d)
        trunc_normal_(self.byte_embedding.weight, std=d**-0.5)
        use_hash = bool(config.ngram_sizes) and config.num_hash_functions > 0
        self.hash_embedding = HashNgramEmbedding(d, config.ngram_sizes, config.hash_table_size,
                                                 config.num_hash_functions) if use_hash else None
        self.transformer = CausalTransformer(d, config.num_encoder_layers, config.num_local_heads, config.expansion,
                                             config.rms_norm_eps, config.local_window)
        self.pool_proj = CastedLinear(d, k * d)
        self.cross_attention = CrossAttention(d, config.num_cross_heads, config.rms_norm_eps)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [b, t] -> e [b, t, d]"""
        e = self.byte_embedding(ids)
        return e if self.hash_embedding is None else e + self.hash_embedding(ids)

    def patches(self, h: torch.Tensor, byte_patch_ids: torch.Tensor, num_patches: int) -> torch.Tensor:
        """h [b, t, d], byte_patch_ids [b, t] -> P [b, p, k * d]; patch p depends on the h_t of its own bytes."""
        b, t, d = h.shape
        pooled = h.new_zeros(b, num_patches, d).scatter_reduce(
            1, byte_patch_ids[:, :, None].expand(-1, -1, d), h, reduce="amax", include_self=False)
        queries = self.pool_proj(pooled).view(b, num_patches * self.keys_per_patch, d)
        mask = encoder_cross_mask(byte_patch_ids, num_patches, self.keys_per_patch)
        return self.cross_attention(queries, h, mask).view(b, num_patches, self.keys_per_patch * d)

    def forward(self, ids: torch.Tensor, byte_patch_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids [b, t], byte_patch_ids [b, t] (non-decreasing from 0) -> (h [b, t, d], P [b, p, k * d]),
        p = the batch's largest patch count."""
        h = self.transformer(self.embed(ids))
        return h, self.patches(h, byte_patch_ids, int(byte_patch_ids[:, -1].max()) + 1)
