"""`hrm export`: turn a checkpoint into a small weights file to ship (`<name>.safetensors` + `<name>.json`).

Only what inference needs travels: the model's weights (the EMA weights when the run kept them), cast to
bfloat16 by default to halve the size, and the model config. Optimizer state, RNG states and the carry stay
behind. `hrm eval` and `hrm solve --checkpoint` read the result (eval/load.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from hrm.config import to_plain
from hrm.errors import CheckpointError
from hrm.eval.load import load_trained_model
from hrm.train.checkpoint import save_tensors

EXPORT_DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32, "float16": torch.float16}


def export_weights(target: str | Path, out: str | Path, dtype: str = "bfloat16", use_ema: bool = True) -> Path:
    """Write `out` (.safetensors) and its .json; both appear complete or not at all (temp files, then rename)."""
    if dtype not in EXPORT_DTYPES:
        raise CheckpointError(f"export dtype must be one of {sorted(EXPORT_DTYPES)}, got '{dtype}'")
    out = Path(out)
    if out.suffix != ".safetensors":
        raise CheckpointError(f"export target must end in .safetensors, got '{out}'")
    loaded = load_trained_model(target, "cpu", use_ema=use_ema)
    config = to_plain(loaded.model.config)
    config.pop("forward_dtype", None)  # chosen at load time for the device (float32 on CPU, bf16 on GPU)
    state = {name: value.to(EXPORT_DTYPES[dtype]) if value.is_floating_point() else value
             for name, value in loaded.model.state_dict().items()}
    card = {"model": config, "ema": loaded.used_ema, "step": loaded.step, "dtype": dtype,
            "source": str(Path(target).resolve())}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_weights, tmp_card = out.with_name(out.name + ".tmp"), out.with_suffix(".json.tmp")
    save_tensors(state, tmp_weights)
    tmp_weights.chmod(0o644)
    tmp_card.write_text(json.dumps(card, indent=2) + "\n")
    os.replace(tmp_card, out.with_suffix(".json"))
    os.replace(tmp_weights, out)
    return out
