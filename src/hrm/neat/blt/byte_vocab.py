"""The BLT byte vocabulary: 256 byte values after 4 special ids (`bytelatent/tokenizers/constants.py`).

    BOE = 0 (begin of entity, unused here), BOS = 1, EOS = 2, BPE = 3 (unused here), byte b -> b + 4

A sequence the models read is BOS followed by the bytes: position 0 is always BOS, so the patching rules'
"position 0 and position 1 start patches" puts BOS alone in the first patch and the first byte in the second.
"""

from __future__ import annotations

import torch

BOE_ID, BOS_ID, EOS_ID, BPE_ID = 0, 1, 2, 3
OFFSET = 4
VOCAB_SIZE = 256 + OFFSET


def encode_bytes(data: bytes) -> torch.Tensor:
    """bytes -> int64 ids [1 + len(data)]: BOS, then each byte + OFFSET."""
    return torch.tensor([BOS_ID, *(byte + OFFSET for byte in data)], dtype=torch.long)


def decode_ids(ids: torch.Tensor) -> bytes:
    """int ids [l] -> the bytes among them (special ids are dropped)."""
    return bytes(int(i) - OFFSET for i in ids.tolist() if i >= OFFSET)
