"""More latent recursions at inference for maze models trained with one segment, chosen on fresh mazes.

TRM shares its weights across the n latent recursions of a segment, so n can be changed at inference
(`hrm eval/solve --latent-recursions`). For each exported model: score every n in `--recursions` on a validation
set of freshly generated Maze-Hard mazes (another seed than the dataset's: `hrm data maze --out VAL --train-size 1
--test-size 300 --seed 1`), pick the n with the most valid shortest paths there (ties: the smaller n), then score
the trained n and the chosen n on the whole test split (and, with --vote, the 8-image dihedral vote at the chosen
n). The test split is read only after the choice. Float32 activations, as `hrm solve` runs on CPU.

    python benchmarks/maze_recursions.py --val VAL --test .gpu_data/maze-hard --recursions 4,5,6,7,8 \
        --models src/hrm/assets/maze_trm.safetensors --vote --out benchmarks/results/maze_recursions
"""

from __future__ import annotations

import argparse
import json
import platform
from datetime import date
from pathlib import Path

import torch
from dihedral_vote import hrm_eval
from report import write_report

VALID = "maze/valid_shortest_path_accuracy"


def score(model: Path, data: Path, recursions: int, args: argparse.Namespace, vote: bool = False) -> dict:
    flags = ["--dtype", "float32", "--batch-size", str(args.batch_size), "--latent-recursions", str(recursions)]
    flags += ["--dihedral-vote"] if vote else []
    flags += ["--max-examples", str(args.max_examples)] if args.max_examples else []
    return {"recursions": recursions, **hrm_eval(model, data, flags)}


def trained_recursions(model: Path) -> int:
    return int(json.loads(model.with_suffix(".json").read_text())["model"]["latent_recursions"])


def study(model: Path, args: argparse.Namespace) -> dict:
    trained = trained_recursions(model)
    candidates = sorted(set(args.recursions) | {trained})
    val = [score(model, args.val, n, args) for n in candidates]
    best = max(val, key=lambda row: (row[VALID], -row["recursions"]))["recursions"]
    test = [score(model, args.test, n, args) for n in sorted({trained, best})]
    row = {"model": str(model), "trained_recursions": trained, "chosen_recursions": best, "val": val, "test": test}
    if args.vote:
        row["test_vote"] = score(model, args.test, best, args, vote=True)
    return row


def render(report: dict) -> str:
    lines = [f"# Latent recursions at inference for one-segment maze models ({report['date']}, {report['device']})",
             "", f"`python benchmarks/maze_recursions.py` ({report['torch']}). n chosen on {report['val_count']} "
             f"fresh mazes (`{report['val']}`, not the test split), then the test split ({report['test']}) scored "
             "at the trained n and the chosen n. Valid shortest path: the answer is a shortest path from S to G "
             "(any of the tied ones); exact: the label's path. One segment, float32 activations.", "",
             "Validation, valid shortest paths by n:", "",
             "| model | trained n | " + " | ".join(f"n={n}" for n in report["recursions"]) + " | chosen n |",
             "|---|---|" + "---|" * len(report["recursions"]) + "---|"]
    for row in report["rows"]:
        by_n = {v["recursions"]: v[VALID] for v in row["val"]}
        cells = " | ".join(f"{by_n[n]:.3f}" if n in by_n else "" for n in report["recursions"])
        lines.append(f"| `{Path(row['model']).name}` | {row['trained_recursions']} | {cells} | "
                     f"{row['chosen_recursions']} |")
    lines += ["", "Test split:", "", "| model | n | mazes | exact | **valid shortest path** | seconds |",
              "|---|---|---|---|---|---|"]
    for row in report["rows"]:
        for t in row["test"]:
            tag = " (trained)" if t["recursions"] == row["trained_recursions"] else " (chosen)"
            lines.append(f"| `{Path(row['model']).name}` | {t['recursions']}{tag} | {t['count']} | "
                         f"{t['exact_accuracy']:.4f} | **{t[VALID]:.4f}** | {t['seconds']:.0f} |")
        if "test_vote" in row:
            v = row["test_vote"]
            lines.append(f"| `{Path(row['model']).name}` | {v['recursions']} (chosen) + 8-image vote | {v['count']} | "
                         f"{v['vote8/exact_accuracy']:.4f} | **{v['vote8/' + VALID]:.4f}** | {v['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=Path, required=True, help="maze dataset of fresh mazes (its test split)")
    parser.add_argument("--test", type=Path, required=True, help="the maze dataset whose test split is reported")
    parser.add_argument("--models", type=Path, nargs="+", required=True, help="exported .safetensors with .json")
    parser.add_argument("--recursions", type=lambda s: [int(x) for x in s.split(",")], default=[4, 5, 6, 7, 8])
    parser.add_argument("--vote", action="store_true", help="also the 8-image dihedral vote at the chosen n")
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--max-examples", type=int, default=0, help="only the first N mazes of each split (smoke)")
    parser.add_argument("--out", type=Path, required=True, help="path stem for the .json and .md")
    args = parser.parse_args()
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({platform.processor() or 'cpu'})"
    rows = [study(model, args) for model in args.models]
    report = {"date": date.today().isoformat(), "device": device, "torch": torch.__version__, "val": str(args.val),
              "test": str(args.test), "val_count": rows[0]["val"][0]["count"],
              "recursions": sorted({v["recursions"] for row in rows for v in row["val"]}), "rows": rows}
    text = render(report)
    write_report(args.out, report, text)
    print(text)


if __name__ == "__main__":
    main()
