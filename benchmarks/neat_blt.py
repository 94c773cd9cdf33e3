"""BLT on Python source code: where entropy patches start, and what the latent transformer saves (CPU, 1 thread).

The corpus is the standard library's top-level *.py files; every 10th file is held out. Steps:
1. Train the small causal entropy model; score it on held-out code.
2. Pick global thresholds that give a target number of bytes per patch on training windows, then patch
   held-out windows: entropy at patch-start bytes versus the others (global and approximately-monotonic
   rules, fixed-size patches as the control), and how often patches start at the first byte of a word.
3. Train, with the same batches and steps, a byte-level transformer baseline and BLTs whose latent runs
   over entropy patches (and fixed patches) of several sizes; score bits per byte on held-out code,
   with forward FLOPs per byte and the positions the big (latent or baseline) transformer sees.

    python benchmarks/neat_blt.py --out benchmarks/results/neat_blt
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from datetime import date
from functools import partial
from pathlib import Path
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from hrm.neat.blt import BLTConfig, BLTModel, EntropyModel, Patcher, decode_ids, threshold_for_mean_patch_size
from hrm.neat.blt.byte_vocab import OFFSET, VOCAB_SIZE
from hrm.neat.blt.corpus import ByteCorpus, next_byte_loss, stdlib_sources
from hrm.neat.blt.patching import patch_ids

CONTEXT = 256  # bytes per training and evaluation window
ENTROPY_MODEL = dict(dim=64, num_layers=2, num_heads=4)
BASELINE = dict(dim=128, num_layers=2, num_heads=4)  # as wide as the BLT latent; FLOPs/byte near BLT at ~4
BLT = dict(local_dim=64, latent_dim=128, num_encoder_layers=1, num_decoder_layers=1, num_latent_layers=4,
           num_local_heads=4, num_latent_heads=4, num_cross_heads=4, hash_table_size=4096)
RUNS = "entropy:4,entropy:8,fixed:4,fixed:8"  # BLT runs, patching:target bytes per patch (sizes 4 or 8)


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def seeded(make: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """Build a model from seed 0, whatever ran before: every model's initialisation is reproducible."""
    torch.manual_seed(0)
    return make()


def train(model: torch.nn.Module, corpus: ByteCorpus, steps: int, batch_size: int, lr: float) -> dict:
    """AdamW with linear warmup and cosine decay; batches from a fixed seed, the same for every model."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 20)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lr * min((step + 1) / warmup, 0.5 * (1 + math.cos(math.pi * step / steps)))
        loss = next_byte_loss(model, corpus.random_windows(batch_size, CONTEXT, generator))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    seconds = time.perf_counter() - start
    return {"train_seconds": round(seconds, 1), "ms_per_step": round(1000 * seconds / steps, 1),
            "final_train_bits_per_byte": round(loss.item() / math.log(2), 4)}


@torch.no_grad()
def bits_per_byte(model: torch.nn.Module, windows: torch.Tensor, batch_size: int = 16) -> float:
    losses = [next_byte_loss(model, windows[i:i + batch_size]) for i in range(0, len(windows), batch_size)]
    return round(torch.stack(losses).mean().item() / math.log(2), 4)


def unigram_bits_per_byte(corpus: ByteCorpus, windows: torch.Tensor) -> float:
    """Cross-entropy of the training bytes' frequencies (add-one) on the windows' targets: the floor to beat."""
    counts = torch.bincount(corpus.data, minlength=VOCAB_SIZE).double() + 1
    log_probs = (counts / counts.sum()).log2()
    return round(-log_probs[windows[:, 1:]].mean().item(), 4)


def sdpa_flops(query_shape, key_shape, *args, **kwargs) -> int:
    """Dense attention FLOPs (QK^T and AV), masked entries included: torch's counter skips CPU SDPA."""
    b, h, lq, d = query_shape
    return 4 * b * h * lq * key_shape[2] * d


@torch.no_grad()
def forward_flops_per_byte(model: torch.nn.Module, windows: torch.Tensor) -> int:
    """One window at a time, so no row pays for another row's padding patches. A BLT's patches are
    computed first: its count leaves out the entropy model (reported on its own)."""
    inputs = [window[None, :-1] for window in windows]
    starts = [model.front_end.patcher(ids) if isinstance(model, BLTModel) else None for ids in inputs]
    mapping = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: sdpa_flops}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        for ids, patch_starts in zip(inputs, starts):
            model(ids) if patch_starts is None else model(ids, patch_starts)
    return round(counter.get_total_flops() / windows[:, :-1].numel())


def is_word_start(ids: torch.Tensor) -> torch.Tensor:
    """ids [b, l] -> bool [b, l]: a letter, digit or '_' whose previous byte is none of these."""
    byte = ids - OFFSET
    word = ((byte >= 48) & (byte <= 57)) | ((byte >= 65) & (byte <= 90)) | ((byte >= 97) & (byte <= 122)) | (byte == 95)
    previous = torch.cat((torch.zeros_like(word[:, :1]), word[:, :-1]), dim=1)
    return word & ~previous


