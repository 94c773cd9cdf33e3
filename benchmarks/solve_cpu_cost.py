"""CPU time and peak memory of `hrm solve maze` on fresh mazes, with and without the 8-image dihedral vote.

Generates `--mazes` Maze-Hard-sized mazes (30x30, shortest path > 110 moves) from `--seed`, writes each as the
text `hrm solve maze` reads, and runs the command on each in a fresh process under `/usr/bin/time`: the model's
own "load + solve" seconds (printed by `hrm solve`), the whole command's wall seconds and its peak resident
memory. Default settings of the bundled model's card (n = 6 latent recursions).

    python benchmarks/solve_cpu_cost.py --mazes 2 --seed 7 --out benchmarks/results/solve_cpu_cost
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

from hrm.data.maze import generate_mazes
from report import write_report

CHARS = " #.SGo"  # by maze token id: PAD, wall, open, start, goal, path (what `hrm solve maze` parses)


def maze_text(inputs: np.ndarray) -> str:
    return "\n".join("".join(CHARS[v] for v in row) for row in inputs) + "\n"


def timed_solve(path: Path, flags: list[str]) -> dict:
    """One `hrm solve maze PATH FLAGS` under /usr/bin/time: solve seconds, wall seconds, peak MB, verdict."""
    command = ["/usr/bin/time", "-f", "TIME %e %M", sys.executable, "-m", "hrm", "solve", "maze", str(path), *flags]
    result = subprocess.run(command, capture_output=True, text=True)
    wall, peak_kb = re.search(r"TIME ([\d.]+) (\d+)", result.stderr).groups()
    verdict = re.search(r"^(.*) \((\d+) segments?, ([\d.]+) s\)$", result.stdout, re.MULTILINE)
    if verdict is None:
        raise SystemExit(f"{' '.join(command)} printed no verdict:\n{result.stdout[-500:]}{result.stderr[-500:]}")
    return {"verdict": verdict.group(1), "solve_seconds": float(verdict.group(3)), "wall_seconds": float(wall),
            "peak_mb": round(int(peak_kb) / 1024), "exit": result.returncode}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mazes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True, help="path stem for the .json and .md")
    args = parser.parse_args()
    batch = generate_mazes(args.mazes, size=30, min_path=110, rng=np.random.default_rng(args.seed), seen=set())
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for index, inputs in enumerate(batch.inputs):
            path = Path(folder) / f"maze{index}.txt"
            path.write_text(maze_text(inputs.reshape(30, 30)))
            for name, flags in [("single pass", []), ("8-image vote", ["--dihedral-vote"])]:
                rows.append({"maze": index, "mode": name, **timed_solve(path, flags)})
                print(json.dumps(rows[-1]), flush=True)
    report = {"date": date.today().isoformat(), "machine": platform.processor() or "cpu",
              "command": "python " + " ".join(sys.argv), "seed": args.seed, "rows": rows}
    lines = [f"# `hrm solve maze` on the CPU ({report['date']})", "", f"`{report['command']}`: {args.mazes} fresh "
             f"mazes (seed {args.seed}), bundled model at its card's settings, one fresh process per call.", "",
             "| maze | mode | load + solve s | whole command s | peak MB | verdict |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['maze']} | {r['mode']} | {r['solve_seconds']:.2f} | {r['wall_seconds']:.2f} | {r['peak_mb']} | "
              f"{r['verdict']} |" for r in rows]
    write_report(args.out, report, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
