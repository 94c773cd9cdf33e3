"""Training and evaluation throughput of our HRM and TRM at the papers' Sudoku shapes, in one run.

Measures, per model: ms per training step (one ACT segment + backward + both optimizers, as the trainer
runs it), examples/s, TFLOP/s (FLOPs counted by torch's FlopCounterMode on the same step) and the fraction
of a bf16 matmul peak measured in the same run; evaluation at all 16 segments (puzzles/s); and, separately
(`--trained`), what halting adds on real puzzles with trained weights: puzzles/s, mean segments and exact
accuracy when each puzzle stops at its Q head's halt or at its first rule-abiding answer, with batches that
wait for their slowest row (`predict`) and with continuous batching (`stream_predict`: a stopped row takes the
next puzzle at once).

    python benchmarks/gpu_throughput.py --out benchmarks/results/gpu_throughput   # on a GPU
    python benchmarks/gpu_throughput.py --quick                                    # CPU smoke test
    python benchmarks/gpu_throughput.py --fused --out benchmarks/results/gpu_fused # + Triton kernels, beside default
    python benchmarks/gpu_throughput.py --profile --out benchmarks/results/gpu_time_budget  # kernel time by kind
    python benchmarks/gpu_throughput.py --models none --trained src/hrm/assets/sudoku_trm.safetensors \
        --puzzles .gpu_data/sudoku-hard --out benchmarks/results/gpu_halting        # halting on real puzzles
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import time
from datetime import date

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

import hrm.nn.fused
from hrm.models import ACTLoss, Carry, HRMConfig, TRMConfig, build_model
from hrm.train.optim import AdamATan2, SignSGD
from report import write_report

SEQ_LEN, VOCAB = 81, 11  # Sudoku


def model_configs(dtype: str) -> dict[str, object]:
    common = dict(seq_len=SEQ_LEN, vocab_size=VOCAB, num_puzzle_ids=1, forward_dtype=dtype, hidden_dim=512,
                  num_heads=8, expansion=4.0, puzzle_emb_dim=512, max_segments=16)
    return {
        "hrm": HRMConfig(high_cycles=2, low_cycles=2, high_layers=4, low_layers=4, **common),
        "trm_attention": TRMConfig(deep_recursions=3, latent_recursions=6, num_layers=2, token_mixer="attention",
                                   pos_encoding="rope", num_puzzle_tokens=16, **common),
        "trm_mlp": TRMConfig(deep_recursions=3, latent_recursions=6, num_layers=2, token_mixer="mlp",
                             pos_encoding="none", num_puzzle_tokens=16, **common),
    }


def random_batch(batch_size: int, device: torch.device, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator(device="cpu").manual_seed(seed)
    inputs = torch.randint(1, VOCAB, (batch_size, SEQ_LEN), generator=g)
    labels = torch.randint(2, VOCAB, (batch_size, SEQ_LEN), generator=g)
    return {"inputs": inputs.int().to(device), "labels": labels.int().to(device),
            "puzzle_identifiers": torch.zeros(batch_size, dtype=torch.int32, device=device)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, size: int) -> float:
    """bf16 TFLOP/s of a large square matmul on random data (median of repeats)."""
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(10):
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        times.append(time.perf_counter() - start)
    return 2 * size**3 / sorted(times)[len(times) // 2] / 1e12


class TrainStep:
    """The trainer's step: one segment, backward, AdamATan2 + SignSGD, carry kept."""

    def __init__(self, config, batch_size: int, device: torch.device, compile_mode: str | None,
                 fused: str = "none") -> None:
        torch.manual_seed(0)
        self.model = build_model(config).to(device)
        use_fused_kernels(self.model, fused)
        self.loss = ACTLoss(self.model)
        self.step_fn = torch.compile(self.loss, dynamic=False, mode=compile_mode) if compile_mode else self.loss
        self.graphs = compile_mode in ("reduce-overhead", "max-autotune")  # CUDA graphs own their outputs
        self.optimizers = [AdamATan2(self.model.parameters(), lr=1e-4, weight_decay=0.1),
                           SignSGD(self.model.reasoner.puzzle_emb, lr=1e-4, weight_decay=0.1)]
        self.batches = [random_batch(batch_size, device, seed) for seed in range(4)]
        self.batch_size = batch_size
        self.carry = None
        self.calls = 0

    def __call__(self) -> None:
        batch = self.batches[self.calls % len(self.batches)]
        self.calls += 1
        self.model.train()
        if self.carry is None:
            self.carry = self.model.initial_carry(batch)
        if self.graphs:
            torch.compiler.cudagraph_mark_step_begin()
        self.carry, loss, _, _ = self.step_fn(self.carry, batch)
        if self.graphs:
            self.carry = Carry.from_state_dict({k: v.clone() for k, v in self.carry.state_dict().items()})
        (loss / self.batch_size).backward()
        for optimizer in self.optimizers:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)


