"""The graded result of one sample: a verdict, why, and the finer signals a near-zero pass rate needs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Verdict = Literal["passed", "failed", "timeout"]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    verdict: Verdict
    reason: str
    """Empty when passed; otherwise one line: the first failing test, the limit hit, the malformed edit."""
    syntax_valid: bool | None
    """Whether the solution got through the language's front end (None: never reached it, e.g. a bad edit)."""
    tests_passed: int = 0
    tests_total: int = 0
    """Test counts as the test runner reported them (0 when unknown)."""
    well_formed: bool = True
    """False when the answer could not be turned into source files (a malformed edit block)."""
    seconds: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)


def failed(reason: str, *, syntax_valid: bool | None = None, well_formed: bool = True) -> Outcome:
    """An Outcome for a sample that never reached its tests."""
    return Outcome(verdict="failed", reason=reason, syntax_valid=syntax_valid, well_formed=well_formed)
