"""`hrm code eval`: grade samples (or a dataset's reference solutions) in the sandbox, write the report.

Samples file: JSON lines `{"task_id": ..., "completion": ...}` (plus `"edit_format": "whole" | "diff"` for
polyglot, default from --edit-format); several lines per task give several samples (pass@k). What the
completion holds depends on the set (problems.Sample; docs/codegen-harness.md).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from hrm.codegen.edit_formats import EDIT_FORMATS
from hrm.codegen.jsonl import read_jsonl, require
from hrm.codegen.problems import PROBLEM_SETS, ProblemSet, Sample, Task
from hrm.codegen.report import SampleResult, build_report, render_markdown, write_report
from hrm.codegen.sandbox import Sandbox
from hrm.errors import DatasetError, HRMError

DEFAULT_KS = (1, 10, 100)


def parse_problems(spec: str) -> tuple[ProblemSet, str | None]:
    """'humaneval', 'mbpp', 'polyglot' or 'lcb:FILE' (any set also takes NAME:SOURCE)."""
    import hrm.codegen.problems.all_sets  # noqa: F401  (registers the sets)

    name, _, source = spec.partition(":")
    if name not in PROBLEM_SETS:
        raise HRMError(f"unknown problem set '{name}'; have {PROBLEM_SETS.names()}")
    return PROBLEM_SETS.get(name)(), source or None


def read_samples(path: Path, tasks: Sequence[Task], edit_format: str | None) -> dict[str, list[Sample]]:
    known = {task.task_id for task in tasks}
    samples: dict[str, list[Sample]] = defaultdict(list)
    for line_number, record in read_jsonl(path):
        where = f"{path}:{line_number}"
        task_id = require(record, "task_id", str, where)
        completion = require(record, "completion", str, where)
        if task_id not in known:
            raise DatasetError(f"{where}: unknown task_id '{task_id}'")
        fmt = record.get("edit_format", edit_format)
        if fmt is not None and fmt not in EDIT_FORMATS:
            raise DatasetError(f"{where}: unknown edit_format '{fmt}'; have {EDIT_FORMATS.names()}")
        samples[task_id].append(Sample(task_id, completion, fmt))
    if not samples:
        raise DatasetError(f"{path}: no samples")
    return samples


def reference_samples(problem_set: ProblemSet, tasks: Sequence[Task]) -> dict[str, list[Sample]]:
    samples = {task.task_id: [problem_set.reference(task)] for task in tasks}
    missing = [task_id for task_id, found in samples.items() if found == [None]]
    if missing:
        raise HRMError(f"the {problem_set.name} data has no reference solutions (e.g. {missing[0]}); use --samples")
    return samples


def grade_all(problem_set: ProblemSet, tasks: Sequence[Task], samples: dict[str, list[Sample]], sandbox: Sandbox,
              num_workers: int, progress: bool = True) -> list[SampleResult]:
    jobs = [(task, index, sample) for task in tasks for index, sample in enumerate(samples.get(task.task_id, []))]

    def grade(job: tuple[Task, int, Sample]) -> SampleResult:
        task, index, sample = job
        return SampleResult(task.task_id, task.language, index, problem_set.grade(task, sample, sandbox))

    with ThreadPoolExecutor(max_workers=max(1, min(num_workers, sandbox.num_slots))) as pool:
        return list(tqdm(pool.map(grade, jobs), total=len(jobs), desc=f"grading {problem_set.name}",
                         disable=not progress, file=sys.stderr))


def run_evaluation(spec: str, *, samples_path: str | None, use_reference: bool, edit_format: str | None,
                   ks: Sequence[int], num_workers: int, max_tasks: int | None = None, progress: bool = True) -> dict:
    problem_set, source = parse_problems(spec)
    loaded = list(problem_set.load(source))
    chosen = loaded[:max_tasks]
    skipped = problem_set.check_ready(chosen)
    tasks = [task for task in chosen if task.language not in skipped]
    samples = reference_samples(problem_set, tasks) if use_reference else \
        read_samples(Path(samples_path), loaded, edit_format)
    start = time.monotonic()
    results = grade_all(problem_set, tasks, samples, Sandbox(), num_workers, progress)
    return build_report(problem_set=problem_set.name, source=source or problem_set.default_source,
                        command=shlex.join(sys.argv), results=results, ks=ks, skipped=skipped,
                        num_skipped_tasks=len(chosen) - len(tasks),
                        num_unsampled_tasks=sum(task.task_id not in samples for task in tasks),
                        seconds=time.monotonic() - start)


def eval_from_cli(args: argparse.Namespace) -> dict:
    if args.checkpoint is not None:
        from hrm.codegen.checkpoint_eval import checkpoint_eval_from_cli

        return checkpoint_eval_from_cli(args)
    try:
        ks = sorted({int(k) for k in args.k.split(",")})
    except ValueError:
        raise HRMError(f"--k must be comma-separated integers, got '{args.k}'") from None
    report = run_evaluation(args.problems, samples_path=args.samples, use_reference=args.reference,
                            edit_format=args.edit_format, ks=ks, num_workers=args.workers,
                            max_tasks=args.max_tasks)
    if args.out:
        for path in write_report(report, Path(args.out)):
            print(f"wrote {path}", file=sys.stderr)
    print(render_markdown(report).split("\n## Samples")[0])
    print(json.dumps({"problem_set": report["problem_set"], **report["overall"]}))
    return report
