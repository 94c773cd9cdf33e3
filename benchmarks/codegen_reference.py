"""Run every reference solution of the offline code benchmarks through the sandboxed harness.

    sudo .venv/bin/python benchmarks/codegen_reference.py [--sets humaneval,mbpp,polyglot] [--workers 2]

Writes benchmarks/results/codegen_reference.json and .md: date, machine, toolchain versions, pass counts per
set and per language, and every reference that does not pass, with its reason. LiveCodeBench has no data (and
so no reference solutions) offline and is not run. Needs root and the sandbox users (docs/codegen-harness.md).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from hrm.codegen.evaluate import run_evaluation
from hrm.codegen.languages import LANGUAGES
from hrm.codegen.report import machine_info
from report import write_report

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="humaneval,mbpp,polyglot")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS / "codegen_reference"), help="path without suffix")
    args = parser.parse_args()
    sets = {}
    for name in args.sets.split(","):
        report = run_evaluation(name, samples_path=None, use_reference=True, edit_format=None, ks=(1,),
                                num_workers=args.workers)
        sets[name] = {key: report[key] for key in ("date", "source", "seconds", "overall", "by_language",
                                                    "skipped_languages", "num_skipped_tasks", "not_passed")}
    summary = {"command": shlex.join([sys.executable, *sys.argv]), "machine": machine_info(),
               "toolchains": {name: LANGUAGES.get(name).versions() for name in LANGUAGES}, "sets": sets}
    write_report(args.out, summary, render(summary))
    print(render(summary))


def render(summary: dict) -> str:
    lines = ["# Reference solutions through the code harness", "",
             f"- command: `{summary['command']}`",
             f"- machine: {', '.join(f'{k} {v}' for k, v in summary['machine'].items())}",
             "- toolchains: " + "; ".join(f"{name}: {', '.join(found)}" for name, found in
                                          summary["toolchains"].items()), "",
             "| set | group | passed | total | seconds |", "| --- | --- | --- | --- | --- |"]
    for name, result in summary["sets"].items():
        groups = [("all", result["overall"]), *result["by_language"].items()]
        for group, metrics in groups:
            seconds = result["seconds"] if group == "all" else ""
            lines.append(f"| {name} | {group} | {metrics['verdicts']['passed']} | {metrics['num_samples']} | "
                         f"{seconds} |")
    for name, result in summary["sets"].items():
        lines += ["", f"## {name}: run {result['date']}, {len(result['not_passed'])} not passing", ""]
        lines += [f"- skipped {language}: {reason}" for language, reason in result["skipped_languages"].items()]
        lines += [f"- `{item['task_id']}`: {item['verdict']}: {item['reason']}" for item in result["not_passed"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
