"""Checkpoints that resume exactly and never execute code when loaded.

    RUN_DIR/checkpoints/step_00001000/
        meta.json            step, world size, resolved config, loader state
        model.safetensors    ACT model state (parameters + buffers, puzzle table included)
        ema.safetensors      EMA weights (if the run keeps an EMA)
        optim.pt             optimizer states (loaded with torch.load(weights_only=True))
        rank_<r>.pt          per-rank ACT carry and RNG states (weights_only)

A checkpoint is written into `step_N.tmp-*` and renamed when complete, so a kill at any moment
leaves either the previous checkpoint or the new one, never a half-written folder that looks done.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from hrm.errors import CheckpointError

STEP_PREFIX = "step_"


def _step_of(path: Path) -> int | None:
    name = path.name
    if not name.startswith(STEP_PREFIX) or not name[len(STEP_PREFIX):].isdigit():
        return None
    return int(name[len(STEP_PREFIX):])


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Completed checkpoint folders, oldest first."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    done = [p for p in folder.iterdir() if p.is_dir() and _step_of(p) is not None and (p / "meta.json").is_file()]
    return sorted(done, key=lambda p: _step_of(p))  # type: ignore[arg-type, return-value]


def resolve_checkpoint(target: str | Path) -> Path:
    """A checkpoint folder, or the newest checkpoint of a run folder."""
    path = Path(target)
    if (path / "meta.json").is_file():
        return path
    found = list_checkpoints(path)
    if not found:
        raise CheckpointError(f"no checkpoint found at '{target}' (want a run folder or a checkpoint folder)")
    return found[-1]


def save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(path))


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file '{path}' is missing") from None
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"checkpoint file '{path}' is corrupt ({err})") from None


def load_pickle_free(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint file '{path}' is missing") from None
    except Exception as err:  # torch raises several types for corrupt or unsafe files
        raise CheckpointError(f"checkpoint file '{path}' is corrupt or unsafe ({str(err).splitlines()[0]})") from None


def read_meta(folder: Path) -> dict:
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except FileNotFoundError:
        raise CheckpointError(f"'{folder}' is not a checkpoint (no meta.json)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"checkpoint metadata '{folder / 'meta.json'}' is corrupt ({err})") from None
    if not isinstance(meta, dict) or "step" not in meta or "config" not in meta:
        raise CheckpointError(f"checkpoint metadata '{folder / 'meta.json'}' lacks 'step' or 'config'")
    return meta


def load_model_state(model: torch.nn.Module, state: dict[str, torch.Tensor], where: Path) -> None:
    """Strict load that reports a mismatch as one CheckpointError."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [f"{k} {list(state[k].shape)} vs {list(own[k].shape)}" for k in own if k in state
             and state[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing[:4]}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:4]}")
        if wrong:
            parts.append(f"shape mismatch {wrong[:3]}")
        raise CheckpointError(f"checkpoint '{where}' does not match the model: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


class Checkpointer:
    """Writes and restores run state under RUN_DIR/checkpoints; keeps the newest `keep` folders."""

    def __init__(self, run_dir: str | Path, keep: int = 2, rank: int = 0, world_size: int = 1) -> None:
        self.folder = Path(run_dir) / "checkpoints"
        self.keep = keep
        self.rank = rank
        self.world_size = world_size

    def save(self, step: int, meta: dict, model_state: dict[str, torch.Tensor],
             ema_state: dict[str, torch.Tensor] | None, optim_state: list[dict], rank_state: dict,
             barrier=lambda: None) -> Path:
        """All ranks call this; rank 0 writes shared files and publishes the folder."""
        final = self.folder / f"{STEP_PREFIX}{step:08d}"
        staging = self.folder / f"{final.name}.tmp-partial"
        if self.rank == 0:
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
        barrier()
        torch.save(rank_state, staging / f"rank_{self.rank}.pt")
        if self.rank == 0:
            save_tensors(model_state, staging / "model.safetensors")
            if ema_state is not None:
                save_tensors(ema_state, staging / "ema.safetensors")
            torch.save(optim_state, staging / "optim.pt")
        barrier()
        if self.rank == 0:
            (staging / "meta.json").write_text(json.dumps({**meta, "step": step, "world_size": self.world_size},
                                                          indent=1))
            for file in staging.iterdir():
                with open(file, "rb") as handle:
                    os.fsync(handle.fileno())
            if final.exists():
                shutil.rmtree(final)
            os.replace(staging, final)
            self._prune()
        barrier()
        return final

    def _prune(self) -> None:
        done = list_checkpoints(self.folder.parent)
        for old in done[:-self.keep] if self.keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
        for stale in self.folder.glob(f"{STEP_PREFIX}*.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)

    def latest(self) -> Path | None:
        found = list_checkpoints(self.folder.parent)
        return found[-1] if found else None

    def load(self, folder: Path) -> dict:
        """Everything in a checkpoint folder (this rank's part); raises CheckpointError when unusable."""
        meta = read_meta(folder)
        if int(meta.get("world_size", 1)) != self.world_size:
            raise CheckpointError(f"checkpoint '{folder}' was written by {meta.get('world_size')} ranks; "
                                  f"this run has {self.world_size} (resume with the same number of processes)")
        state = {
            "meta": meta,
            "model": load_tensors(folder / "model.safetensors"),
            "optim": load_pickle_free(folder / "optim.pt"),
            "rank": load_pickle_free(folder / f"rank_{self.rank}.pt"),
        }
        ema_path = folder / "ema.safetensors"
        state["ema"] = load_tensors(ema_path) if ema_path.exists() else None
        return state


def new_run_id() -> str:
    return uuid.uuid4().hex[:8]
