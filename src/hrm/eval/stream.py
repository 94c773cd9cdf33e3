"""Continuous batching for inference with halting: a row whose puzzle stops takes the next puzzle at once.

`predict` runs a batch until its slowest row stops, so with adaptive halting most rows idle while one puzzle
needs many segments. Here every row holds its own puzzle (the ACT carry already resets halted rows, as in
training), so the batch stays full and throughput follows the MEAN number of segments, not the maximum.
Per puzzle the stopping rule and the answer are `predict`'s; only the batching differs. No label is read.

Once no puzzle is left to take, the batch drains: the rows still working are compacted into a smaller batch
whenever at most half of the rows are busy, so the last slow puzzles do not pay for a full batch of idle rows
(at most log2(batch_size) distinct batch sizes, which keeps recompiles of a compiled model few).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from hrm.eval.evaluate import halt_signal
from hrm.eval.verify import Verifier
from hrm.models import ACTModel
from hrm.models.act import Carry


@torch.inference_mode()
def stream_predict(model: ACTModel, inputs: torch.Tensor, puzzle_identifiers: torch.Tensor, batch_size: int,
                   max_segments: int | None = None, adaptive: bool = True,
                   verify: Verifier | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Answers [n, L] and segments used [n] for n puzzles, `batch_size` rows at a time. A puzzle stops at its
    first answer that passes `verify`, else (with `adaptive`) at its Q head's halt, else at `max_segments`."""
    if inputs.ndim != 2 or puzzle_identifiers.shape != inputs.shape[:1]:
        raise ValueError(f"stream_predict wants inputs [n, L] and puzzle_identifiers [n], got "
                         f"{tuple(inputs.shape)} and {tuple(puzzle_identifiers.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    model.eval()
    limit = max_segments or model.config.max_segments
    n, device = inputs.shape[0], inputs.device
    rows = min(batch_size, n)
    answers = torch.zeros_like(inputs)
    used = torch.zeros(n, dtype=torch.int32, device=device)
    feed = {"inputs": inputs[:rows].clone(), "puzzle_identifiers": puzzle_identifiers[:rows].clone()}
    carry = model.initial_carry(feed)
    holds = torch.arange(rows, device=device)  # the puzzle each row works on
    active = torch.ones(rows, dtype=torch.bool, device=device)
    next_puzzle = rows
    while True:
        carry, outputs = model(carry, feed)
        preds = outputs["logits"].argmax(-1).to(answers.dtype)
        stop = carry.steps >= limit
        if verify is not None:
            stop |= verify(carry.batch["inputs"], preds)
        elif adaptive:
            stop |= halt_signal(model, outputs["q_halt_logits"], outputs["q_continue_logits"])
        finished = stop & active
        answers[holds[finished]] = preds[finished]
        used[holds[finished]] = carry.steps[finished]
        slots = finished.nonzero().squeeze(1)  # one host sync per segment
        take = min(slots.numel(), n - next_puzzle)
        refill, retire = slots[:take], slots[take:]
        new = torch.arange(next_puzzle, next_puzzle + take, device=device)
        holds[refill] = new
        feed["inputs"][refill] = inputs[new]
        feed["puzzle_identifiers"][refill] = puzzle_identifiers[new]
        next_puzzle += take
        active[retire] = False
        busy = int(active.sum())
        if busy == 0:
            return answers, used
        carry = replace(carry, halted=finished | ~active)  # refilled rows start their new puzzle next call
        if busy <= active.numel() // 2:  # draining: drop the idle rows
            keep = active.nonzero().squeeze(1)
            carry = Carry.from_state_dict({k: v[keep] for k, v in carry.state_dict().items()})
            feed = {k: v[keep] for k, v in feed.items()}
            holds, active = holds[keep], active[keep]