def use_bmm_token_mixer() -> None:
    """Experiment: the MLP token mixer on [b, l, d] with matmuls over l (no transposes), same math."""
    import torch.nn.functional as F

    from hrm.nn.block import Block
    from hrm.nn.rms_norm import rms_norm

    original = Block.forward

    def forward(self, h, rope=None):
        if self.token_mixer != "mlp":
            return original(self, h, rope)
        gate, up = torch.matmul(self.token_mlp.gate_up_proj.weight.to(h.dtype), h).chunk(2, dim=1)
        mixed = torch.matmul(self.token_mlp.down_proj.weight.to(h.dtype), F.silu(gate) * up)
        x = (h + mixed).float()
        h = (x * torch.rsqrt(x.square().mean(1, keepdim=True) + self.eps)).to(h.dtype)  # RMS over positions
        return rms_norm(h + self.mlp(h), self.eps)

    Block.forward = forward


def use_fused_kernels(model: torch.nn.Module, fused: str) -> None:
    """Experiment: Triton SwiGLU-GEMM ("swiglu"), plus the down GEMM with residual + RMSNorm ("all"),
    on the gradient-free bf16 CUDA block calls; a no-op elsewhere (the PyTorch path runs)."""
    if fused != "none":
        hrm.nn.fused.enable(model, rms_norm_epilogue=fused == "all")


