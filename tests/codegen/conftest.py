"""Shared fixtures for the code harness tests: one sandbox per session, skipped (with the reason) where the
machine cannot host it: not root, no `hrm-sandboxN` users, no bwrap (docs/codegen-harness.md)."""

from __future__ import annotations

import dataclasses
import os

import pytest

from hrm.codegen.outcome import Outcome
from hrm.codegen.problems import ProblemSet, Task
from hrm.codegen.sandbox import Execution, Sandbox, SandboxError, processes_of
from hrm.errors import DatasetError


class RecordingSandbox(Sandbox):
    """A Sandbox that keeps every Execution, so tests can check what the harness saw."""

    def __post_init__(self) -> None:
        self.executions: list[Execution] = []
        super().__post_init__()

    def run(self, *args, **kwargs) -> Execution:
        execution = super().run(*args, **kwargs)
        self.executions.append(execution)
        return execution


@pytest.fixture(scope="session")
def sandbox() -> RecordingSandbox:
    try:
        return RecordingSandbox()
    except SandboxError as error:
        pytest.skip(f"no code sandbox on this machine: {error}")


def sandbox_processes_started_here(sandbox: Sandbox) -> list[int]:
    """Processes of the sandbox users that descend from this test process (another evaluator running on the
    same machine has its own)."""
    parents = {}
    for user in sandbox.users:
        parents |= {pid: parent for pid, _, parent in processes_of(user.uid)}
    mine = []
    for pid in parents:
        ancestor = pid
        while ancestor > 1 and ancestor != os.getpid():
            ancestor = _parent_of(ancestor)
        if ancestor == os.getpid():
            mine.append(pid)
    return mine


def _parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return int(next(line for line in status if line.startswith("PPid:")).split()[1])
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        return 0


@pytest.fixture
def clean_sandbox(sandbox: RecordingSandbox) -> RecordingSandbox:
    """The session sandbox, checked before and after the test: no process of a sandbox user remains."""
    assert sandbox_processes_started_here(sandbox) == []
    sandbox.executions.clear()
    yield sandbox
    assert sandbox_processes_started_here(sandbox) == [], "sandboxed processes left behind"
    assert all(execution.leftover_processes == 0 for execution in sandbox.executions), \
        [dataclasses.asdict(execution) for execution in sandbox.executions]


def load_or_skip(problem_set: ProblemSet, source: str | None = None) -> tuple[ProblemSet, dict[str, Task]]:
    """The set and its tasks by id; the test module is skipped (with the reason) when the data is absent."""
    try:
        return problem_set, {task.task_id: task for task in problem_set.load(source)}
    except DatasetError as error:
        pytest.skip(f"{problem_set.name} data absent: {error}")


def failing_references(problem_set: ProblemSet, tasks: dict[str, Task], sandbox: Sandbox) -> dict[str, Outcome]:
    """Grade every task's reference solution; the ones that do not pass, with their outcomes."""
    outcomes = {task_id: problem_set.grade(task, problem_set.reference(task), sandbox)
                for task_id, task in tasks.items()}
    return {task_id: outcome for task_id, outcome in outcomes.items() if outcome.verdict != "passed"}
