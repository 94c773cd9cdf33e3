"""The causal formulation of a code task: the canvas row, but the answer region is decoded byte by byte.

Layout (p = prompt_len, a = answer_len, answer bytes c_0 .. c_{n-1}, n < a):

    inputs  [ prompt, PAD after | BLANK, c_0, ..., c_{n-1}, PAD ... ]
    labels  [ IGNORE x p        | c_0,   c_1, ..., END,     IGNORE ... ]

(An answer of exactly `a` bytes has no END: its labels are c_0 .. c_{a-1}.)

The answer region's input is its labels shifted right by one (BLANK plays BOS), and attention over it is
causal (`causal_mask`): the prompt (and the puzzle prefix) see the prompt only, answer position t sees the
prompt and answer positions <= t, whose inputs hold c_0 .. c_{t-1}. So no position ever sees the byte it
predicts or a later one, in any ACT segment: the carried states at position t depend on the same inputs.
Same bytes, tokens and prompt as the canvas (hrm.codegen.canvas); only the answer region's input differs.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hrm.codegen.canvas import BLANK, BYTE_OFFSET, END, IGNORE_LABEL, PAD, CanvasShape, decode_answer, encode_input, \
    fit_prompt
from hrm.codegen.generate import LOG_PROBS
from hrm.codegen.training_data import SPLITS, read_canvas_shape
from hrm.errors import ConfigError
from hrm.models import ACTModel
from hrm.models.extensions import EXTENSIONS, ExtensionSpec
from hrm.nn.attention import Attention


def causal_rows(canvas_inputs: np.ndarray, canvas_labels: np.ndarray, shape: CanvasShape
                ) -> tuple[np.ndarray, np.ndarray]:
    """Canvas rows [n, s] (answer bytes then END fill) -> causal (inputs, labels) [n, s] (module docstring)."""
    answer = shape.answer_slice
    region = canvas_labels[:, answer]
    ends = region == END
    # the first END; an answer that fills the whole region has none and is scored to its last byte
    stop = np.where(ends.any(-1), ends.argmax(-1), shape.answer_len - 1)
    scored = np.arange(shape.answer_len)[None, :] <= stop[:, None]
    labels = canvas_labels.copy()
    labels[:, answer] = np.where(scored, region, IGNORE_LABEL)
    shifted = np.concatenate([np.full((len(region), 1), BLANK, region.dtype), region[:, :-1]], axis=1)
    inputs = canvas_inputs.copy()
    inputs[:, answer] = np.where(scored, shifted, PAD)
    return inputs, labels


def write_causal_dataset(canvas_dir: str | Path, out: str | Path) -> Path:
    """A copy of a `hrm data code-synth` dataset with every split's rows in the causal layout."""
    canvas_dir, out = Path(canvas_dir), Path(out)
    shape = read_canvas_shape(canvas_dir)
    shutil.copytree(canvas_dir, out)
    for folder in SPLITS:
        inputs_path, labels_path = out / folder / "all__inputs.npy", out / folder / "all__labels.npy"
        inputs, labels = causal_rows(np.load(inputs_path), np.load(labels_path), shape)
        np.save(inputs_path, inputs)
        np.save(labels_path, labels)
    return out


def causal_mask(shape: CanvasShape, num_prefix: int) -> torch.Tensor:
    """[l, l] boolean, l = num_prefix + seq_len, True where a query may attend a key: every query sees the
    prefix and the prompt; an answer query also sees the answer positions up to itself."""
    total = num_prefix + shape.seq_len
    visible_prefix = num_prefix + shape.prompt_len
    query = torch.arange(total).view(-1, 1)
    key = torch.arange(total).view(1, -1)
    return (key < visible_prefix) | ((key <= query) & (query >= visible_prefix))


def make_causal(model: ACTModel, shape: CanvasShape) -> ACTModel:
    """Set the causal mask on every attention layer of `model` (in place; returns it)."""
    _mask_attention(model.reasoner, shape.prompt_len)
    return model


