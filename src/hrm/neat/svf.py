"""Transformer² singular-value fine-tuning (SVF): experts that rescale the singular values of frozen weights.

Sun, Cetin, Tang, "Transformer²: Self-adaptive LLMs" (ICLR 2025). For each adapted matrix W [m, n] with
SVD W = U diag(s) Vᵀ (computed once per weight state, in float64), an expert holds one vector z [r],
r = min(m, n), and the layer uses

    W' = c · U diag(s ⊙ z) Vᵀ,   c = Σs / Σ(s ⊙ z)  (the reference code's rescale; c = 1 with rescale off)

evaluated as W' = c · (W + U diag(s ⊙ (z − 1)) Vᵀ): equal in exact arithmetic, and z = 1 then gives back W
bit for bit because the SVD's rounding error never enters. Base weights are never written; an expert is a
plain `{layer name: z}` dict, installed for a forward with `using_expert`, so autograd reaches z directly.

Departures from the reference code (SakanaAI/self-adaptive-llms), all deliberate:
- z = 2 sigmoid(p) is trained from p = 0, i.e. from exactly the base model, not z = sigmoid(p) from
  p = 0.1 + 0.01·N(0, 1) (≈ the base model through the rescale);
- the KL penalty is KL(π_W' ‖ π_W) as the paper writes it (the code computes KL(π_W ‖ π_W'));
- mixtures combine the multipliers z, not the raw pre-sigmoid parameters (see svf_dispatch.py);
- layers are chosen by their place in the block (`targets`), not by a substring of parameter names;
- the policy's token distribution is the model's own (stablemax or softmax, as it was trained).

Axis legend: b batch, s answer cells, v vocab, m/n matrix rows/columns, r = min(m, n).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Literal, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from hrm.errors import ConfigError
from hrm.models.act import ACTModel
from hrm.models.extensions import EXTENSIONS, ExtensionSpec
from hrm.models.reasoner import Reasoner
from hrm.neat.test_time import TEST_TIME_LEARNABLE
from hrm.nn.block import Block
from hrm.nn.linear import CastedLinear
from hrm.nn.losses import IGNORE_LABEL_ID, stablemax_log_probs

Batch = dict[str, torch.Tensor]
Expert = dict[str, torch.Tensor]  # adapted layer name (relative to the model it was made for) -> z [r]
Policy = Callable[[Batch], tuple[torch.Tensor, torch.Tensor]]  # batch -> (log-probs [b, s, v], features [b, f])

TARGETS = ("mlp", "token_mixer", "lm_head")


@dataclass(kw_only=True)
class SVFConfig:
    """Options of the `svf` model extension."""

    targets: list[str] = field(default_factory=lambda: ["mlp"])
    """Which CastedLinear layers get expert vectors: "mlp" (the channel SwiGLU of every block; the reference
    adapts only MLPs), "token_mixer" (attention qkv/o, or TRM's token-mixing SwiGLU), "lm_head"."""
    rescale: bool = True
    """Multiply W' by c = Σs / Σ(s ⊙ z), as the reference code does, so any uniform z leaves W unchanged and
    a mixture's overall scale does not matter; false gives the paper's plain W' = U diag(s ⊙ z) Vᵀ."""

    def validate(self) -> None:
        unknown = [t for t in self.targets if t not in TARGETS]
        if unknown or not self.targets or len(set(self.targets)) != len(self.targets):
            raise ConfigError(f"model.extensions.svf.targets must be distinct names from {list(TARGETS)}, "
                              f"got {self.targets}")


class ExpertSlot(nn.Module):
    """The expert vector z [r] an SVFLinear runs with; empty (0 elements) for the base weights.

    A non-persistent buffer, so state dicts stay the base model's. It is registered as the "svf" kind of
    test-time learnable state, so `test_time_learning(model, allow=["svf"])` lets z change while it
    restores every base weight; empty rather than None because that registry only sees existing tensors.
    """

    z: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("z", torch.empty(0), persistent=False)

    @property
    def vector(self) -> torch.Tensor | None:
        return self.z if self.z.numel() else None

    def clear(self) -> None:
        self.z = self.z.new_empty(0)


TEST_TIME_LEARNABLE.add("svf", ExpertSlot)


class SVFLinear(CastedLinear):
    """A CastedLinear that runs with W' = c · U diag(s ⊙ z) Vᵀ while an expert z is installed.

    It adopts the parameters of the layer it replaces, so parameter names and state dicts are unchanged,
    and with no expert installed its forward is CastedLinear's.
    """

    def __init__(self, base: CastedLinear, rescale: bool = True) -> None:
        nn.Module.__init__(self)  # adopt `base`'s parameters instead of drawing new ones
        self.weight, self.bias = base.weight, base.bias
        self.rescale = rescale
        self.rank = min(self.weight.shape)
        self.expert = ExpertSlot()  # set only inside `using_expert`
        self._factors: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self._factors_of: tuple | None = None

    def factors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(U [m, r], s [r], Vᵀ [r, n]) of the current weight, in its dtype.

        Computed in float64, so the factors carry only their final rounding, and cached until the weight
        changes: `_version` counts in-place writes (optimizer steps, load_state_dict).
        """
        weight = self.weight
        state = (weight._version, weight.data_ptr(), weight.dtype, weight.device)
        if self._factors_of != state:
            u, s, vh = torch.linalg.svd(weight.detach().double(), full_matrices=False)
            self._factors = (u.to(weight.dtype), s.to(weight.dtype), vh.to(weight.dtype))
            self._factors_of = state
        return self._factors

    def adapted_weight(self, z: torch.Tensor) -> torch.Tensor:
        """W' [m, n] for the expert vector z [r]; differentiable in z, constant in W."""
        u, s, vh = self.factors()
        z = z.to(s.dtype)
        weight = self.weight.detach() + (u * (s * (z - 1))) @ vh
        if self.rescale:
            weight = weight * (s.sum() / (s * z).sum())
        return weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.expert.vector
        if z is None:
            return super().forward(x)
        bias = self.bias.to(x.dtype) if self.bias is not None else None
        return F.linear(x, self.adapted_weight(z).to(x.dtype), bias)


def _target_linears(reasoner: Reasoner, targets: list[str]) -> Iterator[tuple[nn.Module, str]]:
    """(parent module, attribute name) of every CastedLinear chosen by `targets`, in module order."""
    for block in (m for m in reasoner.modules() if isinstance(m, Block)):
        chosen = [block.mlp] if "mlp" in targets else []
        if "token_mixer" in targets:
            chosen.append(block.attention if block.token_mixer == "attention" else block.token_mlp)
        for part in chosen:
            for name, child in part.named_children():
                if isinstance(child, CastedLinear):
                    yield part, name
    if "lm_head" in targets:
        yield reasoner, "lm_head"


def apply_svf(reasoner: Reasoner, config: SVFConfig) -> None:
    """Swap the chosen CastedLinears for SVFLinears sharing their parameters (the `svf` extension)."""
    for parent, name in list(_target_linears(reasoner, config.targets)):
        setattr(parent, name, SVFLinear(getattr(parent, name), rescale=config.rescale))


EXTENSIONS.add("svf", ExtensionSpec(config=SVFConfig, apply=apply_svf))


# ---------------------------------------------------------------------------------------------------------------
# Experts


def svf_layers(model: nn.Module) -> dict[str, SVFLinear]:
    """The model's adapted layers by name, in module order; raises if it has none."""
    layers = {name: m for name, m in model.named_modules() if isinstance(m, SVFLinear)}
    if not layers:
        raise ValueError("the model has no SVF layers: add `svf` to model.extensions (or wrap layers in SVFLinear)")
    return layers


def identity_expert(model: nn.Module) -> Expert:
    """z = 1 for every adapted layer: exactly the base model."""
    return {name: torch.ones(layer.rank, device=layer.weight.device) for name, layer in svf_layers(model).items()}


def mix_experts(experts: list[Expert], weights: torch.Tensor) -> Expert:
    """z'_l = Σ_k α_kl z_kl (the paper's mixture of multipliers).

    weights: α [K] (one weight per expert) or [K, L] (per adapted layer, in the experts' key order).
    """
    names = list(experts[0])
    if any(list(e) != names for e in experts):
        raise ValueError("experts to mix must adapt the same layers in the same order")
    if weights.shape not in ((len(experts),), (len(experts), len(names))):
        raise ValueError(f"mixture weights must have shape ({len(experts)},) or ({len(experts)}, {len(names)}), "
                         f"got {tuple(weights.shape)}")
    alpha = weights.reshape(len(experts), -1).expand(len(experts), len(names))
    return {name: sum(alpha[k, layer] * e[name] for k, e in enumerate(experts)) for layer, name in enumerate(names)}


def _check_expert(layers: dict[str, SVFLinear], expert: Mapping[str, torch.Tensor]) -> None:
    missing, unknown = sorted(layers.keys() - expert.keys()), sorted(expert.keys() - layers.keys())
    if missing or unknown:
        raise ValueError(f"expert does not match the model's SVF layers: missing {missing}, unknown {unknown}")
    for name, layer in layers.items():
        z = expert[name]
        if z.shape != (layer.rank,):
            raise ValueError(f"expert vector for '{name}' has shape {tuple(z.shape)}, want ({layer.rank},)")
        if layer.rescale and not (layer.factors()[1] * z.detach().to(layer.weight.dtype)).sum() > 0:
            raise ValueError(f"expert vector for '{name}' gives Σ(s ⊙ z) <= 0: "
                             "the rescale Σs / Σ(s ⊙ z) is undefined")


@contextmanager
def using_expert(model: nn.Module, expert: Mapping[str, torch.Tensor] | None) -> Iterator[None]:
    """Run `model` with W' from `expert` inside the block (None: the base weights); base weights are never
    written."""
    if expert is None:
        yield
        return
    layers = svf_layers(model)
    _check_expert(layers, expert)
    if any(layer.expert.vector is not None for layer in layers.values()):
        raise RuntimeError("an expert is already installed on this model; experts do not nest")
    for name, layer in layers.items():
        layer.expert.z = expert[name]
    try:
        yield
    finally:
        for layer in layers.values():
            layer.expert.clear()


# ---------------------------------------------------------------------------------------------------------------
# Policies and training objectives


def act_policy(model: ACTModel) -> Policy:
    """An HRM/TRM as a policy: every ACT segment (as in evaluation), gradient through the last one only.

    Returns the answer's token log-probs in the model's own distribution (its `loss`: stablemax or
    softmax) and, as features [b, 2d], the final high-level state at the first position (the one the Q
    head reads) and averaged over positions.
    """
    def run(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        if model.training:
            raise RuntimeError("call model.eval() first: SVF adapts a frozen model, and training-mode ACT halts "
                               "rows early")
        carry = model.initial_carry(batch)
        with torch.no_grad():
            for _ in range(model.config.max_segments - 1):
                carry, _ = model(carry, batch)
        carry, outputs = model(carry, batch)
        logits = outputs["logits"].double()
        log_probs = stablemax_log_probs(logits) if model.config.loss == "stablemax" else logits.log_softmax(-1)
        z_high = carry.z_high.float()
        return log_probs, torch.cat([z_high[:, 0], z_high.mean(dim=1)], dim=-1)

    return run


def label_log_likelihood(log_probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log π(y | x) per example [b]: the sum over scored cells of log p(label)."""
    scored = labels != IGNORE_LABEL_ID
    picked = log_probs.gather(-1, torch.where(scored, labels, 0).long().unsqueeze(-1)).squeeze(-1)
    return torch.where(scored, picked, 0).sum(-1)


def exact_match(log_probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[b] bool: the greedy answer gets every scored cell right."""
    scored = labels != IGNORE_LABEL_ID
    return ((log_probs.argmax(-1) == labels) | ~scored).all(-1)


def reinforce_loss(log_probs: torch.Tensor, labels: torch.Tensor, generator: torch.Generator,
                   base_log_probs: torch.Tensor | None = None, kl_coeff: float = 0.0
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """-(J(z)) = -(mean_b r_b log π(ŷ_b | x_b) - λ KL(π_W' ‖ π_W)), and the rewards r [b].

    One answer ŷ is sampled per example, cell by cell; r = +1 if every scored cell is right, else -1
    (the paper's ±1, no baseline). The KL is exact per cell, summed over scored cells, averaged over b.
    log_probs [b, s, v] (with grad), labels [b, s], base_log_probs [b, s, v] (π_W, needed if kl_coeff > 0).
    """
    scored = labels != IGNORE_LABEL_ID
    with torch.no_grad():
        flat = log_probs.detach().exp().flatten(0, -2)
        sample = torch.multinomial(flat, 1, generator=generator).view(labels.shape)
        reward = torch.where(((sample == labels) | ~scored).all(-1), 1.0, -1.0).to(log_probs.dtype)
    objective = (reward * label_log_likelihood(log_probs, torch.where(scored, sample, IGNORE_LABEL_ID))).mean()
    if kl_coeff:
        kl = (log_probs.exp() * (log_probs - base_log_probs)).sum(-1)
        objective = objective - kl_coeff * torch.where(scored, kl, 0).sum(-1).mean()
    return -objective, reward


def cross_entropy_loss(log_probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean over scored cells of -log p(label)."""
    scored = labels != IGNORE_LABEL_ID
    return -label_log_likelihood(log_probs, labels).sum() / scored.sum().clamp_min(1)


@dataclass(kw_only=True)
class SVFTrainConfig:
    """How one expert is trained; defaults from the reference's `cfgs/` (optimizer Adam)."""

    objective: Literal["reinforce", "cross_entropy"] = "reinforce"
    """The paper's REINFORCE with ±1 exact-answer rewards, or supervised cross-entropy on the labels."""
    num_steps: int = 200
    """Optimizer steps (one batch each); the reference script runs 200."""
    lr: float = 2e-3
    """Adam learning rate on the logits p of z = 2 sigmoid(p) (reference 2e-3, on its p of z = sigmoid(p))."""
    max_grad_norm: float = 1e-3
    """Clip of the global gradient norm over all p (reference 1e-3; Adam's step is scale-free, so this
    mostly matters for the first steps). 0 disables clipping."""
    kl_coeff: float = 0.0
    """λ of the KL(π_W' ‖ π_W) penalty (REINFORCE only; reference 0)."""
    seed: int = 0
    """Seed of the REINFORCE answer sampling."""

    def validate(self) -> None:
        if self.num_steps < 1 or self.lr <= 0 or self.max_grad_norm < 0 or self.kl_coeff < 0:
            raise ConfigError(f"SVF training needs num_steps >= 1, lr > 0, max_grad_norm >= 0, kl_coeff >= 0; "
                              f"got {self.num_steps}, {self.lr}, {self.max_grad_norm}, {self.kl_coeff}")
        if self.kl_coeff and self.objective != "reinforce":
            raise ConfigError("kl_coeff applies to the reinforce objective only")


def train_expert(model: nn.Module, policy: Policy, batches: Iterable[Batch], config: SVFTrainConfig
                 ) -> tuple[Expert, list[dict[str, float]]]:
    """Train one expert from z = 1 on `batches` (>= config.num_steps of them); returns it with per-step
    {loss, reward} (reward: mean ±1 reward, REINFORCE only). Gradients reach z only: base weights get none.
    Adam updates the logits p of z = 2 sigmoid(p) (see `_multipliers`)."""
    config.validate()
    logits = {name: torch.zeros_like(z, requires_grad=True) for name, z in identity_expert(model).items()}
    optimizer = torch.optim.Adam(logits.values(), lr=config.lr)
    generator = torch.Generator(next(iter(logits.values())).device).manual_seed(config.seed)
    history = []
    batch_iter = iter(batches)
    for step in range(config.num_steps):
        batch = next(batch_iter, None)
        if batch is None:
            raise ValueError(f"`batches` ran out after {step} of {config.num_steps} steps")
        with using_expert(model, _multipliers(logits)):
            log_probs, _ = policy(batch)
        if config.objective == "cross_entropy":
            loss, record = cross_entropy_loss(log_probs, batch["labels"]), {}
        else:
            base_log_probs = None
            if config.kl_coeff:
                with torch.no_grad():
                    base_log_probs, _ = policy(batch)
            loss, reward = reinforce_loss(log_probs, batch["labels"], generator, base_log_probs, config.kl_coeff)
            record = {"reward": reward.mean().item()}
        for p, grad in zip(logits.values(), torch.autograd.grad(loss, list(logits.values()))):
            p.grad = grad
        if config.max_grad_norm:
            torch.nn.utils.clip_grad_norm_(logits.values(), config.max_grad_norm)
        optimizer.step()
        history.append({"loss": loss.item(), **record})
    with torch.no_grad():
        return _multipliers(logits), history


def _multipliers(logits: dict[str, torch.Tensor]) -> Expert:
    """z = 2 sigmoid(p): p = 0 gives z = 1 exactly, and z stays in (0, 2).

    The reference's bounded z = sigmoid(p) ∈ (0, 1) from p ≈ 0.1 (z ≈ 0.52): under the rescale only ratios
    of z matter, so this is the same range about the start. Bounded and positive, z keeps Σ(s ⊙ z) > 0, so
    the rescale stays defined however far training goes; z trained directly has no such guarantee.
    """
    return {name: 2 * torch.sigmoid(p) for name, p in logits.items()}
