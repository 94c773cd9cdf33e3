"""Titans neural long-term memory (Behrouz, Zhong, Mirrokni 2024, arXiv 2501.00663, section 3).

The memory is an MLP whose *weights are the state*. Writing token t takes one step of gradient descent
with momentum and weight decay on the associative loss l(M; x_t) = ||M(k_t) - v_t||^2 (Eq. 12):

    S_t = eta_t S_{t-1} - theta_t grad l(M_{t-1}; x_t)    surprise with momentum (Eq. 10, 14)
    M_t = (1 - alpha_t) M_{t-1} + S_t                      forgetting (Eq. 13)
    y_t = M*(q_t)                                          retrieval without update (Eq. 15)

k, v, q are linear maps of x_t (then SiLU; q and k l2-normalised, as the paper's architectural details);
theta (step size), eta (surprise decay) and alpha (forgetting) are data-dependent: sigmoid of a linear
map of x_t, per token and memory head. The initial weights M_0 are parameters learned by the outer loop.

Chunked parallel form (section 3.2): all tokens of a chunk of `chunk_size` tokens take their gradient
at the chunk-start weights. The momentum and decay recurrences inside the chunk are then linear in
those gradients; `update_chunk` writes their closed form with two decay-product matrices, so a chunk
costs one forward and one backward of the memory on all its tokens. chunk_size 1 is the exact
per-token recurrence. Reads are causal at chunk granularity: a chunk's queries read the weights left
by the previous chunk (so with chunk_size 1, y_t = M_{t-1}(q_t)).

Departures, each deliberate:
- Gradients are backpropagated by hand (`associative_gradients`) rather than with autograd, so writes
  work under no_grad/inference_mode (HRM/TRM run most of their recursion that way) and stay
  differentiable for the outer loop. Tests check them against torch.autograd.
- The paper's beta_t / beta_i factors are formed directly as products of (1 - alpha) over (i, t]
  (`decay_products`), never by division, which is 0/0 once some alpha reaches 1.
- Not implemented: the depthwise convolutions after the q/k/v projections and the output norm+gate.
- theta starts at 0.02, not larger: the inner loop of a 2-layer memory diverges for larger steps on
  correlated keys (docs/neat-titans.md has the measurement); the outer loop can raise it.
Avoided from public code: lucidrains/titans-pytorch's mean-over-features loss (the paper sums) and
LayerNorm-residual memory wrapper; Project-NEAT's memory as an nn.Parameter shared by the batch and
mutated in place, its constant gates, and its detached k/v (which stop the outer loop learning them).

Axis legend: b batch, h memory heads, l sequence, c tokens of one chunk, d model width,
e head width, i/o input/output width of one memory layer, r sets of gradient coefficients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hrm.neat.test_time import TEST_TIME_LEARNABLE
from hrm.nn.init import trunc_normal_
from hrm.nn.linear import CastedLinear

Weights = tuple[torch.Tensor, ...]  # one [b, h, i, o] tensor per memory layer


@dataclass
class MemoryState:
    """Per-sample memory: weights M_t and momentum S_t (same shapes), independent for every row."""

    weights: Weights
    momentum: Weights

    def detach(self) -> "MemoryState":
        return MemoryState(tuple(w.detach() for w in self.weights), tuple(s.detach() for s in self.momentum))


def memory_forward(weights: Weights, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """M(x) for x [b, h, c, i] -> (output [b, h, c, o], each layer's input, each hidden pre-activation).

    Layers are bias-free linear maps with SiLU between them (one layer = linear memory)."""
    layer_inputs, pre_activations = [], []
    for index, weight in enumerate(weights):
        layer_inputs.append(x)
        x = x @ weight
        if index < len(weights) - 1:
            pre_activations.append(x)
            x = F.silu(x)
    return x, layer_inputs, pre_activations


def associative_gradients(weights: Weights, keys: torch.Tensor, values: torch.Tensor, coeffs: torch.Tensor
                          ) -> list[torch.Tensor]:
    """sum_j coeffs[..., r, j] * grad_W ||M_W(k_j) - v_j||^2, all gradients at the same weights W.

    keys [b, h, c, i], values [b, h, c, o], coeffs [b, h, r, c] -> one [b, h, r, i, o] per layer.
    A per-token gradient of a linear layer is an outer product, so weighted sums are one einsum
    (the paper's "mini-batch gradient descent as matmuls")."""
    out, layer_inputs, pre_activations = memory_forward(weights, keys)
    delta = 2 * (out - values)  # dl/d(output), sum of squares over features
    grads = []
    for index in reversed(range(len(weights))):
        grads.append(torch.einsum("bhrc,bhci,bhco->bhrio", coeffs, layer_inputs[index], delta))
        if index:
            pre = pre_activations[index - 1]
            gate = torch.sigmoid(pre)
            delta = (delta @ weights[index].transpose(-1, -2)) * gate * (1 + pre * (1 - gate))  # SiLU'
    return grads[::-1]


def decay_products(gates: torch.Tensor) -> torch.Tensor:
    """gates [..., c] -> P [..., c+1, c+1], P[i, j] = prod_{j<m<=i} gates_m for i >= j, 0 above the diagonal.

    Index 0 is the state before the chunk, so h_i = g_i h_{i-1} + x_i unrolls to
    h_i = P[i, 0] h_0 + sum_{j>=1} P[i, j] x_j: the scan in closed form, without division."""
    size = gates.shape[-1] + 1
    padded = torch.cat([torch.ones_like(gates[..., :1]), gates], dim=-1)
    index = torch.arange(size, device=gates.device)
    factors = torch.where(index[:, None] > index[None, :], padded[..., :, None], torch.ones_like(padded[..., :, None]))
    return torch.cumprod(factors, dim=-2).tril()


def update_chunk(state: MemoryState, keys: torch.Tensor, values: torch.Tensor, step: torch.Tensor,
                 surprise_decay: torch.Tensor, forget: torch.Tensor) -> MemoryState:
    """Write one chunk: keys [b, h, c, i], values [b, h, c, o]; theta, eta, alpha [b, h, c] -> M_c, S_c.

    With u_j = grad l(M_0; x_j), E = decay_products(eta), A = decay_products(1 - alpha):
        S_c = E[c, 0] S_0 - sum_j E[c, j] theta_j u_j
        M_c = A[c, 0] M_0 + sum_i A[c, i] S_i
            = A[c, 0] M_0 + (sum_i A[c, i] E[i, 0]) S_0 - sum_j (sum_i A[c, i] E[i, j]) theta_j u_j
    """
    momentum_products = decay_products(surprise_decay)  # E
    keep_products = decay_products(1 - forget)  # A
    to_end = keep_products[..., -1, 1:]  # [b, h, c]: A[c, i]
    weight_coeffs = (to_end.unsqueeze(-2) @ momentum_products[..., 1:, 1:]).squeeze(-2) * step
    momentum_coeffs = momentum_products[..., -1, 1:] * step
    grads = associative_gradients(state.weights, keys, values, torch.stack((weight_coeffs, momentum_coeffs), dim=-2))

    def scalar(t: torch.Tensor) -> torch.Tensor:  # [b, h] -> [b, h, 1, 1]
        return t[..., None, None]

    keep_start = scalar(keep_products[..., -1, 0])
    momentum_into_weights = scalar((to_end * momentum_products[..., 1:, 0]).sum(-1))
    momentum_start = scalar(momentum_products[..., -1, 0])
    weights = tuple(keep_start * w + momentum_into_weights * s - g[:, :, 0]
                    for w, s, g in zip(state.weights, state.momentum, grads))
    momentum = tuple(momentum_start * s - g[:, :, 1] for s, g in zip(state.momentum, grads))
    return MemoryState(weights, momentum)


def check_memory_options(*, num_heads: int, num_layers: int, expansion: float, chunk_size: int,
                         init_step_size: float, init_surprise_decay: float, init_forget: float) -> None:
    """Raise ValueError, naming the option first, for a setting `NeuralMemory` cannot use."""
    for name, count in (("num_heads", num_heads), ("num_layers", num_layers), ("chunk_size", chunk_size)):
        if count < 1:
            raise ValueError(f"{name} must be >= 1, got {count}")
    if expansion <= 0:
        raise ValueError(f"expansion must be > 0, got {expansion}")
    for name, value in (("init_step_size", init_step_size), ("init_surprise_decay", init_surprise_decay),
                        ("init_forget", init_forget)):
        if not 0 < value < 1:
            raise ValueError(f"{name} must be in (0, 1) (a sigmoid's value at initialisation), got {value}")


def logit(p: float) -> float:
    return math.log(p / (1 - p))


class NeuralMemory(nn.Module):
    """The long-term memory module: projections, data-dependent gates, the initial weights M_0 (learned
    by the outer loop, registered as `MemoryWeights` for test-time learning) and the chunked rule.

    `forward` reads each chunk then writes it (causal); `write` and `read` are the two halves, for
    callers that write one sequence and read another (MAC) or read after the whole input (HRM/TRM)."""

    def __init__(self, dim: int, *, num_heads: int = 1, num_layers: int = 2, expansion: float = 2.0,
                 chunk_size: int = 16, init_step_size: float = 0.02, init_surprise_decay: float = 0.5,
                 init_forget: float = 0.01) -> None:
        super().__init__()
        check_memory_options(num_heads=num_heads, num_layers=num_layers, expansion=expansion, chunk_size=chunk_size,
                             init_step_size=init_step_size, init_surprise_decay=init_surprise_decay,
                             init_forget=init_forget)
        if dim % num_heads:
            raise ValueError(f"num_heads ({num_heads}) must divide the memory width {dim}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.chunk_size = chunk_size
        self.query_proj = CastedLinear(dim, dim)
        self.key_value_proj = CastedLinear(dim, 2 * dim)
        self.gate_proj = CastedLinear(dim, 3 * num_heads, bias=True)  # theta, eta, alpha logits per head
        self.out_proj = CastedLinear(dim, dim)
        with torch.no_grad():  # gates start input-independent at the configured values
            self.gate_proj.weight.zero_()
            self.gate_proj.bias.copy_(torch.tensor([logit(init_step_size), logit(init_surprise_decay),
                                                    logit(init_forget)]).repeat_interleave(num_heads))
        self.initial_weights = MemoryWeights(num_heads, self.head_dim, num_layers, expansion)

    def initial_state(self, batch_size: int) -> MemoryState:
        """M_0 for every row (a view of the learned weights, so the outer loop trains them) and S_0 = 0."""
        weights = tuple(w.expand(batch_size, *w.shape) for w in self.initial_weights.weights)
        return MemoryState(weights, tuple(torch.zeros_like(w) for w in weights))

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """[b, l, h*e] -> [b, h, l, e]"""
        return x.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)

    def queries(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(F.silu(self.split_heads(self.query_proj(x))), dim=-1)

    def writes(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x [b, l, d] -> keys, values [b, h, l, e]; theta, eta, alpha [b, h, l]."""
        keys, values = F.silu(self.key_value_proj(x)).chunk(2, dim=-1)
        gates = torch.sigmoid(self.gate_proj(x)).unflatten(-1, (3, self.num_heads)).permute(2, 0, 3, 1)
        return F.normalize(self.split_heads(keys), dim=-1), self.split_heads(values), *gates

    def output(self, retrieved: torch.Tensor) -> torch.Tensor:
        """[b, h, l, e] -> [b, l, d]"""
        return self.out_proj(retrieved.transpose(1, 2).flatten(-2))

    def chunks(self, length: int) -> list[slice]:
        return [slice(start, start + self.chunk_size) for start in range(0, length, self.chunk_size)]

    def write(self, x: torch.Tensor, state: MemoryState | None = None) -> MemoryState:
        """Store x [b, l, d] chunk by chunk into `state` (default M_0) and return the new state."""
        state = self.initial_state(x.shape[0]) if state is None else state
        writes = self.writes(x)
        for part in self.chunks(x.shape[1]):
            state = update_chunk(state, *(t[:, :, part] for t in writes))
        return state

    def read(self, x: torch.Tensor, state: MemoryState) -> torch.Tensor:
        """y = M*(q): retrieval for x [b, l, d] with the state's weights, no update -> [b, l, d]."""
        return self.output(memory_forward(state.weights, self.queries(x))[0])

    def forward(self, x: torch.Tensor, state: MemoryState | None = None) -> tuple[torch.Tensor, MemoryState]:
        """Causal read-then-write over x [b, l, d] -> (y [b, l, d], state after the last chunk)."""
        state = self.initial_state(x.shape[0]) if state is None else state
        queries, writes = self.queries(x), self.writes(x)
        retrieved = []
        for part in self.chunks(x.shape[1]):
            retrieved.append(memory_forward(state.weights, queries[:, :, part])[0])
            state = update_chunk(state, *(t[:, :, part] for t in writes))
        return self.output(torch.cat(retrieved, dim=2)), state


class MemoryWeights(nn.Module):
    """M_0: the memory MLP's initial weights per head, [h, i, o] per layer (hidden width expansion * e).

    The only part of Titans that test-time learning may change (`hrm.neat.test_time`): the memory
    state itself is never a parameter, it lives in `MemoryState`."""

    def __init__(self, num_heads: int, head_dim: int, num_layers: int, expansion: float) -> None:
        super().__init__()
        hidden = max(1, round(expansion * head_dim))
        widths = [head_dim] + [hidden] * (num_layers - 1) + [head_dim]
        self.weights = nn.ParameterList(nn.Parameter(trunc_normal_(torch.empty(num_heads, i, o), std=i**-0.5))
                                        for i, o in zip(widths, widths[1:]))


TEST_TIME_LEARNABLE.add("titans", MemoryWeights)
