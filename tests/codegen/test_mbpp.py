"""MBPP (ids 11-510): loading from the shared copy, bad input, reference solutions."""

import json

import pytest
from conftest import failing_references, load_or_skip

from hrm.codegen.problems import Sample
from hrm.codegen.problems.mbpp import MBPP
from hrm.errors import DatasetError


@pytest.fixture(scope="module")
def mbpp():
    return load_or_skip(MBPP())


def test_evaluation_split_is_ids_11_to_510(mbpp):
    _, tasks = mbpp
    assert len(tasks) == 500 and "mbpp/11" in tasks and "mbpp/510" in tasks and "mbpp/10" not in tasks
    assert "Your code should pass these tests:" in tasks["mbpp/11"].prompt


def _record(task_id, **changes):
    record = {"task_id": task_id, "text": "t", "code": "x = 1", "test_setup_code": "", "test_list": ["assert x == 1"],
              "challenge_test_list": []}
    return json.dumps({**record, **changes})


@pytest.mark.parametrize("bad_line, message", [
    ('{"task_id": 12, "text": "t"', r"mbpp.jsonl:2: not valid JSON"),
    (_record(12, test_list="assert x"), r"mbpp.jsonl:2: key 'test_list' must be list"),
    (_record("12"), r"mbpp.jsonl:2: key 'task_id' must be int"),
    (_record(12, test_list=[]), r"mbpp.jsonl:2: 'test_list' must be a non-empty list of strings"),
])
def test_bad_line_is_one_clear_error(tmp_path, bad_line, message):
    path = tmp_path / "mbpp.jsonl"
    path.write_text(_record(11) + "\n" + bad_line + "\n")
    with pytest.raises(DatasetError, match=message):
        MBPP().load(str(path))


def test_incomplete_split_is_an_error(tmp_path):
    path = tmp_path / "mbpp.jsonl"
    path.write_text(_record(11) + "\n")
    with pytest.raises(DatasetError, match="has 1 of the 500 evaluation tasks"):
        MBPP().load(str(path))


@pytest.mark.parametrize("task_id", ["mbpp/11", "mbpp/17", "mbpp/367", "mbpp/510"])
def test_reference_solutions_pass(mbpp, clean_sandbox, task_id):
    """mbpp/367 has test_setup_code (a tree class) that runs between the code and the asserts."""
    problem_set, tasks = mbpp
    outcome = problem_set.grade(tasks[task_id], problem_set.reference(tasks[task_id]), clean_sandbox)
    assert outcome.verdict == "passed" and outcome.tests_passed == outcome.tests_total == 3, outcome


def test_per_test_fraction_counts_each_assert(mbpp, clean_sandbox):
    problem_set, tasks = mbpp
    code = problem_set.reference(tasks["mbpp/11"]).completion + "\n_real = remove_Occ\n" \
        "def remove_Occ(s, ch):\n    return _real(s, ch) if s == 'hello' else ''\n"
    outcome = problem_set.grade(tasks["mbpp/11"], Sample("mbpp/11", code), clean_sandbox)
    assert (outcome.verdict, outcome.tests_passed, outcome.tests_total) == ("failed", 1, 3), outcome


@pytest.mark.slow
def test_all_reference_solutions_pass(mbpp, clean_sandbox):
    assert failing_references(*mbpp, clean_sandbox) == {}
