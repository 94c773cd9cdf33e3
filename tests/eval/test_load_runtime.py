"""Inference-time settings when loading a model: latent recursions from the argument or the shipped card."""

import json

import pytest
import torch

from hrm.config import to_plain
from hrm.errors import CheckpointError
from hrm.eval.load import load_trained_model
from hrm.models import build_model
from hrm.models.hrm import HRMConfig
from hrm.models.trm import TRMConfig
from hrm.train.checkpoint import save_tensors


def ship(model: torch.nn.Module, path, inference: dict | None = None):
    """Write `model` the way `hrm export` does (weights + card), optionally with an inference section."""
    card = {"model": to_plain(model.config), "ema": False, "step": 1}
    if inference is not None:
        card["inference"] = inference
    save_tensors(dict(model.state_dict()), path)
    path.with_suffix(".json").write_text(json.dumps(card))
    return path


def tiny(config_class, **fields):
    torch.manual_seed(0)
    config = config_class(hidden_dim=32, num_heads=2, expansion=2.0, puzzle_emb_dim=32, num_puzzle_tokens=1,
                          max_segments=1, seq_len=9, vocab_size=5, num_puzzle_ids=1, forward_dtype="float32", **fields)
    return build_model(config)


def first_segment_logits(model, inputs):
    batch = {"inputs": inputs, "labels": torch.zeros_like(inputs),
             "puzzle_identifiers": torch.zeros(inputs.shape[0], dtype=torch.int32)}
    with torch.no_grad():
        carry = model.initial_carry(batch)
        _, outputs = model(carry, batch)
    return outputs["logits"]


@pytest.fixture
def inputs():
    return torch.randint(0, 5, (3, 9), generator=torch.Generator().manual_seed(1))


def test_latent_recursions_at_inference_run_the_same_weights_n_times(tmp_path, inputs):
    trained = tiny(TRMConfig, deep_recursions=1, latent_recursions=2, num_layers=1)
    path = ship(trained, tmp_path / "m.safetensors")
    as_trained = load_trained_model(path).model
    deeper = load_trained_model(path, latent_recursions=4).model
    assert as_trained.config.latent_recursions == 2 and deeper.config.latent_recursions == 4
    reference = tiny(TRMConfig, deep_recursions=1, latent_recursions=4, num_layers=1)
    reference.load_state_dict(trained.state_dict())  # same weights, built for n = 4
    assert torch.equal(first_segment_logits(deeper, inputs), first_segment_logits(reference.eval(), inputs))
    assert not torch.allclose(first_segment_logits(deeper, inputs), first_segment_logits(as_trained, inputs))


def test_the_cards_inference_setting_is_the_default_and_the_argument_wins(tmp_path):
    path = ship(tiny(TRMConfig, latent_recursions=2), tmp_path / "m.safetensors", {"latent_recursions": 3})
    assert load_trained_model(path).model.config.latent_recursions == 3
    assert load_trained_model(path, latent_recursions=2).model.config.latent_recursions == 2


def test_bad_inference_settings_are_clear_errors(tmp_path):
    path = ship(tiny(TRMConfig, latent_recursions=2), tmp_path / "m.safetensors", {"latent_recursion": 3})
    with pytest.raises(CheckpointError, match=r"unknown inference setting\(s\) \['latent_recursion'\]"):
        load_trained_model(path)
    words = ship(tiny(TRMConfig, latent_recursions=2), tmp_path / "w.safetensors", {"latent_recursions": "six"})
    with pytest.raises(CheckpointError, match="inference latent_recursions must be an integer, got 'six'"):
        load_trained_model(words)
    good = ship(tiny(TRMConfig, latent_recursions=2), tmp_path / "g.safetensors")
    with pytest.raises(CheckpointError, match="latent recursions must be >= 1, got 0"):
        load_trained_model(good, latent_recursions=0)
    hrm = ship(tiny(HRMConfig), tmp_path / "h.safetensors")
    with pytest.raises(CheckpointError, match="is a hrm model: latent recursions are a TRM setting"):
        load_trained_model(hrm, latent_recursions=3)
