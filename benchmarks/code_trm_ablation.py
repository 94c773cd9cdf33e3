"""Why the causal code TRM learned slowly: loss, ACT segments and the 1-step gradient, one at a time (CPU).

Each variant is `hrm train --config code_trm` on the causal rows of benchmarks/code_blt_vs_bytes.py (same 6,000
synthetic rows, seed 0) with the causal mask and the variant's overrides; the 1,000-step variants are then
scored greedily on the synthetic benchmark (`evaluate_causal_checkpoint`: 200 held-out instances, 200 instances
of held-out templates, sandboxed). The default variant and the plain-transformer control are read from
code_blt_vs_bytes.py's run folder. Writes benchmarks/results/code_trm_ablation.{json,md}.

    sudo .venv/bin/python benchmarks/code_trm_ablation.py --root runs/code_blt_vs_bytes --work runs/code_trm_ablation
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from report import write_report

VARIANTS = {  # name: (steps, overrides on top of code_trm + the causal mask)
    "softmax, 4 ACT segments": (200, ["model.loss=softmax"]),
    "stablemax, 1 segment": (100, ["model.max_segments=1"]),
    "softmax, 1 segment": (1000, ["model.loss=softmax", "model.max_segments=1"]),
    "softmax, 1 segment, no puzzle token": (200, ["model.loss=softmax", "model.max_segments=1",
                                                  "model.puzzle_emb_dim=0", "model.num_puzzle_tokens=0"]),
    "softmax, 1 segment, T=1": (1000, ["model.loss=softmax", "model.max_segments=1", "model.deep_recursions=1"]),
}
DEFAULT, PLAIN = "default (stablemax, 4 ACT segments, T=2)", "plain causal transformer (control)"


def folder(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def losses(metrics: Path, at: tuple[int, ...] = (100, 200, 1000)) -> dict[int, float]:
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    return {r["step"]: round(r["train/lm_loss"], 4) for r in records if "train/lm_loss" in r and r["step"] in at}


def train(run: Path, data: Path, steps: int, overrides: list[str]) -> None:
    """`hrm train --config code_trm` with the causal mask on `data` into `run`, unless it has checkpoints."""
    if not (run / "checkpoints").exists():
        subprocess.run([sys.executable, "-m", "hrm", "train", "--config", "code_trm", "--out", str(run),
                        f"data.path={data}", f"max_steps={steps}", f"checkpoint_every={steps}", "eval_every=0",
                        "model.extensions.causal_answer.prompt_len=80", *overrides], check=True)


def greedy(result: dict) -> dict:
    g = result["greedy"]
    return {"seen": g["seen"]["pass@1"], "unseen": g["unseen"]["pass@1"], "syntax_valid": g["all"]["syntax_valid_rate"]}


def folders_parser(doc: str, name: str) -> argparse.ArgumentParser:
    """--root (code_blt_vs_bytes.py's folder), --work (runs/NAME) and --out (benchmarks/results/NAME)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("runs/code_blt_vs_bytes"),
                        help="code_blt_vs_bytes.py's folder: data_causal, run_causal, run_plain, eval_*.json")
    parser.add_argument("--work", type=Path, default=Path("runs") / name)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results") / name)
    return parser


def main() -> None:
    args = folders_parser(__doc__, "code_trm_ablation").parse_args()
    import torch

    from hrm.codegen.causal_eval import evaluate_causal_checkpoint

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    data = args.root / "data_causal"
    train_loss = {DEFAULT: losses(args.root / "run_causal" / "metrics.jsonl")}
    scores = {DEFAULT: greedy(json.loads((args.root / "eval_bytes.json").read_text()))}
    for name, (steps, overrides) in VARIANTS.items():
        run = args.work / folder(name)
        train(run, data, steps, overrides)
        train_loss[name] = losses(run / "metrics.jsonl")
        if steps == 1000:
            scored = run / "eval_greedy.json"
            if not scored.exists():
                scored.write_text(json.dumps(evaluate_causal_checkpoint(run, data), indent=1))
            scores[name] = greedy(json.loads(scored.read_text()))
    train_loss[PLAIN] = losses(args.root / "run_plain" / "metrics.jsonl")
    scores[PLAIN] = greedy(json.loads((args.root / "eval_plain.json").read_text()))

    command = " ".join(["python", "benchmarks/code_trm_ablation.py", *sys.argv[1:]])
    summary = {"date": "2026-11-24", "device": "CPU, 1-2 threads of a 2-core machine (shared)", "command": command,
               "variants": {k: v[1] for k, v in VARIANTS.items()}, "train_lm_loss": train_loss,
               "greedy_1000_steps": scores}
    lines = ["# Why the causal code TRM learned slowly: loss, ACT segments, 1-step gradient (2026-11-24, CPU)", "",
             f"`{command}`: `hrm train --config code_trm` with the causal mask on code_blt_vs_bytes.py's 6,000 "
             "synthetic rows (seed 0, batch 32, 164k parameters), one variant at a time; short probes stop at "
             "100-200 steps. The default and the plain-transformer control are that benchmark's runs.", "",
             "| variant | overrides | train lm_loss @100 | @200 | @1000 |", "|---|---|---|---|---|"]
    for name, loss in train_loss.items():
        extra = " ".join(VARIANTS[name][1]) if name in VARIANTS else "–"
        lines.append(f"| {name} | `{extra}` | {loss.get(100, '–')} | {loss.get(200, '–')} | {loss.get(1000, '–')} |")
    lines += ["", "Greedy pass@1 after 1,000 steps (200 held-out instances / 200 instances of held-out templates, "
              "execution-checked):", "", "| variant | held-out instances | held-out templates | syntax-valid |",
              "|---|---|---|---|"]
    lines += [f"| {name} | {100 * s['seen']:.1f}% | {100 * s['unseen']:.1f}% | {100 * s['syntax_valid']:.1f}% |"
              for name, s in scores.items()]
    lines += ["", "Reading: the stablemax loss, several ACT segments per example (one optimizer step per segment, "
              "with a carry) and the 1-step gradient (T=2: the first deep recursion under no-grad) each hold the "
              "byte-level code model back; with softmax, one segment and T=1 (n=2 latent steps, all with "
              "gradients; configs/code_trm_causal.yaml) the same TRM beats the plain transformer of its size. "
              "One seed each; the puzzle-embedding token makes no difference."]
    write_report(args.out, summary, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
