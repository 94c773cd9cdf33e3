"""Replays the authors' recorded HRM/TRM runs through our models (used by the parity tests)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file

from hrm.models import ACTLoss, build_model
from hrm.models.convert import config_from_reference, state_dict_from_reference

SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def fixture_root(family: str) -> Path:
    env = os.environ.get(f"{family.upper()}_REFERENCE_FIXTURES")
    return Path(env) if env else SHARED / f"{family}_reference"


def fixture_dirs(family: str) -> list[Path]:
    root = fixture_root(family)
    return sorted(p for p in root.iterdir() if (p / "config.json").is_file()) if root.is_dir() else []


def load_fixture(folder: Path, family: str):
    ref_config = json.loads((folder / "config.json").read_text())
    config = config_from_reference(ref_config, family)
    model = build_model(config)
    weights = state_dict_from_reference(load_file(str(folder / "weights.safetensors")), family)
    model.load_state_dict(weights, strict=True)
    return model, load_file(str(folder / "batches.safetensors")), load_file(str(folder / "expected.safetensors"))


def our_grad_name(reference_name: str, family: str) -> str:
    from hrm.models.convert import reference_key

    return reference_key(reference_name, family)


def replay_training(model, batches, num_calls: int):
    """Yields (call index, carry, loss, metrics, outputs, grads) for consecutive training calls."""
    loss_head = ACTLoss(model)
    model.train()
    batch = {k.split(".", 1)[1]: v for k, v in batches.items() if k.startswith("train0.")}
    carry = model.initial_carry(batch)
    for call in range(num_calls):
        batch = {k.split(".", 1)[1]: v for k, v in batches.items() if k.startswith(f"train{call}.")}
        model.zero_grad(set_to_none=True)
        emb = getattr(model.reasoner, "puzzle_emb", None)
        if emb is not None and emb.local_weights.grad is not None:
            emb.local_weights.grad = None
        carry, loss, metrics, outputs = loss_head(carry, batch)
        loss.backward()
        grads = {name: p.grad for name, p in model.named_parameters()}
        if emb is not None:
            grads["puzzle_emb.local_weights"] = emb.local_weights.grad
            grads["puzzle_emb.local_ids"] = emb.local_ids.clone()
        yield call, carry, loss, metrics, outputs, grads


def replay_eval(model, batches, num_calls: int):
    model.eval()
    batch = {k.split(".", 1)[1]: v for k, v in batches.items() if k.startswith("eval.")}
    carry = model.initial_carry(batch)
    with torch.no_grad():
        for call in range(num_calls):
            carry, outputs = model(carry, batch)
            yield call, carry, outputs
