"""BLT architecture options. Defaults are CPU-sized; the paper's sizes are in docs/neat-blt.md."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hrm.errors import ConfigError
from hrm.neat.blt.hash_embeddings import HASH_PRIMES


@dataclass(kw_only=True)
class BLTConfig:
    local_dim: int = 64
    """Width of byte states in the local encoder and decoder (d_local); heads of even width."""
    latent_dim: int = 128
    """Width of patch states in the latent transformer (d_global); a multiple of local_dim. Each patch is
    latent_dim / local_dim local-width vectors in the cross-attentions (the reference's cross_attn_k)."""
    num_encoder_layers: int = 1
    """l_E, causal byte layers before pooling into patches; >= 1."""
    num_decoder_layers: int = 2
    """l_D, causal byte layers after the decoder's cross-attention; >= 1."""
    num_latent_layers: int = 4
    """l_G, layers of the latent transformer, or of TRM's shared net when latent = "trm"; >= 1."""
    latent: Literal["transformer", "trm"] = "transformer"
    """What runs over the patches (latent.py): the paper's causal transformer, or TRM's recursion."""
    latent_recursions: int = 2
    """n of the "trm" latent: updates of z_low per recursion (TRM's L_cycles); >= 1."""
    deep_recursions: int = 1
    """T of the "trm" latent: recursions, the first T - 1 without gradient (TRM's H_cycles); >= 1."""
    num_local_heads: int = 4
    """Heads of the byte self-attentions (encoder and decoder); split local_dim into even widths (RoPE)."""
    num_latent_heads: int = 4
    """Heads of the latent self-attention; split latent_dim into even widths (RoPE)."""
    num_cross_heads: int = 4
    """Heads of both cross-attentions; divides local_dim."""
    expansion: float = 4.0
    """SwiGLU width factor of every block (before the core's 2/3-and-round-to-256 rule); > 0."""
    local_window: int = 0
    """Sliding window of the local self-attentions, in bytes; 0 = all earlier bytes (reference: 512)."""
    decoder_patch_window: int = 1
    """Patches each byte's decoder query sees, ending at the last complete one; 0 = all (reference: 1)."""
    ngram_sizes: tuple[int, ...] = (3, 4, 5, 6, 7, 8)
    """n of the hash n-gram embeddings (paper: 3..8); () turns them off."""
    hash_table_size: int = 4096
    """Rows per hash table, V (paper: 500002; reference debug: 50002)."""
    num_hash_functions: int = 1
    """Hash functions per n-gram size (paper: 1; reference debug: 3); at most 11."""
    rms_norm_eps: float = 1e-5
    """Epsilon of every RMSNorm; > 0."""

    @property
    def keys_per_patch(self) -> int:
        return self.latent_dim // self.local_dim

    def validate(self) -> None:
        def fail(field: str, want: str) -> None:
            raise ConfigError(f"blt.{field} must be {want}, got {getattr(self, field)!r}")

        for field in ("local_dim", "latent_dim", "num_encoder_layers", "num_decoder_layers", "num_latent_layers",
                      "hash_table_size", "latent_recursions", "deep_recursions"):
            if getattr(self, field) < 1:
                fail(field, ">= 1")
        if self.latent not in ("transformer", "trm"):
            fail("latent", "'transformer' or 'trm'")
        if self.latent_dim % self.local_dim:
            fail("latent_dim", f"a multiple of local_dim ({self.local_dim})")
        for field, dim in (("num_local_heads", self.local_dim), ("num_latent_heads", self.latent_dim)):
            heads = getattr(self, field)
            if heads < 1 or dim % heads or (dim // heads) % 2:
                fail(field, f"a head count splitting width {dim} into heads of even width (RoPE)")
        if self.num_cross_heads < 1 or self.local_dim % self.num_cross_heads:
            fail("num_cross_heads", f"a divisor of local_dim ({self.local_dim})")
        for field in ("expansion", "rms_norm_eps"):
            if getattr(self, field) <= 0:
                fail(field, "> 0")
        for field in ("local_window", "decoder_patch_window"):
            if getattr(self, field) < 0:
                fail(field, ">= 0 (0 = unlimited)")
        if any(n < 1 for n in self.ngram_sizes) or len(set(self.ngram_sizes)) != len(self.ngram_sizes):
            fail("ngram_sizes", "distinct sizes >= 1")
        if not 0 <= self.num_hash_functions <= len(HASH_PRIMES):
            fail("num_hash_functions", f"in [0, {len(HASH_PRIMES)}]")