def count_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def time_calls(fn, device: torch.device, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync(device)
    return (time.perf_counter() - start) / repeats


def eval_pass(model, forward, batch: dict[str, torch.Tensor], segments: int) -> None:
    """All `segments` segments from a fresh carry, the authors' evaluation."""
    carry = model.initial_carry(batch)
    for _ in range(segments):
        carry, _ = forward(carry, batch)


def bench_model(name: str, config, batch_size: int, device: torch.device, compile_mode: str | None, peak: float,
                warmup: int, repeats: int, fused: str = "none") -> dict:
    step = TrainStep(config, batch_size, device, compile_mode=None)
    train_flops = count_flops(step)  # eager, same math as the compiled step (FlopCounterMode sees no Triton op)
    if compile_mode or fused != "none":
        step = TrainStep(config, batch_size, device, compile_mode, fused)
    train_s = time_calls(step, device, warmup, repeats)

    model = step.model
    model.eval()
    forward = torch.compile(model, dynamic=False, mode=compile_mode) if compile_mode else model
    batch = random_batch(batch_size, device, seed=99)
    segments = config.max_segments
    with torch.inference_mode():
        hrm.nn.fused.disable(model)
        eval_flops = count_flops(lambda: eval_pass(model, model, batch, segments))
        use_fused_kernels(model, fused)
        eval_s = time_calls(lambda: eval_pass(model, forward, batch, segments), device,
                            max(1, warmup // 4), max(1, repeats // 4))
    return {
        "model": name,
        "fused": fused,
        "parameters": model.reasoner.num_parameters(),
        "batch_size": batch_size,
        "train_ms_per_step": 1e3 * train_s,
        "train_examples_per_s": batch_size / train_s,
        "train_tflop_per_step": train_flops / 1e12,
        "train_tflops": train_flops / train_s / 1e12,
        "train_fraction_of_peak": train_flops / train_s / 1e12 / peak if peak else None,
        "eval_segments": segments,
        "eval_ms_per_batch": 1e3 * eval_s,
        "eval_puzzles_per_s": batch_size / eval_s,
        "eval_tflops": eval_flops / eval_s / 1e12,
        "eval_fraction_of_peak": eval_flops / eval_s / 1e12 / peak if peak else None,
    }


# The authors' training ms/step on the H100 (issue 4's table) and the speed-up asked of each model.
REFERENCE_TRAIN = {"hrm": (81.4, 1.5), "trm_attention": (103.7, 1.5), "trm_mlp": (146.0, 2.0)}

# Kernel name -> what it does, first match wins (inductor names its Triton kernels after the ops they fuse).
KERNEL_KINDS = [
    ("matmul", re.compile(r"nvjet|gemm|cutlass|xmma|cublas|splitKreduce|triton_tem|swiglu_matmul|matmul_add")),
    ("SwiGLU elementwise", re.compile(r"triton_.*silu")),
    ("RMSNorm (+ residual)", re.compile(r"triton_.*rsqrt")),
    ("attention", re.compile(r"^(?!triton_).*(sdpa|flash|fmha|cudnn)")),
    ("optimizer", re.compile(r"multi_tensor_apply|foreach")),
]


def kernel_kind(name: str) -> str:
    return next((kind for kind, pattern in KERNEL_KINDS if pattern.search(name)), "other (RoPE, layout, copies)")


def profile_step(name: str, config, batch_size: int, device: torch.device, compile_mode: str | None, rows: int,
                 fused: str = "none", steps: int = 3) -> tuple[dict, str]:
    """Where a compiled training step's time goes: GPU kernel time per step by kind (matmul, attention,
    SwiGLU elementwise, RMSNorm, optimizer, other) against the timed wall-clock step, whose excess over the
    kernel sum is launch gaps and host work; and the top kernels as a table."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    step = TrainStep(config, batch_size, device, compile_mode, fused)
    wall_ms = 1e3 * time_calls(step, device, 5, 10)
    activity, key = (ProfilerActivity.CUDA, "cuda_time_total") if device.type == "cuda" else \
        (ProfilerActivity.CPU, "cpu_time_total")
    with profile(activities=[activity]) as prof:
        time_calls(step, device, 0, steps)
    kinds: dict[str, float] = {}
    for event in prof.key_averages():
        if device.type == "cuda" and event.device_type != DeviceType.CUDA:
            continue
        ms = (event.self_device_time_total if device.type == "cuda" else event.self_cpu_time_total) / 1e3 / steps
        kind = kernel_kind(event.key)
        kinds[kind] = kinds.get(kind, 0.0) + ms
    kernel_ms = sum(kinds.values())
    reference_ms, speedup = REFERENCE_TRAIN[name]
    row = {"model": name, "fused": fused, "wall_ms_per_step": wall_ms, "kernel_ms_per_step": kernel_ms,
           "gaps_and_host_ms": wall_ms - kernel_ms, "kernel_ms_by_kind": kinds,
           "authors_ms_per_step": reference_ms, "target_ms_per_step": reference_ms / speedup,
           "matmul_plus_attention_ms": kinds.get("matmul", 0.0) + kinds.get("attention", 0.0)}
    table = prof.key_averages().table(sort_by=key, row_limit=rows, max_name_column_width=70)
    return row, f"## {name}: top kernels over {steps} training steps\n{table}"


def markdown_profile(results: dict) -> str:
    kinds = [kind for kind, _ in KERNEL_KINDS] + ["other (RoPE, layout, copies)"]
    lines = [f"# Where the training step's time goes ({results['date']}, {results['device']}, torch "
             f"{results['torch']})", "",
             f"Batch {results['batch_size']}, Sudoku shape, compile={results['compile']}, fused={results['fused']}; "
             "ms per training step: wall clock (timed), then GPU kernel time by kind (torch.profiler over 3 "
             "steps). The target is the authors' ms/step divided by the speed-up issue 4 asks.", "",
             "| model | wall | kernels | " + " | ".join(kinds) + " | gaps + host | authors | target | "
             "matmul + attention |", "|---" * (len(kinds) + 7) + "|"]
    for r in results["profile"]:
        by_kind = " | ".join(f"{r['kernel_ms_by_kind'].get(kind, 0.0):.1f}" for kind in kinds)
        lines.append(f"| {r['model']} | {r['wall_ms_per_step']:.1f} | {r['kernel_ms_per_step']:.1f} | {by_kind} | "
                     f"{r['gaps_and_host_ms']:.1f} | {r['authors_ms_per_step']:.1f} | {r['target_ms_per_step']:.1f} | "
                     f"{r['matmul_plus_attention_ms']:.1f} |")
    return "\n".join(lines) + "\n"


HALTING_MODES = {  # name: (predict or stream, adaptive, verify)
    "all segments (authors')": ("batch", False, None),
    "Q-head halt, batch waits for its slowest row": ("batch", True, None),
    "Q-head halt, continuous batching": ("stream", True, None),
    "verified halt, batch waits for its slowest row": ("batch", False, "sudoku"),
    "verified halt, continuous batching": ("stream", False, "sudoku"),
}


def bench_halting(trained: str, puzzles: str, batch_size: int, device: torch.device, fused: str,
                  limit: int) -> list[dict]:
    """Puzzles/s, mean segments and exact accuracy of a trained model on a real test split, per halting mode."""
    from hrm.data.format import read_split
    from hrm.eval.evaluate import predict
    from hrm.eval.load import load_trained_model
    from hrm.eval.stream import stream_predict
    from hrm.eval.verify import VERIFIERS

    model = load_trained_model(trained, device).model
    use_fused_kernels(model, fused)
    test = read_split(puzzles, "test").sets["all"]
    inputs = torch.as_tensor(np.asarray(test.inputs[:limit])).to(device)
    labels = torch.as_tensor(np.asarray(test.labels[:limit])).to(device)
    ids = torch.zeros(inputs.shape[0], dtype=torch.int32, device=device)

    def run(kind: str, adaptive: bool, verify) -> tuple[torch.Tensor, torch.Tensor]:
        if kind == "stream":
            return stream_predict(model, inputs, ids, batch_size, adaptive=adaptive, verify=verify)
        parts = [predict(model, {"inputs": inputs[i:i + batch_size], "puzzle_identifiers": ids[i:i + batch_size]},
                         adaptive=adaptive, verify=verify) for i in range(0, inputs.shape[0], batch_size)]
        return torch.cat([a for a, _, _ in parts]), torch.cat([u for _, u, _ in parts])

    rows = []
    for name, (kind, adaptive, verify_name) in HALTING_MODES.items():
        verify = VERIFIERS.get(verify_name) if verify_name else None
        with torch.inference_mode():
            run(kind, adaptive, verify)  # warm-up
            sync(device)
            start = time.perf_counter()
            answers, used = run(kind, adaptive, verify)
            sync(device)
            seconds = time.perf_counter() - start
        rows.append({"mode": name, "puzzles": int(inputs.shape[0]), "batch_size": batch_size,
                     "puzzles_per_s": inputs.shape[0] / seconds, "mean_segments": float(used.float().mean()),
                     "exact_accuracy": float((answers == labels).all(-1).float().mean())})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def markdown(results: dict) -> str:
    lines = [f"# GPU throughput ({results['date']}, {results['device']}, torch {results['torch']})", "",
             f"bf16 matmul peak measured in this run: {results['matmul_peak_tflops']:.0f} TFLOP/s; batch "
             f"{results['batch_size']}, Sudoku shape (81 cells); compile={results['compile']}; "
             f"fused={results.get('fused', 'none')}; evaluation runs all 16 segments."]
    if results["models"]:
        lines += ["", "| model | params | train ms/step | train examples/s | train TFLOP/s (of peak) | eval puzzles/s | "
                  "eval TFLOP/s (of peak) |", "|---|---|---|---|---|---|---|"]
    for r in results["models"]:
        fused = r.get("fused", "none")
        label = r["model"] if fused == "none" else f"{r['model']}, fused {fused}"
        lines.append(f"| {label} | {r['parameters'] / 1e6:.1f}M | {r['train_ms_per_step']:.1f} | "
                     f"{r['train_examples_per_s']:,.0f} | {r['train_tflops']:.0f} ({100 * (r['train_fraction_of_peak'] or 0):.0f}%) | "
                     f"{r['eval_puzzles_per_s']:,.0f} | {r['eval_tflops']:.0f} ({100 * (r['eval_fraction_of_peak'] or 0):.0f}%) |")
    if results.get("halting"):
        h = results["halting"]
        base = h["modes"][0]["puzzles_per_s"]
        lines += ["", f"Halting on real puzzles: `{h['trained']}` on the first {h['modes'][0]['puzzles']} test puzzles "
                  f"of `{h['puzzles']}`, batch {h['modes'][0]['batch_size']}, fused={h['fused']} (no compile).", "",
                  "| mode | puzzles/s | vs all segments | mean segments | exact accuracy |", "|---|---|---|---|---|"]
        lines += [f"| {m['mode']} | {m['puzzles_per_s']:,.1f} | {m['puzzles_per_s'] / base:.2f}x | "
                  f"{m['mean_segments']:.2f} | {m['exact_accuracy']:.4f} |" for m in h["modes"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny CPU smoke run (no numbers worth keeping)")
    parser.add_argument("--batch-size", type=int, default=768)
    parser.add_argument("--models", default="hrm,trm_attention,trm_mlp")
    parser.add_argument("--compile-mode", default="default",
                        help="torch.compile mode: default | max-autotune-no-cudagraphs | reduce-overhead | none")
    parser.add_argument("--token-mixer", choices=["transpose", "bmm"], default="transpose",
                        help="experiment: how the MLP token mixer is laid out (same math)")
    parser.add_argument("--fused", nargs="?", const="all", default="none", choices=["none", "swiglu", "all"],
                        help="experiment: also time each model with Triton kernels on its gradient-free bf16 CUDA "
                             "block calls; 'all' (bare --fused) = SwiGLU-GEMM + down GEMM with residual/RMSNorm, "
                             "'swiglu' = the first only")
    parser.add_argument("--trained", default=None, help="trained weights (hrm export) for the halting comparison")
    parser.add_argument("--puzzles", default=None, help="dataset whose test split the halting comparison solves")
    parser.add_argument("--halting-puzzles", type=int, default=5000, help="how many test puzzles it solves")
    parser.add_argument("--out", default=None, help="write <out>.json and <out>.md")
    parser.add_argument("--profile", action="store_true", help="where each training step's time goes: kernel time by kind, the top kernels")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() and not args.quick else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    batch_size = 4 if args.quick else args.batch_size
    dtype = "float32" if device.type == "cpu" else "bfloat16"
    compile_mode = args.compile_mode if device.type == "cuda" and args.compile_mode != "none" else None
    if args.fused != "none" and args.token_mixer == "bmm":
        parser.error("--fused hooks Block.forward, which --token-mixer bmm replaces: use one at a time")
    if args.token_mixer == "bmm":
        use_bmm_token_mixer()
    if args.fused != "none" and (device.type != "cuda" or not hrm.nn.fused.load_kernels()):
        print(f"--fused {args.fused}: no effect here (needs CUDA bf16 activations and Triton); timing the PyTorch path")
    peak = matmul_peak(device, 256 if args.quick else 8192)
    configs = model_configs(dtype)
    results = {"date": date.today().isoformat(), "device": torch.cuda.get_device_name(device) if device.type == "cuda"
               else platform.processor() or "cpu", "torch": torch.__version__, "batch_size": batch_size,
               "compile": compile_mode or "eager", "token_mixer": args.token_mixer, "fused": args.fused, "matmul_peak_tflops": peak, "models": []}
    if args.profile:
        results["profile"] = []
        for name in args.models.split(","):
            row, top_kernels = profile_step(name, configs[name], batch_size, device, compile_mode, rows=25,
                                            fused=args.fused)
            results["profile"].append(row)
            print(top_kernels, json.dumps(row), sep="\n", flush=True)
        write_results(args.out, results, markdown_profile(results))
        return
    if bool(args.trained) != bool(args.puzzles):
        parser.error("--trained and --puzzles go together")
    for name in [m for m in args.models.split(",") if m != "none"]:
        config = configs[name]
        if args.quick:
            config.max_segments = 2
        warmup, repeats = (1, 2) if args.quick else (10, 30)
        for fused in ["none"] + ([args.fused] if args.fused != "none" else []):  # fused runs beside the default
            row = bench_model(name, config, batch_size, device, compile_mode, peak, warmup, repeats, fused)
            results["models"].append(row)
            print(json.dumps(row), flush=True)
    if args.trained:
        results["halting"] = {"trained": args.trained, "puzzles": args.puzzles, "fused": args.fused,
                              "modes": bench_halting(args.trained, args.puzzles, batch_size, device, args.fused,
                                                     8 if args.quick else args.halting_puzzles)}
    write_results(args.out, results, markdown(results))


def write_results(out: str | None, results: dict, table: str) -> None:
    print(table)
    if out:
        write_report(out, results, table)


if __name__ == "__main__":
    main()
