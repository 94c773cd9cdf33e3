"""Titans on associative recall far beyond the attention window (CPU, single thread).

Each sequence stores 8 random key -> value pairs, then 32 distractors, then asks 8 of the keys: the
answers lie 32+ positions back, 4x the attention window. MAC, MAG, MAL and sliding-window attention alone
(same width, window and training) are trained from scratch with the same seed, then scored on held-out
sequences: recall of stored keys; the same trained model with memory writes switched off (theta = 0);
and queries of keys the sequence never stored (scored against the replaced key's value). Chance is 1/16
for a blind guess; naming a random stored pair's value scores 1/8 + 7/8 * 1/16 = 0.18 (values repeat).

    python benchmarks/neat_titans.py --out benchmarks/results/neat_titans
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import torch
import torch.nn.functional as F

from hrm.neat.titans_variants import (TitansModel, associative_recall, recall_accuracy, vocab_size_for,
                                      without_memory_writes)
from report import write_report

TASK = dict(num_keys=32, num_values=16, num_pairs=8, num_distractors=32, num_queries=8)
MODEL = dict(dim=32, num_layers=1, num_heads=2, window=8, num_persistent=4)
VARIANTS = ("mag", "mal", "mac", "attention")


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def run_variant(variant: str, steps: int, batch_size: int, lr: float, test: dict) -> dict:
    torch.manual_seed(0)
    model = TitansModel(variant, vocab_size_for(TASK["num_keys"], TASK["num_values"]), **MODEL)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        batch = associative_recall(batch_size, generator=generator, **TASK)
        loss = F.cross_entropy(model(batch["ids"]).flatten(0, 1), batch["labels"].flatten(), ignore_index=-100)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # second-order spikes through the inner loop
        optimizer.step()
    seconds = time.perf_counter() - start
    result = {"variant": variant, "parameters": sum(p.numel() for p in model.parameters()),
              "train_seconds": round(seconds, 1), "ms_per_step": round(1000 * seconds / steps, 1),
              "final_train_loss": round(loss.item(), 4),
              "recall_stored": recall_accuracy(model, test["ids"], test["labels"]),
              "recall_unseen_keys": recall_accuracy(model, test["unseen_ids"], test["labels"])}
    if variant != "attention":
        result["recall_writes_off"] = recall_accuracy(without_memory_writes(model), test["ids"], test["labels"])
    print(json.dumps(result), flush=True)
    return result


def markdown(report: dict) -> str:
    rows = ["| variant | params | ms/step | recall, stored keys | same model, writes off | unseen keys |",
            "|---|---|---|---|---|---|"]
    for r in report["results"]:
        off = f"{r['recall_writes_off']:.3f}" if "recall_writes_off" in r else "n/a"
        rows.append(f"| {r['variant']} | {r['parameters']:,} | {r['ms_per_step']} | {r['recall_stored']:.3f} | {off} | "
                    f"{r['recall_unseen_keys']:.3f} |")
    t = report["task"]
    stored_guess = 1 / t["num_pairs"] + (1 - 1 / t["num_pairs"]) / t["num_values"]  # values are drawn with repeats
    return "\n".join([
        f"# Titans associative recall ({report['date']}, {report['machine']})",
        "",
        f"`{report['command']}`; torch {report['torch']}, {report['threads']} thread(s), {report['steps']} steps of "
        f"batch {report['batch_size']} (AdamW lr {report['lr']}, clip 1.0, seed 0) per variant, scored on "
        f"{report['test_sequences']} held-out sequences.",
        "",
        f"Task: {t['num_pairs']} key-value pairs, {t['num_distractors']} distractors, {t['num_queries']} queries; "
        f"{t['num_keys']} keys, {t['num_values']} values (chance {1 / t['num_values']:.4f}; naming a random stored "
        f"pair's value: {stored_guess:.3f}); attention window / MAC "
        f"segment {report['model']['window']}, width {report['model']['dim']}, {report['model']['num_layers']} layer.",
        "",
        *rows,
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (1 is fastest at this size)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--out", type=Path, help="write OUT.json and OUT.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    test = associative_recall(1024, generator=torch.Generator().manual_seed(12345), **TASK)
    results = [run_variant(v, args.steps, args.batch_size, args.lr, test) for v in args.variants]
    report = {"date": date.today().isoformat(), "machine": f"{cpu_name()}, {os.cpu_count()} cores",
              "torch": torch.__version__, "threads": args.threads, "command": "python " + " ".join(sys.argv),
              "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "test_sequences": 1024,
              "task": TASK, "model": MODEL, "results": results}
    if args.out:
        write_report(args.out, report, markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
