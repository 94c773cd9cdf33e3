"""The fused Triton kernels against float64 PyTorch math, and when the blocks dispatch to them.

Without a GPU the kernels run in Triton's CPU interpreter (TRITON_INTERPRET=1, set before Triton is
imported), on tiny odd shapes: rows, k and n that are not multiples of the tiles, so every mask matters.
"""

from __future__ import annotations

import os
import time

import pytest
import torch

ON_GPU = torch.cuda.is_available()
if not ON_GPU:
    os.environ["TRITON_INTERPRET"] = "1"  # read when the kernels are decorated, i.e. on first import

triton = pytest.importorskip("triton", reason="the fused kernels need Triton (pip install triton)")

import hrm.nn.fused as fused  # noqa: E402
from hrm.nn.block import Block  # noqa: E402
from hrm.nn.fused import availability  # noqa: E402

if not fused.load_kernels():
    pytest.skip("Triton is installed but the fused kernels do not import", allow_module_level=True)

from hrm.nn.fused import ops  # noqa: E402
from hrm.nn.fused.matmul_rms_norm import matmul_add_rms_norm  # noqa: E402
from hrm.nn.fused.swiglu_matmul import swiglu_matmul  # noqa: E402
from hrm.nn.fused.token_mixer import token_mixer_rms_norm  # noqa: E402

DEVICE = torch.device("cuda" if ON_GPU else "cpu")
TILES = {"BLOCK_M": 16, "BLOCK_N": 16, "BLOCK_K": 16}  # small, so the odd shapes below span several tiles
BF16_TOL = {"rtol": 2e-2, "atol": 2e-2}  # a few bf16 ulps at the O(1) values these inputs give


@pytest.fixture(autouse=True, scope="module")
def interpreter_fixes():
    """Three gaps of Triton 3.6's CPU interpreter, patched for these tests (no-ops on a GPU):
    it multiplies bf16 tiles as raw uint16 bits (widen them to float32 first: exact, as the tensor
    cores' bf16 x bf16 -> fp32 products are); it rounds float32 -> bf16 casts toward zero where the GPU
    rounds to nearest even (a one-sided bias the GPU does not have); and it turns scalar arguments into
    1-element arrays that numpy >= 2.3 refuses to `int()` (so `range(0, K, BLOCK_K)` fails; use `.item()`)."""
    if ON_GPU:
        yield
        return
    import numpy as np
    import triton.language as tl
    from triton.runtime import interpreter

    create_dot = interpreter.InterpreterBuilder.create_dot
    cast_impl = interpreter.InterpreterBuilder.cast_impl
    patch_lang_tensor = interpreter._patch_lang_tensor  # a Triton without it fails here: patch anew

    def as_float32(t):
        if t.dtype != tl.bfloat16:
            return t
        return interpreter.TensorHandle((t.data.astype(np.uint32) << 16).view(np.float32), tl.float32)

    def create_dot_bf16(self, a, b, d, input_precision, max_num_imprecise_acc):
        return create_dot(self, as_float32(a), as_float32(b), d, input_precision, max_num_imprecise_acc)

    def cast_rounding_to_nearest(self, src, dst_type):
        if src.dtype.scalar != tl.float32 or dst_type.scalar != tl.bfloat16:
            return cast_impl(self, src, dst_type)
        bits = np.ascontiguousarray(src.data, dtype=np.float32).view(np.uint32).astype(np.uint64)
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)  # finite inputs only
        return interpreter.TensorHandle(rounded, tl.bfloat16)

    def patch_lang_tensor_numpy2(tensor, scope):
        patch_lang_tensor(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(self.handle.data.item()))

    interpreter.InterpreterBuilder.create_dot = create_dot_bf16
    interpreter.InterpreterBuilder.cast_impl = cast_rounding_to_nearest
    interpreter._patch_lang_tensor = patch_lang_tensor_numpy2
    yield
    interpreter.InterpreterBuilder.create_dot = create_dot
    interpreter.InterpreterBuilder.cast_impl = cast_impl
    interpreter._patch_lang_tensor = patch_lang_tensor


