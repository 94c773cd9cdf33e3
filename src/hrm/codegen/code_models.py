"""The formulations a trained code model can have, and how each one writes code (for `hrm code eval`).

- `canvas` (hrm.codegen.generate): the whole answer region at once, read after every ACT segment; greedy is
  the argmax per position, sampling draws every position independently; the Q head gives adaptive halting.
- `causal` (hrm.codegen.causal): byte by byte, all ACT segments per byte from a fresh carry; greedy at
  temperature 0, sampling draws each byte given the bytes before it. One greedy column (all segments per
  byte) and no adaptive halting (its Q head reads the prefix, which sees only the prompt).

A run's formulation is read from its config: `model.extensions.causal_answer` makes it causal. Each
formulation registers one `generate` in FORMULATIONS; `hrm code eval --checkpoint` calls it and grades the
completions the same way for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from hrm.codegen.canvas import CanvasShape
from hrm.codegen.causal import decode as causal_decode
from hrm.codegen.generate import CanvasModel, first_halt, greedy_answers, run_canvas, sampled_answers
from hrm.codegen.training_data import read_canvas_shape
from hrm.errors import CheckpointError
from hrm.eval.load import load_trained_model
from hrm.models import ACTModel
from hrm.registry import Registry


@dataclass
class Generation:
    """What a formulation wrote for b prompts.

    greedy: one list of b completions per greedy column (`columns` names them; the last is the headline);
    halt_at: per prompt, the greedy column that adaptive halting picks (None: the formulation has none);
    sampled: for each prompt in `sample_indices`, `num_samples` completions."""

    columns: list[str]
    greedy: list[list[str]]
    halt_at: list[int] | None
    sampled: list[list[str]]


@dataclass
class CodeModel:
    """A trained ACT model, the canvas shape of its data, where it came from, and its formulation."""

    model: ACTModel
    shape: CanvasShape
    source: Path
    formulation: str

    @property
    def segments(self) -> int:
        return self.model.config.max_segments


GenerateFn = Callable[[CodeModel, list[str], Sequence[int], int, float, torch.Generator], Generation]


@dataclass(frozen=True)
class Formulation:
    """`generate(model, prompts, sample_indices, num_samples, temperature, generator)`."""

    generate: GenerateFn
    describe: str


def _canvas_generate(model: CodeModel, prompts: list[str], sample_indices: Sequence[int], num_samples: int,
                     temperature: float, generator: torch.Generator) -> Generation:
    outputs = run_canvas(CanvasModel(model.model, model.shape, model.source), prompts)
    num_segments = outputs.log_probs.shape[0]
    greedy = [greedy_answers(outputs.log_probs[s]) for s in range(num_segments)]
    sampled = []
    if num_samples and len(sample_indices):
        last = outputs.log_probs[-1]
        if list(sample_indices) != list(range(len(prompts))):
            last = last[torch.as_tensor(list(sample_indices))]
        sampled = sampled_answers(last, num_samples, temperature, generator)
    return Generation([f"{s + 1} seg" for s in range(num_segments)], greedy, first_halt(outputs.halts).tolist(),
                      sampled)


def _causal_generate(model: CodeModel, prompts: list[str], sample_indices: Sequence[int], num_samples: int,
                     temperature: float, generator: torch.Generator) -> Generation:
    greedy = causal_decode(model.model, model.shape, prompts)
    sampled = []
    if num_samples and len(sample_indices):
        repeated = [prompts[i] for i in sample_indices for _ in range(num_samples)]
        flat = causal_decode(model.model, model.shape, repeated, temperature=temperature, generator=generator)
        sampled = [flat[j:j + num_samples] for j in range(0, len(flat), num_samples)]
    return Generation([f"{model.segments} seg per byte"], [greedy], None, sampled)


FORMULATIONS: Registry[Formulation] = Registry("code model formulation")
FORMULATIONS.add("canvas", Formulation(_canvas_generate, "answer canvas: every position at once, per segment"))
FORMULATIONS.add("causal", Formulation(_causal_generate, "causal: byte by byte, all segments per byte"))


def formulation_of(model: ACTModel) -> str:
    """'causal' for a run trained with the causal_answer extension, else 'canvas'."""
    return "causal" if "causal_answer" in (model.config.extensions or {}) else "canvas"


def load_code_model(checkpoint: str | Path, data_path: str | Path | None = None) -> CodeModel:
    """Load a run or checkpoint folder of a code model; the canvas shape comes from its dataset (or data_path)."""
    try:
        loaded = load_trained_model(checkpoint, "cpu")
    except (OSError, ValueError, RuntimeError, KeyError) as err:  # a damaged file: one line, not a traceback
        raise CheckpointError(f"'{checkpoint}': cannot load ({type(err).__name__}: {err})") from None
    folder = data_path or loaded.data_path
    if folder is None:
        raise CheckpointError(f"'{checkpoint}': the checkpoint names no dataset; pass its code-synth folder")
    shape = read_canvas_shape(Path(folder))
    if shape.seq_len != loaded.model.config.seq_len:
        raise CheckpointError(f"'{folder}' has a {shape.seq_len}-token canvas, the model "
                              f"{loaded.model.config.seq_len}")
    formulation = formulation_of(loaded.model)
    if formulation == "causal":
        prompt_len = (loaded.model.config.extensions["causal_answer"] or {}).get("prompt_len")
        if prompt_len != shape.prompt_len:
            raise CheckpointError(f"'{checkpoint}': causal_answer.prompt_len is {prompt_len}, its dataset "
                                  f"'{folder}' has a {shape.prompt_len}-byte prompt")
    return CodeModel(loaded.model, shape, loaded.source, formulation)
