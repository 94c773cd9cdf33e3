"""Model invariants: parameter counts of the papers, Q init, the recursion's call order, gradients
only through the final calls, and that both models learn a small task."""

import pytest
import torch

from hrm.config import load_config
from hrm.models import ACTLoss, HRMConfig, TRMConfig, build_model
from hrm.train.optim import AdamATan2
from hrm.train.run_config import RunConfig


def paper_model(name: str, vocab: int = 11, seq_len: int = 81):
    cfg = load_config(RunConfig, name).model
    cfg.vocab_size, cfg.seq_len, cfg.num_puzzle_ids = vocab, seq_len, 1
    cfg.forward_dtype = "float32"
    return build_model(cfg)


@pytest.mark.parametrize("vocab,expected", [(11, 27_275_266), (12, 27_276_290), (6, 27_270_146)])
def test_hrm_parameter_count_matches_the_paper(vocab, expected):
    assert paper_model("hrm_sudoku", vocab).reasoner.num_parameters() == expected


def test_trm_parameter_counts_match_the_paper():
    mlp = paper_model("trm_sudoku").reasoner.num_parameters()
    attention = paper_model("trm_maze", vocab=6, seq_len=900).reasoner.num_parameters()
    assert 4.9e6 < mlp < 5.1e6  # "5M"
    assert 6.7e6 < attention < 6.9e6  # "7M"


def tiny(cls, **kw):
    base = dict(hidden_dim=16, num_heads=2, expansion=2.0, puzzle_emb_dim=16, max_segments=3, seq_len=6,
                vocab_size=5, num_puzzle_ids=3, forward_dtype="float32")
    return build_model(cls(**{**base, **kw}))


def batch_of(size=4, seq=6, vocab=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randint(1, vocab, (size, seq), generator=g)
    return {"inputs": inputs, "labels": inputs.clone(), "puzzle_identifiers": torch.zeros(size, dtype=torch.int32)}


@pytest.mark.parametrize("cls", [HRMConfig, TRMConfig])
def test_q_head_starts_at_minus_five(cls):
    model = tiny(cls)
    batch = batch_of()
    _, outputs = model(model.initial_carry(batch), batch)
    assert torch.equal(outputs["q_halt_logits"], torch.full((4,), -5.0))
    assert torch.equal(outputs["q_continue_logits"], torch.full((4,), -5.0))


def record_calls(model, stacks):
    calls = []
    for name in stacks:
        stack = getattr(model.reasoner, name)
        stack.register_forward_hook(lambda m, args, out, name=name: calls.append((name, torch.is_grad_enabled())))
    return calls


def test_hrm_segment_runs_the_one_step_gradient_schedule():
    model = tiny(HRMConfig, high_cycles=2, low_cycles=2)
    model.eval()
    calls = record_calls(model, ["low_net", "high_net"])
    batch = batch_of()
    model(model.initial_carry(batch), batch)
    assert calls == [("low_net", False), ("low_net", False), ("high_net", False), ("low_net", False),
                     ("low_net", True), ("high_net", True)]


def test_trm_segment_backpropagates_through_the_whole_last_recursion():
    model = tiny(TRMConfig, deep_recursions=3, latent_recursions=2, num_puzzle_tokens=2)
    model.eval()
    calls = record_calls(model, ["net"])
    batch = batch_of()
    model(model.initial_carry(batch), batch)
    assert [grad for _, grad in calls] == [False] * 6 + [True] * 3


def test_eval_runs_every_segment_and_training_can_halt_early():
    model = tiny(TRMConfig, max_segments=3, num_puzzle_tokens=1, halt_exploration_prob=0.0)
    with torch.no_grad():
        model.reasoner.q_head.bias.fill_(5.0)  # the Q head wants to halt at once
    batch = batch_of()
    model.eval()
    carry = model.initial_carry(batch)
    for segment in range(3):
        carry, _ = model(carry, batch)
        assert carry.halted.all() == (segment == 2)
    model.train()
    carry, _ = model(model.initial_carry(batch), batch)
    assert carry.halted.all()


def test_only_halted_rows_take_new_examples():
    model = tiny(HRMConfig)
    model.train()
    first, second = batch_of(seed=1), batch_of(seed=2)
    carry = model.initial_carry(first)
    carry, _ = model(carry, first)
    carry.halted = torch.tensor([True, False, True, False])
    carry, _ = model(carry, second)
    assert torch.equal(carry.batch["inputs"][[0, 2]], second["inputs"][[0, 2]])
    assert torch.equal(carry.batch["inputs"][[1, 3]], first["inputs"][[1, 3]])
    assert carry.steps.tolist() == [1, 2, 1, 2]


def sort_task(size, seq=6, vocab=6, seed=0):
    """Output the input digits in ascending order: needs comparisons across positions, not copying."""
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randint(2, vocab, (size, seq), generator=g)
    return {"inputs": inputs, "labels": inputs.sort(dim=1).values, "puzzle_identifiers": torch.zeros(size, dtype=torch.int32)}


@pytest.mark.parametrize("cls,extra", [(HRMConfig, dict(high_layers=1, low_layers=1)),
                                       (TRMConfig, dict(num_layers=1, latent_recursions=2, deep_recursions=2,
                                                        num_puzzle_tokens=1))])
def test_models_learn_to_sort(cls, extra):
    torch.manual_seed(0)
    model = build_model(cls(hidden_dim=32, num_heads=2, expansion=2.0, puzzle_emb_dim=32, max_segments=2, seq_len=6,
                            vocab_size=6, num_puzzle_ids=1, forward_dtype="float32", **extra))
    step = ACTLoss(model)
    optimizer = AdamATan2(model.parameters(), lr=3e-3, weight_decay=0.0)
    test = sort_task(256, seed=99)

    def exact_on_test():
        model.eval()
        with torch.no_grad():
            carry = model.initial_carry(test)
            for _ in range(model.config.max_segments):
                carry, out = model(carry, test)
        return (out["logits"].argmax(-1) == test["labels"]).all(-1).float().mean().item()

    before = exact_on_test()
    carry = None
    for i in range(300):
        batch = sort_task(64, seed=i)
        model.train()
        carry = carry or model.initial_carry(batch)
        carry, loss, _, _ = step(carry, batch)
        (loss / 64).backward()
        optimizer.step()
        optimizer.zero_grad()
    after = exact_on_test()
    assert before < 0.05
    assert after > 0.6, f"exact accuracy on unseen sequences only {after:.2f}"
