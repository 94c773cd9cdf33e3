"""The BLT code model (hrm.codegen.blt_code): causality, the answer-only loss, and learning a toy mapping."""

from __future__ import annotations

import pytest
import torch

from hrm.codegen.blt_code import (ANSWER_ID, BLTCodeConfig, BLTCodeModel, code_ids, load_blt_code,
                                  masked_next_byte_loss, pack, save_blt_code, train_rows)
from hrm.neat.blt import BLTConfig, EntropyModel, Patcher
from hrm.neat.blt.byte_vocab import EOS_ID, OFFSET

TINY = BLTConfig(local_dim=16, latent_dim=32, num_encoder_layers=1, num_decoder_layers=1, num_latent_layers=1,
                 latent="trm", latent_recursions=2, deep_recursions=2, num_local_heads=2, num_latent_heads=2,
                 num_cross_heads=2, expansion=2.0, ngram_sizes=(3, 4), hash_table_size=64)
PAIRS = [("def f(x):\n    # add 1\n", "    return x+1\n"), ("def f(s):\n    # upper\n", "    return s.upper()\n")]


def entropy_patched_model(seed: int = 0) -> BLTCodeModel:
    """A random tiny model whose patches come from a random entropy model at a mid threshold."""
    torch.manual_seed(seed)
    entropy_model = EntropyModel(dim=16, num_layers=1).eval().requires_grad_(False)
    threshold = entropy_model.entropies(pack(PAIRS).ids).median().item()
    return BLTCodeModel(TINY, Patcher("global", threshold, entropy_model=entropy_model)).eval()


def test_rows_mark_the_answer_and_score_only_answer_bytes_and_eos():
    batch = pack(PAIRS)
    prompt, answer = PAIRS[1]
    row = code_ids(prompt, answer)
    assert batch.ids[1, :len(row)].tolist() == row and row[len(prompt) + 1] == ANSWER_ID and row[-1] == EOS_ID
    scored = batch.scored()  # over targets ids[:, 1:]
    for i, (prompt, answer) in enumerate(PAIRS):
        targets = batch.ids[i, 1:][scored[i]].tolist()
        assert targets == [b + OFFSET for b in answer.encode()] + [EOS_ID]  # answer bytes then EOS, nothing else


def test_loss_ignores_the_prompt_and_padding():
    batch = pack(PAIRS)
    logits = torch.zeros(*batch.ids[:, :-1].shape, 260, requires_grad=True)
    masked_next_byte_loss(lambda ids: logits, batch.ids, batch.scored()).backward()
    touched = logits.grad.abs().sum(-1) > 0
    assert torch.equal(touched, batch.scored())  # gradient only where an answer byte or EOS is predicted
    assert not touched[0, :len(PAIRS[0][0]) + 1].any()  # BOS and prompt positions: none


def test_logits_at_an_answer_position_ignore_that_and_later_answer_bytes():
    model = entropy_patched_model()
    batch = pack(PAIRS[:1])
    ids = batch.ids[:, :-1]  # the inputs the loss feeds
    start = int(batch.answer_at[0])  # position of ANSWER: its logits predict the first answer byte
    with torch.no_grad():
        base = model(ids)
        generator = torch.Generator().manual_seed(1)
        for t in range(start, ids.shape[1]):  # logits at t predict ids[t + 1]: perturb t + 1 onwards
            perturbed = ids.clone()
            perturbed[:, t + 1:] = torch.randint(OFFSET, 260, perturbed[:, t + 1:].shape, generator=generator)
            got = model(perturbed)
            assert torch.allclose(got[:, :t + 1], base[:, :t + 1], atol=1e-6), t
            if t + 2 < ids.shape[1]:
                assert not torch.allclose(got[:, t + 2:], base[:, t + 2:], atol=1e-3)  # the check can fail


def test_tiny_model_learns_a_toy_mapping_to_exact_answers(tmp_path):
    pairs = [("# add 1\n", "x+1\n"), ("# upper\n", "s.upper()\n"), ("# twice\n", "2*x\n"), ("# reverse\n", "s[::-1]\n")]
    config = BLTCodeConfig(blt=TINY, entropy_dim=16, entropy_layers=1, entropy_steps=20, mean_patch_size=3.0,
                           steps=120, batch_size=8, lr=1e-2, warmup_steps=10, ema_decay=0.5)
    model, record = train_rows(pairs, config)
    losses = record["losses"]
    assert sum(losses[:5]) / 5 > 4.0 and sum(losses[-10:]) / 10 < 0.3  # from ~ln 260 to near zero
    assert record["patching"]["rule"] == "global"
    assert model.greedy([p for p, _ in pairs], max_answer_ids=16) == [a for _, a in pairs]
    record.pop("losses")
    save_blt_code(model, config, record, tmp_path)  # safetensors + JSON; the reload answers the same
    assert load_blt_code(tmp_path).greedy([p for p, _ in pairs], max_answer_ids=16) == [a for _, a in pairs]


def test_loading_a_folder_without_a_model_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no trained code model"):
        load_blt_code(tmp_path)


def test_patching_whole_rows_once_gives_the_loss_of_patching_the_inputs():
    model = entropy_patched_model()
    batch = pack(PAIRS)
    with torch.no_grad():  # training patches every full row once (answer and EOS included) and slices
        assert torch.allclose(model.loss(batch, model.patcher(batch.ids)), model.loss(batch), atol=1e-6)
