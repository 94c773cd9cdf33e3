"""Task registry: each puzzle family registers its dataset builder and its task-specific metrics."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable

import numpy as np

from hrm.registry import Registry

# (inputs [N, L], labels [N, L], predictions [N, L]) -> {metric name: value}
TaskMetrics = Callable[[np.ndarray, np.ndarray, np.ndarray], dict[str, float]]


@dataclass(frozen=True)
class TaskSpec:
    """How `hrm data <name>` builds the task, and which extra metrics `hrm eval` reports for it."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    build: Callable[[argparse.Namespace], None]
    metrics: TaskMetrics | None = None


TASKS: Registry[TaskSpec] = Registry("task")

# Written by our builders next to dataset.json so `hrm eval` can pick the task's metrics.
TASK_FILE = "hrm_task.json"
