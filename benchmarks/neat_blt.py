"""BLT on Python source code: where entropy patches start, and whether the latent transformer, seeing several
times fewer positions than bytes, reaches a byte transformer's held-out loss (CPU, 1 thread).

The corpus is every distinct *.py file of the standard library; every 10th file is held out. Training reads
non-overlapping 256-byte windows of the training files in one seeded order, so no model sees a byte twice
and every model reads the same windows (a run of fewer steps reads a prefix of them). Steps:
1. Train the small causal entropy model on the first windows; score it on held-out code.
2. Pick global thresholds that give a target number of bytes per patch on unused training windows, then
   patch held-out windows: entropy at patch-start bytes versus the others (global and approximately-monotonic
   rules, fixed-size patches as the control), and how often patches start at the first byte of a word.
3. Train, on the next windows, a byte-level transformer baseline for --steps steps (equal steps = equal
   bytes) and each BLT run for --steps steps; for each BLT also a baseline with the BLT's training FLOPs
   (equal compute: 3x forward FLOPs per byte, plus the entropy model's forward for entropy patching).
   Score bits per byte on held-out windows, each model on the same windows, with the paired difference to
   the baseline and its standard error with windows grouped by held-out file.

    python benchmarks/neat_blt.py --out benchmarks/results/neat_blt
    python benchmarks/neat_blt.py --steps 1500 --runs entropy:4 --out benchmarks/results/neat_blt_long
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
from hrm.neat.blt.byte_vocab import OFFSET
from hrm.neat.blt.corpus import ByteCorpus, next_byte_loss, stdlib_sources
from hrm.neat.blt.evaluation import bits_per_window, mean_and_se
from hrm.neat.blt.patching import patch_ids
from report import write_report

CONTEXT = 256  # bytes per training and evaluation window
ENTROPY_MODEL = dict(dim=64, num_layers=2, num_heads=4)
BASELINE = dict(dim=128, num_layers=2, num_heads=4)  # as wide as the BLT latent; FLOPs/byte near BLT at ~4
BLT = dict(local_dim=64, latent_dim=128, num_encoder_layers=1, num_decoder_layers=1, num_latent_layers=4,
           num_local_heads=4, num_latent_heads=4, num_cross_heads=4, hash_table_size=4096)
RUNS = "entropy:4,entropy:8,fixed:4,fixed:8"  # BLT runs, patching:target bytes per patch (sizes 4 or 8)
SIMILAR_BITS = 0.05  # "similar loss": BLT at most this far above the baseline, held out; fixed before any run
Z_95 = 1.96  # two-sided 95% normal interval
NUM_CALIBRATION, NUM_FRESH = 64, 256  # unused training windows: thresholds and FLOPs; in-distribution score


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def seeded(make: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """Build a model from seed 0, whatever ran before: every model's initialisation is reproducible."""
    torch.manual_seed(0)
    return make()


def train(model: torch.nn.Module, corpus: ByteCorpus, offsets: torch.Tensor, batch_size: int, lr: float) -> dict:
    """AdamW with linear warmup and cosine decay over len(offsets) // batch_size steps; step i reads the
    windows at offsets[i * b:(i + 1) * b], so models given the same offsets see the same bytes."""
    steps = len(offsets) // batch_size
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 20)
    losses = torch.zeros(steps)
    start = time.perf_counter()
    for step, batch in enumerate(offsets[:steps * batch_size].split(batch_size)):
        for group in optimizer.param_groups:
            group["lr"] = lr * min((step + 1) / warmup, 0.5 * (1 + math.cos(math.pi * step / steps)))
        loss = next_byte_loss(model, corpus.windows_at(batch, CONTEXT))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses[step] = loss.detach()
    seconds = time.perf_counter() - start
    tenths = [round(chunk.mean().item() / math.log(2), 3) for chunk in losses.chunk(10)]
    return {"steps": steps, "train_bytes": steps * batch_size * CONTEXT, "train_seconds": round(seconds, 1),
            "ms_per_step": round(1000 * seconds / steps, 1), "train_curve_bits_per_byte": tenths}


def unigram_bits_per_byte(corpus: ByteCorpus, windows: torch.Tensor) -> float:
    """Cross-entropy of the training bytes' frequencies (add-one) on the windows' targets: the floor to beat."""
    counts = torch.bincount(corpus.data, minlength=256).double() + 1
    log_probs = (counts / counts.sum()).log2()
    return round(-log_probs[windows[:, 1:] - OFFSET].mean().item(), 4)


