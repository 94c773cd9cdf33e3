"""What every `hrm solve` kind shares: the registry, the bundled-model lookup, loading a model of the right
shape, and the command-line flow (parse, solve, print, verdict)."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from hrm.errors import PuzzleError
from hrm.data.dihedral import DIHEDRAL_INVERSE, NUM_DIHEDRAL
from hrm.eval.dihedral_vote import DIHEDRAL_TASKS, transform_rows, vote
from hrm.eval.evaluate import predict
from hrm.eval.load import load_trained_model
from hrm.eval.verify import Verifier
from hrm.registry import Registry


@dataclass(frozen=True)
class Solver:
    """One kind of puzzle: how to read it, which model shape it needs, how to print and check the answer.

    `parse` turns the command-line argument into the model's input tokens [seq_len] (raising PuzzleError on bad
    input); `verify` is the label-free rule check (`hrm.eval.verify`), used both to stop at the first answer
    that obeys the rules and for the printed verdict."""

    name: str  # what a model must solve, e.g. "9x9 sudoku"
    help: str
    argument_help: str
    parse: Callable[[str], np.ndarray]
    format: Callable[[np.ndarray, np.ndarray], str]  # (input tokens, answer tokens) -> text
    verify: Verifier
    seq_len: int
    vocab_size: int
    bundled: str  # file name in hrm/assets (with a .json of the same stem beside it)
    valid_text: str  # the verdict when `verify` passes, e.g. "valid solution"


SOLVERS: Registry[Solver] = Registry("puzzle kind")


def bundled_model(name: str, kind: str) -> Path:
    """A model shipped inside the package (`hrm export` of a benchmarks/time_to_accuracy.py run)."""
    path = Path(str(resources.files("hrm") / "assets" / name))
    if not path.is_file() or not path.with_suffix(".json").is_file():
        raise PuzzleError(f"the bundled {kind} model '{path}' is missing from this install: "
                          "pass --checkpoint RUN_DIR|CHECKPOINT")
    return path


def solve(kind: str, puzzle: np.ndarray, checkpoint: str | Path, device: str = "cpu",
          dihedral_vote: bool = False, latent_recursions: int | None = None) -> tuple[np.ndarray, int]:
    """The model's answer tokens [seq_len] and the segments it used (stopping at the first rule-abiding answer).
    With `dihedral_vote`, the 8 rotated/mirrored images are solved and the answer most agree on is kept
    (hrm.eval.dihedral_vote; the segments reported are the most any image used)."""
    solver = SOLVERS.get(kind)
    model = load_trained_model(checkpoint, device, latent_recursions=latent_recursions).model
    if model.config.seq_len != solver.seq_len or model.config.vocab_size != solver.vocab_size:
        raise PuzzleError(f"'{checkpoint}' is not a {solver.name} model (seq_len {model.config.seq_len}, "
                          f"vocab {model.config.vocab_size}; want {solver.seq_len}, {solver.vocab_size})")
    images = np.asarray(puzzle).reshape(1, -1)
    if dihedral_vote:
        if kind not in DIHEDRAL_TASKS:
            raise PuzzleError(f"--dihedral-vote is for {', '.join(DIHEDRAL_TASKS)} puzzles, not {kind}")
        images = np.concatenate([transform_rows(images, tid) for tid in range(NUM_DIHEDRAL)])
    rows = images.shape[0]
    batch = {"inputs": torch.as_tensor(images).to(device),
             "labels": torch.zeros(rows, solver.seq_len, dtype=torch.int64, device=device),  # never read
             "puzzle_identifiers": torch.zeros(rows, dtype=torch.int32, device=device)}
    with torch.inference_mode():
        answers, used, q_halt = predict(model, batch, verify=solver.verify)
    answers = answers.cpu().numpy()
    if not dihedral_vote:
        return answers[0], int(used[0])
    back = np.stack([transform_rows(answers[tid:tid + 1], DIHEDRAL_INVERSE[tid]) for tid in range(NUM_DIHEDRAL)])
    winner, _ = vote(back, q_halt.cpu().numpy()[:, None])
    return winner[0], int(used.max())


def solve_from_cli(args: argparse.Namespace) -> None:
    solver = SOLVERS.get(args.kind)
    puzzle = solver.parse(args.puzzle)
    checkpoint = args.checkpoint or bundled_model(solver.bundled, args.kind)
    start = time.perf_counter()
    answer, segments = solve(args.kind, puzzle, checkpoint, args.device, args.dihedral_vote, args.latent_recursions)
    seconds = time.perf_counter() - start
    valid = bool(solver.verify(torch.as_tensor(puzzle)[None], torch.as_tensor(answer)[None])[0])
    print(solver.format(puzzle, answer))
    print(f"{solver.valid_text if valid else 'NOT a ' + solver.valid_text} ({segments} segments, {seconds:.2f} s)")
    if not valid:
        raise SystemExit(1)
