"""Code from a trained canvas model: the answer region after every ACT segment, greedy or sampled.

The model refines the whole canvas at once, so decoding is per position: greedy takes the argmax of every
answer position, sampling draws every position independently from the model's distribution (the trained
loss's probabilities, stablemax or softmax) sharpened by a temperature, p^(1/T). Positions are not
conditioned on one another: a sample can mix two answers the model hesitates between, which is what a
non-causal canvas costs (docs/codegen-model.md).

Shapes: b prompts, s canvas length, a answer length, v vocabulary, S segments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hrm.codegen.canvas import IGNORE_LABEL, CanvasShape, decode_answer, encode_input, fit_prompt
from hrm.eval.evaluate import halt_signal
from hrm.models import ACTModel
from hrm.nn.losses import stablemax_log_probs

LOG_PROBS = {"stablemax": stablemax_log_probs, "softmax": lambda logits: torch.log_softmax(logits, dim=-1)}


@dataclass
class CanvasModel:
    """A trained ACT model and the canvas shape of the data it learned."""

    model: ACTModel
    shape: CanvasShape
    source: Path


@dataclass
class SegmentOutputs:
    """log_probs [S, b, a, v] of the answer region after each segment; halts [S, b] the Q head's decision."""

    log_probs: torch.Tensor
    halts: torch.Tensor


@torch.inference_mode()
def run_canvas(model: CanvasModel, prompts: list[str], batch_size: int = 64) -> SegmentOutputs:
    """All `max_segments` segments for every prompt (cut to the canvas), from a fresh carry."""
    act = model.model.eval()
    shape = model.shape
    rows = np.stack([encode_input(fit_prompt(prompt, shape), shape) for prompt in prompts])
    log_probs, halts = [], []
    for start in range(0, len(rows), batch_size):
        inputs = torch.from_numpy(rows[start:start + batch_size])
        batch = {"inputs": inputs, "labels": torch.full_like(inputs, IGNORE_LABEL),
                 "puzzle_identifiers": torch.zeros(len(inputs), dtype=torch.int32)}
        carry = act.initial_carry(batch)
        per_segment, halt_segment = [], []
        for _ in range(act.config.max_segments):
            carry, outputs = act(carry, batch)
            logits = outputs["logits"][:, shape.answer_slice].double()
            per_segment.append(LOG_PROBS[act.config.loss](logits).float())
            halt_segment.append(halt_signal(act, outputs["q_halt_logits"], outputs["q_continue_logits"]))
        log_probs.append(torch.stack(per_segment))
        halts.append(torch.stack(halt_segment))
    return SegmentOutputs(torch.cat(log_probs, dim=1), torch.cat(halts, dim=1))


def greedy_answers(log_probs: torch.Tensor) -> list[str]:
    """[b, a, v] -> b completions, the argmax byte at every position."""
    return [decode_answer(row) for row in log_probs.argmax(-1).numpy()]


def sampled_answers(log_probs: torch.Tensor, num_samples: int, temperature: float,
                    generator: torch.Generator) -> list[list[str]]:
    """[b, a, v] -> b lists of `num_samples` completions, each position drawn independently from p^(1/T)."""
    b, a, v = log_probs.shape
    probs = torch.softmax(log_probs.double() / temperature, dim=-1).view(b * a, v)
    draws = torch.multinomial(probs, num_samples, replacement=True, generator=generator)  # [b*a, n]
    draws = draws.view(b, a, num_samples).permute(0, 2, 1).numpy()
    return [[decode_answer(sample) for sample in row] for row in draws]


def first_halt(halts: torch.Tensor) -> torch.Tensor:
    """[S, b] -> [b] index of the first segment whose Q head says halt (the last segment if none does)."""
    num_segments = halts.shape[0]
    steps = torch.arange(num_segments).view(-1, 1).expand_as(halts)
    return torch.where(halts, steps, num_segments - 1).min(dim=0).values
