"""The sudoku rule check behind verified halting: right answers pass, every kind of wrong one fails, and
`summarise` stops each puzzle at its first passing segment."""

import numpy as np
import torch

from hrm.eval.evaluate import summarise
from hrm.eval.verify import VERIFIERS, sudoku_is_solved, sudoku_units

SOLVED = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
PUZZLE = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"


def tokens(text: str) -> torch.Tensor:
    return torch.tensor([[1 if c in ".0" else int(c) + 1 for c in text]])


def test_units_are_rows_columns_and_boxes():
    units = sudoku_units(9, 3)
    assert units.shape == (27, 9)
    assert units[0].tolist() == list(range(9)) and units[9].tolist() == list(range(0, 81, 9))
    assert units[18].tolist() == [0, 1, 2, 9, 10, 11, 18, 19, 20] and units[26].tolist()[-1] == 80
    assert all(sorted(u.tolist()) == sorted(set(u.tolist())) for u in units)


def test_right_answer_passes_and_wrong_answers_fail():
    inputs, answer = tokens(PUZZLE), tokens(SOLVED)
    assert sudoku_is_solved(inputs, answer).tolist() == [True]
    swapped = answer.clone()
    swapped[0, [2, 3]] = swapped[0, [3, 2]]  # two blanks of row 1 exchanged: columns and boxes break
    blank = answer.clone()
    blank[0, 2] = 1
    other_givens = tokens(PUZZLE.replace("53", "35", 1))  # the right grid no longer keeps the givens
    batch_inputs = torch.cat([inputs, inputs, other_givens])
    batch_answers = torch.cat([swapped, blank, answer])
    assert sudoku_is_solved(batch_inputs, batch_answers).tolist() == [False, False, False]
    assert "sudoku" in VERIFIERS


def test_4x4_grids_use_2x2_boxes():
    solved = tokens("1234341221434321")
    assert sudoku_is_solved(torch.full_like(solved, 1), solved).tolist() == [True]
    rows_only = tokens("1234234134124123")  # every row and column a permutation, but boxes repeat digits
    assert sudoku_is_solved(torch.full_like(rows_only, 1), rows_only).tolist() == [False]


def test_verified_halting_scores_the_first_passing_segment():
    rows = {
        "scored": np.array([True, True, True]),
        "correct_by_segment": np.array([[False, True, True], [False, False, False], [True, False, True]]),
        "valid_by_segment": np.array([[False, True, True], [False, False, False], [True, False, True]]),
        "first_halt": np.array([3, 3, 3]), "q_halt": np.zeros(3), "token_accuracy": np.ones(3),
        "lm_loss": np.zeros(3),
    }
    metrics = summarise(rows, 3, [2, 3])
    assert metrics["verified@3/mean_segments"] == (2 + 3 + 1) / 3
    assert metrics["verified@3/exact_accuracy"] == 2 / 3  # row 3 right at segment 1 though wrong at 2
    assert metrics["verified@2/mean_segments"] == (2 + 2 + 1) / 3
    assert metrics["exact_accuracy"] == 2 / 3 and metrics["adaptive@3/exact_accuracy"] == 2 / 3


def test_rule_checked_evaluation_skips_the_padding_rows_of_a_short_batch(tmp_path):
    """One maze in a batch of 4: the 3 padding rows (all PAD, no S or G) never reach the maze rule check."""
    from hrm.data.format import read_split
    from hrm.data.maze import build_maze_dataset
    from hrm.eval.evaluate import evaluate
    from hrm.models import build_model
    from hrm.models.trm import TRMConfig

    build_maze_dataset(tmp_path / "maze", train_size=2, test_size=1, size=6, min_path=4, seed=0)
    split = read_split(tmp_path / "maze", "test")
    torch.manual_seed(0)
    model = build_model(TRMConfig(hidden_dim=32, num_heads=2, expansion=2.0, puzzle_emb_dim=32, num_puzzle_tokens=1,
                                  deep_recursions=1, latent_recursions=1, num_layers=1, max_segments=2,
                                  seq_len=split.metadata.seq_len, vocab_size=split.metadata.vocab_size,
                                  num_puzzle_ids=split.metadata.num_puzzle_identifiers, forward_dtype="float32"))
    result = evaluate(model, split, 4, torch.device("cpu"), verify=VERIFIERS.get("maze"))
    assert result.metrics["count"] == 1 and len(result.predictions) == 1
