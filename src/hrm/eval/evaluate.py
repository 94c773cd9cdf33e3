"""Evaluation: exact accuracy (the headline), token accuracy, Q-halt accuracy, and adaptive halting.

The authors' protocol runs every example for all `max_segments` segments and scores the last one;
that is `exact_accuracy`. Beyond their code, the Q head's halting decision is recorded at every
segment, so one pass also gives, for each segment cap c, the accuracy and mean segments used when a
puzzle stops at the first segment whose Q head says halt (or at c): what adaptive halting at
inference would return, row for row. For tasks with a rule check (eval/verify.py: sudoku), the same pass
also gives "verified" halting: stop at the first segment whose answer passes the check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hrm.data.format import DatasetSplit
from hrm.data.loader import eval_batches
from hrm.models import ACTModel
from hrm.nn.losses import IGNORE_LABEL_ID, TOKEN_LOSSES
from hrm.eval.verify import Verifier
from hrm.train.distributed import DistInfo, all_gather_objects


@dataclass
class EvalResult:
    metrics: dict[str, float]
    predictions: np.ndarray  # [N, s] argmax tokens at the last segment
    q_halt_logits: np.ndarray  # [N] at the last segment
    example_ids: np.ndarray  # [N] indices into the split's examples
    correct_by_segment: np.ndarray  # [N, S] row exactly right after segment s+1
    first_halt: np.ndarray  # [N] first segment whose Q head says halt (S if never)


def halt_signal(model: ACTModel, q_halt: torch.Tensor, q_continue: torch.Tensor) -> torch.Tensor:
    return q_halt > q_continue if model.config.act_continue else q_halt > 0


@torch.inference_mode()
def run_segments(model: ACTModel, batch: dict[str, torch.Tensor], num_segments: int,
                 verify: Verifier | None = None) -> dict[str, torch.Tensor]:
    """All segments for one batch from a fresh carry; per-row results on the batch's device.
    With `verify` (eval/verify.py), also whether each segment's answer passes the puzzle's rules."""
    model.eval()
    carry = model.initial_carry(batch)
    labels = batch["labels"]
    mask = labels != IGNORE_LABEL_ID
    counts = mask.sum(-1)
    real = counts > 0  # padding rows hold no puzzle for the rule check to read
    b = labels.shape[0]
    correct_by_segment = torch.zeros(b, num_segments, dtype=torch.bool, device=labels.device)
    first_halt = torch.full((b,), num_segments, dtype=torch.int32, device=labels.device)
    valid_by_segment = torch.zeros(b, num_segments, dtype=torch.bool, device=labels.device)
    for segment in range(num_segments):
        carry, outputs = model(carry, batch)
        preds = outputs["logits"].argmax(-1)
        correct_by_segment[:, segment] = ((preds == labels) & mask).sum(-1) == counts
        if verify is not None:
            valid_by_segment[real, segment] = verify(batch["inputs"][real], preds[real])
        halts = halt_signal(model, outputs["q_halt_logits"], outputs["q_continue_logits"])
        first_halt = torch.where(halts & (first_halt == num_segments), segment + 1, first_halt)
    token_correct = ((preds == labels) & mask).sum(-1).float() / counts.clamp_min(1)
    token_loss = TOKEN_LOSSES[model.config.loss](outputs["logits"], labels).sum(-1) / counts.clamp_min(1)
    out = {"predictions": preds, "q_halt": outputs["q_halt_logits"], "correct_by_segment": correct_by_segment,
           "first_halt": first_halt, "token_accuracy": token_correct, "lm_loss": token_loss.float(),
           "scored": counts > 0}
    if verify is not None:
        out["valid_by_segment"] = valid_by_segment
    return out


@torch.inference_mode()
def predict(model: ACTModel, batch: dict[str, torch.Tensor], max_segments: int | None = None,
            adaptive: bool = True, verify: Verifier | None = None
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Answers [b, s], segments used [b] and the q_halt logit of each answer's segment [b]. With `adaptive`, a
    row's answer freezes at the first segment whose Q head says halt, and the loop stops once every row has
    halted. With `verify`, a row stops at its first answer that passes the rule check instead (the Q head is
    not consulted)."""
    model.eval()
    limit = max_segments or model.config.max_segments
    carry = model.initial_carry(batch)
    b = batch["inputs"].shape[0]
    answers = torch.zeros_like(batch["inputs"])
    used = torch.zeros(b, dtype=torch.int32, device=answers.device)
    done = torch.zeros(b, dtype=torch.bool, device=answers.device)
    q_halt = torch.zeros(b, dtype=torch.float32, device=answers.device)
    for segment in range(1, limit + 1):
        carry, outputs = model(carry, batch)
        preds = outputs["logits"].argmax(-1).to(answers.dtype)
        stop = torch.full_like(done, segment == limit)
        if verify is not None:
            stop |= verify(batch["inputs"], preds)
        elif adaptive:
            stop |= halt_signal(model, outputs["q_halt_logits"], outputs["q_continue_logits"])
        fresh = stop & ~done
        answers[fresh] = preds[fresh]
        used[fresh] = segment
        q_halt[fresh] = outputs["q_halt_logits"][fresh].float()
        done |= stop
        if bool(done.all()):
            break
    return answers, used, q_halt


