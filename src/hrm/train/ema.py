"""Exponential moving average of the trainable parameters (TRM's EMA, decay 0.999).

Buffers (the puzzle-embedding table, the init states) are not averaged, as in the TRM code: the
evaluated model uses their current values.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.shadow = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        names, params = zip(*[(n, p) for n, p in model.named_parameters() if n in self.shadow])
        torch._foreach_lerp_([self.shadow[n] for n in names], [p.detach() for p in params], 1.0 - self.decay)

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """Temporarily load the averaged weights into `model` (restored bit-identically after)."""
        backup = {n: p.detach().clone() for n, p in model.named_parameters() if n in self.shadow}
        params = dict(model.named_parameters())
        with torch.no_grad():
            for n, value in self.shadow.items():
                params[n].copy_(value)
        try:
            yield model
        finally:
            with torch.no_grad():
                for n, value in backup.items():
                    params[n].copy_(value)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.shadow)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if set(state) != set(self.shadow):
            raise KeyError(f"EMA state keys differ: missing {sorted(set(self.shadow) - set(state))}, "
                           f"unexpected {sorted(set(state) - set(self.shadow))}")
        for n, value in state.items():
            self.shadow[n].copy_(value)
