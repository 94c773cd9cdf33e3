"""Transformer² two-pass inference: pass 1 picks an expert, pass 2 answers with it.

Three ways to pick, as in the paper (section 3.2), adapted to puzzle reasoners that have no text interface:
- prompt: the paper asks the LLM to classify its own prompt into a domain ("others" keeps the base weights).
  A puzzle reasoner cannot be asked, so `PromptDispatcher` reads the task from the prompt by a fixed rule: the
  token at one input position names the task; a token it does not know keeps the base weights.
- classifier: the paper trains an SVF expert that turns the LLM into a domain classifier. Our reasoners have
  no classification output, so `FeatureClassifier` is a small linear classifier on the first pass's own
  features (the base model's pooled final state), with an optional "base" class.
- few-shot mixture: z' = Σ_k α_k z_k with α found by the cross-entropy method on a few labelled examples of
  the target task (`cem_mixture`), scored by exact accuracy with ties broken by the mean log-likelihood of
  the correct answers, as the reference does. Scores are deterministic (greedy answers), so the reference's
  `re_eval_best` is not needed: the best-so-far is monotone by construction.

Both passes only install experts (`using_expert`); no base weight is ever written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from hrm.errors import ConfigError
from hrm.neat.svf import Batch, Expert, Policy, exact_match, label_log_likelihood, mix_experts, using_expert

BASE = -1  # dispatch choice: keep the base weights
Dispatcher = Callable[[Batch, torch.Tensor], torch.Tensor]  # (batch, pass-1 features [b, f]) -> choice [b]


def two_pass(model: nn.Module, policy: Policy, experts: list[Expert], dispatch: Dispatcher, batch: Batch
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Pass 1 runs the base model for its features and asks `dispatch` for an expert per example (BASE or an
    index into `experts`); pass 2 answers each example with its expert. Examples are grouped by expert, so
    one example's choice never changes another's answer. Returns (log-probs [b, s, v], choice [b])."""
    with torch.no_grad():
        _, features = policy(batch)
        choice = dispatch(batch, features)
        if choice.shape != features.shape[:1] or not ((choice >= BASE) & (choice < len(experts))).all():
            raise ValueError(f"dispatch must return one choice in [{BASE}, {len(experts)}) per example")
        answers = None
        for index in choice.unique().tolist():
            rows = choice == index
            with using_expert(model, experts[index] if index != BASE else None):
                log_probs, _ = policy({key: value[rows] for key, value in batch.items()})
            if answers is None:
                answers = log_probs.new_empty(choice.shape + log_probs.shape[1:])
            answers[rows] = log_probs
    return answers, choice


class PromptDispatcher:
    """Strategy A: the task named by the prompt token at input `position`; unknown tokens keep the base."""

    def __init__(self, position: int, expert_of_token: dict[int, int]) -> None:
        self.position = position
        self.expert_of_token = expert_of_token

    def __call__(self, batch: Batch, features: torch.Tensor) -> torch.Tensor:
        tokens = batch["inputs"][:, self.position]
        choice = torch.full_like(tokens, BASE, dtype=torch.long)
        for token, expert in self.expert_of_token.items():
            choice[tokens == token] = expert
        return choice


class FeatureClassifier(nn.Module):
    """Strategy B: multinomial logistic regression on standardised pass-1 features.

    Classes are the experts 0..K-1, plus BASE if the training targets contain it.
    """

    def __init__(self, num_features: int, num_experts: int) -> None:
        super().__init__()
        self.num_experts = num_experts
        self.linear = nn.Linear(num_features, num_experts + 1)  # last class = BASE
        self.register_buffer("mean", torch.zeros(num_features))
        self.register_buffer("std", torch.ones(num_features))

    def fit(self, features: torch.Tensor, targets: torch.Tensor, num_steps: int = 200, lr: float = 0.1,
            weight_decay: float = 1e-3) -> float:
        """Full-batch Adam on features [N, f] and targets [N] in {BASE, 0..K-1}; returns training accuracy."""
        self.mean.copy_(features.mean(0))
        self.std.copy_(features.std(0).clamp_min(1e-6))
        classes = torch.where(targets == BASE, self.num_experts, targets)
        optimizer = torch.optim.Adam(self.linear.parameters(), lr=lr, weight_decay=weight_decay)
        for _ in range(num_steps):
            loss = nn.functional.cross_entropy(self.class_logits(features), classes)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            return (self.class_logits(features).argmax(-1) == classes).float().mean().item()

    def class_logits(self, features: torch.Tensor) -> torch.Tensor:
        """[b, K + 1] logits of features [b, f]; the last class is BASE."""
        return self.linear((features - self.mean) / self.std)

    @torch.no_grad()
    def forward(self, batch: Batch, features: torch.Tensor) -> torch.Tensor:
        """The dispatch choice [b] for pass-1 features [b, f]; `batch` is unused (the Dispatcher signature)."""
        predicted = self.class_logits(features).argmax(-1)
        return torch.where(predicted == self.num_experts, BASE, predicted)


