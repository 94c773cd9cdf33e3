"""Our HRM and TRM reproduce every tensor the authors' code recorded, for every fixture folder.

Fixture roots come from HRM_REFERENCE_FIXTURES / TRM_REFERENCE_FIXTURES when set (default
../shared/fixtures/{hrm,trm}_reference); every folder with a config.json is tested.
"""

from __future__ import annotations

import pytest

from reference_replay import assert_close, fixture_dirs, load_fixture, our_grad_name, replay_eval, replay_training

CASES = [(family, folder) for family in ("hrm", "trm") for folder in fixture_dirs(family)]


def test_fixtures_found():
    assert {f for f, _ in CASES} == {"hrm", "trm"}, "reference fixtures missing"


@pytest.mark.parametrize("family,folder", CASES, ids=[f"{f}-{d.name}" for f, d in CASES])
def test_training_calls_match_reference(family, folder):
    model, batches, expected = load_fixture(folder, family)
    num_calls = len({k.split(".")[0] for k in expected if k.startswith("train")})
    assert num_calls > 0
    checked = 0
    for call, carry, loss, metrics, outputs, grads in replay_training(model, batches, num_calls):
        p = f"train{call}."
        assert loss.dtype == expected[p + "loss"].dtype, "loss dtype (float64 for stablemax)"
        assert_close(p + "loss", loss, expected[p + "loss"])
        for key in ("logits", "q_halt_logits", "q_continue_logits", "target_q_continue"):
            if p + key in expected:
                assert_close(p + key, outputs[key], expected[p + key])
                checked += 1
        assert ("target_q_continue" in outputs) == (p + "target_q_continue" in expected)
        assert_close(p + "halted", carry.halted, expected[p + "halted"])
        assert_close(p + "steps", carry.steps, expected[p + "steps"])
        assert_close(p + "z_H", carry.z_high, expected[p + "z_H"])
        assert_close(p + "z_L", carry.z_low, expected[p + "z_L"])
        for key in ("inputs", "labels", "puzzle_identifiers"):
            assert_close(p + key, carry.batch[key], expected[p + "current_data." + key])
        metric_keys = {k[len(p + "metric."):] for k in expected if k.startswith(p + "metric.")}
        assert metric_keys == set(metrics), f"metric keys {sorted(metrics)} vs {sorted(metric_keys)}"
        for key in metric_keys:
            assert_close(p + "metric." + key, metrics[key].float(), expected[p + "metric." + key])
        grad_keys = [k for k in expected if k.startswith(p + "grad.")]
        assert len(grad_keys) >= sum(1 for _ in model.parameters())
        for key in grad_keys:
            ref_name = key[len(p + "grad."):]
            ours = grads[ref_name] if ref_name.startswith("puzzle_emb.") else grads[our_grad_name(ref_name, family)]
            assert ours is not None, f"no gradient for {ref_name}"
            assert_close(key, ours, expected[key])
        if p + "puzzle_emb.local_ids" in expected:
            assert_close(p + "local_ids", grads["puzzle_emb.local_ids"], expected[p + "puzzle_emb.local_ids"])
        checked += 1
    assert checked >= num_calls


@pytest.mark.parametrize("family,folder", CASES, ids=[f"{f}-{d.name}" for f, d in CASES])
def test_eval_calls_match_reference(family, folder):
    model, batches, expected = load_fixture(folder, family)
    num_calls = len({k.split(".")[0] for k in expected if k.startswith("eval")})
    assert num_calls == model.config.max_segments
    for call, carry, outputs in replay_eval(model, batches, num_calls):
        p = f"eval{call}."
        for key in ("logits", "q_halt_logits", "q_continue_logits"):
            assert_close(p + key, outputs[key], expected[p + key])
        assert_close(p + "halted", carry.halted, expected[p + "halted"])
