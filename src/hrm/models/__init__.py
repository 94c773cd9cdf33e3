"""Models: registered by name with their config class, so configs pick them with `model.name`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from hrm.config import build
from hrm.errors import ConfigError
from hrm.models.act import ACTLoss, ACTModel, Carry  # noqa: F401
from hrm.models.extensions import EXTENSIONS
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
    """The ACT-wrapped reasoner named by `config.name` (seq_len/vocab_size must be filled in),
    with its configured extensions attached."""
    reasoner = MODELS.get(config.name).build(config)
    for name, options in config.extensions.items():
        if name not in EXTENSIONS:
            raise ConfigError(f"unknown model extension '{name}'; registered: {EXTENSIONS.names()} "
                              "(research extensions register when `hrm.neat` is imported)")
        spec = EXTENSIONS.get(name)
        spec.apply(reasoner, build(spec.config, options or {}, f"model.extensions.{name}."))
    return ACTModel(reasoner)
