"""Report metrics: pass@k per group, rates, and the rendered markdown."""

import json

import pytest

from hrm.codegen.outcome import Outcome, failed
from hrm.codegen.report import SampleResult, build_report, render_markdown, summarize, write_report


def result(task_id, language, index, verdict, passed=0, total=4, syntax=True, well_formed=True):
    outcome = Outcome(verdict=verdict, reason="" if verdict == "passed" else "why", syntax_valid=syntax,
                      tests_passed=passed, tests_total=total, well_formed=well_formed)
    return SampleResult(task_id, language, index, outcome)


RESULTS = [
    result("a", "python", 0, "passed", 4), result("a", "python", 1, "failed", 2),
    result("b", "python", 0, "failed", 0, syntax=False), result("b", "python", 1, "timeout", 1),
    SampleResult("c", "go", 0, failed("malformed diff edit: x", well_formed=False)),
    result("c", "go", 1, "passed", 4),
]


def test_summarize_metrics():
    summary = summarize(RESULTS, ks=(1, 2, 5))
    assert summary["num_tasks"] == 3 and summary["num_samples"] == 6
    assert summary["pass@1"] == pytest.approx((0.5 + 0 + 0.5) / 3)
    assert summary["pass@2"] == pytest.approx((1 + 0 + 1) / 3)
    assert "pass@5" not in summary  # needs 5 samples per task
    assert summary["syntax_valid_rate"] == pytest.approx(4 / 6)  # the malformed one never reached a front end
    assert summary["well_formed_rate"] == pytest.approx(5 / 6)
    assert summary["test_pass_fraction"] == pytest.approx((1 + 0.5 + 0 + 0.25 + 0 + 1) / 6)
    assert summary["verdicts"] == {"passed": 2, "failed": 3, "timeout": 1}


def test_report_groups_by_language_and_lists_failures(tmp_path):
    report = build_report(problem_set="polyglot", source="x.tar.gz", command="hrm code eval", results=RESULTS,
                          ks=(1,), skipped={"rust": "rust toolchain incomplete"}, num_skipped_tasks=30,
                          num_unsampled_tasks=0, seconds=1.0)
    assert set(report["by_language"]) == {"go", "python"}
    assert report["by_language"]["go"]["pass@1"] == 0.5
    assert [item["task_id"] for item in report["not_passed"]] == ["a", "b", "b", "c"]
    json_path, markdown_path = write_report(report, tmp_path)
    assert json.loads(json_path.read_text())["overall"]["num_samples"] == 6
    markdown = markdown_path.read_text()
    assert "| all | 3 | 6 | 33.3% |" in markdown and "rust: rust toolchain incomplete" in markdown
    assert "`c` #0: failed: malformed diff edit: x" in markdown
    assert markdown == render_markdown(report)
