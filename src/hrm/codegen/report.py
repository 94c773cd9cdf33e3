"""The evaluation report: metrics overall and per language, every non-passing sample with its reason, as JSON
and as markdown.

Metrics of a group of samples:
- `pass@k`: mean over tasks of the unbiased estimator, for each requested k that every task has samples for;
- `syntax_valid_rate`: share of samples whose solution got through the language's front end (a malformed
  edit, or a run that never reported, counts as invalid);
- `well_formed_rate`: share of samples whose reply could be turned into files (edit formats);
- `test_pass_fraction`: mean over samples of tests passed / tests run (0 when no test ran);
- verdict counts.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from hrm.codegen.outcome import Outcome
from hrm.codegen.passk import mean_pass_at_k

MAX_LISTED_PROBLEMS = 300


@dataclass(frozen=True)
class SampleResult:
    task_id: str
    language: str
    sample_index: int
    outcome: Outcome


def summarize(results: Sequence[SampleResult], ks: Sequence[int]) -> dict:
    per_task: dict[str, list[Outcome]] = defaultdict(list)
    for result in results:
        per_task[result.task_id].append(result.outcome)
    counts = [(len(outcomes), sum(o.verdict == "passed" for o in outcomes)) for outcomes in per_task.values()]
    outcomes = [result.outcome for result in results]
    fewest = min((n for n, _ in counts), default=0)
    summary: dict = {"num_tasks": len(per_task), "num_samples": len(outcomes)}
    summary |= {f"pass@{k}": mean_pass_at_k(counts, k) for k in ks if 1 <= k <= fewest}
    if outcomes:
        summary |= {
            "syntax_valid_rate": sum(o.syntax_valid is True for o in outcomes) / len(outcomes),
            "well_formed_rate": sum(o.well_formed for o in outcomes) / len(outcomes),
            "test_pass_fraction": sum(o.tests_passed / o.tests_total if o.tests_total else 0.0
                                      for o in outcomes) / len(outcomes),
        }
    summary["verdicts"] = {verdict: sum(o.verdict == verdict for o in outcomes)
                           for verdict in ("passed", "failed", "timeout")}
    return summary


def build_report(*, problem_set: str, source: str | None, command: str, results: Sequence[SampleResult],
                 ks: Sequence[int], skipped: dict[str, str], num_skipped_tasks: int, num_unsampled_tasks: int,
                 seconds: float) -> dict:
    languages = sorted({result.language for result in results})
    problems = [{"task_id": r.task_id, "sample": r.sample_index, "verdict": r.outcome.verdict,
                 "reason": r.outcome.reason} for r in results if r.outcome.verdict != "passed"]
    return {
        "problem_set": problem_set, "source": source, "command": command,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine_info(), "seconds": round(seconds, 1),
        "overall": summarize(results, ks),
        "by_language": {language: summarize([r for r in results if r.language == language], ks)
                        for language in languages},
        "skipped_languages": skipped, "num_skipped_tasks": num_skipped_tasks,
        "num_tasks_without_samples": num_unsampled_tasks,
        "not_passed": problems,
        "samples": [{"task_id": r.task_id, "language": r.language, "sample": r.sample_index,
                     **r.outcome.to_json()} for r in results],
    }


def machine_info() -> dict:
    with open("/proc/meminfo") as meminfo:
        memory_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    return {"host": platform.node(), "system": platform.platform(), "cpu_count": os.cpu_count(),
            "memory_gib": round(memory_kib / 2**20, 1), "python": platform.python_version()}


def render_markdown(report: dict) -> str:
    lines = [f"# Code evaluation: {report['problem_set']}", "",
             f"- date: {report['date']}", f"- command: `{report['command']}`",
             f"- source: {report['source']}", f"- machine: {_machine_line(report['machine'])}",
             f"- wall time: {report['seconds']} s", ""]
    columns = sorted({key for group in [report["overall"], *report["by_language"].values()]
                      for key in group if key.startswith("pass@")}, key=lambda key: int(key[5:]))
    header = ["group", "tasks", "samples", *columns, "syntax-valid", "well-formed", "test fraction",
              "passed", "failed", "timeout"]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, group in [("all", report["overall"]), *report["by_language"].items()]:
        cells = [name, str(group["num_tasks"]), str(group["num_samples"]),
                 *(_percent(group.get(column)) for column in columns),
                 *(_percent(group.get(key)) for key in ("syntax_valid_rate", "well_formed_rate", "test_pass_fraction")),
                 *(str(group["verdicts"][verdict]) for verdict in ("passed", "failed", "timeout"))]
        lines.append("| " + " | ".join(cells) + " |")
    if report["skipped_languages"]:
        lines += ["", f"## Skipped ({report['num_skipped_tasks']} tasks): toolchain missing", ""]
        lines += [f"- {language}: {reason}" for language, reason in sorted(report["skipped_languages"].items())]
    if report["num_tasks_without_samples"]:
        lines += ["", f"{report['num_tasks_without_samples']} tasks had no sample and are not scored."]
    problems = report["not_passed"]
    lines += ["", f"## Samples that did not pass ({len(problems)})", ""]
    lines += [f"- `{p['task_id']}` #{p['sample']}: {p['verdict']}: {p['reason']}"
              for p in problems[:MAX_LISTED_PROBLEMS]]
    if len(problems) > MAX_LISTED_PROBLEMS:
        lines.append(f"- ... and {len(problems) - MAX_LISTED_PROBLEMS} more (see the JSON report)")
    return "\n".join(lines) + "\n"


def write_report(report: dict, out_dir: Path, stem: str = "report") -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(report, indent=1) + "\n")
    markdown_path.write_text(render_markdown(report))
    return json_path, markdown_path


def _machine_line(machine: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in machine.items())


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
