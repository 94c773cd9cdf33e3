"""Test-time voting over the 8 rotated/mirrored images of every maze (`hrm eval --dihedral-vote`), in one run.

For each exported model: `hrm eval MODEL --data DATA --dihedral-vote` on the whole test split (all segments,
float32 activations as `hrm solve` runs on CPU); reports exact accuracy and valid shortest paths of image 0 (the
maze as given: the usual score) and of the voted answer, the mean agreement, and the wall time of the call.

    python benchmarks/dihedral_vote.py --data .gpu_data/maze-hard --models src/hrm/assets/maze_trm.safetensors \
        other.safetensors --out benchmarks/results/maze_dihedral_vote
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

import torch
from report import write_report

def hrm_eval(model: Path, data: Path, flags: list[str]) -> dict:
    """`hrm eval MODEL --data DATA FLAGS` in a fresh process: its JSON metrics plus the call's wall seconds."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "hrm", "eval", str(model), "--data", str(data), *flags]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    return {"seconds": round(time.perf_counter() - start, 1), **metrics}


def score(model: Path, data: Path, dtype: str, batch_size: int, max_examples: int) -> dict:
    flags = ["--dtype", dtype, "--batch-size", str(batch_size), "--dihedral-vote"]
    flags += ["--max-examples", str(max_examples)] if max_examples else []
    return {"model": str(model), **hrm_eval(model, data, flags)}


def render(report: dict) -> str:
    lines = [f"# Dihedral voting on {report['data']} ({report['date']}, {report['device']})", "",
             "`hrm eval MODEL --dihedral-vote`: each test maze and its 7 rotated/mirrored images solved separately, "
             "answers mapped back, the answer most images agree on kept (ties: higher mean sigmoid(q_halt), then "
             "the maze as given); no label or solver is read. 8x the inference compute. "
             f"Activations {report['dtype']}.", "",
             "| model | mazes | exact (as given) | **exact (vote)** | valid shortest path (as given) | "
             "**valid shortest path (vote)** | mean agreement (of 8) | seconds (all 8 images) |",
             "|---|---|---|---|---|---|---|---|"]
    for row in report["rows"]:
        lines.append(f"| `{Path(row['model']).name}` | {row['count']} | {row['exact_accuracy']:.4f} | "
                     f"**{row['vote8/exact_accuracy']:.4f}** | {row['maze/valid_shortest_path_accuracy']:.4f} | "
                     f"**{row['vote8/maze/valid_shortest_path_accuracy']:.4f}** | {row['vote8/mean_agreement']:.2f} | "
                     f"{row['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--models", type=Path, nargs="+", required=True)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--max-examples", type=int, default=0, help="only the first N test mazes (smoke runs)")
    parser.add_argument("--out", type=Path, required=True, help="path stem for the .json and .md")
    args = parser.parse_args()
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({platform.processor() or 'cpu'})"
    report = {"date": date.today().isoformat(), "device": device, "torch": torch.__version__, "data": str(args.data),
              "dtype": args.dtype, "rows": [score(m, args.data, args.dtype, args.batch_size, args.max_examples)
                                                                for m in args.models]}
    write_report(args.out, report, render(report))
    print(render(report))


if __name__ == "__main__":
    main()
