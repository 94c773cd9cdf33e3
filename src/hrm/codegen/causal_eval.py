"""Score a causal code model (hrm.codegen.causal) as `hrm code eval --checkpoint` scores a canvas one.

Same tasks, same canvas recipe (prompt shown, program run), same sandboxed grading and the same per-split
summary (all / seen / unseen on the synthetic set); only the generation differs: greedy, byte by byte.
"""

from __future__ import annotations

import time
from pathlib import Path

from hrm.codegen.causal import greedy_decode, make_causal
from hrm.codegen.checkpoint_eval import RECIPES, _scores, grade_unique
from hrm.codegen.evaluate import parse_problems
from hrm.codegen.report import SampleResult
from hrm.codegen.sandbox import Sandbox
from hrm.codegen.training_data import read_canvas_shape
from hrm.eval.load import load_trained_model


def evaluate_causal_checkpoint(checkpoint: str | Path, data_path: str | Path, spec: str = "synthetic",
                               num_workers: int = 2, max_tasks: int | None = None) -> dict:
    """Greedy pass@1 per group, plus the completions and timings."""
    problem_set, source = parse_problems(spec)
    recipe = RECIPES.get(problem_set.name)
    tasks = list(problem_set.load(source))[:max_tasks]
    shape = read_canvas_shape(Path(data_path))
    model = make_causal(load_trained_model(checkpoint, "cpu").model, shape)
    start = time.monotonic()
    completions = greedy_decode(model, shape, [recipe.prompt(task) for task in tasks])
    generate_seconds = time.monotonic() - start
    ids = [task.task_id for task in tasks]
    outcomes = grade_unique(problem_set, recipe, tasks, set(zip(ids, completions)), Sandbox(), num_workers)
    results = [SampleResult(task_id, "python", 0, outcomes[(task_id, completion)])
               for task_id, completion in zip(ids, completions)]
    return {"problem_set": problem_set.name, "num_tasks": len(tasks), "generate_seconds": generate_seconds,
            "greedy": _scores(problem_set.name, results, [1]), "completions": dict(zip(ids, completions)),
            "seconds": time.monotonic() - start}
