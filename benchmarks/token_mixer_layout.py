"""Same math, other memory layouts: TRM-MLP's token mixer `rms_over_l(h + W_down silu-glu(W_gate_up h))`.

The token mixer multiplies along the sequence axis (l = 97 for Sudoku with 16 puzzle tokens). Run as our
`SwiGLU` on the transposed [b, d, l] view, its matmuls have K = 97 or N = 97: rows of 97 bf16 values (194
bytes) are not 16-byte aligned, which the fast tensor-core GEMM kernels need, and the transposed input is
copied first. The alternatives keep [b, l, d] and multiply from the left with batched matmuls; the last one
stores the [2 inner, l] weight with its rows padded to a multiple of 8 (the matrix is the same 97 columns
wide, only the row stride changes). All variants are checked against float64 and timed (no grad, and
forward + backward) under torch.compile at batch 768.

    python benchmarks/token_mixer_layout.py --out benchmarks/results/token_mixer_layout   # on a GPU
"""

from __future__ import annotations

import argparse
import platform
from datetime import date

import torch
import torch.nn.functional as F

from hrm.nn.rms_norm import rms_norm
from hrm.nn.swiglu import SwiGLU
from report import write_report
from timing import cuda_ms

EPS = 1e-5


def norm_over_positions(x: torch.Tensor) -> torch.Tensor:
    """RMSNorm over dim 1 (positions) of [b, l, d], in float32, as `rms_norm` on the transposed tensor."""
    dtype = x.dtype
    x = x.float()
    return (x * torch.rsqrt(x.square().mean(1, keepdim=True) + EPS)).to(dtype)


def transposed(mlp: SwiGLU, h: torch.Tensor) -> torch.Tensor:
    """What `Block` runs now."""
    h_t = h.transpose(1, 2)
    return rms_norm(h_t + mlp(h_t), EPS).transpose(1, 2)


def left_multiply(gate_up: torch.Tensor, down: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    batch = h.shape[0]
    gate, up = torch.bmm(gate_up.expand(batch, -1, -1), h).chunk(2, dim=1)
    mixed = torch.bmm(down.expand(batch, -1, -1), F.silu(gate) * up)
    return norm_over_positions(h + mixed)


def batched(mlp: SwiGLU, h: torch.Tensor) -> torch.Tensor:
    """[b, l, d] kept; weights as stored ([2 inner, l] rows of 97)."""
    return left_multiply(mlp.gate_up_proj.weight.to(h.dtype), mlp.down_proj.weight.to(h.dtype), h)


def batched_aligned(mlp: SwiGLU, h: torch.Tensor) -> torch.Tensor:
    """As `batched`, the gate_up weight's rows stored 8-aligned (a view of a zero-padded copy)."""
    weight = mlp.gate_up_proj.weight
    width = weight.shape[1]
    aligned = F.pad(weight.to(h.dtype), (0, -width % 8))[:, :width]
    return left_multiply(aligned, mlp.down_proj.weight.to(h.dtype), h)


def float64_reference(h: torch.Tensor, gate_up: torch.Tensor, down: torch.Tensor) -> torch.Tensor:
    """rms_over_l(h + down (silu(gate h) * (up h))) in float64, for h [b, l, d] and the [2 inner, l], [l, inner]
    weights."""
    gate, up = (gate_up.double() @ h.double()).chunk(2, dim=1)
    x = h.double() + down.double() @ (F.silu(gate) * up)
    return x * torch.rsqrt(x.square().mean(1, keepdim=True) + EPS)


VARIANTS = {"transposed [b, d, l] (ours)": transposed, "batched [b, l, d]": batched,
            "batched [b, l, d], gate_up rows 8-aligned": batched_aligned}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=768)
    parser.add_argument("--positions", type=int, default=97)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--out", default=None, help="write <out>.json and <out>.md")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    warmup, repeats = (5, 20) if device.type == "cuda" else (1, 2)
    torch.manual_seed(0)
    mlp = SwiGLU(args.positions, 4.0).to(device)
    h = norm_over_positions(torch.randn(args.batch_size, args.positions, args.hidden, device=device)).to(dtype)
    grad = torch.randn_like(h)
    exact = float64_reference(h, mlp.gate_up_proj.weight, mlp.down_proj.weight)
    rows = []
    for name, fn in VARIANTS.items():
        compiled = torch.compile(fn) if device.type == "cuda" else fn
        with torch.no_grad():
            error = (compiled(mlp, h).double() - exact).abs().max().item()

        def forward():
            with torch.no_grad():
                compiled(mlp, h)

        x = h.detach().requires_grad_(True)

        def train():
            compiled(mlp, x).backward(grad)

        rows.append({"variant": name, "max_abs_error_vs_float64": error,
                     "forward_ms": cuda_ms(forward, warmup, repeats) if device.type == "cuda" else None,
                     "forward_backward_ms": cuda_ms(train, warmup, repeats) if device.type == "cuda" else None})
        print(rows[-1], flush=True)
    report = {"date": date.today().isoformat(), "device": torch.cuda.get_device_name() if device.type == "cuda"
              else platform.processor() or "cpu", "torch": torch.__version__, "batch_size": args.batch_size,
              "positions": args.positions, "hidden": args.hidden, "rows": rows}
    lines = [f"# TRM-MLP token mixer, same math in three layouts ({report['date']}, {report['device']})", "",
             f"`rms_over_l(h + W_down silu-glu(W_gate_up h))`, h [{args.batch_size}, {args.positions}, {args.hidden}] "
             "bf16, torch.compile; ms per call after warm-up.", "",
             "| variant | no grad ms | forward + backward ms | max abs error vs float64 |", "|---|---|---|---|"]
    for r in rows:
        timing = (f"{r['forward_ms']:.3f} | {r['forward_backward_ms']:.3f}" if r["forward_ms"] is not None
                  else "- | -")
        lines.append(f"| {r['variant']} | {timing} | {r['max_abs_error_vs_float64']:.4f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_report(args.out, report, text)


if __name__ == "__main__":
    main()
