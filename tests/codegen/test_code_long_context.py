"""The causal code model at a long context: cached decoding computes what the full forward computes, long
prompts are cut to their head (and counted), and a tiny model learns a mapping whose key sits far back in a
long prompt."""

import random
from dataclasses import replace

import numpy as np
import pytest
import torch

from hrm.codegen.canvas import BLANK, IGNORE_LABEL, PAD, VOCAB_SIZE, CanvasShape, decode_answer, \
    encode_input, fit_prompt
from hrm.codegen.causal import CachedRows, causal_rows, decode, make_causal
from hrm.codegen.checkpoint_eval import CanvasRecipe, canvas_coverage
from hrm.codegen.problems import ProblemSet, Sample, Task
from hrm.codegen.training_data import canvas_rows
from hrm.config import load_config
from hrm.errors import ConfigError
from hrm.models import build_model
from hrm.models.act import ACTLoss
from hrm.models.trm import TRMConfig
from hrm.nn.losses import IGNORE_LABEL_ID
from hrm.train.run_config import RunConfig

SHAPE = CanvasShape(prompt_len=192, answer_len=12)
ANSWERS = {"add": "return a+b\n", "neg": "return -a\n", "one": "return 1\n"}


def toy_pair(rng: random.Random) -> tuple[str, str]:
    """The key first, then 96-183 bytes of digits: the answer depends on bytes 100-190 positions back."""
    key = rng.choice(sorted(ANSWERS))
    filler = "".join(rng.choice("0123456789 \n") for _ in range(rng.randrange(96, SHAPE.prompt_len - 8)))
    return f"# {key}\n{filler}", ANSWERS[key]


def segment_logits(model, inputs: torch.Tensor) -> torch.Tensor:
    """[b, s, v] logits after all ACT segments from a fresh carry: the full forward."""
    batch = {"inputs": inputs, "labels": torch.full_like(inputs, IGNORE_LABEL),
             "puzzle_identifiers": torch.zeros(len(inputs), dtype=torch.int32)}
    carry = model.initial_carry(batch)
    with torch.no_grad():
        for _ in range(model.config.max_segments):
            carry, outputs = model(carry, batch)
    return outputs["logits"]


def recompute_greedy(model, shape: CanvasShape, prompts: list[str]) -> list[str]:
    """Greedy decoding without a cache: the full forward of the whole row for every byte."""
    rows = torch.from_numpy(np.stack([encode_input(fit_prompt(p, shape), shape) for p in prompts]))
    rows[:, shape.answer_slice] = PAD
    rows[:, shape.prompt_len] = BLANK
    written = torch.full((len(prompts), shape.answer_len), PAD)
    for t in range(shape.answer_len):
        written[:, t] = segment_logits(model, rows)[:, shape.prompt_len + t].argmax(-1)
        if t + 1 < shape.answer_len:
            rows[:, shape.prompt_len + t + 1] = written[:, t]
    return [decode_answer(row) for row in written.numpy()]


def random_causal_model(shape: CanvasShape, causal: bool = True, **overrides):
    torch.manual_seed(0)
    options = dict(hidden_dim=32, num_heads=4, deep_recursions=2, latent_recursions=2, num_layers=2,
                   puzzle_emb_dim=32, num_puzzle_tokens=1, max_segments=2, forward_dtype="float32")
    config = TRMConfig(**(options | overrides), seq_len=shape.seq_len, vocab_size=VOCAB_SIZE, num_puzzle_ids=1)
    model = build_model(config).eval()
    return make_causal(model, shape) if causal else model


def test_cached_rows_give_the_full_forward_logits_at_every_answer_position():
    shape = CanvasShape(200, 12)
    model = random_causal_model(shape)  # 2 segments, T = 2: carried states and no-grad recursions included
    pairs = [("def f(x):\n    '''" + "long spec " * 18 + "'''\n", "return x+1\n"), ("g", "abc")]
    inputs = torch.from_numpy(causal_rows(*canvas_rows(pairs, shape), shape)[0])
    full = segment_logits(model, inputs)
    with torch.inference_mode():
        rows = CachedRows(model, shape, [prompt for prompt, _ in pairs], chunk_rows=1)
        cached = torch.stack([rows.step(inputs[:, shape.prompt_len + t].long()) for t in range(shape.answer_len)], 1)
    assert torch.allclose(cached, full[:, shape.answer_slice], atol=1e-4, rtol=1e-4)


def test_causal_decoding_runs_the_asked_number_of_segments_per_byte():
    shape = CanvasShape(20, 12)
    model = random_causal_model(shape, max_segments=3)
    pairs = [("def f(x):\n", "return x\n"), ("g", "abc")]
    inputs = torch.from_numpy(causal_rows(*canvas_rows(pairs, shape), shape)[0])
    batch = {"inputs": inputs, "labels": torch.full_like(inputs, IGNORE_LABEL),
             "puzzle_identifiers": torch.zeros(len(inputs), dtype=torch.int32)}
    carry, after = model.initial_carry(batch), []
    with torch.no_grad():
        for _ in range(3):
            carry, outputs = model(carry, batch)
            after.append(outputs["logits"][:, shape.answer_slice])
    prompts = [prompt for prompt, _ in pairs]
    for k in (1, 2, 3):
        with torch.inference_mode():
            rows = CachedRows(model, shape, prompts, num_segments=k)
            cached = torch.stack([rows.step(inputs[:, shape.prompt_len + t].long())
                                  for t in range(shape.answer_len)], 1)
        assert torch.allclose(cached, after[k - 1], atol=1e-4, rtol=1e-4)
    assert not torch.allclose(after[0], after[2], atol=1e-3)
    assert decode(model, shape, prompts) == decode(model, shape, prompts, num_segments=3)
    with pytest.raises(ConfigError, match="at least one ACT segment"):
        CachedRows(model, shape, prompts, num_segments=0)


