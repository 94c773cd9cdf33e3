"""The causal code formulation: no target leaks (data and attention), layout round trip (decoding:
test_code_long_context.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hrm.codegen.canvas import BLANK, BYTE_OFFSET, END, IGNORE_LABEL, PAD, VOCAB_SIZE, CanvasShape, decode_answer
from hrm.codegen.causal import causal_mask, causal_rows, make_causal, write_causal_dataset
from hrm.codegen.training_data import build_code_dataset, canvas_rows
from hrm.data.format import read_split
from hrm.models import build_model
from hrm.models.trm import TRMConfig

SHAPE = CanvasShape(prompt_len=6, answer_len=8)
PAIRS = [("f(x):\n", "x+1\n"), ("g(s)", "s[::-1]"), ("", "")]


def tiny_causal_model(mask: bool = True):
    torch.manual_seed(0)
    config = TRMConfig(hidden_dim=32, num_heads=4, deep_recursions=2, latent_recursions=2, num_layers=2,
                       puzzle_emb_dim=32, num_puzzle_tokens=1, max_segments=2, forward_dtype="float32",
                       seq_len=SHAPE.seq_len, vocab_size=VOCAB_SIZE, num_puzzle_ids=1)
    model = build_model(config).eval()
    return make_causal(model, SHAPE) if mask else model


def segment_logits(model, inputs: torch.Tensor) -> torch.Tensor:
    """[S, b, s, v] logits after each ACT segment from a fresh carry."""
    batch = {"inputs": inputs, "labels": torch.full_like(inputs, IGNORE_LABEL),
             "puzzle_identifiers": torch.zeros(len(inputs), dtype=torch.int32)}
    carry, logits = model.initial_carry(batch), []
    with torch.no_grad():
        for _ in range(model.config.max_segments):
            carry, outputs = model(carry, batch)
            logits.append(outputs["logits"])
    return torch.stack(logits)


def test_layout_round_trip_and_shift():
    inputs, labels = causal_rows(*canvas_rows(PAIRS, SHAPE), SHAPE)
    canvas_inputs, _ = canvas_rows(PAIRS, SHAPE)
    p = SHAPE.prompt_len
    assert (inputs[:, :p] == canvas_inputs[:, :p]).all() and (labels[:, :p] == IGNORE_LABEL).all()
    for (_, answer), row_in, row_lab in zip(PAIRS, inputs, labels):
        n = len(answer)
        assert decode_answer(row_lab[p:]) == answer and decode_answer(row_in[p + 1:]) == answer
        assert row_in[p] == BLANK and row_lab[p + n] == END
        # the input at answer position t holds byte t-1, never byte t (the one it predicts)
        assert (row_in[p + 1:p + n + 1] == row_lab[p:p + n]).all()
        assert (row_lab[p + n + 1:] == IGNORE_LABEL).all() and (row_in[p + n + 1:] == PAD).all()


def test_mask_prompt_sees_prompt_answer_sees_past():
    mask = causal_mask(SHAPE, num_prefix=1)
    visible = 1 + SHAPE.prompt_len
    assert mask[:, :visible].all() and not mask[:visible, visible:].any()
    for query in range(visible, mask.shape[0]):
        assert mask[query, visible:query + 1].all() and not mask[query, query + 1:].any()


@pytest.mark.parametrize("masked", [True, False])
def test_no_answer_position_sees_its_own_or_later_bytes(masked):
    model = tiny_causal_model(masked)
    inputs, _ = causal_rows(*canvas_rows(PAIRS[:1], SHAPE), SHAPE)
    inputs = torch.from_numpy(inputs)
    base = segment_logits(model, inputs)
    p, leaks = SHAPE.prompt_len, 0
    for t in range(SHAPE.answer_len - 1):
        for k in range(SHAPE.answer_len - 1 - t):  # answer byte t+k sits at input position p+t+k+1
            changed = inputs.clone()
            changed[0, p + t + k + 1] = BYTE_OFFSET + ord("z")
            same = torch.equal(segment_logits(model, changed)[:, :, :p + t + 1], base[:, :, :p + t + 1])
            leaks += not same
    if masked:
        assert leaks == 0
    else:
        assert leaks > 0  # the check can see a leak: without the mask every position sees everything


def test_causal_dataset_matches_canvas_dataset(tmp_path):
    build_code_dataset(tmp_path / "canvas", num_train=20, num_test=5, seed=0, shape=CanvasShape(80, 48), corpora=[])
    write_causal_dataset(tmp_path / "canvas", tmp_path / "causal")
    canvas = read_split(tmp_path / "canvas", "train").sets["all"]
    causal = read_split(tmp_path / "causal", "train").sets["all"]
    expected = causal_rows(np.asarray(canvas.inputs), np.asarray(canvas.labels), CanvasShape(80, 48))
    assert (np.asarray(causal.inputs) == expected[0]).all() and (np.asarray(causal.labels) == expected[1]).all()


def test_causal_answer_extension_masks_by_configuration_and_checks_its_options():
    from dataclasses import replace

    from hrm.errors import ConfigError
    from hrm.nn.attention import Attention

    masked_by_hand = tiny_causal_model()
    torch.manual_seed(0)
    base = masked_by_hand.config
    by_config = build_model(replace(base, extensions={"causal_answer": {"prompt_len": SHAPE.prompt_len}})).eval()
    masks = [m.attn_mask for m in by_config.modules() if isinstance(m, Attention)]
    assert masks and all(torch.equal(m, causal_mask(SHAPE, by_config.reasoner.num_prefix)) for m in masks)
    assert not any("attn_mask" in k for k in by_config.state_dict())  # checkpoints unchanged
    inputs = torch.randint(BYTE_OFFSET, VOCAB_SIZE, (2, SHAPE.seq_len))
    assert torch.equal(segment_logits(by_config, inputs), segment_logits(masked_by_hand, inputs))
    for options, message in [({"prompt_len": 0}, ">= 1"), ({"prompt_len": SHAPE.seq_len}, "must be in"),
                             ({"prompt_len": 3, "oops": 1}, "oops")]:
        with pytest.raises(ConfigError, match=message):
            build_model(replace(base, extensions={"causal_answer": options}))
    with pytest.raises(ConfigError, match="token_mixer"):
        build_model(replace(base, token_mixer="mlp", extensions={"causal_answer": {"prompt_len": 3}}))
