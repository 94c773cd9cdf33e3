"""BLT, the Byte Latent Transformer: a byte-level model that groups bytes into entropy-driven patches
and runs its large transformer over patches. See docs/neat-blt.md.

    from hrm.neat.blt import BLTConfig, BLTModel, EntropyModel, Patcher
    patcher = Patcher("global", threshold=1.3, entropy_model=trained_entropy_model)
    logits = BLTModel(BLTConfig(), patcher=patcher)(encode_bytes(b"def f(x):")[None])
"""

from hrm.neat.blt.byte_vocab import BOS_ID, OFFSET, VOCAB_SIZE, decode_ids, encode_bytes
from hrm.neat.blt.causal import CausalBlock, CausalTransformer, rope_tables
from hrm.neat.blt.config import BLTConfig
from hrm.neat.blt.entropy_model import EntropyModel, entropy
from hrm.neat.blt.front_end import ByteFrontEnd, PatchedBytes
from hrm.neat.blt.hash_embeddings import HashNgramEmbedding, ngram_hashes
from hrm.neat.blt.latent import RecursiveLatent
from hrm.neat.blt.local_decoder import LocalDecoder
from hrm.neat.blt.local_encoder import LocalEncoder
from hrm.neat.blt.model import BLTModel
from hrm.neat.blt.patching import (Patcher, fixed_patch_starts, patch_ids, patch_lengths, patch_starts,
                                   threshold_for_mean_patch_size)

__all__ = ["BOS_ID", "OFFSET", "VOCAB_SIZE", "BLTConfig", "BLTModel", "ByteFrontEnd", "CausalBlock",
           "CausalTransformer", "EntropyModel", "HashNgramEmbedding", "LocalDecoder", "LocalEncoder", "PatchedBytes",
           "Patcher", "RecursiveLatent", "decode_ids", "encode_bytes", "entropy",
           "fixed_patch_starts", "ngram_hashes", "patch_ids", "patch_lengths", "patch_starts", "rope_tables",
           "threshold_for_mean_patch_size"]
