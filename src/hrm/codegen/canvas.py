"""The answer canvas: a code task as one fixed-length row of byte tokens that the reasoner refines in place.

Layout of a row (p = prompt_len, a = answer_len, s = p + a):

    [ prompt bytes, left-aligned, PAD after | BLANK x a ]      inputs
    [ IGNORE x p                            | answer bytes, END after ]   labels

The answer positions hold BLANK in the input and the answer only in the labels, so the model never sees a
target byte at a position it is scored on; every answer position is scored, the END fill included, so the
model also decides where the code stops. Tokens: PAD 0 (also the ignore label), BLANK 1, END 2, byte b -> b + 3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hrm.errors import HRMError

PAD = 0
BLANK = 1
END = 2
BYTE_OFFSET = 3
VOCAB_SIZE = 256 + BYTE_OFFSET
IGNORE_LABEL = PAD


class CanvasError(HRMError):
    """A prompt or answer does not fit the canvas."""


@dataclass(frozen=True)
class CanvasShape:
    """How many byte positions the prompt and the answer get."""

    prompt_len: int
    answer_len: int

    @property
    def seq_len(self) -> int:
        return self.prompt_len + self.answer_len

    @property
    def answer_slice(self) -> slice:
        return slice(self.prompt_len, self.seq_len)


def byte_tokens(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int32) + BYTE_OFFSET


def fit_prompt(prompt: str, shape: CanvasShape) -> str:
    """The prompt cut to `prompt_len` bytes: its head (signature and spec come first), on a UTF-8 boundary."""
    data = prompt.encode("utf-8")[:shape.prompt_len]
    return data.decode("utf-8", errors="ignore")


def encode_input(prompt: str, shape: CanvasShape) -> np.ndarray:
    """[s] input row: the prompt (which must fit), PAD to the answer region, BLANK over it."""
    tokens = byte_tokens(prompt)
    if len(tokens) > shape.prompt_len:
        raise CanvasError(f"prompt of {len(tokens)} bytes does not fit {shape.prompt_len} (use fit_prompt)")
    row = np.full(shape.seq_len, PAD, dtype=np.int32)
    row[:len(tokens)] = tokens
    row[shape.answer_slice] = BLANK
    return row


def encode_labels(answer: str, shape: CanvasShape) -> np.ndarray:
    """[s] label row: IGNORE over the prompt region, the answer bytes then END over the answer region."""
    tokens = byte_tokens(answer)
    if len(tokens) > shape.answer_len:
        raise CanvasError(f"answer of {len(tokens)} bytes does not fit {shape.answer_len}")
    row = np.full(shape.seq_len, IGNORE_LABEL, dtype=np.int32)
    row[shape.answer_slice] = END
    row[shape.prompt_len:shape.prompt_len + len(tokens)] = tokens
    return row


def decode_answer(answer_tokens: np.ndarray | list[int]) -> str:
    """The code an answer region [a] holds: its bytes up to the first non-byte token (END, BLANK, PAD)."""
    data = bytearray()
    for token in np.asarray(answer_tokens):
        if token < BYTE_OFFSET:
            break
        data.append(int(token) - BYTE_OFFSET)
    return data.decode("utf-8", errors="replace")
