"""Keeping the test problems out of code training data: fingerprints of HumanEval and MBPP's test tasks, and the
check a training (prompt, answer) pair must pass.

A test task's fingerprint is every function it defines (HumanEval: the prompt and canonical solution, helpers
included; MBPP ids 11-510: the reference code): its name and its normalised body. A training pair leaks when a
function it defines has one of those names (dunder names such as `__init__` identify no task and are not
compared) or one of those normalised bodies. Normalising drops the docstring and renames every argument and
local name that is not a builtin to v0, v1, ... in order of first use, so a copy that differs only in
formatting, comments or variable names is caught; attribute names, constants and builtins are kept, so
`return len(v0)` and `return sum(v0)` stay different. Pairs whose text does not parse as Python (partial
programs) have no functions to compare and pass.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass
from typing import Iterable, Iterator

from hrm.codegen.problems.humaneval import HumanEval
from hrm.codegen.problems.mbpp import MBPP
from hrm.errors import DatasetError

BUILTIN_NAMES = frozenset(dir(builtins))


@dataclass(frozen=True)
class HeldOutFingerprints:
    """Function names and normalised bodies of the test tasks."""

    names: frozenset[str]
    bodies: frozenset[str]


class _Renamer(ast.NodeTransformer):
    """Arguments and non-builtin names -> v0, v1, ... in order of first use."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _rename(self, name: str) -> str:
        if name in BUILTIN_NAMES:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.copy_location(ast.Name(self._rename(node.id), node.ctx), node)

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self._rename(node.arg)
        node.annotation = None
        return node


def _functions(code: str) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return
    yield from (node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))


def normalised_body(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """The function's arguments and body, docstring dropped, names renamed (module docstring), as source."""
    body = function.body[1:] if ast.get_docstring(function) is not None else function.body
    renamer = _Renamer()
    args = renamer.visit(ast.parse(f"def _({ast.unparse(function.args)}): pass").body[0].args)
    statements = [renamer.visit(ast.parse(ast.unparse(statement)).body[0]) for statement in body]
    return ast.unparse(args) + "\n" + ast.unparse(ast.Module(body=statements, type_ignores=[]))


def fingerprint(code: str) -> tuple[set[str], set[str]]:
    """(names, normalised bodies) of every function `code` defines; dunder names left out."""
    functions = list(_functions(code))
    names = {f.name for f in functions if not (f.name.startswith("__") and f.name.endswith("__"))}
    return names, {normalised_body(f) for f in functions}


def held_out_fingerprints(programs: Iterable[str]) -> HeldOutFingerprints:
    """Fingerprints of test programs; each must define at least one function."""
    names: set[str] = set()
    bodies: set[str] = set()
    for program in programs:
        found_names, found_bodies = fingerprint(program)
        if not found_bodies:
            raise DatasetError(f"a test program defines no function to fingerprint: {program[:80]!r}")
        names |= found_names
        bodies |= found_bodies
    return HeldOutFingerprints(frozenset(names), frozenset(bodies))


def evaluation_fingerprints(mbpp_source: str | None = None) -> HeldOutFingerprints:
    """Fingerprints of all 164 HumanEval tasks (prompt + canonical solution) and the 500 MBPP test tasks
    (reference code), read through their problem sets."""
    humaneval, mbpp = HumanEval(), MBPP()
    programs = [task.prompt + humaneval.reference(task).completion for task in humaneval.load(None)]
    programs += [mbpp.reference(task).completion for task in mbpp.load(mbpp_source)]
    return held_out_fingerprints(programs)


def leak_reason(prompt: str, answer: str, tests: HeldOutFingerprints) -> str | None:
    """'name' or 'body' when the pair defines a test task's function (module docstring), else None."""
    names, bodies = fingerprint(prompt + answer)
    if not names.isdisjoint(tests.names):
        return "name"
    if not bodies.isdisjoint(tests.bodies):
        return "body"
    return None
