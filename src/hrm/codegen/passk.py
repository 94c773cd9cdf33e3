"""pass@k by the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on Code").

For a task with n samples of which c pass, pass@k = 1 - C(n - c, k) / C(n, k): the chance that k samples
drawn without replacement include a passing one. Computed with exact integer binomials, so it holds for any n.
"""

from __future__ import annotations

from math import comb
from typing import Iterable


def pass_at_k(num_samples: int, num_correct: int, k: int) -> float:
    if not 0 <= num_correct <= num_samples:
        raise ValueError(f"need 0 <= correct <= samples, got {num_correct} of {num_samples}")
    if not 1 <= k <= num_samples:
        raise ValueError(f"pass@{k} needs at least {k} samples per task, got {num_samples}")
    return 1.0 - comb(num_samples - num_correct, k) / comb(num_samples, k)


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float:
    """Mean over tasks of pass@k, given (samples, correct) per task."""
    values = [pass_at_k(num_samples, num_correct, k) for num_samples, num_correct in counts]
    if not values:
        raise ValueError("no tasks to average")
    return sum(values) / len(values)
