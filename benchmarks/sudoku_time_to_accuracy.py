"""Time to accuracy on Sudoku (issue 4): train TRM-MLP with a recipe for a fixed wall-clock budget, then score.

One run = one recipe: `hrm train` on 1,000 puzzles of the hard default profile (`hrm data sudoku --aug 0`) with
on-the-fly augmentation, evaluating the EMA weights every `--eval-every` steps on the first 1,000 test puzzles
(all 16 segments); at the end the whole hard test split and a split of random minimal puzzles are scored
(`hrm eval`, all 16 segments plus adaptive halting), and the EMA weights are exported in bf16 for `hrm solve`.
The accuracy curve is against wall-clock minutes since training started (compilation and evaluations included).

    python benchmarks/sudoku_time_to_accuracy.py --recipe ours --minutes 20 \
        --train .gpu_data/sudoku-hard --minimal .gpu_data/sudoku-minimal --work /tmp/tta --out /tmp/tta/results

Recipes (TRM-MLP, 5M parameters, batch 768, stablemax, AdamATan2, weight decay 1.0, one optimizer step per
ACT segment, as configs/trm_sudoku.yaml):
- baseline: the authors' Sudoku recipe: lr 1e-4 after 2,000 warm-up steps, constant; EMA 0.999.
- ours: lr 2e-4 after 300 warm-up steps, cosine to 0.1x over the planned steps; EMA 0.997 (a shorter EMA
  window follows the fast phase of learning sooner).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

COMMON = ["data.augment=sudoku", "log.tensorboard=false", "log.progress=false", "log_every=20",
          "data.eval_max_examples=1000", "checkpoint_every=100000", "keep_checkpoints=1"]
RECIPES = {
    "baseline": ["optim.lr=1e-4", "optim.puzzle_emb_lr=1e-4", "optim.lr_warmup_steps=2000", "optim.lr_min_ratio=1.0",
                 "optim.ema_decay=0.999"],
    "ours": ["optim.lr=2e-4", "optim.puzzle_emb_lr=2e-4", "optim.lr_warmup_steps=300", "optim.lr_min_ratio=0.1",
             "optim.ema_decay=0.997"],
}


EVAL_DTYPES = ["float32", "bfloat16"]  # float32 is what `hrm solve` runs on CPU; bfloat16 is the GPU default


def run(cmd: list[str], log: Path) -> None:
    print("$", " ".join(cmd), flush=True)
    with open(log, "a") as handle:
        subprocess.run(cmd, check=True, stdout=handle, stderr=subprocess.STDOUT)


def last_json(log: Path) -> dict:
    return json.loads(log.read_text().strip().splitlines()[-1])


def curve(metrics_path: Path) -> list[dict]:
    """(step, minutes, exact accuracy of the EMA weights on the first 1,000 test puzzles) per evaluation."""
    elapsed, points = {}, []
    for line in metrics_path.read_text().splitlines():
        record = json.loads(line)
        if "elapsed_s" in record:
            elapsed[record["step"]] = record["elapsed_s"]
        if "eval/exact_accuracy" in record:
            step = record["step"]
            before = [s for s in elapsed if s <= step]
            minutes = elapsed[max(before)] / 60 if before else 0.0
            points.append({"step": step, "minutes": round(minutes, 2),
                           "exact_accuracy": record["eval/exact_accuracy"]})
    return points


def markdown(result: dict) -> str:
    lines = [f"# Sudoku time to accuracy: recipe `{result['recipe']}` ({result['date']}, {result['device']})", "",
             f"TRM-MLP on {result['train_puzzles']} training puzzles of the hard profile with on-the-fly "
             f"augmentation; {result['minutes_budget']} min budget; {result['steps']} optimizer steps in "
             f"{result['train_minutes']:.1f} min. Overrides: `{' '.join(result['overrides'])}`.", "",
             "| minutes | step | exact accuracy (EMA, first 1,000 hard test puzzles, 16 segments) |", "|---|---|---|"]
    lines += [f"| {p['minutes']:.1f} | {p['step']} | {p['exact_accuracy']:.3f} |" for p in result["curve"]]
    lines += ["", "Final scores of the exported weights (what `hrm solve` ships). Exact = all 16 segments, the "
              "authors' protocol; adaptive = each puzzle stops at its Q head's halt; verified = each puzzle stops at "
              "its first answer that obeys the sudoku rules (no labels read; for a unique puzzle that is the answer); "
              "both capped at 16 segments.", "",
              "| test split (activations) | puzzles | exact @1 seg | exact @all segments | adaptive exact | mean seg. "
              "| verified exact | mean seg. |", "|---|---|---|---|---|---|---|---|"]
    for name, m in result["final"].items():
        cap = f"@{int(m['steps'])}/"  # the model's segment count: 16 for the papers' configs
        lines.append(f"| {name} | {m['count']} | {m['exact_accuracy@segment1']:.4f} | {m['exact_accuracy']:.4f} | "
                     f"{m['adaptive' + cap + 'exact_accuracy']:.4f} | {m['adaptive' + cap + 'mean_segments']:.2f} | "
                     f"{m['verified' + cap + 'exact_accuracy']:.4f} | {m['verified' + cap + 'mean_segments']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", choices=sorted(RECIPES), required=True)
    parser.add_argument("--minutes", type=float, required=True, help="training wall-clock budget")
    parser.add_argument("--max-steps", type=int, default=7200, help="planned steps (sets the cosine schedule)")
    parser.add_argument("--eval-every", type=int, default=400)
    parser.add_argument("--train", type=Path, required=True, help="hard-profile dataset (train + test)")
    parser.add_argument("--minimal", type=Path, default=None, help="random-minimal dataset (its test split is scored)")
    parser.add_argument("--work", type=Path, required=True, help="run folder and logs")
    parser.add_argument("--out", type=Path, required=True, help="folder for the JSON, markdown and exported weights")
    parser.add_argument("--report-only", action="store_true",
                        help="only rebuild the report from WORK (run_<recipe>/metrics.jsonl, eval_*.log)")
    parser.add_argument("--device-name", default=None, help="device to name in the report (default: this one)")
    parser.add_argument("--config", default="trm_sudoku", help="base config (a tiny one for a CPU smoke test)")
    parser.add_argument("overrides", nargs="*", help="extra key=value overrides, applied last")
    args = parser.parse_args()

    import torch

    device = args.device_name or (torch.cuda.get_device_name() if torch.cuda.is_available()
                                  else f"CPU ({platform.processor()})")
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    run_dir, log = args.work / f"run_{args.recipe}", args.work / f"{args.recipe}.log"
    overrides = COMMON + RECIPES[args.recipe] + [
        f"data.path={args.train}", f"max_minutes={args.minutes}", f"max_steps={args.max_steps}",
        f"eval_every={args.eval_every}", *args.overrides]
    weights = args.out / f"sudoku_trm_{args.recipe}.safetensors"
    tests = {"hard": args.train, **({"random_minimal": args.minimal} if args.minimal else {})}
    if not args.report_only:
        start = time.perf_counter()
        run([sys.executable, "-m", "hrm", "train", "--config", args.config, "--out", str(run_dir), *overrides], log)
        print(f"training done after {(time.perf_counter() - start) / 60:.1f} min", flush=True)
        run([sys.executable, "-m", "hrm", "export", str(run_dir), "--out", str(weights)], log)
        for name, data in tests.items():  # score what ships: the exported bf16 EMA weights
            for dtype in EVAL_DTYPES:
                run([sys.executable, "-m", "hrm", "eval", str(weights), "--data", str(data), "--dtype", dtype,
                     "--halt-caps", "1,2,4,8,16", "--batch-size", "1000"], args.work / f"eval_{name}_{dtype}.log")

    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    last_train = [r for r in records if "elapsed_s" in r][-1]
    train_meta = json.loads((args.train / "train" / "dataset.json").read_text())
    result = {"date": date.today().isoformat(), "device": device, "torch": torch.__version__, "recipe": args.recipe,
              "overrides": overrides, "minutes_budget": args.minutes, "steps": last_train["step"],
              "train_minutes": last_train["elapsed_s"] / 60, "train_puzzles": train_meta.get("total_groups"),
              "curve": curve(run_dir / "metrics.jsonl"),
              "final": {f"{name} ({dtype})": last_json(args.work / f"eval_{name}_{dtype}.log")
                        for name in tests for dtype in EVAL_DTYPES}}
    (args.out / f"sudoku_tta_{args.recipe}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"sudoku_tta_{args.recipe}.md").write_text(markdown(result))
    print(markdown(result))

if __name__ == "__main__":
    main()
