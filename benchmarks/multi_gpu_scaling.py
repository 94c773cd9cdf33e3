"""Multi-GPU training (issue 7): the Sudoku recipe under `torchrun` on 1 and N GPUs of one host.

Three runs of `hrm train` (TRM-MLP, the `ours` recipe of time_to_accuracy.py, on-the-fly augmentation):
- `1gpu`: one process, global batch 768, evaluated every `--eval-every` steps (EMA weights, 16 segments, first
  1,000 hard test puzzles);
- `Ngpu`: N processes at the SAME global batch 768 (768/N rows each), same seed, same schedule, same
  evaluations. The loader draws each global batch and its augmentation once and hands each rank its slice, so
  the two runs see the same examples in the same order; they differ only in reduction order and in the random
  draws of ACT's halting exploration. Their accuracy curves should agree within noise.
- `Ngpu_weak`: N processes at N x 768 (768 rows each), `--weak-steps` steps, for weak scaling.

Throughput is the steady state from metrics.jsonl (`elapsed_s` every 20 steps), leaving out the first
`--skip-steps` steps (compilation, warm-up) and every interval that holds an evaluation.
Strong-scaling efficiency = t(1 GPU) / (N x t(N GPUs)) at global batch 768; weak-scaling efficiency =
examples/s per GPU with N GPUs / examples/s with one.

    python benchmarks/multi_gpu_scaling.py --gpus 2 --steps 2800 --train .gpu_data/sudoku-hard \
        --work /tmp/mg --out /tmp/mg/results
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from time_to_accuracy import COMMON, RECIPES, curve
from report import write_report

LOG_EVERY = 20


def train(name: str, gpus: int, config: str, overrides: list[str], work: Path) -> Path:
    run_dir = work / f"run_{name}"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}", "-m", "hrm", "train", "--config", config,
           "--out", str(run_dir), *overrides]
    print("$", " ".join(cmd), flush=True)
    start = time.perf_counter()
    with open(work / f"{name}.log", "w") as handle:
        subprocess.run(cmd, check=True, stdout=handle, stderr=subprocess.STDOUT)
    print(f"{name}: {(time.perf_counter() - start) / 60:.1f} min", flush=True)
    return run_dir


def steady_ms_per_step(metrics: Path, skip_steps: int, eval_every: int) -> float:
    """Mean ms per step over logged intervals after `skip_steps`, leaving out intervals with an evaluation."""
    elapsed = {r["step"]: r["elapsed_s"] for r in map(json.loads, metrics.read_text().splitlines())
               if "elapsed_s" in r}
    steps = sorted(s for s in elapsed if s >= skip_steps)
    seconds, count = 0.0, 0
    for lo, hi in zip(steps, steps[1:]):
        if eval_every and any(s % eval_every == 0 for s in range(lo, hi)):
            continue
        seconds += elapsed[hi] - elapsed[lo]
        count += hi - lo
    if count == 0:
        raise SystemExit(f"{metrics}: no logged steps after step {skip_steps}")
    return 1000.0 * seconds / count


def training_losses(metrics: Path, every: int) -> dict[int, float]:
    """The logged training loss (the mean over that step's global batch) every `every` steps."""
    return {r["step"]: r["loss"] for r in map(json.loads, metrics.read_text().splitlines())
            if "loss" in r and r["step"] % every == 0}


def markdown(result: dict) -> str:
    n = result["gpus"]
    lines = [f"# Multi-GPU training: TRM-MLP Sudoku recipe on 1 and {n} GPUs ({result['date']}, {result['device']})",
             "", f"`torchrun --standalone --nproc_per_node=K -m hrm train --config {result['config']} ...`, overrides "
             f"`{' '.join(result['overrides'])}`. Steady-state step time after step {result['skip_steps']}, "
             "evaluation intervals left out.", "",
             "| run | GPUs | global batch | rows per GPU | ms/step | examples/s | examples/s per GPU | efficiency |",
             "|---|---|---|---|---|---|---|---|"]
    for row in result["throughput"]:
        lines.append(f"| {row['run']} | {row['gpus']} | {row['global_batch']} | {row['global_batch'] // row['gpus']} "
                     f"| {row['ms_per_step']:.1f} | {row['examples_per_s']:,.0f} | "
                     f"{row['examples_per_s'] / row['gpus']:,.0f} | {row['efficiency']:.2f} |")
    lines += ["", "Efficiency: against one GPU at the same global batch (strong scaling: t1 / (N tN)) or at the "
              "same rows per GPU (weak scaling: per-GPU examples/s ratio).", "",
              "Accuracy at equal global batch 768 (EMA weights, first 1,000 hard test puzzles, all 16 segments):", "",
              f"| step | 1 GPU: exact | {n} GPUs: exact | 1 GPU: minutes | {n} GPUs: minutes |", "|---|---|---|---|---|"]
    by_step = {p["step"]: p for p in result["curves"][f"{n}gpu"]}
    for p in result["curves"]["1gpu"]:
        q = by_step.get(p["step"])
        if q is not None:
            lines.append(f"| {p['step']} | {p['exact_accuracy']:.3f} | {q['exact_accuracy']:.3f} | "
                         f"{p['minutes']:.1f} | {q['minutes']:.1f} |")
    one, many = result["losses"]["1gpu"], result["losses"][f"{n}gpu"]
    steps = sorted(set(one) & set(many), key=int)
    gaps = [abs(many[s] - one[s]) / one[s] for s in steps]
    lines += ["", f"Training loss at equal global batch (same batches and augmentations; the runs differ in reduction "
              f"order and ACT's exploration draws): mean relative difference {100 * sum(gaps) / len(gaps):.2f}% "
              f"over {len(steps)} logged steps, largest {100 * max(gaps):.2f}%.", "",
              f"| step | 1 GPU: loss | {n} GPUs: loss |", "|---|---|---|"]
    lines += [f"| {s} | {one[s]:.4f} | {many[s]:.4f} |" for s in steps if int(s) % 100 == 0]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpus", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2800, help="steps of the two accuracy runs (sets the schedule)")
    parser.add_argument("--eval-every", type=int, default=400)
    parser.add_argument("--weak-steps", type=int, default=300)
    parser.add_argument("--skip-steps", type=int, default=100, help="steps left out of the timing (compile, warm-up)")
    parser.add_argument("--train", type=Path, required=True, help="hard-profile dataset (train + test)")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--config", default="trm_sudoku", help="base config (a tiny one for a CPU smoke test)")
    parser.add_argument("--report-only", action="store_true", help="rebuild the report from WORK")
    parser.add_argument("overrides", nargs="*", help="extra key=value overrides, applied last")
    args = parser.parse_args()

    import torch

    n = args.gpus
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    base = COMMON + ["data.augment=sudoku"] + RECIPES["ours"] + [f"data.path={args.train}", f"log_every={LOG_EVERY}", *args.overrides]
    accuracy = base + [f"max_steps={args.steps}", f"eval_every={args.eval_every}", "global_batch_size=768"]
    # The weak run keeps the same schedule length so its learning rate matches the others' first steps.
    weak = base + [f"max_steps={args.weak_steps}", "eval_every=0", f"global_batch_size={768 * n}",
                   "data.eval_max_examples=100"]
    runs = {"1gpu": (1, accuracy), f"{n}gpu": (n, accuracy), f"{n}gpu_weak": (n, weak)}
    if not args.report_only:
        for name, (gpus, overrides) in runs.items():
            train(name, gpus, args.config, overrides, args.work)

    timing = {name: steady_ms_per_step(args.work / f"run_{name}" / "metrics.jsonl", args.skip_steps,
                                       args.eval_every if name != f"{n}gpu_weak" else 0) for name in runs}
    batches = {"1gpu": 768, f"{n}gpu": 768, f"{n}gpu_weak": 768 * n}
    one = 768 / timing["1gpu"]
    throughput = []
    for name, (gpus, _) in runs.items():
        rate = batches[name] / timing[name] * 1000.0
        efficiency = timing["1gpu"] / (gpus * timing[name]) if name != f"{n}gpu_weak" else rate / gpus / (one * 1000)
        throughput.append({"run": name, "gpus": gpus, "global_batch": batches[name], "ms_per_step": timing[name],
                           "examples_per_s": rate, "efficiency": efficiency})
    machine = {"date": date.today().isoformat(),
               "device": f"{n} x {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "CPU",
               "torch": torch.__version__}
    saved = args.out / "multi_gpu_scaling.json"
    if args.report_only and saved.exists():  # the report is rebuilt elsewhere: keep the runs' machine
        recorded = json.loads(saved.read_text())
        machine = {key: recorded[key] for key in machine}
    result = {**machine, "gpus": n, "config": args.config, "overrides": accuracy, "skip_steps": args.skip_steps,
              "throughput": throughput,
              "curves": {name: curve(args.work / f"run_{name}" / "metrics.jsonl") for name in ("1gpu", f"{n}gpu")},
              "losses": {name: training_losses(args.work / f"run_{name}" / "metrics.jsonl", LOG_EVERY)
                         for name in ("1gpu", f"{n}gpu")}}
    write_report(args.out / "multi_gpu_scaling", result, markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    sys.exit(main())
