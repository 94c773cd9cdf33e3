"""The authors' checkpoints load through one explicit key map (with or without `_orig_mod.`)."""

import json

import pytest
import torch
import yaml
from safetensors.torch import load_file

from hrm.data.format import DatasetMetadata, single_puzzle_set, staged_dataset, write_split
from hrm.errors import CheckpointError
from hrm.eval.load import load_trained_model
from hrm.models.convert import reference_key, state_dict_from_reference
from reference_replay import assert_close, fixture_dirs, load_fixture, replay_eval


def test_every_key_is_mapped_and_unknown_keys_fail():
    assert reference_key("_orig_mod.model.inner.H_level.layers.3.self_attn.qkv_proj.weight", "hrm") == \
        "reasoner.high_net.blocks.3.attention.qkv_proj.weight"
    assert reference_key("inner.L_level.layers.0.mlp_t.down_proj.weight", "trm") == \
        "reasoner.net.blocks.0.token_mlp.down_proj.weight"
    with pytest.raises(CheckpointError, match="unknown key 'inner.H_level.layers.0.self_attn.qkv_proj.weight'"):
        reference_key("inner.H_level.layers.0.self_attn.qkv_proj.weight", "trm")  # TRM has no H network
    with pytest.raises(CheckpointError, match="unknown key"):
        state_dict_from_reference({"inner.mystery": torch.zeros(1)}, "hrm")


@pytest.mark.parametrize("prefix", ["", "_orig_mod.model."])
def test_authors_checkpoint_file_loads_and_predicts_like_the_reference(tmp_path, prefix):
    folder = next(d for d in fixture_dirs("hrm") if d.name == "rope_stablemax")
    ref_config = json.loads((folder / "config.json").read_text())
    weights = load_file(str(folder / "weights.safetensors"))
    run = tmp_path / "checkpoints" / "HierarchicalReasoningModel_ACTV1 demo"
    run.mkdir(parents=True)
    torch.save({prefix + k: v for k, v in weights.items()}, run / "step_6")
    data = tmp_path / "data"
    meta = DatasetMetadata(pad_id=0, ignore_label_id=0, blank_identifier_id=0, vocab_size=ref_config["vocab_size"],
                           seq_len=ref_config["seq_len"], num_puzzle_identifiers=ref_config["num_puzzle_identifiers"],
                           total_groups=1, mean_puzzle_examples=1.0, sets=["all"])
    tokens = torch.randint(1, 11, (1, ref_config["seq_len"])).numpy()
    with staged_dataset(data) as staging:
        write_split(staging / "train", meta, {"all": single_puzzle_set(tokens, tokens)})
    arch = {k: v for k, v in ref_config.items() if k not in ("batch_size", "seq_len", "vocab_size",
                                                              "num_puzzle_identifiers", "loss_type")}
    arch.update(name="hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1",
                loss={"name": "losses@ACTLossHead", "loss_type": ref_config["loss_type"]})
    (run / "all_config.yaml").write_text(yaml.safe_dump({"arch": arch, "data_path": str(data)}))

    loaded = load_trained_model(run / "step_6")
    _, batches, expected = load_fixture(folder, "hrm")
    for call, _, outputs in replay_eval(loaded.model, batches, 4):
        assert_close(f"eval{call}.logits", outputs["logits"], expected[f"eval{call}.logits"])


def test_unsafe_or_corrupt_authors_checkpoint_is_refused(tmp_path):
    (tmp_path / "all_config.yaml").write_text("arch: {hidden_size: 8}\n")
    (tmp_path / "step_1").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not be read safely"):
        load_trained_model(tmp_path / "step_1")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"inner.H_init": Evil()}, tmp_path / "step_2")
    with pytest.raises(CheckpointError, match="could not be read safely"):
        load_trained_model(tmp_path / "step_2")
