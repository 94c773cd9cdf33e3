"""Grading Python answers through the in-sandbox driver; HumanEval, MBPP and LiveCodeBench share it.

Each set builds a driver job (see `hrm.codegen.python_driver`) and a `judge` that turns one test's entry into
None (passed) or a reason; `grade_python` runs the job in the sandbox and applies the reference harnesses'
rule: the first test that does not pass decides the verdict ("timeout" if it timed out, else "failed").
"""

from __future__ import annotations

import ast
import json
import math
import os
import secrets
from pathlib import Path
from typing import Callable, Sequence

from hrm.codegen.outcome import Outcome, failed
from hrm.codegen.problems import ProblemSet, Task
from hrm.codegen.sandbox import Execution, GiB, Limits, Sandbox

DRIVER_SOURCE = (Path(__file__).parents[1] / "python_driver.py").read_text()
PYTHON = "/usr/bin/python3"
"""The system interpreter: a private (e.g. pyenv under /root) one is unreadable to the sandbox user."""
STARTUP_SECONDS = 5.0
"""Wall-clock allowance on top of the in-process timers, for bwrap, interpreter start-up and imports."""

Judge = Callable[[int, dict], "str | None"]


class PythonProblemSet(ProblemSet):
    """A set whose answers run under the system interpreter through the driver."""

    def check_ready(self, tasks: Sequence[Task]) -> dict[str, str]:
        if os.access(PYTHON, os.X_OK):
            return {}
        return {"python": f"{PYTHON} not found; install: apt-get install python3"}


def python_limits(seconds: float) -> Limits:
    """Limits for a driver run whose in-process timers add up to `seconds`. A few processes of 1 GiB each:
    the Python sets need no subprocesses, and 8 x 1 GiB bounds what a fork-plus-allocate bomb can take."""
    return Limits(wall_seconds=seconds + STARTUP_SECONDS, cpu_seconds=math.ceil(seconds + STARTUP_SECONDS),
                  memory_bytes=1 * GiB, num_processes=8, output_bytes=64 << 20, file_bytes=64 << 20)


def guarded_checks(statements: list[ast.stmt]) -> tuple[list[ast.stmt], int]:
    """Wrap each statement that contains an `assert` so that its outcome is reported through
    `__hrm_result__(index, error)` and later tests still run; other statements (setup) run unwrapped.
    Returns the new statements and the number of tests."""
    guarded, num_tests = [], 0
    for statement in statements:
        if not any(isinstance(node, ast.Assert) for node in ast.walk(statement)):
            guarded.append(statement)
            continue
        report = f"__hrm_result__({num_tests}, {{}})"
        wrapper = ast.parse(f"try:\n    pass\nexcept __HrmTimeout__:\n    raise\n"
                            f"except BaseException as __hrm_error__:\n    {report.format('__hrm_error__')}\n"
                            f"else:\n    {report.format('None')}\n").body[0]
        wrapper.body = [statement]
        guarded.append(wrapper)
        num_tests += 1
    return guarded, num_tests


def grade_python(sandbox: Sandbox, job: dict, limits: Limits, judge: Judge) -> Outcome:
    nonce = secrets.token_hex(16)
    stdin = (nonce + "\n" + json.dumps(job)).encode()
    execution = sandbox.run([PYTHON, "-I", "driver.py"], files={"driver.py": DRIVER_SOURCE}, limits=limits,
                            stdin=stdin)
    reports = _reports(execution, nonce)
    syntax_error = reports[0]["syntax_error"] if reports else None
    syntax_valid = None if not reports else syntax_error is None
    if syntax_error is not None:
        return failed(syntax_error, syntax_valid=False)
    if len(reports) < 2:
        verdict = "timeout" if execution.timed_out else "failed"
        return Outcome(verdict=verdict, reason=f"no test results: {execution.describe()}",
                       syntax_valid=syntax_valid, tests_total=job["num_tests"], seconds=execution.seconds)
    return _decide(reports[1], job, judge, execution)


def _reports(execution: Execution, nonce: str) -> list[dict]:
    """The driver's lines, in order; anything else on stdout (or a line with another nonce) is ignored."""
    reports = []
    for line in execution.stdout.split(b"\n"):
        head, _, body = line.partition(b" ")
        if head == nonce.encode():
            try:
                reports.append(json.loads(body))
            except json.JSONDecodeError:
                continue
    return reports


def _decide(result: dict, job: dict, judge: Judge, execution: Execution) -> Outcome:
    num_tests = job["num_tests"]
    first_problem: tuple[str, str] | None = None
    num_passed = 0
    for index, entry in enumerate(result["tests"]):
        if entry is None:
            problem = ("timeout", f"time limit of {_seconds(job)} s reached") if result["timeout"] else \
                ("failed", result["error"] or "test did not run")
        elif entry["timeout"]:
            problem = ("timeout", f"test {index + 1}: time limit of {_seconds(job)} s reached")
        elif entry["error"] is not None:
            problem = ("failed", f"test {index + 1}: {entry['error']}")
        else:
            reason = judge(index, entry)
            problem = None if reason is None else ("failed", f"test {index + 1}: {reason}")
        if problem is None:
            num_passed += 1
        elif first_problem is None:
            first_problem = problem
    if first_problem is None and result["error"] is not None:
        first_problem = ("failed", result["error"])
    if first_problem is None and result["timeout"]:
        first_problem = ("timeout", f"time limit of {_seconds(job)} s reached")
    verdict, reason = first_problem or ("passed", "")
    return Outcome(verdict=verdict, reason=reason, syntax_valid=True, tests_passed=num_passed,
                   tests_total=num_tests, seconds=execution.seconds)


def _seconds(job: dict) -> float:
    return job.get("total_seconds") or job.get("test_seconds") or 0.0


def passes_without_judging(index: int, entry: dict) -> str | None:
    """The judge for assert-style tests: the driver already recorded any failure."""
    return None
