"""Test-time learning control: say which modules may change during inference, and guarantee that
nothing else does.

    with test_time_learning(model, allow=["titans"]) as learnable:
        optimizer = torch.optim.SGD(learnable, lr=0.1)   # e.g. adapt Titans' M_0 on a task's demos
        ...
    # every parameter and buffer outside `allow` is bit-identical to before the block

`allow` entries are kinds registered in TEST_TIME_LEARNABLE (every parameter and buffer of every
module of that class) or fnmatch patterns over parameter/buffer names ("reasoner.net.memory.*").
A module becomes test-time learnable from its own file, without editing this one:

    TEST_TIME_LEARNABLE.add("titans", MemoryWeights)

Inside the block, parameters outside `allow` have requires_grad off (autograd and optimizers skip
them) and allowed ones on. On exit, even through an exception, every other parameter and buffer gets
back its tensor object (if it was reassigned), its values, requires_grad and .grad; changes to allowed
ones are kept. Allowed tensors that must be discarded too go in an outer `test_time_learning(model)`
(nothing allowed: a sandbox). The snapshot is a full copy of the frozen tensors, on their device.
"""

from __future__ import annotations

import fnmatch
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator

import torch
from torch import nn

from hrm.registry import Registry

TEST_TIME_LEARNABLE: Registry[type[nn.Module]] = Registry("test-time learnable module")


def named_tensors(model: nn.Module) -> Iterator[tuple[str, nn.Module, str, str]]:
    """(full name, owning module, "_parameters" or "_buffers", local name) for every slot, shared ones
    once per owner."""
    for module_name, module in model.named_modules(remove_duplicate=False):
        for slots in ("_parameters", "_buffers"):
            for local, tensor in getattr(module, slots).items():
                if tensor is not None:
                    yield (f"{module_name}.{local}" if module_name else local), module, slots, local


def allowed_names(model: nn.Module, allow: Iterable[str]) -> set[str]:
    """Full names of the parameters and buffers that `allow` lets change; an entry matching nothing raises."""
    names = [name for name, *_ in named_tensors(model)]
    allowed: set[str] = set()
    for entry in allow:
        if entry in TEST_TIME_LEARNABLE:
            kind = TEST_TIME_LEARNABLE.get(entry)
            prefixes = tuple(f"{prefix}." if prefix else "" for prefix, module
                             in model.named_modules(remove_duplicate=False) if isinstance(module, kind))
            matched = {name for name in names if prefixes and name.startswith(prefixes)}
        else:
            matched = set(fnmatch.filter(names, entry))
        if not matched:
            raise ValueError(f"test-time learning: '{entry}' matches nothing in {type(model).__name__}; it is "
                             f"neither a kind present in the model (registered: {TEST_TIME_LEARNABLE.names()}) "
                             "nor a pattern matching a parameter or buffer name")
        allowed |= matched
    return allowed


@dataclass
class Saved:
    """One frozen slot as it was on entry."""

    module: nn.Module
    slots: str
    local: str
    tensor: torch.Tensor
    value: torch.Tensor
    requires_grad: bool
    grad: torch.Tensor | None

    def restore(self) -> None:
        getattr(self.module, self.slots)[self.local] = self.tensor
        with torch.no_grad():
            same_layout = (self.tensor.shape, self.tensor.dtype, self.tensor.device) == (
                self.value.shape, self.value.dtype, self.value.device)
            if same_layout:
                self.tensor.copy_(self.value)
            else:
                self.tensor.data = self.value
        self.tensor.requires_grad_(self.requires_grad)
        self.tensor.grad = self.grad


@contextmanager
def test_time_learning(model: nn.Module, allow: Iterable[str] = ()) -> Iterator[list[nn.Parameter]]:
    """Within the block only the tensors `allow` names may change; yields the allowed parameters."""
    allowed = allowed_names(model, allow)
    saved, learnable = [], {}
    for name, module, slots, local in named_tensors(model):
        tensor = getattr(module, slots)[local]
        if name in allowed:
            if slots == "_parameters":
                learnable[id(tensor)] = tensor
            continue
        grad = tensor.grad.detach().clone() if tensor.grad is not None else None
        saved.append(Saved(module, slots, local, tensor, tensor.detach().clone(), tensor.requires_grad, grad))
    flags = [(tensor, tensor.requires_grad) for tensor in learnable.values()]
    try:
        for entry in saved:
            if entry.slots == "_parameters":
                entry.tensor.requires_grad_(False)
        for tensor, _ in flags:
            tensor.requires_grad_(True)
        yield list(learnable.values())
    finally:
        for entry in saved:
            entry.restore()
        for tensor, requires_grad in flags:
            tensor.requires_grad_(requires_grad)


test_time_learning.__test__ = False  # its name starts with "test": keep pytest from collecting it where imported
