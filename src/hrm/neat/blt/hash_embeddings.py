"""Hash n-gram embeddings (paper section 3.2.1, reference `compute_hash_embeddings`):

    e_i = E_byte(x_i) + sum_{n in G} sum_f E_{n,f}( Hash_f(x_{i-n+1..i}) mod V )
    Hash_f(g) = sum_{j=0}^{n-1} g_j * prime_f^j          (int64, wrapping on overflow; g_0 the oldest id)

over the ids (byte + 4, BOS = 1), windows left-padded with id 0, and `mod` taking the sign of V (torch
and Python `%`), so every index is in [0, V). Each (n, f) has its own table. The paper's BLT-1B uses
G = {3..8}, V = 500002 and one hash function; the reference `debug.yaml` G = {4}, V = 50002, 3 functions.

Axis legend: b batch, l positions, n n-gram size, d width.
"""

from __future__ import annotations

import torch
from torch import nn

from hrm.nn.init import trunc_normal_

HASH_PRIMES = (1000000007, 5915587277, 1500450271, 3267000013, 5754853343, 4093082899, 9576890767, 3628273133,
               2860486313, 5463458053, 3367900313)  # the reference's `primes`, one per hash function
INT64_MODULUS = 2**64


def to_int64(value: int) -> int:
    """A Python int wrapped to the signed 64-bit range, as int64 arithmetic leaves it."""
    return (value + 2**63) % INT64_MODULUS - 2**63


def ngram_hashes(ids: torch.Tensor, n: int, table_size: int, hash_index: int = 0) -> torch.Tensor:
    """ids [b, l] -> table indices [b, l] (int64) of the n-gram ending at each position."""
    if not 0 <= hash_index < len(HASH_PRIMES):
        raise ValueError(f"hash_index must be in [0, {len(HASH_PRIMES)}), got {hash_index}")
    prime = HASH_PRIMES[hash_index]
    powers = torch.tensor([to_int64(prime**j) for j in range(n)], dtype=torch.long, device=ids.device)
    padded = torch.cat((ids.new_zeros(ids.shape[0], n - 1), ids), dim=1).long()
    windows = padded.unfold(1, n, 1)  # [b, l, n], oldest id first
    return (windows * powers).sum(dim=-1) % table_size


class HashNgramEmbedding(nn.Module):
    """ids [b, l] -> sum over n-gram sizes and hash functions of E_{n,f}(hash) [b, l, d]."""

    def __init__(self, dim: int, ngram_sizes: tuple[int, ...], table_size: int, num_hash_functions: int) -> None:
        super().__init__()
        self.ngram_sizes = tuple(ngram_sizes)
        self.table_size = table_size
        self.num_hash_functions = num_hash_functions
        self.tables = nn.ModuleList(nn.Embedding(table_size, dim) for _ in range(num_hash_functions * len(ngram_sizes)))
        for table in self.tables:
            trunc_normal_(table.weight, std=dim**-0.5)  # the reference's hash-embedding init

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        keys = [(f, n) for f in range(self.num_hash_functions) for n in self.ngram_sizes]
        return sum(table(ngram_hashes(ids, n, self.table_size, f)) for table, (f, n) in zip(self.tables, keys))
