"""The causal code model (TRM, byte by byte) trained longer on CPU, scored on the synthetic set, HumanEval and MBPP.

    sudo .venv/bin/python benchmarks/code_causal_humaneval_mbpp.py [--run runs/code_causal_humaneval_mbpp] \
        [--minutes 35] [--samples 10] [--temperature 0.8] [--sample-tasks humaneval=20,...] [--max-tasks mbpp=100]

Steps (each skipped when its output already exists; `--skip-train` scores the run as it is):
1. `hrm data code-synth --corpus mbpp,stdlib --max-corpus-rows 500` into RUN/data_canvas (6000 synthetic rows
   + the MBPP 511-974 and stdlib rows that fit the 48-byte answer), then the same rows in the causal layout
   (hrm.codegen.causal.write_causal_dataset) into RUN/data_causal;
2. `hrm train --config code_trm data.path=RUN/data_causal model.extensions.causal_answer.prompt_len=80
   max_minutes=MINUTES` into RUN/run, one thread;
3. `hrm code eval --checkpoint RUN/run --problems SET` for synthetic (200 held-out instances + 200 instances
   of held-out templates), HumanEval (164) and MBPP (500, ids 11-510): greedy on every task, plus SAMPLES
   samples per task at TEMPERATURE for sampled pass@1/pass@10, on every task or on `--sample-tasks` evenly
   spread ones (the report says which), and on every task or the first `--max-tasks` ones, one thread.
Writes benchmarks/results/code_causal_humaneval_mbpp.json and .md. Needs root and the sandbox users.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from code_model import ANCHORS, set_sections, training_minutes, write_results

from hrm.codegen.causal import write_causal_dataset
from hrm.codegen.canvas import CanvasShape
from hrm.codegen.checkpoint_eval import RECIPES, canvas_coverage, percent
from hrm.codegen.evaluate import parse_problems
from hrm.codegen.report import machine_info
from hrm.config import load_config, to_plain
from hrm.eval.load import load_trained_model
from hrm.train.run_config import RunConfig

RESULTS = Path(__file__).parent / "results" / "code_causal_humaneval_mbpp"
CONFIG = "code_trm"
SETS = ("synthetic", "humaneval", "mbpp")
DATE = "2026-11-24"
DEVICE = "CPU, 1 thread of a 2-core machine"
HRM = [sys.executable, "-m", "hrm"]
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def run(command: list[str], log: list[str]) -> None:
    log.append(shlex.join(["hrm", *command[len(HRM):]] if command[:len(HRM)] == HRM else command))
    print("+", log[-1], file=sys.stderr, flush=True)
    subprocess.run(command, check=True, env=ONE_THREAD)


def per_set(text: str) -> dict[str, int]:
    """'humaneval=20,mbpp=20' -> {'humaneval': 20, 'mbpp': 20}."""
    return {name: int(n) for name, _, n in (item.partition("=") for item in text.split(",") if item)}


def fits(name: str, prompt_len: int, answer_len: int) -> dict:
    """How many tasks' canvas prompts fit `prompt_len` bytes uncut and reference solutions `answer_len - 1`
    bytes (+ END), and both (a ceiling on what the model can write at all)."""
    problem_set, source = parse_problems(name)
    return canvas_coverage(problem_set, RECIPES.get(name), list(problem_set.load(source)),
                           CanvasShape(prompt_len, answer_len))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default="runs/code_causal_humaneval_mbpp")
    parser.add_argument("--minutes", type=float, default=35.0, help="training wall clock (max_minutes)")
    parser.add_argument("--max-steps", type=int, default=20000, help="a ceiling; the minutes rule")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--sample-tasks", default="", help="SET=N,...: sample only N evenly spread tasks of SET")
    parser.add_argument("--max-tasks", default="", help="SET=N,...: score only the first N tasks of SET")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--skip-train", action="store_true", help="score RUN/run as it is")
    parser.add_argument("--out", default=str(RESULTS), help="path without suffix")
    args = parser.parse_args()
    root = Path(args.run)
    commands: list[str] = []
    sample_tasks, max_tasks = per_set(args.sample_tasks), per_set(args.max_tasks)
    canvas_data, data = root / "data_canvas", root / "data_causal"
    build = [*HRM, "data", "code-synth", "--out", str(canvas_data), "--corpus", "mbpp,stdlib", "--max-corpus-rows", "500"]
    if (canvas_data / "build.json").exists():
        commands.append(shlex.join(["hrm", *build[len(HRM):]]))
    else:
        run(build, commands)
    commands.append(f"python -c 'from hrm.codegen.causal import write_causal_dataset; "
                    f"write_causal_dataset(\"{canvas_data}\", \"{data}\")'")
    if not data.exists():
        write_causal_dataset(canvas_data, data)
    overrides = [f"data.path={data}", "model.extensions.causal_answer.prompt_len=80", f"max_steps={args.max_steps}",
                 f"max_minutes={args.minutes}", "checkpoint_every=500", "eval_every=1000"]
    commands.append(shlex.join(["hrm", "train", "--config", CONFIG, "--out", str(root / "run"), *overrides]))
    if not args.skip_train:
        run([*HRM, "train", "--config", CONFIG, "--out", str(root / "run"), *overrides], commands[:-1])
    evals = {}
    for name in args.sets.split(","):
        out = root / "eval" / name
        command = [*HRM, "code", "eval", "--checkpoint", str(root / "run"), "--problems", name,
                   "--samples-per-task", str(args.samples), "--temperature", str(args.temperature), "--k", "1,10",
                   "--workers", "2", "--out", str(out)]
        if name in sample_tasks:
            command += ["--sample-tasks", str(sample_tasks[name])]
        if name in max_tasks:
            command += ["--max-tasks", str(max_tasks[name])]
        if (out / "summary.json").exists():
            commands.append(shlex.join(["hrm", *command[len(HRM):]]))
        else:
            run(command, commands)
        evals[name] = json.loads((out / "summary.json").read_text())
    metrics = [json.loads(line) for line in (root / "run" / "metrics.jsonl").read_text().splitlines()]
    trained = [m for m in metrics if "step" in m and "elapsed_s" in m]
    build = json.loads((canvas_data / "build.json").read_text())
    shape = build["canvas"]
    summary = {
        "date": DATE, "device": DEVICE, "machine": machine_info(),
        "script_command": shlex.join(["python", *sys.argv]), "commands": commands,
        "config": to_plain(load_config(RunConfig, CONFIG, overrides)), "data": build,
        "training": {"steps": max(m["step"] for m in metrics if "step" in m), "minutes": training_minutes(trained),
                     "final_train_lm_loss": trained[-1].get("train/lm_loss"),
                     "eval": [m for m in metrics if any(k.startswith("eval/") for k in m)][-1:]},
        "parameters": sum(p.numel() for p in load_trained_model(root / "run").model.parameters()),
        "sets": evals, "humaneval_anchors": ANCHORS,
        "fits": {name: fits(name, shape["prompt_len"], shape["answer_len"]) for name in ("humaneval", "mbpp")},
    }
    write_results(summary, root, Path(args.out), render)


def headline(result: dict) -> list[str]:
    sampled = result.get("sampled", {}).get("all", {})
    on = result.get("num_sampled_tasks", result["num_tasks"]) if sampled else 0
    return [str(result["num_tasks"]), percent(result["greedy"]["all"].get("pass@1")), percent(sampled.get("pass@1")),
            percent(sampled.get("pass@10")), f"{on} of {result['num_tasks']}" if sampled else "—",
            percent(result["greedy"]["all"].get("syntax_valid_rate")), f"{result['generate_seconds'] / 60:.1f}"]


def render(summary: dict) -> str:
    cfg, training = summary["config"], summary["training"]
    model = cfg["model"]
    lines = [f"# Causal code model (TRM, byte by byte) on HumanEval and MBPP, CPU, {summary['date']}", "",
             f"- device: {summary['device']} (the other core busy with other work)",
             f"- script: `{summary['script_command']}`; the commands it ran (or whose outputs it found):",
             *[f"  - `{c}`" for c in summary["commands"]],
             f"- model: {model['name']}, {summary['parameters']:,} parameters, hidden {model['hidden_dim']}, "
             f"{model['num_layers']} layers, T={model['deep_recursions']}, n={model['latent_recursions']}, "
             f"{model['max_segments']} ACT segments per byte, causal answer mask, canvas "
             f"{summary['data']['canvas']['prompt_len']} prompt + {summary['data']['canvas']['answer_len']} "
             f"answer bytes",
             f"- data: {json.dumps(summary['data']['rows'])}; too long for the answer, dropped: "
             f"{json.dumps(summary['data']['dropped_too_long'])}",
             f"- training: {training['steps']} steps of {cfg['global_batch_size']} in {training['minutes']:.1f} "
             f"minutes, final train lm_loss {training['final_train_lm_loss']:.3f}",
             "- decoding: greedy = argmax byte by byte (all segments per byte, fresh carry); sampled = each byte "
             "drawn from p^(1/T); pass@k by the unbiased estimator", "",
             "| set | tasks scored (greedy) | greedy pass@1 | sampled pass@1 | sampled pass@10 | tasks sampled "
             "| syntax-valid (greedy) | generation minutes |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {name} | " + " | ".join(headline(result)) + " |" for name, result in summary["sets"].items()]
    lines += ["", "Subsets, where the table says so: sampling ran on the `tasks sampled` tasks, spread evenly over "
              "the scored ones (`--sample-tasks`); a set scored on fewer tasks than it has (synthetic 400, "
              "HumanEval 164, MBPP 500) was scored on its first N (`--max-tasks`). Nothing else was left out."]
    lines += ["", "## What fits the canvas", "",
              "| set | tasks | prompt fits 80 bytes uncut | reference fits 47 bytes + END | both |",
              "| --- | --- | --- | --- | --- |"]
    lines += [f"| {name} | {f['tasks']} | {f['prompt_fits']} | {f['answer_fits']} | {f['both_fit']} |"
              for name, f in summary["fits"].items()]
    lines.append("")
    lines += set_sections(summary, "causal TRM", "Greedy answers")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
