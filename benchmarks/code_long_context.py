"""The causal code TRM at a long context (768 prompt + 256 answer bytes): offline data, training, and scores on
the synthetic benchmark, HumanEval and MBPP next to the published small-model anchors.

    sudo .venv/bin/python benchmarks/code_long_context.py [--run runs/code_long_context] [--device cpu|cuda] \
        [--minutes 30 | --steps N] [--threads 1] [--samples 10] [--sample-tasks mbpp=100,synthetic=40] \
        [--set key=value ...] [--skip-train | --train-only]

Steps (data and scores are skipped when their output exists; a finished run (RUN/run/eval.json) is not trained
again, an interrupted one resumes from its last checkpoint):
1. data: `hrm data code-synth --prompt-len 768 --answer-len 256 --corpus mbpp,stdlib --max-corpus-rows 5000`
   into RUN/data_canvas (6000 synthetic rows, MBPP 511-974 and stdlib functions, leakage-checked against every
   HumanEval and MBPP test task), then the causal layout into RUN/data_causal (`write_causal_dataset`);
2. train: `hrm train --config code_trm_causal_long` on RUN/data_causal into RUN/run, in this process, on
   `--device`, for `--minutes` of wall clock (the config's `max_minutes`) or exactly `--steps` steps, with
   `--set` overrides (e.g. a wider model or a larger batch on a GPU);
3. score on CPU (`hrm code eval --checkpoint RUN/run --problems SET`): greedy on every task of the synthetic
   benchmark (400), HumanEval (164) and MBPP (500, ids 11-510), and SAMPLES samples per task at TEMPERATURE
   for sampled pass@1 / pass@10 on every task or on `--sample-tasks` evenly spread ones (the report says so).
Everything is seeded (data 0, training `seed`, sampling 0); torch runs on `--threads` threads (default 1).
Writes benchmarks/results/code_long_context.json and .md. Needs root and the sandbox users for grading.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch
from code_model import ANCHORS, set_sections, training_minutes, write_results

from hrm.codegen.canvas import CanvasShape
from hrm.codegen.causal import write_causal_dataset
from hrm.codegen.checkpoint_eval import evaluate_checkpoint, percent
from hrm.codegen.report import machine_info
from hrm.codegen.training_data import build_code_dataset
from hrm.config import load_config, to_plain
from hrm.eval.load import load_trained_model
from hrm.train.run import train
from hrm.train.run_config import RunConfig

RESULTS = Path(__file__).parent / "results" / "code_long_context"
CONFIG = "code_trm_causal_long"
SHAPE = CanvasShape(prompt_len=768, answer_len=256)
MAX_CORPUS_ROWS = 5000
SETS = ("synthetic", "humaneval", "mbpp")
DATE = "2026-11-24"


def per_set(text: str) -> dict[str, int]:
    """'mbpp=100,synthetic=40' -> {'mbpp': 100, 'synthetic': 40}."""
    return {name: int(n) for name, _, n in (item.partition("=") for item in text.split(",") if item)}


def build_data(root: Path, commands: list[str]) -> tuple[Path, dict]:
    canvas, causal = root / "data_canvas", root / "data_causal"
    commands.append(f"hrm data code-synth --out {canvas} --prompt-len {SHAPE.prompt_len} --answer-len "
                    f"{SHAPE.answer_len} --corpus mbpp,stdlib --max-corpus-rows {MAX_CORPUS_ROWS}")
    if not (canvas / "build.json").exists():
        build_code_dataset(canvas, num_train=6000, num_test=200, seed=0, shape=SHAPE, corpora=["mbpp", "stdlib"],
                           max_corpus_rows=MAX_CORPUS_ROWS)
    commands.append(f"python -c 'from hrm.codegen.causal import write_causal_dataset; "
                    f"write_causal_dataset(\"{canvas}\", \"{causal}\")'")
    if not causal.exists():
        write_causal_dataset(canvas, causal)
    return causal, json.loads((canvas / "build.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default="runs/code_long_context")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="training device (scoring: CPU)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, default=None, help="training wall clock (default: the config's)")
    budget.add_argument("--steps", type=int, default=None, help="train exactly this many steps, no time limit")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (training and scoring)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--sample-tasks", default="", help="SET=N,...: sample only N evenly spread tasks of SET")
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--skip-train", action="store_true", help="score RUN/run as it is")
    parser.add_argument("--device-name", default=None, help="the training device to name in the report "
                        "(e.g. 'NVIDIA H100 80GB HBM3' when it trained elsewhere)")
    parser.add_argument("--train-only", action="store_true",
                        help="stop after training (e.g. on a GPU machine without the sandbox; score later with --skip-train)")
    parser.add_argument("--out", default=str(RESULTS), help="path without suffix")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    root = Path(args.run)
    commands: list[str] = []
    data, build = build_data(root, commands)

    overrides = [f"data.path={data}", f"device={args.device}"]
    if args.minutes is not None:
        overrides.append(f"max_minutes={args.minutes}")
    if args.steps is not None:
        overrides += [f"max_steps={args.steps}", "max_minutes=0"]
    overrides += args.set
    cfg = load_config(RunConfig, CONFIG, overrides)
    commands.append(shlex.join(["hrm", "train", "--config", CONFIG, "--out", str(root / "run"), *overrides]))
    if not args.skip_train and not (root / "run" / "eval.json").exists():
        train(cfg, root / "run")
    if args.train_only:
        return

    sample_tasks = per_set(args.sample_tasks)
    evals = {}
    for name in args.sets.split(","):
        out = root / "eval" / name
        command = ["hrm", "code", "eval", "--checkpoint", str(root / "run"), "--problems", name, "--samples-per-task",
                   str(args.samples), "--temperature", str(args.temperature), "--k", "1,10", "--out", str(out)]
        command += ["--sample-tasks", str(sample_tasks[name])] if name in sample_tasks else []
        commands.append(shlex.join(command))
        if not (out / "summary.json").exists():
            evaluate_checkpoint(str(root / "run"), name, num_samples=args.samples, temperature=args.temperature,
                                ks=[1, 10], num_workers=2, max_tasks=None, data_path=None, seed=0, out=out,
                                sample_tasks=sample_tasks.get(name))
        evals[name] = json.loads((out / "summary.json").read_text())

    metrics = [json.loads(line) for line in (root / "run" / "metrics.jsonl").read_text().splitlines()]
    trained = [m for m in metrics if "step" in m and "elapsed_s" in m]
    summary = {
        "date": DATE, "device": f"training on {args.device_name or args.device}, scoring on CPU; {args.threads} torch thread(s)",
        "machine": machine_info(), "script_command": shlex.join(["python", *sys.argv]), "commands": commands,
        "config": to_plain(cfg), "data": build,
        "training": {"steps": max(m["step"] for m in metrics if "step" in m), "minutes": training_minutes(trained),
                     "final_train_lm_loss": trained[-1].get("train/lm_loss"),
                     "eval": [m for m in metrics if any(k.startswith("eval/") for k in m)][-1:]},
        "parameters": sum(p.numel() for p in load_trained_model(root / "run").model.parameters()),
        "sets": evals, "humaneval_anchors": ANCHORS,
    }
    write_results(summary, root, Path(args.out), render)


def headline(result: dict) -> list[str]:
    sampled = result.get("sampled", {}).get("all", {})
    on = result.get("num_sampled_tasks", result["num_tasks"]) if sampled else 0
    coverage = result["coverage"]
    return [str(result["num_tasks"]), percent(result["greedy"]["all"].get("pass@1")), percent(sampled.get("pass@1")),
            percent(sampled.get("pass@10")), f"{on} of {result['num_tasks']}" if sampled else "—",
            percent(result["greedy"]["all"].get("syntax_valid_rate")),
            f"{coverage['prompt_fits']} / {coverage['answer_fits']} / {coverage['both_fit']}",
            f"{result['generate_seconds'] / 60:.1f}"]


def render(summary: dict) -> str:
    cfg, training, data = summary["config"], summary["training"], summary["data"]
    model, shape = cfg["model"], data["canvas"]
    counts = data["corpus_counts"]
    lines = [f"# Causal code TRM at a long context ({shape['prompt_len']} + {shape['answer_len']} bytes), "
             f"{summary['date']}", "",
             f"- device: {summary['device']}, {summary['machine']['cpu_count']} CPU cores; script: `{summary['script_command']}`; the commands it ran (or whose "
             "outputs it found):", *[f"  - `{c}`" for c in summary["commands"]],
             f"- model: {model['name']}, {summary['parameters']:,} parameters, hidden {model['hidden_dim']}, "
             f"{model['num_layers']} layers, T={model['deep_recursions']}, n={model['latent_recursions']}, "
             f"{model['max_segments']} ACT segment, {model['loss']} loss, causal answer mask",
             f"- training: {training['steps']} steps of {cfg['global_batch_size']} rows in "
             f"{training['minutes']:.1f} minutes (to the last logged step), last logged train lm_loss {training['final_train_lm_loss']:.3f}"
             + "".join(f"; teacher-forced exact accuracy on the held-out synthetic instances "
                       f"{percent(e['eval/exact_accuracy'])}" for e in training["eval"]),
             "- decoding: greedy = argmax byte by byte; sampled = each byte drawn from p^(1/T); pass@k by the "
             "unbiased estimator; prompts longer than the prompt region are cut to their head and scored", "",
             "| set | tasks scored (greedy) | greedy pass@1 | sampled pass@1 | sampled pass@10 | tasks sampled "
             "| syntax-valid (greedy) | prompt fits / reference fits / both | generation minutes |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {name} | " + " | ".join(headline(result)) + " |" for name, result in summary["sets"].items()]
    lines += ["", "Every task of every set is in the denominator; sampling covers the `tasks sampled` ones, spread "
              "evenly over the set.", "", "## Training data and the leakage check", "",
              f"Synthetic: {data['rows']['train'] - sum(c['kept'] for c in counts.values())} rows "
              f"({data['synthetic_bodies_shared']} of them have a body that, names normalised, equals a test "
              "task's: one-line programs such as `return len(xs)`; generated from our templates and kept).", "",
              "| corpus | read | removed: test function name | removed: test function body | answer over "
              f"{shape['answer_len']} bytes | kept | of those, prompt cut to {shape['prompt_len']} bytes |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {name} | {c['read']} | {c['leak_name']} | {c['leak_body']} | {c['answer_too_long']} | {c['kept']} "
              f"| {c['prompts_cut']} |" for name, c in counts.items()]
    lines.append("")
    lines += set_sections(summary, "long-context causal TRM", "Greedy answers")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
