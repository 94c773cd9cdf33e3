"""The one-kernel MLP token mixer (`hrm.nn.fused.token_mixer`) against the two-kernel pair and torch.compile.

TRM-MLP's token mixer at Sudoku's shape (batch 768, 97 positions, d 512, inner 512), gradient off, bf16:
torch.compile of the model's own code, the SwiGLU-GEMM + down-GEMM-with-norm pair, and the one kernel at every
tiling of a grid (BLOCK_D x BLOCK_I x warps x stages), each checked against float64 on a sample of examples.

    python benchmarks/token_mixer_kernel.py --out benchmarks/results/token_mixer_kernel   # on a GPU
"""

from __future__ import annotations

import argparse
import itertools
from datetime import date

import torch
import triton.testing

import hrm.nn.fused
from hrm.nn.fused.matmul_rms_norm import matmul_add_rms_norm
from hrm.nn.fused.swiglu_matmul import swiglu_matmul
from hrm.nn.fused.token_mixer import token_mixer_rms_norm
from hrm.nn.rms_norm import rms_norm
from hrm.nn.swiglu import SwiGLU
from report import write_report
from token_mixer_layout import EPS, float64_reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=768)
    parser.add_argument("--out", default=None, help="write <out>.json and <out>.md")
    args = parser.parse_args()
    assert hrm.nn.fused.load_kernels(), "needs Triton"
    torch.manual_seed(0)
    positions, width = 97, 512
    mlp = SwiGLU(positions, 4.0).cuda()
    h = rms_norm(torch.randn(args.batch_size, width, positions, device="cuda"), EPS).transpose(1, 2)
    h = h.contiguous().to(torch.bfloat16)  # [b, l, d], normalised over positions
    gate_up, down = mlp.gate_up_proj.weight.to(torch.bfloat16), mlp.down_proj.weight.to(torch.bfloat16)
    sample = slice(0, 64)
    exact = float64_reference(h[sample], gate_up, down)

    def error(out: torch.Tensor) -> float:
        return (out[sample].double() - exact).abs().max().item()

    @torch.compile
    def compiled(h: torch.Tensor) -> torch.Tensor:
        h_t = h.transpose(1, 2)
        return rms_norm(h_t + mlp(h_t), EPS).transpose(1, 2)

    def pair() -> torch.Tensor:
        h_t = h.transpose(1, 2)
        return matmul_add_rms_norm(swiglu_matmul(h_t, gate_up), down, h_t, EPS).transpose(1, 2)

    rows = []
    with torch.no_grad():
        references = [("torch.compile of the model's code", lambda: compiled(h)),
                      ("SwiGLU-GEMM + norm-GEMM pair", pair)]
        for name, fn in references:
            rows.append({"variant": name, "us": 1e3 * triton.testing.do_bench(fn), "max_abs_error": error(fn())})
            print(rows[-1], flush=True)
        for block_d, block_i, warps, stages in itertools.product([32, 64, 128], [32, 64, 128], [4, 8], [1, 2, 3]):
            tiles = {"BLOCK_D": block_d, "BLOCK_I": block_i, "num_warps": warps, "num_stages": stages}
            try:
                fn = lambda: token_mixer_rms_norm(h, gate_up, down, EPS, block_sizes=tiles)  # noqa: E731
                rows.append({"variant": "one kernel", **tiles, "us": 1e3 * triton.testing.do_bench(fn),
                             "max_abs_error": error(fn())})
            except Exception as exc:  # a tiling that does not fit (registers, shared memory) is skipped
                rows.append({"variant": "one kernel", **tiles, "error": f"{type(exc).__name__}"})
            print(rows[-1], flush=True)
    timed = sorted((r for r in rows if "us" in r), key=lambda r: r["us"])
    report = {"date": date.today().isoformat(), "device": torch.cuda.get_device_name(), "torch": torch.__version__,
              "triton": triton.__version__, "batch_size": args.batch_size, "positions": positions, "width": width,
              "inner": gate_up.shape[0] // 2, "rows": rows}
    lines = [f"# One-kernel MLP token mixer ({report['date']}, {report['device']}, triton {triton.__version__})", "",
             f"TRM-MLP token mixer + residual + RMSNorm over positions, h [{args.batch_size}, {positions}, {width}] "
             "bf16, no grad; us per call (triton.testing.do_bench); error: max abs vs float64 on 64 examples. "
             "Fastest ten and the two references:", "",
             "| variant | BLOCK_D | BLOCK_I | warps | stages | us | max abs error |", "|---|---|---|---|---|---|---|"]
    shown = [r for r in timed if r["variant"] != "one kernel"] + [r for r in timed if r["variant"] == "one kernel"][:10]
    for r in sorted(shown, key=lambda r: r["us"]):
        lines.append(f"| {r['variant']} | {r.get('BLOCK_D', '')} | {r.get('BLOCK_I', '')} | {r.get('num_warps', '')} | "
                     f"{r.get('num_stages', '')} | {r['us']:.0f} | {r['max_abs_error']:.3f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_report(args.out, report, text)


if __name__ == "__main__":
    main()
