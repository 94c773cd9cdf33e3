"""Score a causal code model (hrm.codegen.causal) as `hrm code eval --checkpoint` scores a canvas one.

Same tasks, same canvas recipe (prompt shown, program run), same sandboxed grading and the same per-split
summary (all / seen / unseen on the synthetic set); only the generation differs: greedy, byte by byte.
Kept for benchmarks/code_causal_vs_canvas.py; `hrm code eval --checkpoint` now scores a causal run itself
(greedy and sampled, full reports: hrm.codegen.code_models).
"""

from __future__ import annotations

from pathlib import Path

from hrm.codegen.causal import greedy_decode, make_causal
from hrm.codegen.checkpoint_eval import grade_greedy
from hrm.codegen.training_data import read_canvas_shape
from hrm.eval.load import load_trained_model


def evaluate_causal_checkpoint(checkpoint: str | Path, data_path: str | Path, spec: str = "synthetic",
                               num_workers: int = 2, max_tasks: int | None = None,
                               num_segments: int | None = None) -> dict:
    """Greedy pass@1 per group, plus the completions and timings; `num_segments` ACT segments per byte
    (default: the model's max_segments)."""
    shape = read_canvas_shape(Path(data_path))
    model = make_causal(load_trained_model(checkpoint, "cpu").model, shape)
    return grade_greedy(spec, lambda prompts: greedy_decode(model, shape, prompts, num_segments=num_segments),
                        shape, num_workers, max_tasks)
