"""Load a trained model for evaluation or inference, from our checkpoints or the authors'.

Accepted targets:
- one of our run folders (its newest checkpoint) or checkpoint folders (meta.json + model.safetensors);
- a weights file we ship: `<name>.safetensors` with `<name>.json` beside it holding the model config (and
  optionally an "inference" section: settings the card recommends at inference, e.g. more latent recursions);
- an authors' checkpoint file (torch.save'd state dict, e.g. `step_26040`) with their `all_config.yaml`
  in the same folder; seq_len comes from the dataset (`--data`, or their `data_path`).
Nothing executes code while loading: safetensors, or torch.load(weights_only=True).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from hrm.config import build, read_yaml
from hrm.data.format import DatasetMetadata
from hrm.errors import CheckpointError, ConfigError
from hrm.models import ACTModel, build_model
from hrm.models.convert import config_from_reference, detect_family, load_reference_checkpoint, \
    state_dict_from_reference
from hrm.models.reasoner import ReasonerConfig
from hrm.train.checkpoint import load_model_state, load_tensors, read_meta, resolve_checkpoint


@dataclass
class LoadedModel:
    model: ACTModel
    source: Path
    data_path: Path | None  # the dataset the model was trained on, when known
    used_ema: bool
    step: int | None


def _model_config(tree: dict, where: Path) -> ReasonerConfig:
    try:
        return build(ReasonerConfig, tree, "model.")
    except ConfigError as err:
        raise CheckpointError(f"'{where}': model config is invalid ({err})") from None


@dataclass
class RuntimeSettings:
    """What inference may change without touching the weights. `latent_recursions` (TRM's n) runs more or fewer
    reasoning-state updates per recursion than in training: the weights are shared across them, and a maze model
    trained with one segment at n = 4 finds more shortest paths at n = 6 (benchmarks/results/maze_recursions.md)."""
    forward_dtype: str | None = None
    latent_recursions: int | None = None


def load_trained_model(target: str | Path, device: torch.device | str = "cpu", use_ema: bool = True,
                       data_path: str | Path | None = None, forward_dtype: str | None = None,
                       latent_recursions: int | None = None) -> LoadedModel:
    """`forward_dtype` overrides the activation dtype (default: float32 on CPU, as trained elsewhere);
    `latent_recursions` overrides TRM's n (default: the shipped card's inference setting, else the trained one)."""
    if forward_dtype is None and torch.device(device).type == "cpu":
        forward_dtype = "float32"
    loaded = _load(Path(target), use_ema, data_path, RuntimeSettings(forward_dtype, latent_recursions))
    loaded.model.to(device).eval()
    return loaded


def _at_runtime(config: ReasonerConfig, settings: RuntimeSettings, where: Path) -> ReasonerConfig:
    if settings.forward_dtype is not None:
        config.forward_dtype = settings.forward_dtype
    if settings.latent_recursions is not None:
        if not hasattr(config, "latent_recursions"):
            raise CheckpointError(f"'{where}' is a {config.name} model: latent recursions are a TRM setting")
        if settings.latent_recursions < 1:
            raise CheckpointError(f"latent recursions must be >= 1, got {settings.latent_recursions}")
        config.latent_recursions = settings.latent_recursions
    return config


def _load(path: Path, use_ema: bool, data_path: str | Path | None, settings: RuntimeSettings) -> LoadedModel:
    if not path.exists():
        raise CheckpointError(f"'{path}' does not exist")
    if path.is_file() and path.suffix == ".safetensors" and path.with_suffix(".json").is_file():
        return _load_shipped(path, settings)
    if path.is_file():
        return _load_reference(path, data_path, settings)
    folder = resolve_checkpoint(path)
    meta = read_meta(folder)
    config = _at_runtime(_model_config(dict(meta["config"]["model"]), folder), settings, folder)
    model = build_model(config)
    load_model_state(model, load_tensors(folder / "model.safetensors"), folder)
    ema_path = folder / "ema.safetensors"
    used_ema = use_ema and ema_path.exists()
    if used_ema:
        averaged = load_tensors(ema_path)
        params = dict(model.named_parameters())
        if set(averaged) != set(params):
            raise CheckpointError(f"'{ema_path}' does not match the model's parameters")
        with torch.no_grad():
            for name, value in averaged.items():
                params[name].copy_(value)
    return LoadedModel(model, folder, Path(meta["data_path"]) if meta.get("data_path") else None,
                       used_ema, int(meta["step"]))


def _load_shipped(path: Path, settings: RuntimeSettings) -> LoadedModel:
    card = path.with_suffix(".json")
    try:
        tree = json.loads(card.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"'{card}' is not valid JSON ({err})") from None
    recommended = tree.get("inference") or {}
    unknown = set(recommended) - {"latent_recursions"}
    if unknown:
        raise CheckpointError(f"'{card}': unknown inference setting(s) {sorted(unknown)}")
    if settings.latent_recursions is None and "latent_recursions" in recommended:
        if not isinstance(recommended["latent_recursions"], int):
            raise CheckpointError(f"'{card}': inference latent_recursions must be an integer, "
                                  f"got {recommended['latent_recursions']!r}")
        settings = replace(settings, latent_recursions=recommended["latent_recursions"])
    model = build_model(_at_runtime(_model_config(tree["model"], path), settings, path))
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_tensors(path).items()}
    load_model_state(model, state, path)
    return LoadedModel(model, path, None, bool(tree.get("ema", False)), tree.get("step"))


def _load_reference(path: Path, data_path: str | Path | None, settings: RuntimeSettings) -> LoadedModel:
    config_path = path.parent / "all_config.yaml"
    if not config_path.is_file():
        raise CheckpointError(f"'{path}' looks like an authors' checkpoint but '{config_path}' is missing")
    tree = read_yaml(config_path)
    arch = dict(tree.get("arch") or {})
    if not arch:
        raise CheckpointError(f"'{config_path}' has no 'arch' section")
    state = load_reference_checkpoint(path)
    family = detect_family(arch)
    data_folder = Path(data_path or tree.get("data_path") or "")
    meta_path = data_folder / "train" / "dataset.json"
    if not meta_path.is_file():
        raise CheckpointError(f"need the dataset to know seq_len: pass --data (tried '{meta_path}')")
    meta = DatasetMetadata.from_json(meta_path)
    arch.update(seq_len=meta.seq_len, vocab_size=meta.vocab_size, num_puzzle_identifiers=meta.num_puzzle_identifiers)
    model = build_model(_at_runtime(config_from_reference(arch, family), settings, path))
    load_model_state(model, state_dict_from_reference(state, family), path)
    return LoadedModel(model, path, data_folder, False, None)