def patching_stats(windows: torch.Tensor, entropies: torch.Tensor, starts: torch.Tensor) -> dict:
    """Over positions t = 2..N (t = 0, 1 always start): the entropy H_t of byte x_t at starts and elsewhere."""
    n = windows.shape[1] - 1
    h = entropies[:, 1:]  # H_t for t = 2..N (entropies[:, i] = H_{i+1})
    chosen = starts[:, 2:]
    word = is_word_start(windows)[:, 2:]
    top = h >= torch.quantile(h.double().flatten(), 0.8).item()
    num_latent = (patch_ids(starts)[:, n - 1] + 1).double()  # patches covering the N inputs
    return {"bytes_per_patch": round(n / num_latent.mean().item(), 2),
            "entropy_at_starts": round(h[chosen].mean().item(), 3),
            "entropy_elsewhere": round(h[~chosen].mean().item(), 3),
            "share_of_top_20pct_entropy_bytes_starting_a_patch": round(chosen[top].double().mean().item(), 3),
            "share_of_other_bytes_starting_a_patch": round(chosen[~top].double().mean().item(), 3),
            "share_of_starts_at_word_starts": round(word[chosen].double().mean().item(), 3),
            "share_of_bytes_at_word_starts": round(word.double().mean().item(), 3)}


def show_patches(window: torch.Tensor, starts: torch.Tensor, num_bytes: int) -> str:
    """Bytes of a window from its first line start on, with '|' before every patch start."""
    first = 1 + next(i for i, byte in enumerate(decode_ids(window[1:])) if byte == ord("\n"))
    text = ""
    for t in range(first + 1, first + num_bytes + 1):
        text += ("|" if starts[t] and t >= 2 else "") + decode_ids(window[t:t + 1]).decode("latin-1")
    return text


