"""Continuous batching gives each puzzle the same answer and segment count as `predict` on one batch."""

import numpy as np
import pytest
import torch

from hrm.data.sudoku import SudokuProfile, make_puzzle
from hrm.eval.evaluate import predict
from hrm.eval.load import load_trained_model
from hrm.eval.stream import stream_predict
from hrm.eval.verify import sudoku_is_solved
from hrm.solve import bundled_sudoku_model


@pytest.fixture(scope="module")
def puzzles():
    """Six random minimal 9x9 puzzles (unique solutions), in the authors' tokens: 1 blank, 2..10 digits."""
    made = [make_puzzle(False, SudokuProfile(random_minimal=True), np.random.default_rng([5, i])) for i in range(6)]
    inputs = torch.as_tensor(np.stack([p for p, _, _ in made]) + 1)
    solutions = torch.as_tensor(np.stack([s for _, s, _ in made]) + 1)
    return inputs, solutions


@pytest.fixture(scope="module")
def model():
    return load_trained_model(bundled_sudoku_model(), "cpu").model


@pytest.mark.parametrize("mode", ["verified", "q_halt", "all_segments"])
def test_stream_matches_one_batch(model, puzzles, mode):
    inputs, solutions = puzzles
    ids = torch.zeros(inputs.shape[0], dtype=torch.int32)
    verify = sudoku_is_solved if mode == "verified" else None
    adaptive = mode == "q_halt"
    batch = {"inputs": inputs, "labels": torch.zeros_like(inputs), "puzzle_identifiers": ids}
    cap = 3 if mode == "all_segments" else None  # every puzzle runs to the cap
    want, want_used, _ = predict(model, batch, max_segments=cap, adaptive=adaptive, verify=verify)
    got, used = stream_predict(model, inputs, ids, batch_size=2, max_segments=cap, adaptive=adaptive, verify=verify)
    assert torch.equal(got, want) and torch.equal(used, want_used)
    if mode == "all_segments":
        assert (used == 3).all()
    else:  # the bundled model solves these in a few segments: the stream refilled rows as they stopped
        assert used.float().mean() < 4
    assert (got == solutions).all(-1).float().mean() >= 5 / 6


def test_stream_rejects_bad_shapes(model):
    with pytest.raises(ValueError, match="inputs \\[n, L\\]"):
        stream_predict(model, torch.ones(81, dtype=torch.int64), torch.zeros(1, dtype=torch.int32), 4)
    with pytest.raises(ValueError, match="batch_size"):
        stream_predict(model, torch.ones(2, 81, dtype=torch.int64), torch.zeros(2, dtype=torch.int32), 0)


def test_stream_drains_on_a_shrinking_batch(model, puzzles):
    """With one slow row left, the drain runs on fewer rows than the batch: same answers as `predict`. The slow
    row is made by the stopping rule (puzzle 0 never counts as done), so this holds for any weights."""
    inputs, _ = puzzles
    ids = torch.zeros(inputs.shape[0], dtype=torch.int32)

    def all_but_puzzle_0_done(rows: torch.Tensor, answers: torch.Tensor) -> torch.Tensor:
        return ~(rows == inputs[0]).all(-1)

    sizes = []
    hook = model.register_forward_pre_hook(lambda _, args: sizes.append(args[1]["inputs"].shape[0]))
    try:
        got, used = stream_predict(model, inputs, ids, batch_size=4, max_segments=6, adaptive=False,
                                   verify=all_but_puzzle_0_done)
    finally:
        hook.remove()
    want, want_used, _ = predict(model, {"inputs": inputs, "puzzle_identifiers": ids}, max_segments=6,
                                 adaptive=False, verify=all_but_puzzle_0_done)
    assert torch.equal(got, want) and torch.equal(used, want_used)
    assert used.tolist() == [6, 1, 1, 1, 1, 1]
    assert sizes[0] == 4 and min(sizes) < 4  # compacted once no puzzle was left to take
