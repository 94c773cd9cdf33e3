"""Canvas versus causal code model at one equal, small CPU budget, on the synthetic benchmark (issue 5).

    sudo .venv/bin/python benchmarks/code_causal_vs_canvas.py [--run runs/code_causal_vs_canvas] [--steps 600]

Both formulations get the `code_trm` model (same size, seed, optimiser, batch and step budget), the same
synthetic training rows (6000 instances, no MBPP/stdlib rows) and one thread each; they train side by side
on the 2 cores. The canvas trains on `hrm data code-synth` rows, the causal one on the same rows in the
causal layout (hrm.codegen.causal) with the causal attention mask. Scoring: greedy functional accuracy in
the sandbox on held-out instances (`seen`) and held-out templates (`unseen`); the canvas through
`hrm code eval --checkpoint` (all 4 segments), the causal model byte by byte (all 4 segments per byte).
Writes benchmarks/results/code_causal_vs_canvas.json and .md. Needs root and the sandbox users.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

import torch

from hrm.codegen.canvas import CanvasShape
from hrm.codegen.causal import write_causal_dataset
from hrm.codegen.causal_eval import evaluate_causal_checkpoint
from hrm.codegen.checkpoint_eval import evaluate_checkpoint, percent
from hrm.codegen.report import machine_info
from hrm.codegen.training_data import build_code_dataset, read_canvas_shape
from hrm.config import load_config, to_plain
from hrm.train import run as train_run
from hrm.train.run_config import RunConfig
from report import write_report

RESULTS = Path(__file__).parent / "results" / "code_causal_vs_canvas"
CONFIG = "code_trm"
DATE = "2026-11-24"
DEVICE = "CPU, 2 cores"
FORMULATIONS = ("canvas", "causal")


def train_one(root: Path, formulation: str, steps: int, max_minutes: float) -> None:
    """Train one formulation in this process (1 thread); the causal one builds its model masked."""
    torch.set_num_threads(1)
    data = root / f"data_{formulation}"
    overrides = [f"data.path={data}", f"max_steps={steps}", f"max_minutes={max_minutes}",
                 f"checkpoint_every={steps}", "eval_every=0"]
    if formulation == "causal":  # the causal_answer extension masks attention (hrm.codegen.causal)
        overrides.append(f"model.extensions.causal_answer.prompt_len={read_canvas_shape(data).prompt_len}")
    train_run.train(load_config(RunConfig, CONFIG, overrides), root / f"run_{formulation}")


def training_record(run_dir: Path) -> dict:
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    trained = [m for m in metrics if "step" in m and "elapsed_s" in m]
    return {"steps": trained[-1]["step"], "minutes": trained[-1]["elapsed_s"] / 60,
            "final_train_lm_loss": trained[-1].get("train/lm_loss"),
            "eval": [m for m in metrics if any(k.startswith("eval/") for k in m)][-1:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default="runs/code_causal_vs_canvas")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--max-minutes", type=float, default=16.0, help="a safety cap; the step budget rules")
    parser.add_argument("--train-only", choices=FORMULATIONS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    root = Path(args.run)
    if args.train_only:
        return train_one(root, args.train_only, args.steps, args.max_minutes)
    torch.set_num_threads(2)
    if not (root / "data_canvas" / "build.json").exists():
        build_code_dataset(root / "data_canvas", num_train=6000, num_test=200, seed=0, shape=CanvasShape(80, 48),
                           corpora=[])
    if not (root / "data_causal").exists():
        write_causal_dataset(root / "data_canvas", root / "data_causal")
    todo = [f for f in FORMULATIONS if not (root / f"run_{f}" / "checkpoints").exists()]
    jobs = [subprocess.Popen([sys.executable, __file__, "--run", str(root), "--steps", str(args.steps),
                              "--max-minutes", str(args.max_minutes), "--train-only", f]) for f in todo]
    if any(job.wait() for job in jobs):
        raise SystemExit("a training run failed")
    canvas = evaluate_checkpoint(str(root / "run_canvas"), "synthetic", num_samples=0, temperature=1.0, ks=[1],
                                 num_workers=2, max_tasks=None, data_path=None, seed=0, out=root / "eval_canvas")
    causal = evaluate_causal_checkpoint(root / "run_causal", root / "data_causal")
    (root / "eval_causal").mkdir(exist_ok=True)
    (root / "eval_causal" / "completions.json").write_text(json.dumps(causal.pop("completions"), indent=1))
    cfg = load_config(RunConfig, CONFIG, [f"max_steps={args.steps}"])
    summary = {
        "date": DATE, "device": DEVICE, "machine": machine_info(), "threads_per_run": 1,
        "command": shlex.join([sys.executable, *sys.argv]), "config": to_plain(cfg),
        "data": json.loads((root / "data_canvas" / "build.json").read_text()),
        "training": {f: training_record(root / f"run_{f}") for f in FORMULATIONS},
        "greedy": {"canvas": canvas["greedy"], "causal": causal["greedy"]},
        "generate_seconds": {"canvas": canvas["generate_seconds"], "causal": causal["generate_seconds"]},
    }
    write_report(RESULTS, summary, render(summary))
    print(render(summary))


def render(summary: dict) -> str:
    model = summary["config"]["model"]
    lines = [f"# Canvas versus causal code model (TRM), equal CPU budget, {summary['date']}", "",
             f"- device: {summary['device']}, one thread per run, both runs side by side; "
             f"command: `{summary['command']}`",
             f"- model (both): {model['name']}, hidden {model['hidden_dim']}, {model['num_layers']} layers, "
             f"T={model['deep_recursions']}, n={model['latent_recursions']}, {model['max_segments']} ACT segments, "
             f"canvas {summary['data']['canvas']['prompt_len']} prompt + {summary['data']['canvas']['answer_len']} "
             f"answer bytes, batch {summary['config']['global_batch_size']}, seed {summary['config']['seed']}",
             f"- data (both): synthetic rows only, {json.dumps(summary['data']['rows'])}",
             "- greedy decoding: canvas = argmax of every answer position after 4 segments; causal = byte by "
             "byte, 4 segments from a fresh carry per byte", "",
             "| formulation | steps | train minutes | final train lm_loss | greedy, all | greedy, seen "
             "(held-out instances) | greedy, unseen (held-out templates) | syntax-valid | generation s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in FORMULATIONS:
        run, greedy = summary["training"][name], summary["greedy"][name]
        lines.append(f"| {name} | {run['steps']} | {run['minutes']:.1f} | {run['final_train_lm_loss']:.3f} | "
                     f"{percent(greedy['all'].get('pass@1'))} | {percent(greedy['seen'].get('pass@1'))} | "
                     f"{percent(greedy['unseen'].get('pass@1'))} | "
                     f"{percent(greedy['all'].get('syntax_valid_rate'))} | "
                     f"{summary['generate_seconds'][name]:.0f} |")
    lines += ["", "The two train losses are not comparable: the canvas scores the END fill of the whole answer "
              "region, the causal model only up to its first END.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