def markdown(report: dict) -> str:
    lines = [f"# BLT on Python source ({report['date']}, {report['machine']})", "",
             f"`{report['command']}`; torch {report['torch']}, {report['threads']} thread(s); "
             f"{report['train_files']} training / {report['held_out_files']} held-out stdlib files "
             f"({report['held_out_bytes']:,} held-out bytes); windows of {CONTEXT} bytes, "
             f"{report['eval_windows']} held-out windows scored.", "",
             f"Entropy model {ENTROPY_MODEL}: {report['entropy_model']['parameters']:,} parameters, "
             f"{report['entropy_steps']} steps of batch {report['batch_size']}, "
             f"held-out {report['entropy_model']['held_out_bits_per_byte']} bits/byte; patching costs its forward, "
             f"{report['entropy_model']['forward_flops_per_byte'] / 1e6:.2f} GFLOP per 1k bytes.", "",
             "## Where patches start (held-out windows)", "",
             "| patching | threshold | bytes/patch | H at starts | H elsewhere | top-20% H bytes that start | "
             "other bytes that start | starts at word starts (base rate) |", "|---|---|---|---|---|---|---|---|"]
    for name, row in report["patching"].items():
        threshold = "n/a" if row["threshold"] is None else f"{row['threshold']:.3f}"
        lines.append(f"| {name} | {threshold} | {row['bytes_per_patch']} | {row['entropy_at_starts']} | "
                     f"{row['entropy_elsewhere']} | {row['share_of_top_20pct_entropy_bytes_starting_a_patch']} | "
                     f"{row['share_of_other_bytes_starting_a_patch']} | {row['share_of_starts_at_word_starts']} "
                     f"({row['share_of_bytes_at_word_starts']}) |")
    lines += ["", "H: entropy in nats of the entropy model's prediction of that byte, over positions 2..N (0 and 1 "
              "always start). Word start: a letter, digit or '_' after any other byte. Held-out code patched "
              f"by '{report['example_patching']}', '|' before each patch start:", "", "```", report["example"], "```",
              "",
              f"## Bits per byte after {report['steps']} steps of batch {report['batch_size']} (same batches)", "",
              "| model | big-model positions per window | bytes per position | params | fwd GFLOP per 1k bytes | "
              "ms/step | bits/byte, training windows | held-out bits/byte |", "|---|---|---|---|---|---|---|---|"]
    for row in report["runs"]:
        lines.append(f"| {row['model']} | {row['latent_positions_per_window']} | {row['bytes_per_position']} | "
                     f"{row['parameters']:,} | {row['forward_flops_per_byte'] / 1e6:.2f} | {row['ms_per_step']} | "
                     f"{row['train_windows_bits_per_byte']} | {row['held_out_bits_per_byte']} |")
    lines += ["", f"A unigram model of the training bytes scores {report['unigram_held_out_bits_per_byte']} bits/byte "
              "held out. FLOPs counted by torch's FlopCounterMode (matmuls) plus dense attention (masked entries "
              "included); BLT's count includes its local encoder and decoder but not the entropy model (above). "
              "Positions: the latent's patches for BLT (BOS patch included), bytes for the baseline.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps of the baseline and each BLT")
    parser.add_argument("--entropy-steps", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--eval-windows", type=int, default=48)
    parser.add_argument("--runs", default=RUNS, help=f"BLT runs besides the baseline (default {RUNS})")
    parser.add_argument("--out", type=Path, help="write OUT.json and OUT.md")
    args = parser.parse_args()
    torch.set_num_threads(1)

    train_files, held_out_files = stdlib_sources(held_out_every=10)
    corpus, held_out = ByteCorpus(train_files), ByteCorpus(held_out_files)
    eval_windows = held_out.spread_windows(args.eval_windows, CONTEXT)
    calibration = corpus.spread_windows(48, CONTEXT)  # thresholds and train-set scores: training bytes
    report = {"date": date.today().isoformat(), "machine": f"{cpu_name()}, {os.cpu_count()} cores",
              "torch": torch.__version__, "threads": torch.get_num_threads(),
              "command": "python " + " ".join(sys.argv), "steps": args.steps, "entropy_steps": args.entropy_steps,
              "batch_size": args.batch_size, "lr": args.lr, "context": CONTEXT,
              "train_files": len(train_files), "held_out_files": len(held_out_files),
              "held_out_bytes": len(held_out), "eval_windows": args.eval_windows,
              "entropy_model_config": ENTROPY_MODEL, "baseline_config": BASELINE, "blt_config": BLT,
              "unigram_held_out_bits_per_byte": unigram_bits_per_byte(corpus, eval_windows)}

    entropy_model = seeded(partial(EntropyModel, **ENTROPY_MODEL))
    report["entropy_model"] = {"parameters": sum(p.numel() for p in entropy_model.parameters()),
                               "forward_flops_per_byte": forward_flops_per_byte(entropy_model, eval_windows[:8]),
                               **train(entropy_model, corpus, args.entropy_steps, args.batch_size, args.lr),
                               "held_out_bits_per_byte": bits_per_byte(entropy_model, eval_windows)}
    entropy_model.eval().requires_grad_(False)
    print(json.dumps(report["entropy_model"]), flush=True)

    inputs = eval_windows[:, :-1]
    entropies = entropy_model.entropies(inputs)
    calibration_entropies = entropy_model.entropies(calibration[:, :-1])
    patchers, report["patching"] = {}, {}
    for rule, size in (("global", 4), ("global", 8), ("monotonic", 4), ("fixed", 4), ("fixed", 8)):
        if rule == "fixed":
            threshold, patcher = None, Patcher(rule, patch_size=size)
        else:
            threshold = threshold_for_mean_patch_size(calibration_entropies, rule, size)
            patcher = Patcher(rule, threshold, entropy_model=entropy_model)
        patchers[(rule, size)] = patcher
        report["patching"][f"{rule} {size}"] = {"threshold": threshold,
                                                **patching_stats(eval_windows, entropies, patcher(inputs))}
        print(f"{rule} {size}", json.dumps(report["patching"][f"{rule} {size}"]), flush=True)
    report["example_patching"] = "global 4"
    report["example"] = show_patches(eval_windows[1], patchers[("global", 4)](inputs[1:2])[0], 160)

    runs = [("byte transformer (baseline)", partial(EntropyModel, **BASELINE))]
    for patching, size in (run.split(":") for run in args.runs.split(",")):
        size = int(size)
        patcher = patchers[("global" if patching == "entropy" else "fixed", size)]
        runs.append((f"BLT, {patching} patches of ~{size}", partial(BLTModel, BLTConfig(**BLT), patcher=patcher)))
    report["runs"] = []
    for name, make in runs:
        model = seeded(make)
        result = train(model, corpus, args.steps, args.batch_size, args.lr)
        model.eval()
        if isinstance(model, BLTModel):
            starts = model.front_end.patcher(inputs)
            positions = (patch_ids(starts)[:, -2] + 1).double().mean().item()
        else:
            positions = float(inputs.shape[1])
        result = {"model": name, "parameters": sum(p.numel() for p in model.parameters()),
                  "latent_positions_per_window": round(positions, 1),
                  "bytes_per_position": round(inputs.shape[1] / positions, 2),
                  "forward_flops_per_byte": forward_flops_per_byte(model, eval_windows[:8]), **result,
                  "train_windows_bits_per_byte": bits_per_byte(model, calibration),
                  "held_out_bits_per_byte": bits_per_byte(model, eval_windows)}
        report["runs"].append(result)
        print(json.dumps(result), flush=True)

    text = markdown(report)
    print(text)
    if args.out:  # results/neat_blt.json holds every number; the .md is the table view
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".md").write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
