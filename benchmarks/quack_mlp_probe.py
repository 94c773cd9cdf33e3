"""Does a CuTe-DSL GEMM with a fused SwiGLU epilogue (the `quack-kernels` package) speed up our blocks' MLP half?

The MLP half of every HRM/TRM block is `rms_norm(h + down(silu(gate) * up))`. Under torch.compile it runs as
cuBLAS gate_up -> an elementwise silu*up pass over a [rows, 2 inner] tensor -> cuBLAS down -> add + RMSNorm
(and the mirror image backward). quack's `mlp_func` keeps both GEMMs at cuBLAS-class speed with the gated
activation in the first GEMM's epilogue (and its derivative in the backward's), and `rmsnorm` takes the
residual. This script times both, on the same bf16 data at HRM's and TRM's channel-MLP shapes (batch 768),
for the gradient-free forward and for forward + backward, and checks both against a float64 reference.

    python benchmarks/quack_mlp_probe.py --out benchmarks/results/quack_mlp_probe   # H100; needs quack-kernels
"""

from __future__ import annotations

import argparse
import platform
import time
from datetime import date

import torch

from hrm.nn.rms_norm import rms_norm
from hrm.nn.swiglu import SwiGLU
from report import write_report
from timing import cuda_ms

EPS = 1e-5
SHAPES = {"hrm": (768 * 82, 512), "trm": (768 * 97, 512)}  # rows (batch x positions), hidden width


def reference_block(mlp: SwiGLU, h: torch.Tensor) -> torch.Tensor:
    """The model's own code path (SwiGLU module + rms_norm), as torch.compile sees it."""
    return rms_norm(h + mlp(h), EPS)


def quack_block(mlp: SwiGLU, h: torch.Tensor) -> torch.Tensor:
    from quack.mlp import mlp_func
    from quack.rmsnorm import rmsnorm

    out = mlp_func(h, mlp.gate_up_proj.weight.to(h.dtype), mlp.down_proj.weight.to(h.dtype), activation="swiglu",
                   concat_layout=True, tuned=False)
    return rmsnorm(out, residual=h, eps=EPS)


def float64_block(mlp: SwiGLU, h: torch.Tensor) -> torch.Tensor:
    h = h.double()
    gate, up = (h @ mlp.gate_up_proj.weight.double().T).chunk(2, dim=-1)
    x = h + (torch.nn.functional.silu(gate) * up) @ mlp.down_proj.weight.double().T
    return x * torch.rsqrt(x.square().mean(-1, keepdim=True) + EPS)


def bench_shape(name: str, rows: int, dim: int) -> dict:
    torch.manual_seed(0)
    mlp = SwiGLU(dim, 4.0).cuda()
    h = torch.randn(768, rows // 768, dim, device="cuda").to(torch.bfloat16)
    h = rms_norm(h, EPS)  # block inputs are normalised
    grad_out = torch.randn_like(h)
    variants = {"compiled reference": torch.compile(reference_block), "quack eager": quack_block,
                "quack compiled": torch.compile(quack_block)}
    exact = float64_block(mlp, h)
    row: dict = {"rows": rows, "dim": dim}
    for label, fn in variants.items():
        started = time.time()
        try:
            with torch.no_grad():
                out = fn(mlp, h)
            error = (out.double() - exact).abs().max().item()

            def forward():
                with torch.no_grad():
                    fn(mlp, h)

            x = h.detach().requires_grad_(True)

            def train():
                fn(mlp, x).backward(grad_out)

            row[label] = {"forward_us": 1e3 * cuda_ms(forward), "forward_backward_us": 1e3 * cuda_ms(train),
                          "max_abs_error_vs_float64": error}
        except Exception as exc:  # a kernel that cannot run here is a result, not a crash of the probe
            row[label] = {"error": f"{type(exc).__name__}: {exc}"[:400]}
        row[label]["wall_s"] = round(time.time() - started, 1)
        print(name, label, row[label], flush=True)
    return row


def markdown(results: dict) -> str:
    lines = [f"# quack SwiGLU-epilogue MLP probe ({results['date']}, {results['device']})", "",
             "MLP half of a block, `rms_norm(h + down(silu(gate) * up))`, bf16, batch 768; us per call "
             "(CUDA events, after warm-up).", "",
             "| shape | variant | forward (no grad) us | forward + backward us | max abs error vs float64 |",
             "|---|---|---|---|---|"]
    for name, row in results["shapes"].items():
        for label, cell in row.items():
            if not isinstance(cell, dict):
                continue
            if "error" in cell:
                lines.append(f"| {name} | {label} | failed: {cell['error'][:80]} | | |")
                continue
            lines.append(f"| {name} ({row['rows']} x {row['dim']}) | {label} | {cell['forward_us']:.0f} | "
                         f"{cell['forward_backward_us']:.0f} | {cell['max_abs_error_vs_float64']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default="hrm,trm")
    parser.add_argument("--out", default=None, help="write <out>.json and <out>.md")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    results = {"date": date.today().isoformat(), "device": torch.cuda.get_device_name(),
               "torch": torch.__version__, "python": platform.python_version(), "shapes": {}}
    try:
        import quack
        results["quack"] = getattr(quack, "__version__", "unknown")
    except ImportError as exc:
        results["quack"] = f"not importable: {exc}"
    for name in args.shapes.split(","):
        results["shapes"][name] = bench_shape(name, *SHAPES[name])
    text = markdown(results)
    print(text)
    if args.out:
        write_report(args.out, results, text)


if __name__ == "__main__":
    main()