def sdpa_flops(query_shape, key_shape, *args, **kwargs) -> int:
    """Dense attention FLOPs (QK^T and AV), masked entries included: torch's counter skips CPU SDPA."""
    b, h, lq, d = query_shape
    return 4 * b * h * lq * key_shape[2] * d


@torch.no_grad()
def forward_flops_per_byte(model: torch.nn.Module, windows: torch.Tensor) -> int:
    """One window at a time, so no row pays for another row's padding patches. A BLT's patches are
    computed first: its count leaves out the entropy model (counted on its own)."""
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


def score(bits: torch.Tensor, files: torch.Tensor) -> dict:
    """Per-window bits/byte [n] -> mean, SE over windows, SE with windows grouped by source file."""
    mean, se_windows = mean_and_se(bits)
    return {"bits_per_byte": round(mean, 4), "se_windows": round(se_windows, 4),
            "se_files": round(mean_and_se(bits, files)[1], 4)}


def compare(blt_bits: torch.Tensor, baseline_bits: torch.Tensor, files: torch.Tensor) -> dict:
    """The paired held-out difference BLT - baseline on the same windows, its 95% interval with windows
    grouped by file, and the verdict against SIMILAR_BITS: 'similar or better' if the interval's upper end
    is at most SIMILAR_BITS, 'worse' if its lower end is above it, 'inconclusive' otherwise."""
    difference = score(blt_bits - baseline_bits, files)
    low = difference["bits_per_byte"] - Z_95 * difference["se_files"]
    high = difference["bits_per_byte"] + Z_95 * difference["se_files"]
    verdict = "similar or better" if high <= SIMILAR_BITS else "worse" if low > SIMILAR_BITS else "inconclusive"
    return {"difference": difference, "ci95": [round(low, 4), round(high, 4)], "verdict": verdict}


