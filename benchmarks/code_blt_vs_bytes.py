"""BLT code model versus the causal byte-level TRM at one equal, small CPU budget, on the synthetic benchmark.

    sudo .venv/bin/python benchmarks/code_blt_vs_bytes.py [--run runs/code_blt_vs_bytes] [--steps 1000]

Both get the same synthetic training rows (`hrm data code-synth`, seed 0, 6000 instances, no MBPP/stdlib
rows, prompt cut to 80 bytes, answers <= 47 bytes), seed 0, batch 32, code_trm's lr and schedule,
betas (0.9, 0.95) and EMA, the same step budget and one thread each; they train side by side on the 2 cores.
- bytes: the causal byte-level TRM (`code_causal_vs_canvas.train_one`: code_trm, causal attention mask,
  4 ACT segments), which runs its recursion over every byte position;
- plain: a control, a causal byte transformer as wide and deep as the byte TRM's net, trained by the BLT
  model's loop (hrm.codegen.blt_code, `model="plain"`), to separate "BLT" from "a plain causal LM";
- blt: `hrm.codegen.blt_code`: BLT (local encoder and decoder, hash n-grams) with TRM's recursion as the
  latent over entropy patches; the latent's net is the byte TRM's (width 64, 2 layers, T = 2, n = 2); its
  entropy model is trained on the training rows' bytes only.
Scoring: greedy, byte by byte, graded in the sandbox on 200 held-out instances (`seen`) and 200 instances
of held-out templates (`unseen`) of the synthetic benchmark (seed 2026). Writes
benchmarks/results/code_blt_vs_bytes.json and .md. Needs root and the sandbox users.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

import torch

from code_causal_vs_canvas import CONFIG, train_one, training_record
from hrm.codegen.blt_code import CHECKPOINT, BLTCodeConfig, evaluate_blt_code, read_saved, train_blt_code
from hrm.codegen.canvas import CanvasShape
from hrm.codegen.causal import write_causal_dataset
from hrm.codegen.causal_eval import evaluate_causal_checkpoint
from hrm.codegen.checkpoint_eval import percent
from hrm.codegen.report import machine_info
from hrm.codegen.training_data import build_code_dataset
from hrm.config import load_config, to_plain
from hrm.train.run_config import RunConfig
from report import write_report

RESULTS = Path(__file__).parent / "results" / "code_blt_vs_bytes"
DATE = "2026-11-24"
DEVICE = "CPU, 1 thread of a 2-core machine"
MODELS = ("bytes", "blt", "plain")


def blt_config(args: argparse.Namespace, model: str) -> BLTCodeConfig:
    return BLTCodeConfig(model=model, steps=args.steps, rule=args.rule, mean_patch_size=args.mean_patch_size,
                         entropy_steps=args.entropy_steps)


def train(root: Path, name: str, args: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    if name == "bytes":  # the causal byte TRM, trained as code_causal_vs_canvas.py trains it
        train_one(root, "causal", args.steps, args.max_minutes)
    else:  # blt, or the plain causal byte transformer trained by the same loop
        train_blt_code(root / "data_canvas", root / f"run_{name}", blt_config(args, name), args.max_minutes)


def evaluate(root: Path, name: str) -> None:
    torch.set_num_threads(1)
    if name == "bytes":
        result = evaluate_causal_checkpoint(root / "run_causal", root / "data_causal")
    else:
        result = evaluate_blt_code(root / f"run_{name}", root / "data_canvas")
    (root / f"eval_{name}.json").write_text(json.dumps(result, indent=1))


def side_by_side(root: Path, stage: str, names: list[str], args: argparse.Namespace) -> None:
    common = ["--run", str(root), "--steps", str(args.steps), "--max-minutes", str(args.max_minutes),
              "--rule", args.rule, "--mean-patch-size", str(args.mean_patch_size),
              "--entropy-steps", str(args.entropy_steps)]
    jobs = [subprocess.Popen([sys.executable, __file__, *common, f"--{stage}-only", name]) for name in names]
    if any(job.wait() for job in jobs):
        raise SystemExit(f"a {stage} run failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default="runs/code_blt_vs_bytes")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--max-minutes", type=float, default=16.0, help="a safety cap; the step budget rules")
    parser.add_argument("--rule", default="global", choices=["global", "monotonic", "fixed"])
    parser.add_argument("--mean-patch-size", type=float, default=4.0)
    parser.add_argument("--entropy-steps", type=int, default=200)
    parser.add_argument("--note", default="", help="a paragraph added to the report (run conditions)")
    parser.add_argument("--train-only", choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument("--eval-only", choices=MODELS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    root = Path(args.run)
    if args.train_only:
        return train(root, args.train_only, args)
    if args.eval_only:
        return evaluate(root, args.eval_only)
    if not (root / "data_canvas" / "build.json").exists():
        build_code_dataset(root / "data_canvas", num_train=6000, num_test=200, seed=0, shape=CanvasShape(80, 48),
                           corpora=[])
    if not (root / "data_causal").exists():
        write_causal_dataset(root / "data_canvas", root / "data_causal")
    done = {"bytes": root / "run_causal" / "checkpoints", "blt": root / "run_blt" / CHECKPOINT,
            "plain": root / "run_plain" / CHECKPOINT}
    side_by_side(root, "train", [name for name in MODELS if not done[name].exists()], args)
    side_by_side(root, "eval", [name for name in MODELS if not (root / f"eval_{name}.json").exists()], args)
    evals = {name: json.loads((root / f"eval_{name}.json").read_text()) for name in MODELS}
    saved = {name: read_saved(root / f"run_{name}")[0] for name in ("blt", "plain")}
    bytes_meta = json.loads(next((root / "run_causal" / "checkpoints").glob("step_*/meta.json")).read_text()) \
        if list((root / "run_causal" / "checkpoints").glob("step_*/meta.json")) else {}
    summary = {
        "date": DATE, "device": DEVICE, "note": args.note, "machine": machine_info(), "threads_per_run": 1,
        "command": shlex.join([sys.executable, *(a if a != args.note else "NOTE" for a in sys.argv)]),
        "config": {"bytes": to_plain(load_config(RunConfig, CONFIG, [f"max_steps={args.steps}"])),
                   "blt": saved["blt"]["config"], "plain": saved["plain"]["config"]},
        "data": json.loads((root / "data_canvas" / "build.json").read_text()),
        "training": {"bytes": {**training_record(root / "run_causal"),
                               "num_parameters": bytes_meta.get("num_parameters")},
                     "blt": saved["blt"]["record"], "plain": saved["plain"]["record"]},
        "greedy": {name: evals[name]["greedy"] for name in MODELS},
        "generate_seconds": {name: evals[name]["generate_seconds"] for name in MODELS},
        "patches": {"blt": evals["blt"]["patches"]},
        "completions_sample": {name: dict(list(evals[name]["completions"].items())[:5]) for name in MODELS},
    }
    write_report(RESULTS, summary, render(summary))
    print(render(summary))


def render(summary: dict) -> str:
    blt, byte_model = summary["config"]["blt"], summary["config"]["bytes"]["model"]
    patches = summary["patches"]["blt"]
    lines = [f"# BLT code model versus the causal byte-level TRM, equal step budget, {summary['date']}", "",
             f"- device: {summary['device']}; both runs side by side, one thread each (the machine was shared "
             f"with other work, so minutes are noisy); command: `{summary['command']}`",
             f"- data (both): synthetic rows only, {json.dumps(summary['data']['rows'])}; prompt cut to "
             f"{summary['data']['canvas']['prompt_len']} bytes, answers up to "
             f"{summary['data']['canvas']['answer_len'] - 1} bytes + end",
             f"- bytes: causal byte TRM (code_trm): hidden {byte_model['hidden_dim']}, {byte_model['num_layers']} "
             f"layers, T={byte_model['deep_recursions']}, n={byte_model['latent_recursions']}, "
             f"{byte_model['max_segments']} ACT segments, over every byte",
             f"- blt: local width {blt['blt']['local_dim']} (1 encoder, {blt['blt']['num_decoder_layers']} decoder "
             f"layer), hash n-grams {tuple(blt['blt']['ngram_sizes'])} x {blt['blt']['hash_table_size']} rows, "
             f"latent = TRM recursion (width {blt['blt']['latent_dim']}, {blt['blt']['num_latent_layers']} layers, "
             f"T={blt['blt']['deep_recursions']}, n={blt['blt']['latent_recursions']}) over "
             f"'{blt['rule']}' entropy patches (target ~{blt['mean_patch_size']} bytes), entropy model trained "
             f"{blt['entropy_steps']} steps on the training rows' bytes "
             f"({summary['training']['blt']['patching'].get('entropy_train_bits_per_byte', float('nan')):.2f} "
             f"bits/byte on them)",
             f"- both: batch {blt['batch_size']}, seed {blt['seed']}, lr {blt['lr']} (warmup "
             f"{blt['warmup_steps']}, then constant), betas (0.9, 0.95), weight decay {blt['weight_decay']}, EMA "
             f"{blt['ema_decay']} (bytes: the trainer's AdamATan2; blt: AdamW, gradient clip {blt['clip']}); "
             "greedy decoding byte by byte (bytes: all 4 ACT segments per byte)",
             f"- plain (a control, not BLT): a causal byte transformer over every byte (width "
             f"{summary['config']['plain']['plain_dim']}, {summary['config']['plain']['plain_layers']} layers, "
             f"SwiGLU x{summary['config']['plain']['plain_expansion']}: the byte TRM's net without its recursion), "
             "trained by exactly BLT's loop (same rows, loss, optimizer, EMA, steps)", "",
             "| model | parameters | steps | train minutes | final train lm_loss | greedy, all | greedy, seen "
             "(held-out instances) | greedy, unseen (held-out templates) | syntax-valid | bytes per latent position "
             "| generation s (400 tasks) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in MODELS:
        run, greedy = summary["training"][name], summary["greedy"][name]
        per_position = f"{patches['bytes_per_patch']:.2f}" if name == "blt" else "1.00"
        params = run.get("num_parameters")
        lines.append(f"| {name} | {params:,} | {run['steps']} | {run['minutes']:.1f} | "
                     f"{run['final_train_lm_loss']:.2g} | {percent(greedy['all'].get('pass@1'))} | "
                     f"{percent(greedy['seen'].get('pass@1'))} | {percent(greedy['unseen'].get('pass@1'))} | "
                     f"{percent(greedy['all'].get('syntax_valid_rate'))} | {per_position} | "
                     f"{summary['generate_seconds'][name]:.0f} |")
    lines += ["", f"Patches (BLT, over the benchmark's prompts and its greedy answers): {patches['bytes']:,} input "
              f"positions (BOS, prompt, answer marker, answer) in {patches['patches']:,} patches, "
              f"{patches['mean_bytes_per_row']:.1f} bytes and {patches['mean_patches_per_row']:.1f} latent "
              "positions per row. BLT's train minutes include its entropy model "
              f"({summary['training']['blt']['patching'].get('seconds', 0) / 60:.1f} min). The train losses are "
              "both next-byte cross-entropy over the answer bytes and the end marker, but the byte TRM's is "
              "logged per ACT segment (its carry), so compare them loosely.", ""]
    if summary.get("note"):
        lines += [summary["note"], ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
