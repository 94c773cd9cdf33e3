"""Imports every problem set so that each registers itself in PROBLEM_SETS."""

from hrm.codegen.problems import humaneval  # noqa: F401
from hrm.codegen.problems import mbpp  # noqa: F401
from hrm.codegen.problems import lcb  # noqa: F401
from hrm.codegen.problems import polyglot  # noqa: F401
from hrm.codegen.problems import synthetic  # noqa: F401
