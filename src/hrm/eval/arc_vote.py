"""ARC pass@K: undo each prediction's augmentation, vote per test input, score per task.

Follows the authors' `arc_eval.ipynb` (and TRM's `evaluators/arc.py`):

1. crop every predicted canvas to its grid (`hrm.data.arc.crop_grids`) and undo the puzzle's augmentation
   (inverse colour permutation, inverse dihedral transform), read from its identifier name;
2. find which test input a prediction answers by its de-augmented, cropped input grid;
3. per (task, test input) rank the distinct predicted grids by (vote count, mean sigmoid(q_halt)), descending,
   so the majority wins and the model's halting confidence breaks ties; equal on both keeps first-seen order;
4. a task is solved at K only when EVERY one of its test inputs has the right grid among its top K candidates;
   pass@K is the fraction of tasks solved. `partial_pass@K` is TRM's variant: the mean over tasks of the
   fraction of test inputs solved.

The ground truth is the un-augmented puzzles of the test split (identifier names without an augmentation suffix).
Rows with the blank identifier 0 (batch padding) are ignored. A task with no predictions counts as unsolved.

Shapes: N evaluated rows, M test-split rows, L = 900 canvas tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from hrm.data.arc import SEQ_LEN, Augmentation, crop_grids, parse_variant_name
from hrm.errors import DatasetError

_CROP_CHUNK = 65536  # rows cropped at once: about 60 MB of [rows, 30, 30] temporaries per array


def grid_key(grid: np.ndarray) -> bytes:
    """An exact, hashable key for a grid: its shape then its cells (uint8)."""
    return bytes(grid.shape) + np.ascontiguousarray(grid, dtype=np.uint8).tobytes()


@dataclass
class _Candidate:
    grid: np.ndarray
    count: int = 0
    q_sum: float = 0.0

    @property
    def mean_q(self) -> float:
        return self.q_sum / self.count


@dataclass
class _TestInput:
    label: np.ndarray
    candidates: dict[bytes, _Candidate] = field(default_factory=dict)


def _check_rows(name: str, array: np.ndarray, num_rows: int | None, width: int | None) -> np.ndarray:
    array = np.asarray(array)
    want = (num_rows if num_rows is not None else array.shape[0],) + ((width,) if width is not None else ())
    if array.shape != want:
        raise ValueError(f"{name} must have shape {list(want)}, got {list(array.shape)}")
    return array


def _decode_names(puzzle_identifiers: np.ndarray, identifiers: Sequence[str]) -> dict[int, tuple[str, Augmentation]]:
    """(task, augmentation) for every identifier used; DatasetError for an id outside `identifiers`."""
    used = np.unique(puzzle_identifiers).tolist()
    if used and (used[0] < 0 or used[-1] >= len(identifiers)):
        raise DatasetError(f"puzzle identifiers span [{used[0]}, {used[-1]}] but identifiers.json has "
                           f"{len(identifiers)} names")
    return {i: parse_variant_name(identifiers[i]) for i in used}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -x))  # overflow-free 1 / (1 + exp(-x))


def vote_arc(
    *,
    inputs: np.ndarray,
    predictions: np.ndarray,
    q_halt: np.ndarray,
    puzzle_identifiers: np.ndarray,
    identifiers: Sequence[str],
    test_inputs: np.ndarray,
    test_labels: np.ndarray,
    test_puzzle_identifiers: np.ndarray,
    q_halt_is_logit: bool = True,
    ks: Sequence[int] = (1, 2),
    num_attempts: int = 2,
) -> dict:
    """Vote the evaluated rows into per-task answers and score pass@K against the test split.

    Args:
        inputs: [N, L] int, the evaluated rows' input canvases (the test split's inputs, any subset or order).
        predictions: [N, L] int, predicted tokens (argmax of the logits).
        q_halt: [N] float, halting logits (default) or, with `q_halt_is_logit=False`, probabilities.
        puzzle_identifiers: [N] int, each row's puzzle identifier; 0 marks padding rows, which are skipped.
        identifiers: identifiers.json, the name of each puzzle identifier.
        test_inputs, test_labels: [M, L] int, the test split's inputs and labels (ground truth).
        test_puzzle_identifiers: [M] int, the test split's identifier per example, i.e.
            np.repeat(puzzle_identifiers, np.diff(puzzle_indices)) of the split's set.
        ks: the K of pass@K to report.
        num_attempts: candidate grids kept per test input in the per-task details (2 = an ARC submission).

    Returns:
        {"pass@K": float for K in ks, "partial_pass@K": float, "num_tasks", "num_test_inputs",
         "num_predictions", "tasks": {task: {"solved_at": {K: bool}, "test_inputs": [
             {"rank": 1-based rank of the right grid or None, "num_votes", "num_candidates",
              "attempts": [{"grid": list of lists, "count", "mean_q"}]}]}}}
    """
    predictions = _check_rows("predictions", predictions, None, SEQ_LEN)
    num_rows = predictions.shape[0]
    inputs = _check_rows("inputs", inputs, num_rows, SEQ_LEN)
    q_halt = _check_rows("q_halt", q_halt, num_rows, None).astype(np.float64)
    puzzle_identifiers = _check_rows("puzzle_identifiers", puzzle_identifiers, num_rows, None).astype(np.int64)
    test_inputs = _check_rows("test_inputs", test_inputs, None, SEQ_LEN)
    test_labels = _check_rows("test_labels", test_labels, test_inputs.shape[0], SEQ_LEN)
    test_puzzle_identifiers = _check_rows("test_puzzle_identifiers", test_puzzle_identifiers,
                                          test_inputs.shape[0], None).astype(np.int64)
    if not q_halt_is_logit and np.any((q_halt < 0) | (q_halt > 1)):
        raise ValueError("q_halt holds values outside [0, 1]; pass q_halt_is_logit=True for logits")
    if any(k < 1 for k in ks) or num_attempts < 1:
        raise ValueError(f"ks and num_attempts must be >= 1, got {list(ks)} and {num_attempts}")
    confidence = _sigmoid(q_halt) if q_halt_is_logit else q_halt

    rows = np.flatnonzero(puzzle_identifiers != 0)
    names = _decode_names(np.concatenate([test_puzzle_identifiers, puzzle_identifiers[rows]]), identifiers)

    # Ground truth: the un-augmented test puzzles, keyed by task then by cropped input grid.
    truth: dict[str, dict[bytes, _TestInput]] = {}
    originals = [k for k, i in enumerate(test_puzzle_identifiers.tolist()) if i != 0 and names[i][1].is_identity]
    for k, inp, label in zip(originals, crop_grids(test_inputs[originals]), crop_grids(test_labels[originals])):
        task = names[int(test_puzzle_identifiers[k])][0]
        truth.setdefault(task, {})[grid_key(inp)] = _TestInput(label=label)
    if not truth:
        raise DatasetError("the test split holds no un-augmented puzzles to take the ground truth from")

    # Votes, cropping a chunk of rows at a time to bound the [rows, 30, 30] temporaries.
    for chunk in np.array_split(rows, max(1, -(-rows.size // _CROP_CHUNK))):
        for k, inp, pred in zip(chunk.tolist(), crop_grids(inputs[chunk]), crop_grids(predictions[chunk])):
            identifier = int(puzzle_identifiers[k])
            task, aug = names[identifier]
            test_input = truth.get(task, {}).get(grid_key(aug.invert(inp)))
            if test_input is None:
                raise DatasetError(f"row {k} (puzzle '{identifiers[identifier]}') does not answer any test input "
                                   f"of task '{task}' in the given test split")
            answer = aug.invert(pred)
            candidate = test_input.candidates.setdefault(grid_key(answer), _Candidate(grid=answer))
            candidate.count += 1
            candidate.q_sum += float(confidence[k])

    # Scores.
    tasks = {}
    for task, test_inputs_of_task in truth.items():
        details = []
        for test_input in test_inputs_of_task.values():
            ranked = sorted(test_input.candidates.items(), key=lambda kv: (kv[1].count, kv[1].mean_q), reverse=True)
            label_key = grid_key(test_input.label)
            rank = next((r for r, (key, _) in enumerate(ranked, start=1) if key == label_key), None)
            details.append({
                "rank": rank,
                "num_votes": sum(c.count for _, c in ranked),
                "num_candidates": len(ranked),
                "attempts": [{"grid": c.grid.tolist(), "count": c.count, "mean_q": c.mean_q}
                             for _, c in ranked[:num_attempts]],
            })
        solved = {k: [d["rank"] is not None and d["rank"] <= k for d in details] for k in ks}
        tasks[task] = {"solved_at": {k: all(s) for k, s in solved.items()},
                       "fraction_solved_at": {k: sum(s) / len(s) for k, s in solved.items()},
                       "test_inputs": details}

    result: dict = {}
    for k in ks:
        result[f"pass@{k}"] = sum(t["solved_at"][k] for t in tasks.values()) / len(tasks)
        result[f"partial_pass@{k}"] = sum(t["fraction_solved_at"][k] for t in tasks.values()) / len(tasks)
    result.update(num_tasks=len(tasks), num_test_inputs=sum(len(t["test_inputs"]) for t in tasks.values()),
                  num_predictions=int(rows.size), tasks=tasks)
    return result
