"""LiveCodeBench-format problems from a local JSONL file (`--problems lcb:FILE`), graded as its grader does.

One line per problem, in the layout of LiveCodeBench's `code_generation_lite` rows: `question_id`,
`question_content`, `starter_code` ("" for stdin problems), `public_test_cases` and `private_test_cases`
(JSON lists of {"input", "output", "testtype"}, either as JSON text, as a list, or, for private tests, as
LiveCodeBench's base64 + zlib + pickle string), `metadata` (JSON text or object; `func_name` marks a
functional problem). Other keys are ignored. The data itself is not available offline (Hugging Face only).

Grading (lcb_runner/evaluation/testing_util.py): every test runs in one process with a 6 s timer per test.
- stdin problems: a final `if __name__ == '__main__':` block is inlined, the code is wrapped in a function,
  stdin is patched with the input, stdout captured; outputs match when, after stripping the whole text and
  each line, they have as many lines and each line is equal or holds the same numbers (`Decimal`).
- functional problems: the code is run as a module (an instance of `Solution` if the code defines it), the
  method is called with the input's JSON lines as arguments; the result, a top-level tuple made a list,
  must equal the output's JSON value.
Unlike LiveCodeBench, the value is compared outside the sandbox (a returned object cannot fake `==`), and
the tests after a failing one still run, for the per-test pass fraction.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import Sequence

from hrm.codegen.jsonl import read_jsonl, require
from hrm.codegen.outcome import Outcome
from hrm.codegen.problems import PROBLEM_SETS, Sample, Task
from hrm.codegen.problems.python_grading import PythonProblemSet, grade_python, python_limits
from hrm.codegen.sandbox import Sandbox
from hrm.errors import DatasetError

TEST_SECONDS = 6
"""lcb_runner's default per-test timeout."""
PRELUDE = ("from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
           "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\nfrom random import *\n"
           "from statistics import *\nfrom itertools import *\nfrom functools import *\nfrom operator import *\n"
           "from io import *\nfrom sys import *\nfrom json import *\nfrom builtins import *\nfrom typing import *\n"
           "import string\nimport re\nimport datetime\nimport collections\nimport heapq\nimport bisect\nimport copy\n"
           "import math\nimport random\nimport statistics\nimport itertools\nimport functools\nimport operator\n"
           "import io\nimport sys\nimport json\nsys.setrecursionlimit(50000)\n\n")
"""The imports LiveCodeBench puts before every solution."""


class LiveCodeBench(PythonProblemSet):
    name = "lcb"
    default_source = None

    def load(self, source: str | None) -> Sequence[Task]:
        if not source:
            raise DatasetError("LiveCodeBench problems come from a local file: --problems lcb:FILE.jsonl")
        path = Path(source)
        self._problems: dict[str, dict] = {}
        tasks = []
        for line_number, record in read_jsonl(path):
            where = f"{path}:{line_number}"
            task_id = require(record, "question_id", str, where)
            content = require(record, "question_content", str, where)
            starter = record.get("starter_code") or ""
            metadata = _json_field(record.get("metadata", {}), "metadata", where)
            tests = _tests(record.get("public_test_cases", []), "public_test_cases", where) + \
                _tests(record.get("private_test_cases", []), "private_test_cases", where)
            if not tests:
                raise DatasetError(f"{where}: problem '{task_id}' has no tests")
            if task_id in self._problems:
                raise DatasetError(f"{where}: question_id '{task_id}' appears twice")
            self._problems[task_id] = {"tests": tests, "fn_name": metadata.get("func_name")}
            tasks.append(Task(task_id, "python", content + (f"\n\n{starter}" if starter else "")))
        return tasks

    def reference(self, task: Task) -> Sample | None:
        return None

    def grade(self, task: Task, sample: Sample, sandbox: Sandbox) -> Outcome:
        problem = self._problems[task.task_id]
        tests = problem["tests"]
        job = {"module_name": "tmp_sol", "program": sample.completion, "prelude": PRELUDE,
               "num_tests": len(tests), "tests": [test["input"] for test in tests], "test_seconds": TEST_SECONDS}
        if problem["fn_name"] is None:
            job |= {"mode": "stdin", "max_output_chars": [2 * len(test["output"]) + 1024 for test in tests]}
            judge = partial(_judge_stdout, [test["output"] for test in tests])
        else:
            job |= {"mode": "call", "fn_name": problem["fn_name"]}
            try:
                expected = [json.loads(test["output"]) for test in tests]
            except json.JSONDecodeError as error:
                raise DatasetError(f"problem '{task.task_id}': a functional test output is not JSON ({error})") \
                    from None
            judge = partial(_judge_value, expected)
        # lcb_runner's process timeout: (timeout + 1) x number of tests + 5 s.
        limits = python_limits((TEST_SECONDS + 1) * len(tests))
        return grade_python(sandbox, job, limits, judge)


