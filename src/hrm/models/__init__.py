"""Models: registered by name with their config class, so configs pick them with `model.name`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from hrm.models.act import ACTLoss, ACTModel, Carry  # noqa: F401
from hrm.models.hrm import HRM, HRMConfig
from hrm.models.reasoner import Reasoner, ReasonerConfig
from hrm.models.trm import TRM, TRMConfig
from hrm.registry import Registry


@dataclass(frozen=True)
class ModelSpec:
    config: type[ReasonerConfig]
    build: Callable[[ReasonerConfig], Reasoner]


MODELS: Registry[ModelSpec] = Registry("model")
MODELS.add("hrm", ModelSpec(HRMConfig, HRM))
MODELS.add("trm", ModelSpec(TRMConfig, TRM))


def build_model(config: ReasonerConfig) -> ACTModel:
    """The ACT-wrapped reasoner named by `config.name` (seq_len/vocab_size must be filled in)."""
    return ACTModel(MODELS.get(config.name).build(config))