def evaluate(model: ACTModel, split: DatasetSplit, batch_size: int, device: torch.device,
             halt_caps: list[int] | None = None, max_examples: int = 0, dist_info: DistInfo = DistInfo(),
             progress: bool = False, verify: Verifier | None = None) -> EvalResult:
    """Score `model` on `split`; every rank evaluates its slices, results are gathered on all ranks."""
    segments = model.config.max_segments
    parts: dict[str, list[np.ndarray]] = {}
    batches = eval_batches(split, batch_size, dist_info.rank, dist_info.world_size, max_examples)
    if progress:
        from tqdm import tqdm

        batches = tqdm(batches, desc="eval", unit="batch", leave=False, dynamic_ncols=True)
    for chunk in batches:
        batch = {k: v.to(device, non_blocking=True) for k, v in chunk.batch.items()}
        out = run_segments(model, batch, segments, verify)
        for key, value in out.items():
            parts.setdefault(key, []).append(value[:chunk.num_real].cpu().numpy())
        parts.setdefault("example_ids", []).append(chunk.example_ids)
    local = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
    gathered = all_gather_objects(local, dist_info)
    merged = {k: np.concatenate([g[k] for g in gathered if k in g and g[k].size]) if any(
        k in g and g[k].size for g in gathered) else np.zeros(0) for k in local}
    order = np.argsort(merged["example_ids"], kind="stable")
    merged = {k: v[order] for k, v in merged.items()}
    return EvalResult(summarise(merged, segments, halt_caps), merged["predictions"], merged["q_halt"],
                      merged["example_ids"], merged["correct_by_segment"], merged["first_halt"])


def summarise(rows: dict[str, np.ndarray], segments: int, halt_caps: list[int] | None) -> dict[str, float]:
    scored = rows["scored"].astype(bool)
    n = int(scored.sum())
    if n == 0:
        return {"count": 0}
    correct = rows["correct_by_segment"][scored]
    first_halt = rows["first_halt"][scored]
    final_correct = correct[:, -1]
    q_says_correct = rows["q_halt"][scored] >= 0
    metrics: dict[str, float] = {
        "count": n,
        "exact_accuracy": float(final_correct.mean()),
        "accuracy": float(rows["token_accuracy"][scored].mean()),
        "q_halt_accuracy": float((q_says_correct == final_correct).mean()),
        "lm_loss": float(rows["lm_loss"][scored].mean()),
        "steps": float(segments),
    }
    for s in range(segments):
        metrics[f"exact_accuracy@segment{s + 1}"] = float(correct[:, s].mean())
    for cap in sorted(set(halt_caps or [])):
        cap = min(max(1, cap), segments)
        used = np.minimum(first_halt, cap)
        metrics[f"adaptive@{cap}/exact_accuracy"] = float(correct[np.arange(n), used - 1].mean())
        metrics[f"adaptive@{cap}/mean_segments"] = float(used.mean())
        if "valid_by_segment" in rows:  # stop at the first answer that passes the rule check
            valid = rows["valid_by_segment"][scored][:, :cap]
            used = np.where(valid.any(1), valid.argmax(1) + 1, cap)
            metrics[f"verified@{cap}/exact_accuracy"] = float(correct[np.arange(n), used - 1].mean())
            metrics[f"verified@{cap}/mean_segments"] = float(used.mean())
    return metrics
