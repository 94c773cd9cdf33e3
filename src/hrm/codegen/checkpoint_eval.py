"""`hrm code eval --checkpoint PATH`: generate with a code model, grade in the sandbox, report.

The model is a canvas or a causal one (read from its run config; hrm.codegen.code_models holds one
`generate` per formulation); everything after generation is shared.

Per task the model answers from its canvas prompt (RECIPES: what part of the task's prompt goes on the canvas,
and what program the harness will run, for the syntax screen). Reported:
- greedy pass@1 after each segment 1..S, and with adaptive halting (the first segment whose Q head says halt)
  (causal: one greedy column, all segments per byte, no adaptive halting);
- sampled pass@1 and pass@k (unbiased estimator) from `num_samples` samples per task at the last segment
  (on every task, or on `--sample-tasks N` evenly spread ones, which the summary names);
- for the synthetic set, the same split into held-out instances (`seen`) and held-out templates (`unseen`);
- `fits_canvas`: the share of reference solutions short enough for the answer region (a ceiling on pass@k),
  and `coverage`: how many prompts fit the prompt region uncut, references fit, and both. A longer prompt is
  cut to its head (`fit_prompt`: the signature and the start of the spec stay) and its task is still scored:
  no task leaves the denominator.

Grading goes through the problem set's own sandboxed `grade`. Two shortcuts keep it cheap and change no
verdict: identical (task, completion) pairs are graded once, and a program that does not compile is failed
as the driver would fail it (`compile` runs no code) without starting a sandbox.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from tqdm import tqdm

from hrm.codegen.canvas import CanvasShape, fit_prompt
from hrm.codegen.evaluate import parse_problems
from hrm.codegen.code_models import FORMULATIONS, load_code_model
from hrm.codegen.outcome import Outcome, failed
from hrm.codegen.problems import ProblemSet, Sample, Task
from hrm.codegen.problems.synthetic import split_of
from hrm.codegen.report import SampleResult, build_report, summarize, write_report
from hrm.codegen.sandbox import Sandbox
from hrm.codegen.training_data import mbpp_prompt
from hrm.errors import HRMError
from hrm.registry import Registry

MBPP_TASK_HEAD = "here is your task: "
MBPP_TESTS_HEAD = " Your code should pass these tests:\n\n"


@dataclass(frozen=True)
class CanvasRecipe:
    """How a problem set meets the canvas: the prompt it shows, the program the harness will run."""

    prompt: Callable[[Task], str]
    program: Callable[[Task, str], str]


def _entry_function(task: Task) -> str:
    """HumanEval: the prompt from the last top-level `def` on (signature and docstring; imports dropped)."""
    start = task.prompt.rfind("\ndef ")
    return task.prompt[start + 1:] if start >= 0 else task.prompt


def _mbpp_comment(task: Task) -> str:
    """MBPP: the task text and its first assert as comments, as the training rows from ids 511-974 are."""
    text, _, tests = task.prompt.partition(MBPP_TASK_HEAD)[2].partition(MBPP_TESTS_HEAD)
    return mbpp_prompt(text, tests.splitlines()[0] if tests else "")


RECIPES: Registry[CanvasRecipe] = Registry("canvas recipe")
RECIPES.add("humaneval", CanvasRecipe(_entry_function, lambda task, completion: task.prompt + completion))
RECIPES.add("synthetic", CanvasRecipe(lambda task: task.prompt, lambda task, completion: task.prompt + completion))
RECIPES.add("mbpp", CanvasRecipe(_mbpp_comment, lambda task, completion: completion))


def syntax_outcome(program: str) -> Outcome | None:
    """A failed Outcome when `program` does not compile; None when it does (then it must be run)."""
    try:
        compile(program, "<completion>", "exec")
    except (SyntaxError, ValueError) as err:
        return failed(f"{type(err).__name__}: {getattr(err, 'msg', err)}", syntax_valid=False)
    return None


def grade_unique(problem_set: ProblemSet, recipe: CanvasRecipe, tasks: Sequence[Task],
                 pairs: set[tuple[str, str]], sandbox: Sandbox, num_workers: int,
                 progress: bool = True) -> dict[tuple[str, str], Outcome]:
    """The Outcome of every distinct (task_id, completion) pair."""
    by_id = {task.task_id: task for task in tasks}
    outcomes: dict[tuple[str, str], Outcome] = {}
    to_run = []
    for key in sorted(pairs):
        screened = syntax_outcome(recipe.program(by_id[key[0]], key[1]))
        if screened is None:
            to_run.append(key)
        else:
            outcomes[key] = screened

    def grade(key: tuple[str, str]) -> Outcome:
        return problem_set.grade(by_id[key[0]], Sample(key[0], key[1]), sandbox)

    with ThreadPoolExecutor(max_workers=max(1, min(num_workers, sandbox.num_slots))) as pool:
        graded = tqdm(pool.map(grade, to_run), total=len(to_run), desc=f"grading {problem_set.name}",
                      file=sys.stderr, disable=not progress)
        outcomes.update(zip(to_run, graded))
    return outcomes


def _groups(problem_set: str, results: list[SampleResult]) -> dict[str, list[SampleResult]]:
    groups = {"all": results}
    if problem_set == "synthetic":
        for name in ("seen", "unseen"):
            groups[name] = [r for r in results if split_of(r.task_id) == name]
    return {name: group for name, group in groups.items() if group}


def _scores(problem_set: str, results: list[SampleResult], ks: Sequence[int]) -> dict[str, dict]:
    return {name: summarize(group, ks) for name, group in _groups(problem_set, results).items()}


def sample_subset(num_tasks: int, sample_tasks: int | None) -> list[int]:
    """Indices of the tasks that get sampled: all, or `sample_tasks` of them spread evenly over the list
    (so a synthetic subset holds both splits)."""
    if sample_tasks is None or sample_tasks >= num_tasks:
        return list(range(num_tasks))
    return sorted({(i * num_tasks) // sample_tasks for i in range(sample_tasks)})


def evaluate_checkpoint(checkpoint: str, spec: str, *, num_samples: int, temperature: float, ks: Sequence[int],
                        num_workers: int, max_tasks: int | None, data_path: str | None, seed: int,
                        out: Path | None, sample_tasks: int | None = None) -> dict:
    """Generate, grade and summarise (module docstring); writes reports and samples under `out`.
    The model's formulation (canvas or causal, hrm.codegen.code_models) decides how it writes code;
    `sample_tasks` limits sampling to that many evenly spread tasks (greedy covers every task)."""
    problem_set, source = parse_problems(spec)
    if problem_set.name not in RECIPES:
        raise HRMError(f"--checkpoint supports problem sets {RECIPES.names()}, not '{problem_set.name}'")
    recipe = RECIPES.get(problem_set.name)
    tasks = list(problem_set.load(source))[:max_tasks]
    model = load_code_model(checkpoint, data_path)
    formulation = FORMULATIONS.get(model.formulation)
    sampled_at = sample_subset(len(tasks), sample_tasks) if num_samples else []
    start = time.monotonic()
    generation = formulation.generate(model, [recipe.prompt(task) for task in tasks], sampled_at, num_samples,
                                      temperature, torch.Generator().manual_seed(seed))
    generate_seconds = time.monotonic() - start
    ids = [task.task_id for task in tasks]
    greedy, halt_at, sampled = generation.greedy, generation.halt_at, generation.sampled
    num_columns = len(greedy)

    variants = {str(s): [[answer] for answer in greedy[s]] for s in range(num_columns)}
    sampled_ids = [ids[i] for i in sampled_at]
    pairs = {(task_id, c) for answers in variants.values() for task_id, cs in zip(ids, answers) for c in cs}
    pairs |= {(task_id, c) for task_id, cs in zip(sampled_ids, sampled) for c in cs}
    outcomes = grade_unique(problem_set, recipe, tasks, pairs, Sandbox(), num_workers)

    def results_of(variant: Callable[[int], str]) -> list[SampleResult]:
        """The graded samples of one variant; `variant(i)` names the variant task i takes its answers from."""
        return [SampleResult(task_id, "python", index, outcomes[(task_id, completion)])
                for i, task_id in enumerate(ids) for index, completion in enumerate(variants[variant(i)][i])]

    command = shlex.join(["hrm", *sys.argv[1:]]) if sys.argv else ""
    coverage = canvas_coverage(problem_set, recipe, tasks, model.shape)
    final = results_of(lambda i: str(num_columns - 1))
    summary: dict = {
        "checkpoint": str(model.source), "problem_set": problem_set.name, "num_tasks": len(tasks),
        "formulation": model.formulation, "decoding": formulation.describe,
        "canvas": vars(model.shape), "segments": model.segments, "greedy_columns": generation.columns,
        "temperature": temperature, "num_samples": num_samples, "generate_seconds": generate_seconds,
        "fits_canvas": coverage["answer_fits"] / max(1, coverage["with_reference"]), "coverage": coverage,
        "greedy": _scores(problem_set.name, final, [1]),
        "greedy_by_segment": [_scores(problem_set.name, results_of(lambda i, s=s: str(s)), [1])
                              for s in range(num_columns)],
    }
    if halt_at is not None:
        summary["adaptive"] = _scores(problem_set.name, results_of(lambda i: str(halt_at[i])), [1])
        summary["mean_adaptive_segments"] = sum(h + 1 for h in halt_at) / max(1, len(halt_at))
    reports = {"greedy": build_report(problem_set=problem_set.name, source=source, command=command, results=final,
                                      ks=[1], skipped={}, num_skipped_tasks=0, num_unsampled_tasks=0,
                                      seconds=time.monotonic() - start)}
    if sampled:
        sampled_results = [SampleResult(task_id, "python", index, outcomes[(task_id, completion)])
                           for task_id, completions in zip(sampled_ids, sampled)
                           for index, completion in enumerate(completions)]
        summary["num_sampled_tasks"] = len(sampled_ids)
        summary["sampled_task_ids"] = sampled_ids if len(sampled_ids) < len(ids) else "all"
        summary["sampled"] = _scores(problem_set.name, sampled_results, ks)
        reports["sampled"] = build_report(problem_set=problem_set.name, source=source, command=command,
                                          results=sampled_results, ks=ks, skipped={}, num_skipped_tasks=0,
                                          num_unsampled_tasks=len(ids) - len(sampled_ids),
                                          seconds=time.monotonic() - start)
    summary["seconds"] = time.monotonic() - start
    if out is not None:
        _write(out, summary, reports, ids, greedy[-1], sampled_ids, sampled)
    return summary


def canvas_coverage(problem_set: ProblemSet, recipe: CanvasRecipe, tasks: Sequence[Task],
                    shape: CanvasShape) -> dict[str, int]:
    """Tasks whose canvas prompt fits `prompt_len` bytes uncut, whose reference solution fits the answer region
    with its END (`answer_len - 1` bytes), and both: a ceiling on what the model can be shown and write."""
    prompt_fits, answer_fits, with_reference = [], [], 0
    for task in tasks:
        reference = problem_set.reference(task)
        with_reference += reference is not None
        prompt_fits.append(len(recipe.prompt(task).encode("utf-8")) <= shape.prompt_len)
        answer_fits.append(reference is not None
                           and len(reference.completion.strip("\n").encode("utf-8")) + 1 <= shape.answer_len)
    return {"tasks": len(tasks), "with_reference": with_reference, "prompt_fits": sum(prompt_fits),
            "answer_fits": sum(answer_fits), "both_fit": sum(p and a for p, a in zip(prompt_fits, answer_fits))}


def _write(out: Path, summary: dict, reports: dict, ids: list[str], greedy: list[str],
           sampled_ids: list[str], sampled: list[list[str]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, report in reports.items():
        for path in write_report(report, out, stem=name):
            print(f"wrote {path}", file=sys.stderr)
    with open(out / "samples_greedy.jsonl", "w") as handle:
        for task_id, completion in zip(ids, greedy):
            handle.write(json.dumps({"task_id": task_id, "completion": completion}) + "\n")
    if sampled:
        with open(out / "samples_sampled.jsonl", "w") as handle:
            for task_id, completions in zip(sampled_ids, sampled):
                for completion in completions:
                    handle.write(json.dumps({"task_id": task_id, "completion": completion}) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    (out / "summary.md").write_text(render_summary(summary))


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def render_summary(summary: dict) -> str:
    """Markdown: a title line, then `summary_table`."""
    return "\n".join([f"# {summary['problem_set']}: {summary['checkpoint']}", "", *summary_table(summary)])


def summary_table(summary: dict) -> list[str]:
    """Pass rates per group: greedy per column (canvas: after each segment), adaptive halting (canvas only),
    sampled pass@k, syntax validity."""
    groups = list(summary["greedy"])
    columns = summary.get("greedy_columns") or [f"{s + 1} seg" for s in range(summary["segments"])]
    adaptive = summary.get("adaptive")
    ks = sorted({key for scores in summary.get("sampled", {}).values() for key in scores if key.startswith("pass@")},
                key=lambda k: int(k.split("@")[1]))
    sampled_on = summary.get("num_sampled_tasks", summary["num_tasks"])
    subset = "" if sampled_on == summary["num_tasks"] else f" on {sampled_on} of the {summary['num_tasks']} tasks"
    lines = [f"{summary['num_tasks']} tasks; {summary.get('formulation', 'canvas')} model; canvas "
             f"{summary['canvas']['prompt_len']} prompt + {summary['canvas']['answer_len']} answer bytes; "
             f"{summary['segments']} segments; sampled: {summary['num_samples']} per task at "
             f"T = {summary['temperature']}{subset}; reference solutions that fit the answer region: "
             f"{percent(summary['fits_canvas'])}{_prompt_coverage(summary)}", "",
             "| group | " + " | ".join(f"greedy, {c}" for c in columns)
             + (" | adaptive halting" if adaptive else "") + "".join(f" | sampled {k}" for k in ks)
             + " | syntax-valid (greedy) |",
             "| --- " * (len(columns) + 2 + bool(adaptive) + len(ks)) + "|"]
    for group in groups:
        cells = [percent(seg[group].get("pass@1")) for seg in summary["greedy_by_segment"]]
        if adaptive:
            cells.append(percent(adaptive[group].get("pass@1")))
        cells += [percent(summary["sampled"][group].get(k)) for k in ks]
        cells.append(percent(summary["greedy"][group].get("syntax_valid_rate")))
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    if adaptive:
        lines += ["", f"mean segments under adaptive halting: {summary['mean_adaptive_segments']:.2f}"]
    return lines + [""]


def _prompt_coverage(summary: dict) -> str:
    coverage = summary.get("coverage")
    if coverage is None:  # a summary written before coverage was reported
        return ""
    return (f"; prompts that fit uncut: {coverage['prompt_fits']} of {coverage['tasks']} (the rest are cut to "
            f"their head and scored)")


def checkpoint_eval_from_cli(args) -> dict:
    """The `hrm code eval --checkpoint` path: prints the summary table, then one JSON line."""
    try:
        ks = sorted({int(k) for k in args.k.split(",")})
    except ValueError:
        raise HRMError(f"--k must be comma-separated integers, got '{args.k}'") from None
    if args.samples_per_task < 0 or args.temperature <= 0:
        raise HRMError("--samples-per-task must be >= 0 and --temperature > 0")
    if getattr(args, "sample_tasks", None) is not None and args.sample_tasks < 1:
        raise HRMError("--sample-tasks must be >= 1")
    summary = evaluate_checkpoint(args.checkpoint, args.problems, num_samples=args.samples_per_task,
                                  temperature=args.temperature, ks=ks, num_workers=args.workers,
                                  max_tasks=args.max_tasks, data_path=args.data, seed=args.seed,
                                  out=Path(args.out) if args.out else None,
                                  sample_tasks=getattr(args, "sample_tasks", None))
    print(render_summary(summary))
    print(json.dumps({"problem_set": summary["problem_set"], "greedy": summary["greedy"]["all"].get("pass@1"),
                      **{f"sampled_{k}": v for k, v in summary.get("sampled", {}).get("all", {}).items()
                         if k.startswith("pass@")}}))
    return summary


def grade_greedy(spec: str, generate: Callable[[list[str]], list[str]], shape: CanvasShape,
                 num_workers: int = 2, max_tasks: int | None = None) -> dict:
    """Greedy pass@1 per group (all / seen / unseen on the synthetic set) of `generate`(prompts), where the
    prompts are the canvas recipe's, cut to the canvas head as in training; graded in the sandbox."""
    problem_set, source = parse_problems(spec)
    recipe = RECIPES.get(problem_set.name)
    tasks = list(problem_set.load(source))[:max_tasks]
    start = time.monotonic()
    completions = generate([fit_prompt(recipe.prompt(task), shape) for task in tasks])
    generate_seconds = time.monotonic() - start
    ids = [task.task_id for task in tasks]
    outcomes = grade_unique(problem_set, recipe, tasks, set(zip(ids, completions)), Sandbox(), num_workers)
    results = [SampleResult(task_id, "python", 0, outcomes[(task_id, completion)])
               for task_id, completion in zip(ids, completions)]
    return {"problem_set": problem_set.name, "num_tasks": len(tasks), "generate_seconds": generate_seconds,
            "greedy": _scores(problem_set.name, results, [1]), "completions": dict(zip(ids, completions)),
            "seconds": time.monotonic() - start}
