"""Train the small canvas code model on CPU and score it: synthetic benchmark, HumanEval, MBPP.

    sudo .venv/bin/python benchmarks/code_model.py [--run runs/code_model] [--samples 10] [--temperature 0.8]

Steps (each skipped when its output already exists, so an interrupted run resumes):
1. `hrm data code-synth --corpus mbpp,stdlib` into RUN/data (synthetic 6000 + MBPP 511-974 and stdlib rows that
   fit the 48-byte answer region);
2. `hrm train --config code_trm` into RUN/run (stops at its `max_minutes`);
3. `hrm code eval --checkpoint` on each set into RUN/eval/<set>: greedy per segment, adaptive halting, and
   `--samples` samples per task at `--temperature` for sampled pass@1 and pass@10.
Writes benchmarks/results/code_model.json and .md. Needs root and the sandbox users (docs/codegen-harness.md).
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from pathlib import Path

import torch

from hrm.codegen.canvas import CanvasShape
from hrm.codegen.checkpoint_eval import evaluate_checkpoint, percent, summary_table
from hrm.codegen.problems.synthetic import benchmark_instances
from hrm.codegen.report import machine_info
from hrm.codegen.training_data import build_code_dataset
from hrm.config import load_config, to_plain
from hrm.eval.load import load_trained_model
from hrm.train.run import train
from hrm.train.run_config import RunConfig
from report import write_report

RESULTS = Path(__file__).parent / "results"
CONFIG = "code_trm"
SETS = ("synthetic", "humaneval", "mbpp")
DATE = "2026-11-23"
DEVICE = "CPU, 2 cores"
ANCHORS = [  # HumanEval pass@1 / pass@10 (%), ../shared/docs/codegen-benchmarks.md section 2 (secondary sources)
    ("Codex-12M", "12M", 2.00, 3.62), ("Codex-85M", "85M", 8.22, 12.81),
    ("tiny_starcoder_py", "164M", 7.84, None), ("CodeParrot-small", "110M", 3.80, 6.57),
    ("PolyCoder-160M", "160M", 2.13, 3.35)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default="runs/code_model")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--out", default=str(RESULTS / "code_model"), help="path without suffix")
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = Path(args.run)
    data = root / "data"
    if not (data / "build.json").exists():
        build_code_dataset(data, num_train=6000, num_test=200, seed=0, shape=CanvasShape(80, 48),
                           corpora=["mbpp", "stdlib"], max_corpus_rows=500)
    cfg = load_config(RunConfig, CONFIG, [f"data.path={data}"])
    if not (root / "run" / "checkpoints").exists():
        train(cfg, root / "run")
    metrics = [json.loads(line) for line in (root / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = {}
    for name in args.sets.split(","):
        evals[name] = evaluate_checkpoint(str(root / "run"), name, num_samples=args.samples,
                                          temperature=args.temperature, ks=[1, 10], num_workers=2, max_tasks=None,
                                          data_path=None, seed=0, out=root / "eval" / name)
    trained = [m for m in metrics if "step" in m and "elapsed_s" in m]
    summary = {
        "date": DATE, "device": DEVICE, "machine": machine_info(),
        "command": shlex.join([sys.executable, *sys.argv]), "config": to_plain(cfg),
        "data": json.loads((data / "build.json").read_text()),
        "training": {"steps": trained[-1]["step"], "minutes": training_minutes(trained),
                     "final_train_lm_loss": trained[-1].get("train/lm_loss"),
                     "eval": [m for m in metrics if any(k.startswith("eval/") for k in m)][-1:]},
        "parameters": sum(p.numel() for p in load_trained_model(root / "run").model.parameters()),
        "sets": evals, "humaneval_anchors": ANCHORS,
    }
    write_results(summary, root, Path(args.out), render)


def synthetic_diagnostics(samples_path: Path) -> dict[str, dict[str, int]]:
    """Greedy answers (last segment) against the references: byte-exact, and exact once every digit is masked
    (the right program shape with possibly wrong constants)."""
    references = benchmark_instances()
    counts: dict[str, dict[str, int]] = {}
    for line in samples_path.read_text().splitlines():
        sample = json.loads(line)
        _, split, index = sample["task_id"].split("/")
        answer = references[split][int(index)].answer
        row = counts.setdefault(split, {"tasks": 0, "exact": 0, "shape": 0})
        row["tasks"] += 1
        row["exact"] += sample["completion"] == answer
        row["shape"] += re.sub(r"\d", "#", sample["completion"]) == re.sub(r"\d", "#", answer)
    return counts


def training_minutes(records: list[dict]) -> float:
    """Training wall-clock over every leg of a resumed run (`elapsed_s` restarts at each resume)."""
    seconds = 0.0
    for before, after in zip(records, records[1:]):
        if after["elapsed_s"] < before["elapsed_s"]:
            seconds += before["elapsed_s"]
    return (seconds + records[-1]["elapsed_s"]) / 60


def render(summary: dict) -> str:
    cfg, training = summary["config"], summary["training"]
    model = cfg["model"]
    lines = [f"# Canvas code model (TRM) on CPU, {summary['date']}", "",
             f"- device: {summary['device']} (shared with other work); command: `{summary['command']}`",
             f"- model: {model['name']}, hidden {model['hidden_dim']}, {model['num_layers']} layers, "
             f"T={model['deep_recursions']}, n={model['latent_recursions']}, {model['max_segments']} ACT segments, "
             f"canvas {summary['data']['canvas']['prompt_len']} prompt + {summary['data']['canvas']['answer_len']} "
             f"answer bytes",
             f"- data: {json.dumps(summary['data']['rows'])}; answers too long for the canvas, dropped: "
             f"{json.dumps(summary['data']['dropped_too_long'])}",
             f"- training: {training['steps']} steps of {cfg['global_batch_size']} in {training['minutes']:.1f} "
             f"minutes, final train lm_loss {training['final_train_lm_loss']:.3f}", ""]
    return "\n".join(lines + set_sections(summary, "canvas TRM", "Greedy answers (4 segments)"))


def write_results(summary: dict, root: Path, out: Path, render) -> None:
    """Add the synthetic diagnostics, then write <out>.json and <out>.md and print the markdown."""
    if "synthetic" in summary["sets"]:
        summary["synthetic_diagnostics"] = synthetic_diagnostics(root / "eval" / "synthetic" / "samples_greedy.jsonl")
    write_report(out, summary, render(summary))
    print(render(summary))


def set_sections(summary: dict, model_label: str, greedy_label: str) -> list[str]:
    """Per problem set: its score table, the synthetic diagnostics, and HumanEval next to the anchors."""
    lines = []
    for name, result in summary["sets"].items():
        lines += [f"## {name}", "", *summary_table(result)]
        if name == "synthetic" and "synthetic_diagnostics" in summary:
            lines += [f"{greedy_label} against the reference programs:", "",
                      "| split | tasks | byte-exact | right shape, digits masked |", "| --- | --- | --- | --- |"]
            lines += [f"| {split} | {row['tasks']} | {percent(row['exact'] / row['tasks'])} | "
                      f"{percent(row['shape'] / row['tasks'])} |"
                      for split, row in summary["synthetic_diagnostics"].items()]
            lines.append("")
    if "humaneval" in summary["sets"]:
        he = summary["sets"]["humaneval"]
        sampled = he.get("sampled", {}).get("all", {})
        lines += ["## HumanEval next to published small models (pass@1 / pass@10, %)", "",
                  "| model | params | pass@1 | pass@10 |", "| --- | --- | --- | --- |",
                  f"| ours ({model_label}, greedy / sampled) | {summary['parameters'] / 1e3:.0f}K "
                  f"| {percent(he['greedy']['all'].get('pass@1'))} / {percent(sampled.get('pass@1'))} "
                  f"| {percent(sampled.get('pass@10'))} |"]
        lines += [f"| {name} | {size} | {p1:.2f} | {'—' if p10 is None else f'{p10:.2f}'} |"
                  for name, size, p1, p10 in summary["humaneval_anchors"]]
        lines.append("")
    return lines


if __name__ == "__main__":
    main()
