"""Import the paper authors' HRM/TRM configs and checkpoints: one explicit, tested key map.

Every key of an authors' state dict is mapped by name; an unknown key, a missing key or a wrong
shape is an error (no guessing). A `_orig_mod.` prefix (torch.compile) and the `model.` prefix of
their `ACTLossHead` wrapper are accepted.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import torch

from hrm.errors import CheckpointError
from hrm.models.hrm import HRMConfig
from hrm.models.reasoner import ReasonerConfig
from hrm.models.trm import TRMConfig

_SHARED_KEYS = {
    "inner.embed_tokens.embedding_weight": "reasoner.embed_tokens.weight",
    "inner.embed_pos.embedding_weight": "reasoner.embed_positions.weight",
    "inner.lm_head.weight": "reasoner.lm_head.weight",
    "inner.q_head.weight": "reasoner.q_head.weight",
    "inner.q_head.bias": "reasoner.q_head.bias",
    "inner.puzzle_emb.weights": "reasoner.puzzle_emb.weights",
    "inner.H_init": "reasoner.init_high",
    "inner.L_init": "reasoner.init_low",
}
_SUBLAYERS = {
    "self_attn.qkv_proj.weight": "attention.qkv_proj.weight",
    "self_attn.o_proj.weight": "attention.o_proj.weight",
    "mlp_t.gate_up_proj.weight": "token_mlp.gate_up_proj.weight",
    "mlp_t.down_proj.weight": "token_mlp.down_proj.weight",
    "mlp.gate_up_proj.weight": "mlp.gate_up_proj.weight",
    "mlp.down_proj.weight": "mlp.down_proj.weight",
}
_STACKS = {"hrm": {"H_level": "high_net", "L_level": "low_net"}, "trm": {"L_level": "net"}}
_LAYER_KEY = re.compile(r"^inner\.(H_level|L_level)\.layers\.(\d+)\.(.+)$")


def detect_family(reference_config: Mapping[str, Any]) -> str:
    """'trm' if the config has TRM-only fields (or an arch name saying so), else 'hrm'."""
    name = str(reference_config.get("name", ""))
    if "trm" in name.lower() or "TinyRecursive" in name:
        return "trm"
    if any(k in reference_config for k in ("mlp_t", "puzzle_emb_len", "no_ACT_continue")):
        return "trm"
    return "hrm"


def config_from_reference(ref: Mapping[str, Any], family: str | None = None) -> ReasonerConfig:
    """Our model config from the authors' arch config (config.json / all_config.yaml `arch`)."""
    family = family or detect_family(ref)
    loss = ref.get("loss_type") or (ref.get("loss") or {}).get("loss_type", "stablemax_cross_entropy")
    common = dict(
        hidden_dim=int(ref["hidden_size"]),
        num_heads=int(ref["num_heads"]),
        expansion=float(ref["expansion"]),
        pos_encoding=str(ref["pos_encodings"]),
        rope_theta=float(ref.get("rope_theta", 10000.0)),
        rms_norm_eps=float(ref.get("rms_norm_eps", 1e-5)),
        puzzle_emb_dim=int(ref.get("puzzle_emb_ndim", 0)),
        max_segments=int(ref["halt_max_steps"]),
        halt_exploration_prob=float(ref["halt_exploration_prob"]),
        loss={"stablemax_cross_entropy": "stablemax", "softmax_cross_entropy": "softmax"}[loss],
        forward_dtype=str(ref.get("forward_dtype", "bfloat16")),
        seq_len=int(ref.get("seq_len", 0)),
        vocab_size=int(ref.get("vocab_size", 0)),
        num_puzzle_ids=int(ref.get("num_puzzle_identifiers", 0)),
    )
    if family == "hrm":
        cfg: ReasonerConfig = HRMConfig(high_cycles=int(ref["H_cycles"]), low_cycles=int(ref["L_cycles"]),
                                        high_layers=int(ref["H_layers"]), low_layers=int(ref["L_layers"]),
                                        act_continue=True, **common)
    elif family == "trm":
        emb_len = int(ref.get("puzzle_emb_len", 16))
        cfg = TRMConfig(deep_recursions=int(ref["H_cycles"]), latent_recursions=int(ref["L_cycles"]),
                        num_layers=int(ref["L_layers"]),
                        token_mixer="mlp" if ref.get("mlp_t", False) else "attention",
                        num_puzzle_tokens=emb_len if common["puzzle_emb_dim"] > 0 else 0,
                        act_continue=not bool(ref.get("no_ACT_continue", True)), **common)
    else:
        raise ValueError(f"unknown model family '{family}'")
    cfg.validate()
    return cfg


def reference_key(key: str, family: str) -> str:
    """Map one authors' state-dict key to ours, or raise CheckpointError."""
    key = key.removeprefix("_orig_mod.").removeprefix("model.")
    if key in _SHARED_KEYS:
        return _SHARED_KEYS[key]
    match = _LAYER_KEY.match(key)
    if match and match.group(1) in _STACKS[family] and match.group(3) in _SUBLAYERS:
        stack, index, sublayer = match.groups()
        return f"reasoner.{_STACKS[family][stack]}.blocks.{index}.{_SUBLAYERS[sublayer]}"
    raise CheckpointError(f"unknown key '{key}' in the authors' {family.upper()} checkpoint")


def state_dict_from_reference(state: Mapping[str, torch.Tensor], family: str) -> dict[str, torch.Tensor]:
    converted = {}
    for key, value in state.items():
        ours = reference_key(key, family)
        if ours in converted:
            raise CheckpointError(f"key '{key}' appears twice in the authors' checkpoint")
        converted[ours] = value
    return converted


def load_reference_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Read an authors' checkpoint file (torch.save of a state dict, or safetensors) without running code."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint '{path}' not found") from None
    except Exception as err:  # torch/safetensors raise many types for corrupt files
        raise CheckpointError(f"checkpoint '{path}' could not be read safely: {err}".splitlines()[0]) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"checkpoint '{path}' is not a state dict of tensors")
    return state
