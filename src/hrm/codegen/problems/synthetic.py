"""The synthetic benchmark (hrm.codegen.synthetic) as a problem set: held-out instances and held-out templates.

Task ids are `synthetic/seen/N` (held-out instances of the training templates) and `synthetic/unseen/N`
(held-out templates). The completion continues the prompt, as in HumanEval: `prompt + completion` must define
`f`, which must pass all eight tests (the two shown in the prompt and six hidden ones), one assert each, in the
sandbox. With no SOURCE the tasks are generated from BENCHMARK_SEED; SOURCE may be a JSONL file of instances
(`hrm data code-synth` writes `test_seen.jsonl` and `test_unseen.jsonl`; a file's tasks take its stem's split).
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
from hrm.codegen.synthetic import Instance, benchmark_splits

BENCHMARK_SEED = 2026
NUM_BENCHMARK_TASKS = 200  # per split
PROMPT_BYTES = 80
ANSWER_BYTES = 48
TIMEOUT_SECONDS = 3.0
SPLIT_NAMES = {"test_seen": "seen", "test_unseen": "unseen"}


def benchmark_instances(num_tasks: int = NUM_BENCHMARK_TASKS, seed: int = BENCHMARK_SEED) -> dict[str, list[Instance]]:
    """The two held-out splits of the standard benchmark, keyed 'seen' and 'unseen'."""
    splits = benchmark_splits(0, num_tasks, seed, PROMPT_BYTES, ANSWER_BYTES)
    return {short: splits[name] for name, short in SPLIT_NAMES.items()}


def read_instances(path: Path) -> list[Instance]:
    instances = []
    for line_number, record in read_jsonl(path):
        where = f"{path}:{line_number}"
        fields = {key: require(record, key, kind, where) for key, kind in
                  (("template", str), ("family", str), ("prompt", str), ("answer", str), ("entry_point", str),
                   ("tests", list))}
        instances.append(Instance(**fields))
    return instances


def split_of(task_id: str) -> str:
    """'seen' or 'unseen' for a synthetic task id."""
    return task_id.split("/")[1]


class Synthetic(PythonProblemSet):
    name = "synthetic"
    default_source = None

    def load(self, source: str | None) -> Sequence[Task]:
        if source:
            path = Path(source)
            splits = {SPLIT_NAMES.get(path.stem, path.stem): read_instances(path)}
        else:
            splits = benchmark_instances()
        self._instances = {f"synthetic/{split}/{index}": instance for split, instances in splits.items()
                           for index, instance in enumerate(instances)}
        return [Task(task_id, "python", instance.prompt) for task_id, instance in self._instances.items()]

    def reference(self, task: Task) -> Sample | None:
        return Sample(task.task_id, self._instances[task.task_id].answer)

    def instance(self, task_id: str) -> Instance:
        return self._instances[task_id]

    def grade(self, task: Task, sample: Sample, sandbox: Sandbox) -> Outcome:
        instance = self._instances[task.task_id]
        asserts = [f"assert {instance.entry_point}(*{args!r}) == {expected!r}" for args, expected in instance.tests]
        statements, num_tests = guarded_checks([ast.parse(line).body[0] for line in asserts])
        job = {"mode": "exec", "module_name": None, "program": instance.prompt + sample.completion + "\n",
               "checks": ast.unparse(ast.Module(body=statements, type_ignores=[])), "num_tests": num_tests,
               "total_seconds": TIMEOUT_SECONDS}
        return grade_python(sandbox, job, python_limits(TIMEOUT_SECONDS), passes_without_judging)


PROBLEM_SETS.add(Synthetic.name, Synthetic)