@pytest.fixture
def fuse_on_this_device(monkeypatch):
    """Let `can_fuse` accept this device (CPU under the interpreter)."""
    monkeypatch.setattr(availability, "FUSED_DEVICE_TYPES", {"cuda", DEVICE.type})


@pytest.fixture
def kernel_calls(monkeypatch) -> dict[str, int]:
    """Counts the kernel launches made through the custom ops."""
    calls = {"swiglu_matmul": 0, "matmul_add_rms_norm": 0, "token_mixer_rms_norm": 0}

    def counting(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    for name in calls:
        monkeypatch.setattr(ops, name, counting(name, getattr(ops, name)))
    return calls


def bf16(*shape: int, scale: float = 1.0, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(*shape, generator=g)).to(DEVICE, torch.bfloat16)


def swiglu_float64(x: torch.Tensor, gate_up_weight: torch.Tensor) -> torch.Tensor:
    gate, up = (x.double() @ gate_up_weight.double().T).chunk(2, dim=-1)
    return torch.nn.functional.silu(gate) * up


def add_rms_norm_float64(x: torch.Tensor, weight: torch.Tensor, residual: torch.Tensor, eps: float) -> torch.Tensor:
    total = residual.double() + x.double() @ weight.double().T
    return total * torch.rsqrt(total.square().mean(-1, keepdim=True) + eps)


def test_swiglu_matmul_matches_float64():
    x, w = bf16(2, 19, 40), bf16(2 * 24, 40, scale=40**-0.5, seed=1)  # rows 38, k 40, inner 24
    out = swiglu_matmul(x, w, block_sizes=TILES)
    assert out.shape == (2, 19, 24) and out.dtype == torch.bfloat16
    torch.testing.assert_close(out.double(), swiglu_float64(x, w), **BF16_TOL)


def test_swiglu_matmul_reads_a_transposed_input_in_place():
    """The MLP token mixer's [b, d, l] view of a [b, l, d] tensor: batch axis kept, no copy."""
    h = bf16(3, 21, 20)  # b 3, l 21 (the GEMM's k), d 20 (rows per batch)
    w = bf16(2 * 17, 21, scale=21**-0.5, seed=1)
    out = swiglu_matmul(h.transpose(1, 2), w, block_sizes=TILES)
    torch.testing.assert_close(out.double(), swiglu_float64(h.transpose(1, 2), w), **BF16_TOL)


def test_matmul_add_rms_norm_matches_float64():
    x, w = bf16(2, 19, 40), bf16(24, 40, scale=40**-0.5, seed=1)  # n 24: a padded 32-wide row tile
    residual = bf16(2, 19, 24, seed=2)
    out = matmul_add_rms_norm(x, w, residual, 1e-5, block_sizes={"BLOCK_M": 16, "BLOCK_K": 16})
    torch.testing.assert_close(out.double(), add_rms_norm_float64(x, w, residual, 1e-5), **BF16_TOL)


def test_matmul_add_rms_norm_keeps_a_transposed_residual_layout():
    h = bf16(3, 21, 20)  # residual h^T [b, d, l]: normalised over l = 21
    residual = h.transpose(1, 2)
    x, w = bf16(3, 20, 32, seed=1), bf16(21, 32, scale=32**-0.5, seed=2)
    out = matmul_add_rms_norm(x, w, residual, 1e-5, block_sizes={"BLOCK_M": 16, "BLOCK_K": 16})
    assert out.stride() == residual.stride() and out.transpose(1, 2).is_contiguous()
    torch.testing.assert_close(out.double(), add_rms_norm_float64(x, w, residual, 1e-5), **BF16_TOL)


def token_mixer_float64(h: torch.Tensor, gate_up_weight: torch.Tensor, down_weight: torch.Tensor, eps: float
                        ) -> torch.Tensor:
    gate, up = (gate_up_weight.double() @ h.double()).chunk(2, dim=1)
    total = h.double() + down_weight.double() @ (torch.nn.functional.silu(gate) * up)
    return total * torch.rsqrt(total.square().mean(1, keepdim=True) + eps)  # over positions


def test_token_mixer_matches_float64():
    """b 3, l 21 (a 32-row tile), d 40 (three 16-wide column tiles), inner 24 (two 16-wide chunks)."""
    h = bf16(3, 21, 40)
    gate_up, down = bf16(2 * 24, 21, scale=21**-0.5, seed=1), bf16(21, 24, scale=24**-0.5, seed=2)
    out = token_mixer_rms_norm(h, gate_up, down, 1e-5, block_sizes={"BLOCK_D": 16, "BLOCK_I": 16})
    assert out.shape == h.shape and out.dtype == torch.bfloat16 and out.is_contiguous()
    torch.testing.assert_close(out.double(), token_mixer_float64(h, gate_up, down, 1e-5), **BF16_TOL)


def test_token_mixer_reads_a_strided_input():
    h = bf16(21, 3, 40).transpose(0, 1)  # [3, 21, 40] whose batch axis is not the outer one
    gate_up, down = bf16(2 * 24, 21, scale=21**-0.5, seed=1), bf16(21, 24, scale=24**-0.5, seed=2)
    out = token_mixer_rms_norm(h, gate_up, down, 1e-5, block_sizes={"BLOCK_D": 16, "BLOCK_I": 16})
    torch.testing.assert_close(out.double(), token_mixer_float64(h, gate_up, down, 1e-5), **BF16_TOL)


def test_token_mixer_refuses_what_it_cannot_hold():
    h, down = bf16(2, 7, 16), bf16(7, 8)
    with pytest.raises(ValueError, match="do not match"):
        token_mixer_rms_norm(h, bf16(16, 6), down, 1e-5)  # weight built for 6 positions
    long = bf16(1, availability.TOKEN_MIXER_MAX_POSITIONS + 1, 16)
    with pytest.raises(ValueError, match="exceed"):
        token_mixer_rms_norm(long, bf16(16, long.shape[1]), bf16(long.shape[1], 8), 1e-5)


def small_block(token_mixer: str) -> Block:
    torch.manual_seed(0)
    return Block(dim=32, num_heads=2, expansion=2.0, eps=1e-5, token_mixer=token_mixer, seq_len=7).to(DEVICE)


@pytest.mark.parametrize("token_mixer", ["attention", "mlp"])
def test_block_uses_the_kernels_without_gradient_and_matches(token_mixer, fuse_on_this_device, kernel_calls):
    block = small_block(token_mixer)
    h = bf16(3, 7, 32)  # swiglu inner 256 for dim 32, 256 for the 7-position token mixer
    with torch.no_grad():
        plain = block(h)
        assert fused.enable(block)
        out = block(h)
    one_kernel_mixer = int(token_mixer == "mlp")  # the channel MLP takes the pair, the token mixer one kernel
    assert kernel_calls == {"swiglu_matmul": 1, "matmul_add_rms_norm": 1, "token_mixer_rms_norm": one_kernel_mixer}
    assert out.shape == plain.shape and out.dtype == torch.bfloat16
    torch.testing.assert_close(out, plain, **BF16_TOL)


def test_swiglu_alone_with_the_norm_epilogue_off(fuse_on_this_device, kernel_calls):
    block = small_block("attention")
    h = bf16(3, 7, 32)
    with torch.no_grad():
        plain = block(h)
        fused.enable(block, rms_norm_epilogue=False)
        out = block(h)
    assert kernel_calls == {"swiglu_matmul": 1, "matmul_add_rms_norm": 0, "token_mixer_rms_norm": 0}
    torch.testing.assert_close(out, plain, **BF16_TOL)


def test_long_sequences_keep_the_two_kernel_token_mixer(fuse_on_this_device, kernel_calls, monkeypatch):
    """More positions than one program holds (mazes, ARC): SwiGLU-GEMM + norm epilogue on the [b, d, l] view."""
    monkeypatch.setattr(availability, "TOKEN_MIXER_MAX_POSITIONS", 4)
    block = small_block("mlp")  # 7 positions
    h = bf16(3, 7, 32)
    with torch.no_grad():
        plain = block(h)
        fused.enable(block)
        out = block(h)
    assert kernel_calls == {"swiglu_matmul": 2, "matmul_add_rms_norm": 2, "token_mixer_rms_norm": 0}
    torch.testing.assert_close(out, plain, **BF16_TOL)


def test_wide_rows_keep_the_unfused_down_projection(fuse_on_this_device, kernel_calls, monkeypatch):
    """Rows wider than NORM_EPILOGUE_MAX_ROW (HRM's 512 on the H100) normalise outside the kernels."""
    monkeypatch.setattr(availability, "NORM_EPILOGUE_MAX_ROW", 16)
    block = small_block("attention")  # hidden 32 > 16
    h = bf16(3, 7, 32)
    with torch.no_grad():
        plain = block(h)
        fused.enable(block)
        out = block(h)
    assert kernel_calls == {"swiglu_matmul": 1, "matmul_add_rms_norm": 0, "token_mixer_rms_norm": 0}
    torch.testing.assert_close(out, plain, **BF16_TOL)


def test_original_path_wherever_fusion_is_not_allowed(fuse_on_this_device, kernel_calls, monkeypatch):
    block = small_block("mlp")
    h = bf16(3, 7, 32)
    plain = block(h)  # gradient on
    with torch.no_grad():
        plain_fp32 = block(h.float())
        plain_no_grad = block(h)
    fused.enable(block)
    assert torch.equal(block(h), plain)  # gradient enabled: bit-identical original path
    with torch.no_grad():
        assert torch.equal(block(h.float()), plain_fp32)  # not bf16
        monkeypatch.setattr(availability, "FUSED_DEVICE_TYPES", {"cuda"} - {DEVICE.type})
        assert torch.equal(block(h), plain_no_grad)  # device not allowed (CPU outside the tests)
    assert kernel_calls == {"swiglu_matmul": 0, "matmul_add_rms_norm": 0, "token_mixer_rms_norm": 0}


def test_switched_off_by_default_and_by_disable(fuse_on_this_device, kernel_calls, monkeypatch):
    block = small_block("attention")
    h = bf16(3, 7, 32)
    with torch.no_grad():
        block(h)  # never enabled
        fused.enable(block)
        fused.disable(block)
        block(h)
        monkeypatch.setattr(availability, "_kernels_loaded", False)  # as without Triton
        fused.enable(block)
        block(h)
    assert kernel_calls == {"swiglu_matmul": 0, "matmul_add_rms_norm": 0, "token_mixer_rms_norm": 0}


@pytest.mark.slow
def test_compiled_one_step_gradient_pattern(fuse_on_this_device, kernel_calls):
    """As HRM's compiled segment: no-grad block calls, then a call with gradient and a backward, in one
    torch.compile graph. The custom ops stay opaque, run only in the no-grad region, and gradients flow."""
    block = small_block("attention")  # fp32 master weights, bf16 activations, as on the GPU
    fused.enable(block)

    def segment(h: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            h = block(block(h))
        return block(h).float().square().sum()

    compiled = torch.compile(segment, backend="inductor" if ON_GPU else "aot_eager", dynamic=False)
    h = bf16(3, 7, 32)
    compiled(h).backward()
    assert kernel_calls == {"swiglu_matmul": 2, "matmul_add_rms_norm": 2, "token_mixer_rms_norm": 0}
    assert all(p.grad is not None for p in block.parameters())
    fused.disable(block)
    compiled(h)  # the graph guards on the flags: recompiled without the kernels
    assert kernel_calls == {"swiglu_matmul": 2, "matmul_add_rms_norm": 2, "token_mixer_rms_norm": 0}


def print_gpu_times(variants: dict, what: str) -> None:
    """Microseconds per call of each variant, after 3 warm-up calls (shown with -s)."""
    for name, fn in variants.items():
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(20):
            fn()
        torch.cuda.synchronize()
        print(f"{name}: {(time.perf_counter() - start) / 20 * 1e6:.0f} us per {what}")


@pytest.mark.gpu
@pytest.mark.skipif(not ON_GPU, reason="needs a CUDA device")
def test_hrm_shape_on_gpu_matches_and_times():
    """HRM's SwiGLU at batch 768 x 82 positions: accuracy at full size, and fused vs. unfused time."""
    rows, dim, inner = 768 * 82, 512, 1536
    x, residual = bf16(rows, dim), bf16(rows, dim, seed=3)
    gate_up, down = bf16(2 * inner, dim, scale=dim**-0.5, seed=1), bf16(dim, inner, scale=inner**-0.5, seed=2)

    def unfused() -> torch.Tensor:
        gate, up = (x @ gate_up.T).chunk(2, dim=-1)
        total = (residual + (torch.nn.functional.silu(gate) * up) @ down.T).float()
        return (total * torch.rsqrt(total.square().mean(-1, keepdim=True) + 1e-5)).bfloat16()

    def fused_pair() -> torch.Tensor:
        return matmul_add_rms_norm(swiglu_matmul(x, gate_up), down, residual, 1e-5)

    sample = slice(0, 4096)
    inner_ref = swiglu_float64(x[sample], gate_up)
    torch.testing.assert_close(swiglu_matmul(x, gate_up)[sample].double(), inner_ref, **BF16_TOL)
    torch.testing.assert_close(fused_pair()[sample].double(),
                               add_rms_norm_float64(inner_ref, down, residual[sample], 1e-5), **BF16_TOL)
    print_gpu_times({"unfused": unfused, "fused": fused_pair}, "SwiGLU + residual + RMSNorm")


@pytest.mark.gpu
@pytest.mark.skipif(not ON_GPU, reason="needs a CUDA device")
def test_trm_token_mixer_shape_on_gpu_matches_and_times():
    """TRM-MLP's token mixer at batch 768, 97 positions, d 512, inner 512: accuracy and time against the
    two-kernel pair and the unfused PyTorch ops."""
    batch, positions, width, inner = 768, 97, 512, 512
    h = bf16(batch, positions, width)
    gate_up = bf16(2 * inner, positions, scale=positions**-0.5, seed=1)
    down = bf16(positions, inner, scale=inner**-0.5, seed=2)

    def unfused() -> torch.Tensor:
        gate, up = (h.transpose(1, 2) @ gate_up.T).chunk(2, dim=-1)
        total = (h.transpose(1, 2) + (torch.nn.functional.silu(gate) * up) @ down.T).float()
        return (total * torch.rsqrt(total.square().mean(-1, keepdim=True) + 1e-5)).bfloat16().transpose(1, 2)

    def pair() -> torch.Tensor:
        return matmul_add_rms_norm(swiglu_matmul(h.transpose(1, 2), gate_up), down, h.transpose(1, 2), 1e-5)

    def one_kernel() -> torch.Tensor:
        return token_mixer_rms_norm(h, gate_up, down, 1e-5)

    sample = slice(0, 32)
    torch.testing.assert_close(one_kernel()[sample].double(),
                               token_mixer_float64(h[sample], gate_up, down, 1e-5), **BF16_TOL)
    print_gpu_times({"unfused": unfused, "pair": pair, "one kernel": one_kernel}, "token mixer + residual + RMSNorm")