@dataclass(kw_only=True)
class CEMConfig:
    """Cross-entropy-method search over mixture weights; defaults from the reference's `cem.yaml` and
    `eval_few_shot.sh` (50 generations, per-layer weights, no normalisation)."""

    population: int = 32
    """Candidates per generation."""
    elite_ratio: float = 0.2
    """Share of each generation, the best, that sets the next mean and std."""
    num_generations: int = 50
    """Generations."""
    per_layer: bool = True
    """One α per expert and adapted layer (α [K, L]) instead of one per expert (α [K])."""
    seed: int = 0
    """Seed of the candidate sampling."""

    def validate(self) -> None:
        if self.population < 2 or self.num_generations < 1 or not 0 < self.elite_ratio <= 1:
            raise ConfigError(f"CEM needs population >= 2, num_generations >= 1 and elite_ratio in (0, 1]; got "
                              f"{self.population}, {self.num_generations}, {self.elite_ratio}")


@dataclass
class CEMResult:
    alpha: torch.Tensor  # [K] or [K, L]: the best mixture weights found
    expert: Expert  # the mixture Σ_k α_k z_k
    score: tuple[float, float]  # its (exact accuracy, mean log-likelihood) on the few-shot examples
    best_per_generation: list[tuple[float, float]]  # best-so-far score after each generation


def mixture_score(model: nn.Module, policy: Policy, expert: Expert, batch: Batch) -> tuple[float, float]:
    """(exact accuracy, mean log π(y | x)) of `expert` on labelled examples; compared lexicographically."""
    with torch.no_grad(), using_expert(model, expert):
        log_probs, _ = policy(batch)
    labels = batch["labels"]
    return (exact_match(log_probs, labels).double().mean().item(),
            label_log_likelihood(log_probs, labels).mean().item())


def cem_mixture(model: nn.Module, policy: Policy, experts: list[Expert], few_shot: Batch, config: CEMConfig
                ) -> CEMResult:
    """Strategy C: search α in the box [0, 1] by CEM (mean 0.5, std = range / 2 to start; clamped samples).

    A candidate whose weights are all zero for some layer has no defined W' under the rescale and scores
    (-inf, -inf).
    """
    config.validate()
    shape = (len(experts), len(experts[0])) if config.per_layer else (len(experts),)
    generator = torch.Generator().manual_seed(config.seed)
    mean, std = torch.full(shape, 0.5, dtype=torch.float64), torch.full(shape, 0.5, dtype=torch.float64)
    num_elites = max(1, math.ceil(config.elite_ratio * config.population))
    best_alpha, best_score = None, (-math.inf, -math.inf)
    history = []
    for _ in range(config.num_generations):
        candidates = (mean + std * torch.randn((config.population, *shape), generator=generator,
                                               dtype=torch.float64)).clamp(0, 1)
        scores = []
        for alpha in candidates:
            if (alpha.reshape(len(experts), -1).sum(0) > 0).all():
                scores.append(mixture_score(model, policy, mix_experts(experts, alpha.float()), few_shot))
            else:
                scores.append((-math.inf, -math.inf))
        order = sorted(range(config.population), key=lambda i: scores[i], reverse=True)
        elites = candidates[order[:num_elites]]
        mean, std = elites.mean(0), elites.std(0, unbiased=False)
        if scores[order[0]] > best_score:
            best_alpha, best_score = candidates[order[0]].float(), scores[order[0]]
        history.append(best_score)
    if best_alpha is None:
        raise RuntimeError("CEM found no valid mixture: every candidate had an all-zero layer")
    return CEMResult(best_alpha, mix_experts(experts, best_alpha), best_score, history)