def test_cached_decoding_refuses_models_it_cannot_serve():
    shape = CanvasShape(8, 4)
    # without the mask the prompt would see the answer; with another prompt_len's mask the wrong positions would
    with pytest.raises(ConfigError, match="causal_answer mask for a 8-byte prompt"):
        CachedRows(random_causal_model(shape, causal=False), shape, ["x"])
    with pytest.raises(ConfigError, match="causal_answer mask for a 8-byte prompt"):
        CachedRows(make_causal(random_causal_model(shape, causal=False), CanvasShape(6, 6)), shape, ["x"])
    with pytest.raises(ConfigError, match="learned"):
        CachedRows(random_causal_model(shape, pos_encoding="learned"), shape, ["x"])


def test_long_prompt_is_cut_to_its_head_and_coverage_counts_it():
    shape = CanvasShape(64, 8)
    model = random_causal_model(shape)
    head = "def f(x):\n    '''" + "a" * 40
    long_prompts = [head + "b" * 200, head + "c" * 300]
    assert len(head.encode()) < shape.prompt_len < len(long_prompts[0].encode())
    cut = fit_prompt(long_prompts[0], shape)
    assert decode(model, shape, long_prompts) == decode(model, shape, [cut, cut]) \
        == recompute_greedy(model, shape, [cut, cut])

    class Stub(ProblemSet):
        name, default_source = "stub", None

        def load(self, source):
            return [Task(f"t{i}", "python", prompt) for i, prompt in enumerate(["short", "x" * 65, "y" * 65, "z"])]

        def reference(self, task):
            return None if task.task_id == "t3" else Sample(task.task_id, {"t0": "1234567\n", "t1": "1\n"}.get(
                task.task_id, "12345678"))

        def grade(self, task, sample, sandbox):
            raise AssertionError("not graded here")

    stub = Stub()
    recipe = CanvasRecipe(lambda task: task.prompt, lambda task, completion: completion)
    assert canvas_coverage(stub, recipe, stub.load(None), shape) == {
        "tasks": 4, "with_reference": 3, "prompt_fits": 2, "answer_fits": 2, "both_fit": 1}


@pytest.fixture(scope="module")
def toy_model():
    """A tiny TRM with code_trm_causal_long's recipe (softmax, one segment, T = 1), trained on toy_pair rows."""
    cfg = load_config(RunConfig, "code_trm_causal_long", [
        "model.hidden_dim=32", "model.num_heads=2", "model.num_layers=1", "model.puzzle_emb_dim=32",
        f"model.extensions.causal_answer.prompt_len={SHAPE.prompt_len}"])
    torch.manual_seed(0)
    model = build_model(replace(cfg.model, seq_len=SHAPE.seq_len, vocab_size=VOCAB_SIZE, num_puzzle_ids=1))
    loss_fn, rng = ACTLoss(model), random.Random(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(60):  # 100% on the held-out prompts at 60 steps, 96% at 50
        pairs = [toy_pair(rng) for _ in range(8)]
        inputs, labels = (torch.from_numpy(a) for a in causal_rows(*canvas_rows(pairs, SHAPE), SHAPE))
        labels[labels == IGNORE_LABEL] = IGNORE_LABEL_ID  # as the data loader maps the dataset's ignore label
        batch = {"inputs": inputs, "labels": labels, "puzzle_identifiers": torch.zeros(8, dtype=torch.int32)}
        _, loss, _, _ = loss_fn(model.initial_carry(batch), batch)
        (loss / 8).backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval()


def test_tiny_model_learns_a_key_far_back_in_a_long_prompt(toy_model):
    rng = random.Random(1)
    held_out = [toy_pair(rng) for _ in range(24)]
    answers = decode(toy_model, SHAPE, [prompt for prompt, _ in held_out])
    exact = sum(answer == target for answer, (_, target) in zip(answers, held_out)) / len(held_out)
    assert exact >= 0.9, list(zip(answers, held_out))[:4]
    # the key decides the answer: the same filler behind another key gets that key's answer
    swapped = decode(toy_model, SHAPE, ["# one\n" + held_out[0][0].split("\n", 1)[1]])
    assert swapped == [ANSWERS["one"]]


def test_greedy_decoding_equals_recomputing_every_byte(toy_model):
    rng = random.Random(2)
    prompts = [toy_pair(rng)[0] for _ in range(12)]
    answers = decode(toy_model, SHAPE, prompts, batch_size=5)  # rows end after 9-11 bytes and leave the batch
    assert answers == recompute_greedy(toy_model, SHAPE, prompts)
    assert len({len(answer) for answer in answers}) > 1