def _mask_attention(reasoner: nn.Module, prompt_len: int) -> None:
    config = reasoner.config
    if getattr(config, "token_mixer", "attention") != "attention":
        raise ConfigError("the causal formulation needs model.token_mixer 'attention' (an MLP mixer sees all)")
    if not 0 < prompt_len < config.seq_len:
        raise ConfigError(f"causal_answer.prompt_len must be in 1..{config.seq_len - 1}, got {prompt_len}")
    mask = causal_mask(CanvasShape(prompt_len, config.seq_len - prompt_len), reasoner.num_prefix)
    for module in reasoner.modules():
        if isinstance(module, Attention):
            module.attn_mask = mask


@dataclass(kw_only=True)
class CausalAnswerConfig:
    """`model.extensions.causal_answer.prompt_len=P`: train and load a causal code model by configuration."""

    prompt_len: int = 0  # positions before the answer region (the dataset's canvas prompt length)

    def validate(self) -> None:
        if self.prompt_len < 1:
            raise ConfigError("model.extensions.causal_answer.prompt_len must be >= 1")


EXTENSIONS.add("causal_answer", ExtensionSpec(
    config=CausalAnswerConfig, apply=lambda reasoner, options: _mask_attention(reasoner, options.prompt_len)))


def greedy_decode(model: ACTModel, shape: CanvasShape, prompts: list[str], batch_size: int = 200) -> list[str]:
    """Greedy completions (`decode` at temperature 0)."""
    return decode(model, shape, prompts, batch_size=batch_size)


@torch.inference_mode()
def decode(model: ACTModel, shape: CanvasShape, prompts: list[str], *, temperature: float = 0.0,
           generator: torch.Generator | None = None, batch_size: int = 200) -> list[str]:
    """Completions, one byte per step: each step runs all `max_segments` ACT segments from a fresh carry on
    the prompt and the bytes so far, then takes the next answer byte: the argmax at temperature 0 (greedy),
    else a draw from the model's distribution (the trained loss's probabilities) sharpened to p^(1/T).
    A row stops at its first non-byte token (END; a PAD or BLANK ends the decoded text just the same) and
    leaves the batch, so later steps run only the rows still writing; decoding stops when none is left or
    the answer region is full."""
    act = model.eval()
    start = shape.prompt_len
    log_probs_of = LOG_PROBS[act.config.loss] if temperature > 0 else None
    answers: list[str] = []
    for first in range(0, len(prompts), batch_size):
        rows = np.stack([encode_input(fit_prompt(p, shape), shape) for p in prompts[first:first + batch_size]])
        inputs = torch.from_numpy(rows)
        inputs[:, shape.answer_slice] = PAD
        inputs[:, start] = BLANK
        generated = torch.full((len(inputs), shape.answer_len), PAD, dtype=inputs.dtype)
        active = torch.arange(len(inputs))
        for t in range(shape.answer_len):
            rows_in = inputs[active]
            batch = {"inputs": rows_in, "labels": torch.full_like(rows_in, IGNORE_LABEL),
                     "puzzle_identifiers": torch.zeros(len(rows_in), dtype=torch.int32)}
            carry = act.initial_carry(batch)
            for _ in range(act.config.max_segments):
                carry, outputs = act(carry, batch)
            logits = outputs["logits"][:, start + t]
            if log_probs_of is None:
                token = logits.argmax(-1)
            else:
                probs = torch.softmax(log_probs_of(logits.double()) / temperature, dim=-1)
                token = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            token = token.to(inputs.dtype)
            generated[active, t] = token
            if t + 1 < shape.answer_len:
                inputs[active, start + t + 1] = token
            active = active[token >= BYTE_OFFSET]
            if not len(active):
                break
        answers += [decode_answer(row) for row in generated.numpy()]
    return answers
