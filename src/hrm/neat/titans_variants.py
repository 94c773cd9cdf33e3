"""The three Titans architectures (paper section 4) around `NeuralMemory`, a small sequence model built
from them, and the synthetic associative-recall task the tests and benchmark check them on.

With persistent memory P (N_p learned, input-independent tokens) and gate(y, m) = norm(y) w_y *
sigmoid(norm(m) w_m) (both branches normalised with learned vector weights, then a sigmoid):

    MAC  per segment S_t of length C:  h_t = M*_{t-1}(S_t);  y_t = Attn(P || h_t || S_t);
         M_t = M_{t-1}(y_t)  (write the attention output);  o_t = gate(y_t, M*_t(y_t))
    MAG  x' = P || x;  o = gate(SWA(x'), M(x'))              (SWA: causal sliding-window attention)
    MAL  x' = P || x;  o = SWA(M(x'))

Every mixer is causal at token level except MAC, which is causal at segment granularity as the paper
writes it: its memory tokens h_t and the gate's M*_t both see the whole current segment.
lucidrains' MemoryAsContextTransformer runs the memory before attention and gates with it; that is not
the paper's MAC (its issue #32) and is not what is implemented here.

Axis legend: b batch, l sequence, d model width, f token fields of one position.
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from hrm.nn.attention import Attention
from hrm.nn.linear import CastedLinear
from hrm.nn.rms_norm import rms_norm
from hrm.nn.rope import RotaryEmbedding
from hrm.nn.swiglu import SwiGLU
from hrm.neat.titans_memory import NeuralMemory

Variant = Literal["mac", "mag", "mal", "attention"]
NORM_EPS = 1e-6


def attention_mask(length: int, window: int, num_prefix: int, device: torch.device | None = None) -> torch.Tensor:
    """[length, length] bool, True where query i may attend key j: causal, within `window` keys back
    (0 = unlimited), and the first `num_prefix` positions visible to every query."""
    i = torch.arange(length, device=device)[:, None]
    j = torch.arange(length, device=device)[None, :]
    causal = j <= i
    if window:
        causal = causal & (i - j < window)
    return causal | (j < num_prefix)


class MaskedAttention(Attention):
    """The core attention with an explicit boolean mask [l, l] and RoPE over positions 0..l-1 of the
    given input (so MAC's query i can find its own memory token h_i, C positions back)."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        rotary = RotaryEmbedding(self.head_dim, x.shape[1]).to(x.device)  # tiny tables, rebuilt for each length
        q, k, v = self.project(x, (rotary.cos, rotary.sin))
        return self.merge(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


class PersistentMemory(nn.Module):
    """P = [p_1 ... p_Np]: learned tokens prepended to every input (paper Eq. 19)."""

    def __init__(self, num_tokens: int, dim: int) -> None:
        super().__init__()
        self.tokens = nn.Parameter(torch.randn(num_tokens, dim) * dim**-0.5)

    @property
    def num_tokens(self) -> int:
        return self.tokens.shape[0]

    def prepend(self, x: torch.Tensor) -> torch.Tensor:
        """[b, l, d] -> [b, N_p + l, d]"""
        return torch.cat((self.tokens.to(x.dtype).expand(x.shape[0], -1, -1), x), dim=1)


class MemoryGate(nn.Module):
    """y (x) m = rms(y) w_y * sigmoid(rms(m) w_m): the paper's non-linear gate for MAC and MAG."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.attention_scale = nn.Parameter(torch.ones(dim))
        self.memory_scale = nn.Parameter(torch.ones(dim))

    def forward(self, y: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        return rms_norm(y, NORM_EPS) * self.attention_scale * torch.sigmoid(rms_norm(memory, NORM_EPS) * self.memory_scale)


class SlidingWindowAttention(nn.Module):
    """Causal attention over the last `window` positions (0 = all), the first `num_prefix` positions
    visible to every query. On its own, the memory-free baseline."""

    def __init__(self, dim: int, num_heads: int, window: int) -> None:
        super().__init__()
        self.window = window
        self.attention = MaskedAttention(dim, num_heads)

    def forward(self, x: torch.Tensor, num_prefix: int = 0) -> torch.Tensor:
        return self.attention(x, attention_mask(x.shape[1], self.window, num_prefix, x.device))


class MemoryMixer(nn.Module):
    """What MAC, MAG and MAL hold: persistent tokens P, attention, and the long-term memory."""

    def __init__(self, dim: int, num_heads: int, window: int, num_persistent: int, memory: NeuralMemory) -> None:
        super().__init__()
        self.persistent = PersistentMemory(num_persistent, dim)
        self.attention = SlidingWindowAttention(dim, num_heads, window)
        self.memory = memory


class MemoryAsContext(MemoryMixer):
    """`window` is the segment length C; attention is full and causal inside [P || h_t || S_t]."""

    def __init__(self, dim: int, num_heads: int, window: int, num_persistent: int, memory: NeuralMemory) -> None:
        super().__init__(dim, num_heads, 0, num_persistent, memory)
        self.segment_len = window
        self.gate = MemoryGate(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = self.memory.initial_state(x.shape[0])
        outputs = []
        for segment in x.split(self.segment_len, dim=1):
            context = torch.cat((self.persistent.prepend(self.memory.read(segment, state)), segment), dim=1)
            num_prefix = context.shape[1] - segment.shape[1]
            y = self.attention(context, num_prefix)[:, num_prefix:]
            state = self.memory.write(y, state)
            outputs.append(self.gate(y, self.memory.read(y, state)))
        return torch.cat(outputs, dim=1)


class MemoryAsGate(MemoryMixer):
    def __init__(self, dim: int, num_heads: int, window: int, num_persistent: int, memory: NeuralMemory) -> None:
        super().__init__(dim, num_heads, window, num_persistent, memory)
        self.gate = MemoryGate(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, num_prefix = self.persistent.prepend(x), self.persistent.num_tokens
        return self.gate(self.attention(x, num_prefix), self.memory(x)[0])[:, num_prefix:]


class MemoryAsLayer(MemoryMixer):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, num_prefix = self.memory(self.persistent.prepend(x))[0], self.persistent.num_tokens
        return self.attention(y, num_prefix)[:, num_prefix:]


MIXERS = {"mac": MemoryAsContext, "mag": MemoryAsGate, "mal": MemoryAsLayer}


class TitansBlock(nn.Module):
    """Pre-norm residual block: h += mixer(rms(h)); h += SwiGLU(rms(h))."""

    def __init__(self, mixer: nn.Module, dim: int, expansion: float) -> None:
        super().__init__()
        self.mixer = mixer
        self.mlp = SwiGLU(dim, expansion)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h + self.mixer(rms_norm(h, NORM_EPS))
        return h + self.mlp(rms_norm(h, NORM_EPS))


class TitansModel(nn.Module):
    """Token ids [b, l] or [b, l, f] (the f ids of a position are embedded and summed, so one position
    can carry a key and its value) -> logits [b, l, vocab].

    `window` is the attention span: the sliding window of MAG/MAL/attention, the segment length of MAC.
    `memory_options` go to every layer's `NeuralMemory`."""

    def __init__(self, variant: Variant, vocab_size: int, dim: int, *, num_layers: int = 1, num_heads: int = 2,
                 window: int = 8, num_persistent: int = 4, expansion: float = 2.0, **memory_options) -> None:
        super().__init__()
        if variant not in (*MIXERS, "attention"):
            raise ValueError(f"unknown Titans variant '{variant}' (want one of {[*MIXERS, 'attention']})")
        self.embed = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.embed.weight, std=dim**-0.5)

        def mixer() -> nn.Module:
            if variant == "attention":
                return SlidingWindowAttention(dim, num_heads, window)
            return MIXERS[variant](dim, num_heads, window, num_persistent, NeuralMemory(dim, **memory_options))

        self.blocks = nn.ModuleList(TitansBlock(mixer(), dim, expansion) for _ in range(num_layers))
        self.head = CastedLinear(dim, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.embed(ids)
        if ids.ndim == 3:
            h = h.sum(dim=2)
        for block in self.blocks:
            h = block(h)
        return self.head(rms_norm(h, NORM_EPS))


def associative_recall(batch_size: int, *, num_keys: int, num_values: int, num_pairs: int, num_distractors: int,
                       num_queries: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Key-value pairs, then distractors, then queries: recall needs memory once the distractor span
    exceeds the attention window.

    Positions carry two fields [key or noise or 0, value or query marker or 0]. Every sequence draws
    its own distinct keys and a random value for each, so no weight can hold the mapping: only storing
    the pairs at test time answers. Each query asks a stored key.
    Token ids: 0 blank, keys 1..K, values K+1..K+V, query marker K+V+1, noise above (`vocab_size_for`).
    Returns ids [b, l, 2]; labels [b, l] (the asked value at query positions, -100 elsewhere); and
    unseen_ids, the same sequences with every query asking a key absent from its row instead (scored
    against the same labels, a model that recalls only what was stored is at chance 1/V on them)."""
    if num_queries > num_pairs or num_pairs + num_queries > num_keys:
        raise ValueError("need num_queries <= num_pairs and num_pairs + num_queries <= num_keys")
    value_base, marker = num_keys + 1, num_keys + num_values + 1
    keys = torch.rand(batch_size, num_keys, generator=generator).argsort(dim=1) + 1
    keys, unseen = keys[:, :num_pairs], keys[:, num_pairs:num_pairs + num_queries]
    values = torch.randint(value_base, marker, (batch_size, num_pairs), generator=generator)
    asked = torch.rand(batch_size, num_pairs, generator=generator).argsort(dim=1)[:, :num_queries]
    noise = torch.randint(marker + 1, marker + 1 + num_keys, (batch_size, num_distractors), generator=generator)
    context = torch.cat((torch.stack((keys, values), dim=-1), torch.stack((noise, torch.zeros_like(noise)), dim=-1)), 1)
    markers = torch.full_like(asked, marker)
    labels = torch.full((batch_size, context.shape[1] + num_queries), -100)
    labels[:, -num_queries:] = values.gather(1, asked)
    return {"ids": torch.cat((context, torch.stack((keys.gather(1, asked), markers), dim=-1)), dim=1),
            "unseen_ids": torch.cat((context, torch.stack((unseen, markers), dim=-1)), dim=1),
            "labels": labels}


def vocab_size_for(num_keys: int, num_values: int) -> int:
    """Blank, keys, values, query marker and num_keys noise tokens."""
    return 2 * num_keys + num_values + 2


@torch.no_grad()
def recall_accuracy(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of query positions (labels != -100) whose argmax is the label."""
    asked = labels != -100
    return (model(ids).argmax(-1)[asked] == labels[asked]).float().mean().item()


def without_memory_writes(model: nn.Module) -> nn.Module:
    """A copy whose memories store nothing: theta = sigmoid(-1e4) = 0 for every token, so
    M_t = prod(1 - alpha) M_0 whatever the input (the "same model without memory" ablation)."""
    ablated = copy.deepcopy(model)
    for module in ablated.modules():
        if isinstance(module, NeuralMemory):
            with torch.no_grad():
                module.gate_proj.weight[:module.num_heads].zero_()
                module.gate_proj.bias[:module.num_heads].fill_(-1e4)
    return ablated
