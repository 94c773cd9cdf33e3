"""Test-time learning control: only allowed tensors may change inside the block; everything else
comes back bit-identical, through reassignment, in-place edits, gradients and exceptions."""

import pytest
import torch
from torch import nn

import hrm.neat  # noqa: F401  (registers "titans")
from hrm.models import ACTLoss, TRMConfig, build_model
from hrm.neat.test_time import TEST_TIME_LEARNABLE, test_time_learning


class Adapter(nn.Module):
    """A stand-in for another test-time learnable module (e.g. SVF experts), registered from outside."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))


TEST_TIME_LEARNABLE.add("test-adapter", Adapter)


def titans_trm():
    torch.manual_seed(0)
    return build_model(TRMConfig(hidden_dim=16, num_heads=2, expansion=2.0, puzzle_emb_dim=16, max_segments=2,
                                 seq_len=6, vocab_size=5, num_puzzle_ids=3, forward_dtype="float32",
                                 deep_recursions=2, latent_recursions=2, num_puzzle_tokens=2,
                                 extensions={"titans": {"num_heads": 2, "chunk_size": 4}}))


def batch_of(size=4):
    g = torch.Generator().manual_seed(0)
    inputs = torch.randint(1, 5, (size, 6), generator=g)
    return {"inputs": inputs, "labels": inputs.clone(), "puzzle_identifiers": torch.zeros(size, dtype=torch.int32)}


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict(keep_vars=True).items()}


def is_memory_init(name: str) -> bool:
    return ".memory.initial_weights." in name


def test_only_allowed_modules_learn_at_test_time():
    """A few SGD steps on the whole model's parameters inside allow=["titans"] move only M_0."""
    model = titans_trm()
    torch.nn.init.normal_(model.reasoner.net.memory.out_proj.weight, std=0.1)  # let the memory matter
    before = snapshot(model)
    batch = batch_of()
    with test_time_learning(model, allow=["titans"]) as learnable:
        assert {id(p) for p in learnable} == {id(p) for n, p in model.named_parameters() if is_memory_init(n)}
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        for _ in range(3):
            _, loss, _, _ = ACTLoss(model)(model.initial_carry(batch), batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(is_memory_init(k) for k in changed)
    assert all(p.requires_grad for p in model.parameters())


def tamper(model):
    """Everything code inside the block could do to weights it must not change."""
    with torch.no_grad():
        model.reasoner.lm_head.weight.add_(1.0)
        model.reasoner.init_high.zero_()  # a buffer
        model.reasoner.q_head.bias = nn.Parameter(torch.zeros(7))  # reassigned, other shape
        model.reasoner.net.memory.query_proj.weight.data = torch.ones(3)
    model.reasoner.embed_tokens.weight.requires_grad_(True)
    model.reasoner.embed_tokens.weight.grad = torch.ones_like(model.reasoner.embed_tokens.weight)


def test_everything_else_is_restored_bit_identically():
    model = titans_trm()
    before = snapshot(model)
    objects = {name: t for name, t in model.state_dict(keep_vars=True).items()}
    with test_time_learning(model, allow=["titans"]):
        assert not model.reasoner.lm_head.weight.requires_grad
        tamper(model)
    after = model.state_dict(keep_vars=True)
    for name, value in before.items():
        assert after[name] is objects[name], name  # the same tensor objects are back
        assert torch.equal(after[name], value), name
        assert after[name].dtype == value.dtype
    assert model.reasoner.embed_tokens.weight.grad is None
    assert model.reasoner.lm_head.weight.requires_grad


def test_restores_when_the_block_raises():
    model = titans_trm()
    before = snapshot(model)
    with pytest.raises(RuntimeError, match="inside"):
        with test_time_learning(model, allow=["titans"]):
            tamper(model)
            with torch.no_grad():
                model.reasoner.net.memory.initial_weights.weights[0].add_(1.0)  # allowed: kept
            raise RuntimeError("inside")
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"reasoner.net.memory.initial_weights.weights.0"}


def test_nothing_allowed_is_a_sandbox():
    model = titans_trm()
    before = snapshot(model)
    with test_time_learning(model) as learnable:
        assert learnable == []
        with torch.no_grad():
            model.reasoner.net.memory.initial_weights.weights[1].mul_(3.0)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_patterns_and_kinds_registered_elsewhere():
    model = nn.Sequential(nn.Linear(3, 3), Adapter(3), nn.Linear(3, 3))
    before = snapshot(model)
    with test_time_learning(model, allow=["test-adapter", "2.bias"]) as learnable:
        assert {id(p) for p in learnable} == {id(model[1].scale), id(model[2].bias)}
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
    after = model.state_dict()
    for name in before:
        shift = 1.0 if name in ("1.scale", "2.bias") else 0.0
        assert torch.equal(after[name], before[name] + shift), name
    with pytest.raises(ValueError, match="'svd' matches nothing"):
        with test_time_learning(model, allow=["svd"]):
            pass
    with pytest.raises(ValueError, match="'titans' matches nothing"):  # registered, but not in this model
        with test_time_learning(model, allow=["titans"]):
            pass
