"""LiveCodeBench-format problems from a local JSONL: loading (plain and compressed tests), bad input, and
grading by LiveCodeBench's comparison rules."""

import base64
import json
import pickle
import zlib
from pathlib import Path

import pytest

from hrm.codegen.evaluate import read_samples
from hrm.codegen.problems import Sample
from hrm.codegen.problems.lcb import LiveCodeBench, stdout_mismatch, value_mismatch
from hrm.errors import DatasetError

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def lcb():
    problem_set = LiveCodeBench()
    tasks = {task.task_id: task for task in problem_set.load(str(DATA / "lcb_sample.jsonl"))}
    return problem_set, tasks


def test_loads_plain_and_compressed_tests(lcb):
    problem_set, tasks = lcb
    assert sorted(tasks) == ["abc001_a", "abc002_b", "lc_two_sum"]
    assert len(problem_set._problems["abc001_a"]["tests"]) == 3  # 1 public + 2 compressed private
    assert problem_set._problems["lc_two_sum"]["fn_name"] == "twoSum"
    assert "class Solution" in tasks["lc_two_sum"].prompt


@pytest.mark.parametrize("printed, expected, verdict", [
    ("3\n", "3", None),
    ("  3  \n\n", "3\n", None),
    ("1.50000\n", "1.5\n", None),           # numbers compared as Decimal, token by token
    ("1 2\n", "1  3\n", "wrong answer at line 1"),
    ("3\n4\n", "3\n", "2 output lines, expected 1"),
    ("abc\n", "abd\n", "wrong answer at line 1"),
])
def test_stdout_comparison(printed, expected, verdict):
    result = stdout_mismatch(printed, expected)
    assert (result is None) if verdict is None else (verdict in result)


def test_value_comparison_treats_a_top_level_tuple_as_a_list():
    assert value_mismatch({"__tuple__": [0, 1]}, [0, 1]) is None
    assert value_mismatch([{"__tuple__": [0, 1]}], [[0, 1]]) is not None  # nested tuples stay tuples, as in LCB
    assert value_mismatch({"__dict__": [["a", 1]]}, {"a": 1}) is None


def test_graded_samples(lcb, clean_sandbox):
    problem_set, tasks = lcb
    samples = read_samples(DATA / "lcb_samples.jsonl", list(tasks.values()), None)
    verdicts = {(task_id, index): problem_set.grade(tasks[task_id], sample, clean_sandbox).verdict
                for task_id, task_samples in samples.items() for index, sample in enumerate(task_samples)}
    assert verdicts == {("abc001_a", 0): "passed", ("abc001_a", 1): "passed", ("abc001_a", 2): "failed",
                        ("lc_two_sum", 0): "passed", ("lc_two_sum", 1): "failed", ("abc002_b", 0): "passed"}


def test_returned_object_cannot_fake_equality(lcb, clean_sandbox):
    problem_set, tasks = lcb
    cheat = ("class Anything:\n    def __eq__(self, other):\n        return True\n"
             "class Solution:\n    def twoSum(self, nums, target):\n        return Anything()\n")
    outcome = problem_set.grade(tasks["lc_two_sum"], Sample("lc_two_sum", cheat), clean_sandbox)
    assert outcome.verdict == "failed" and "not plain data" in outcome.reason, outcome


def _write(tmp_path, **changes):
    record = {"question_id": "q1", "question_content": "c", "starter_code": "", "metadata": "{}",
              "public_test_cases": json.dumps([{"input": "1\n", "output": "1\n", "testtype": "stdin"}]),
              "private_test_cases": "[]"}
    path = tmp_path / "lcb.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps({**record, "question_id": "q2", **changes}) + "\n")
    return str(path)


@pytest.mark.parametrize("changes, message", [
    ({"public_test_cases": "[{"}, r"lcb.jsonl:2: 'public_test_cases' is neither JSON nor"),
    ({"private_test_cases": "eJzLSM3JyVcozy/KSQEAGgQEXQ=="}, r"lcb.jsonl:2: 'private_test_cases' is neither"),
    ({"private_test_cases": base64.b64encode(zlib.compress(pickle.dumps(Path("x")))).decode()},
     r"lcb.jsonl:2: 'private_test_cases' is neither JSON nor .*refusing to load"),
    ({"public_test_cases": "[]"}, r"lcb.jsonl:2: problem 'q2' has no tests"),
    ({"public_test_cases": json.dumps([{"input": 1, "output": "1"}])}, r"lcb.jsonl:2: each test"),
    ({"metadata": "{bad"}, r"lcb.jsonl:2: 'metadata' is not valid JSON"),
    ({"question_id": "q1"}, r"lcb.jsonl:2: question_id 'q1' appears twice"),
])
def test_bad_line_is_one_clear_error(tmp_path, changes, message):
    with pytest.raises(DatasetError, match=message):
        LiveCodeBench().load(_write(tmp_path, **changes))


def test_needs_a_file():
    with pytest.raises(DatasetError, match="lcb:FILE.jsonl"):
        LiveCodeBench().load(None)