def _judge_stdout(expected: list[str], index: int, entry: dict) -> str | None:
    return stdout_mismatch(entry["stdout"], expected[index])


def _judge_value(expected: list[object], index: int, entry: dict) -> str | None:
    return value_mismatch(entry["value"], expected[index])


def stdout_mismatch(printed: str, expected: str) -> str | None:
    """LiveCodeBench's stdin comparison; None when the outputs match, else why not."""
    got, want = _stripped_lines(printed), _stripped_lines(expected)
    if len(got) != len(want):
        return f"wrong answer: {len(got)} output lines, expected {len(want)}"
    for number, (got_line, want_line) in enumerate(zip(got, want), start=1):
        if got_line == want_line:
            continue
        try:
            if [Decimal(token) for token in got_line.split()] == [Decimal(token) for token in want_line.split()]:
                continue
        except (InvalidOperation, ValueError):
            pass
        return f"wrong answer at line {number}: {_clip(got_line)!r} != {_clip(want_line)!r}"
    return None


def value_mismatch(encoded: object, expected: object) -> str | None:
    """LiveCodeBench's functional comparison (a top-level tuple counts as a list); None when equal."""
    value = _decode(encoded)
    if isinstance(value, tuple):
        value = list(value)
    return None if value == expected else f"wrong answer: {_clip(repr(value))} != {_clip(repr(expected))}"


def _stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _clip(text: str, length: int = 120) -> str:
    return text if len(text) <= length else text[:length] + "..."


def _decode(value: object) -> object:
    """Undo the driver's `_encode`: tagged tuples and dicts back to Python values."""
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_decode(item) for item in value["__tuple__"])
    if isinstance(value, dict) and "__dict__" in value:
        return {_decode(key): _decode(item) for key, item in value["__dict__"]}
    return value


def _json_field(value: object, key: str, where: str) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as error:
            raise DatasetError(f"{where}: '{key}' is not valid JSON ({error.msg})") from None
    if not isinstance(value, dict):
        raise DatasetError(f"{where}: '{key}' must be a JSON object")
    return value


def _tests(value: object, key: str, where: str) -> list[dict]:
    if isinstance(value, str):
        value = _decode_tests_text(value, key, where)
    if not isinstance(value, list):
        raise DatasetError(f"{where}: '{key}' must be a list of tests")
    for test in value:
        if not (isinstance(test, dict) and isinstance(test.get("input"), str) and isinstance(test.get("output"), str)
                and test.get("testtype", "stdin") in ("stdin", "functional")):
            raise DatasetError(f"{where}: each test in '{key}' needs string 'input' and 'output' and a "
                               "'testtype' of 'stdin' or 'functional'")
    return value


def _decode_tests_text(text: str, key: str, where: str) -> object:
    """JSON text, or LiveCodeBench's compressed form: base64(zlib(pickle(JSON text)))."""
    if not text.strip():
        return []
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        inner = _PlainUnpickler(io.BytesIO(zlib.decompress(base64.b64decode(text, validate=True)))).load()
        return json.loads(inner)
    except (ValueError, zlib.error, pickle.UnpicklingError, EOFError, TypeError) as error:
        raise DatasetError(f"{where}: '{key}' is neither JSON nor LiveCodeBench's compressed tests ({error})") \
            from None


class _PlainUnpickler(pickle.Unpickler):
    """Unpickles plain values only: a pickle that names any class or function is refused."""

    def find_class(self, module: str, name: str) -> object:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


PROBLEM_SETS.add(LiveCodeBench.name, LiveCodeBench)