def markdown(report: dict) -> str:
    entropy_model, data = report["entropy_model"], report["data"]
    lines = [f"# BLT on Python source ({report['date']}, {report['machine']})", "",
             f"`{report['command']}`; torch {report['torch']}, {report['threads']} thread(s); load average "
             f"{report['load_average'][0]} at the start, {report['load_average'][1]} at the end; "
             f"{report['wall_minutes']} minutes wall.", "",
             f"Corpus: {data['train_files']} training / {data['held_out_files']} held-out files (every 10th of the "
             f"standard library's distinct *.py files; {data['train_bytes']:,} / {data['held_out_bytes']:,} bytes). "
             f"Training reads non-overlapping {CONTEXT}-byte windows in one seeded order, each at most once, the same "
             f"windows for every model; {data['eval_windows']} evenly spaced held-out windows from "
             f"{data['eval_files']} files are scored, and {NUM_FRESH} training-file windows no model trained on.", "",
             f"**Similar**, fixed before the runs: BLT's held-out bits/byte at most {SIMILAR_BITS} above the "
             "baseline's. Verdict from the 95% interval of the paired difference (same windows), with windows "
             f"grouped by held-out file: similar or better if its upper end is <= {SIMILAR_BITS}, worse if its lower "
             "end is above it, else inconclusive. The interval covers the choice of held-out windows, not training "
             "seeds (one seed per model).", "",
             f"Entropy model {ENTROPY_MODEL}: {entropy_model['parameters']:,} parameters, "
             f"{entropy_model['steps']} steps of batch {report['batch_size']}, held-out "
             f"{entropy_model['held_out']['bits_per_byte']} bits/byte; patching costs its forward, "
             f"{entropy_model['forward_flops_per_byte'] / 1e6:.2f} GFLOP per 1k bytes.", "",
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
              "", f"## Bits per byte (batch {report['batch_size']}, lr {report['lr']}, warmup and cosine decay)", "",
              "| model | steps | big-model positions per window | bytes per position | params (hash tables) | "
              "fwd GFLOP / 1k bytes | train GFLOP / 1k bytes | train minutes | last-tenth train bits/byte | "
              "unseen training-file windows | held-out bits/byte ± SE windows ± SE files |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in report["runs"]:
        held_out = row["held_out"]
        lines.append(f"| {row['model']} | {row['steps']} | {row['latent_positions_per_window']} | "
                     f"{row['bytes_per_position']} | {row['parameters']:,} ({row['hash_parameters']:,}) | "
                     f"{row['forward_flops_per_byte'] / 1e6:.2f} | {row['train_flops_per_byte'] / 1e6:.2f} | "
                     f"{row['train_seconds'] / 60:.1f} | {row['train_curve_bits_per_byte'][-1]} | "
                     f"{row['fresh_training_windows']['bits_per_byte']} | {held_out['bits_per_byte']} ± "
                     f"{held_out['se_windows']} ± {held_out['se_files']} |")
    lines += ["", "## BLT against the baseline, held out (paired, same windows)", "",
              "| BLT run | baseline | Δ bits/byte (BLT − baseline) | SE windows | SE files | 95% interval | verdict |",
              "|---|---|---|---|---|---|---|"]
    for row in report["comparisons"]:
        difference = row["difference"]
        lines.append(f"| {row['blt']} | {row['baseline']} | {difference['bits_per_byte']:+.4f} | "
                     f"{difference['se_windows']} | {difference['se_files']} | "
                     f"[{row['ci95'][0]:+.3f}, {row['ci95'][1]:+.3f}] | {row['verdict']} |")
    lines += ["", f"A unigram model of the training bytes scores {report['unigram_held_out_bits_per_byte']} bits/byte "
              "held out. Positions: the latent's patches for BLT (BOS patch included), bytes for the baseline. "
              "Forward FLOPs: torch's FlopCounterMode (matmuls) plus dense attention (masked entries included), one "
              "window at a time, on unused training windows; BLT's include its local encoder and decoder. Training "
              "FLOPs per byte: 3x forward, plus the entropy model's forward for entropy patching (its own training, "
              f"{entropy_model['train_flops'] / 1e12:.2f} TFLOP, is a one-off and left out). Train bits/byte: mean "
              "training loss over the last tenth of the steps, on windows seen for the first time.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps of each BLT and the equal-steps baseline")
    parser.add_argument("--entropy-steps", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--eval-windows", type=int, default=1024)
    parser.add_argument("--runs", default=RUNS, help=f"BLT runs besides the baselines (default {RUNS})")
    parser.add_argument("--out", type=Path, help="write OUT.json and OUT.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    began, load_at_start = time.perf_counter(), os.getloadavg()[0]

    train_files, held_out_files = stdlib_sources(held_out_every=10)
    corpus, held_out = ByteCorpus(train_files), ByteCorpus(held_out_files)
    eval_offsets = held_out.spread_offsets(args.eval_windows, CONTEXT)
    eval_windows, eval_files = held_out.windows_at(eval_offsets, CONTEXT), held_out.file_of(eval_offsets)
    slots = corpus.window_slots(CONTEXT, torch.Generator().manual_seed(0))
    calibration = corpus.windows_at(slots[-NUM_CALIBRATION - NUM_FRESH:-NUM_FRESH], CONTEXT)
    fresh = corpus.windows_at(slots[-NUM_FRESH:], CONTEXT)  # training files, windows no model trains on
    fresh_files = corpus.file_of(slots[-NUM_FRESH:])
    entropy_offsets = slots[:args.entropy_steps * args.batch_size]
    model_offsets = slots[len(entropy_offsets):-NUM_CALIBRATION - NUM_FRESH]
    report = {"date": date.today().isoformat(), "machine": f"{cpu_name()}, {os.cpu_count()} cores",
              "torch": torch.__version__, "threads": torch.get_num_threads(),
              "command": "python " + " ".join(sys.argv), "steps": args.steps, "batch_size": args.batch_size,
              "lr": args.lr, "context": CONTEXT, "similar_bits": SIMILAR_BITS,
              "data": {"train_files": len(train_files), "held_out_files": len(held_out_files),
                       "train_bytes": len(corpus), "held_out_bytes": len(held_out),
                       "eval_windows": args.eval_windows, "eval_files": len(eval_files.unique())},
              "entropy_model_config": ENTROPY_MODEL, "baseline_config": BASELINE, "blt_config": BLT,
              "unigram_held_out_bits_per_byte": unigram_bits_per_byte(corpus, eval_windows)}

    entropy_model = seeded(partial(EntropyModel, **ENTROPY_MODEL))
    entropy_flops = forward_flops_per_byte(entropy_model, calibration[:16])
    report["entropy_model"] = {"parameters": sum(p.numel() for p in entropy_model.parameters()),
                               "forward_flops_per_byte": entropy_flops,
                               **train(entropy_model, corpus, entropy_offsets, args.batch_size, args.lr)}
    report["entropy_model"]["train_flops"] = 3 * entropy_flops * report["entropy_model"]["train_bytes"]
    report["entropy_model"]["held_out"] = score(bits_per_window(entropy_model, eval_windows), eval_files)
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

    def build_baseline() -> torch.nn.Module:
        return seeded(partial(EntropyModel, **BASELINE))

    def build_blt(patching: str, size: int) -> torch.nn.Module:
        patcher = patchers[("global" if patching == "entropy" else "fixed", size)]
        return seeded(partial(BLTModel, BLTConfig(**BLT), patcher=patcher))

    def flops_per_byte(model: torch.nn.Module) -> tuple[int, int]:
        """(forward, training) FLOPs per byte; training is forward and backward (3x forward), plus the
        frozen entropy model's forward where it patches."""
        patcher = model.front_end.patcher if isinstance(model, BLTModel) else None
        uses_entropy = patcher is not None and patcher.entropy_model is not None
        forward = forward_flops_per_byte(model, calibration[:16])
        return forward, 3 * forward + (entropy_flops if uses_entropy else 0)

    baseline_flops = flops_per_byte(build_baseline())
    plan = [("byte transformer (baseline)", build_baseline, args.steps, baseline_flops)]  # name, builder, steps, FLOPs
    blt_runs = []
    for patching, size in (run.split(":") for run in args.runs.split(",")):
        name, make = f"BLT, {patching} patches of ~{size}", partial(build_blt, patching, int(size))
        flops = flops_per_byte(make())
        steps_at_equal_flops = round(args.steps * flops[1] / baseline_flops[1])
        blt_runs.append((name, steps_at_equal_flops))
        plan.append((name, make, args.steps, flops))
        if steps_at_equal_flops not in {steps for _, builder, steps, _ in plan if builder is build_baseline}:
            plan.append((f"byte transformer (baseline), {steps_at_equal_flops} steps", build_baseline,
                         steps_at_equal_flops, baseline_flops))
    if max(steps for _, _, steps, _ in plan) * args.batch_size > len(model_offsets):
        raise ValueError(f"the corpus has {len(model_offsets)} unused windows, too few for {plan}")

    report["runs"], bits = [], {}
    for name, make, steps, (forward_flops, train_flops) in plan:
        model = make()
        result = train(model, corpus, model_offsets[:steps * args.batch_size], args.batch_size, args.lr)
        model.eval()
        if isinstance(model, BLTModel):
            starts = model.front_end.patcher(inputs)
            positions = (patch_ids(starts)[:, -2] + 1).double().mean().item()
        else:
            positions = float(inputs.shape[1])
        hash_tables = model.front_end.encoder.hash_embedding if isinstance(model, BLTModel) else None
        bits[name] = bits_per_window(model, eval_windows)
        result = {"model": name, "parameters": sum(p.numel() for p in model.parameters()),
                  "hash_parameters": 0 if hash_tables is None else sum(p.numel() for p in hash_tables.parameters()),
                  "latent_positions_per_window": round(positions, 1),
                  "bytes_per_position": round(inputs.shape[1] / positions, 2),
                  "forward_flops_per_byte": forward_flops,
                  "train_flops_per_byte": train_flops, "train_flops": train_flops * steps * args.batch_size * CONTEXT,
                  **result, "fresh_training_windows": score(bits_per_window(model, fresh), fresh_files),
                  "held_out": score(bits[name], eval_files)}
        report["runs"].append(result)
        print(json.dumps(result), flush=True)

    baseline_at = {steps: name for name, builder, steps, _ in plan if builder is build_baseline}
    report["comparisons"] = []
    for name, steps_at_equal_flops in blt_runs:
        for label, steps in (("equal steps", args.steps), ("equal training FLOPs", steps_at_equal_flops)):
            report["comparisons"].append({"blt": name, "baseline": f"{label}: {steps} steps",
                                          **compare(bits[name], bits[baseline_at[steps]], eval_files)})
    report["load_average"] = [round(load_at_start, 2), round(os.getloadavg()[0], 2)]
    report["wall_minutes"] = round((time.perf_counter() - began) / 60, 1)

    text = markdown(report)
    print(text)
    if args.out:
        write_report(args.out, report, text)


if __name__ == "__main__":
    main()
