"""Problem sets: where a benchmark's tasks come from, each task's reference answer, and how an answer is graded.

A set is registered by name in PROBLEM_SETS; `hrm code eval --problems NAME[:SOURCE]` looks it up, and SOURCE
(a file or folder) is handed to its `load`. Registration happens in `hrm.codegen.problems.all_sets`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from hrm.codegen.outcome import Outcome
from hrm.codegen.sandbox import Sandbox
from hrm.registry import Registry


@dataclass(frozen=True)
class Task:
    """One problem as a model sees it."""

    task_id: str
    language: str
    prompt: str


@dataclass(frozen=True)
class Sample:
    """One model answer to one task: `completion` is code (HumanEval: the body continuing the prompt; MBPP,
    LiveCodeBench: a whole program) or, for polyglot, a reply in the edit format `edit_format` ("whole" or
    "diff")."""

    task_id: str
    completion: str
    edit_format: str | None = None


class ProblemSet(ABC):
    """A benchmark. Subclasses set `name` and `default_source` (None when the data has a fixed home or the
    set needs an explicit file)."""

    name: str
    default_source: str | None

    @abstractmethod
    def load(self, source: str | None) -> Sequence[Task]:
        """The tasks, in a stable order; bad input raises one DatasetError naming the file and line."""

    @abstractmethod
    def reference(self, task: Task) -> Sample | None:
        """An answer that should pass (the dataset's own solution), or None where the dataset has none."""

    @abstractmethod
    def grade(self, task: Task, sample: Sample, sandbox: Sandbox) -> Outcome:
        """Run the sample's code against the task's tests inside the sandbox."""

    def check_ready(self, tasks: Sequence[Task]) -> dict[str, str]:
        """Languages among `tasks` whose toolchain is missing here, each with the reason (default: none)."""
        return {}


SHARED_DATA = Path(__file__).resolve().parents[5] / "shared" / "data"
"""<repo>/../shared/data: the project's shared folder sits beside the checkout."""


PROBLEM_SETS: Registry[type[ProblemSet]] = Registry("problem set")
