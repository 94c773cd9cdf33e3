"""Task registry: each puzzle family registers how `hrm data <name>` builds it (metrics: hrm.eval.task_metrics)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable

from hrm.registry import Registry


@dataclass(frozen=True)
class TaskSpec:
    """How `hrm data <name>` builds the task."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    build: Callable[[argparse.Namespace], None]


TASKS: Registry[TaskSpec] = Registry("task")

# Written by our builders at the dataset root so `hrm eval` can pick the task's metrics.
TASK_FILE = "hrm_task.json"
