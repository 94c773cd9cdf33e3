"""Test-time voting over the 8 symmetric images of a puzzle: the transforms, the vote rule, `hrm eval`."""

import json
import subprocess
import sys

import numpy as np
import pytest

from hrm.data.dihedral import DIHEDRAL_INVERSE, dihedral_transform
from hrm.data.format import read_split
from hrm.data.maze import build_maze_dataset
from hrm.errors import HRMError
from hrm.eval.dihedral_vote import dihedral_vote, transform_rows, transformed_split, vote


def test_transform_rows_moves_every_row_like_dihedral_transform_and_the_inverse_undoes_it():
    rows = np.random.default_rng(0).integers(0, 9, size=(5, 36))
    for tid in range(8):
        moved = transform_rows(rows, tid)
        for row, out in zip(rows, moved):
            assert np.array_equal(out.reshape(6, 6), dihedral_transform(row.reshape(6, 6), tid))
        assert np.array_equal(transform_rows(moved, DIHEDRAL_INVERSE[tid]), rows)
    with pytest.raises(HRMError, match="square grids"):
        transform_rows(np.zeros((2, 10)), 1)


def test_transformed_split_moves_inputs_and_labels_of_a_maze_alike(tmp_path):
    build_maze_dataset(tmp_path / "maze", train_size=2, test_size=3, size=12, min_path=20)
    split = read_split(tmp_path / "maze", "test")
    moved = transformed_split(split, 1)
    original, turned = split.sets["all"], moved.sets["all"]
    assert np.array_equal(turned.inputs, transform_rows(original.inputs, 1))
    assert np.array_equal(turned.labels, transform_rows(original.labels, 1))
    assert np.array_equal(turned.puzzle_identifiers, original.puzzle_identifiers)


def test_vote_takes_the_majority_then_the_confident_then_the_first_image():
    a, b = np.zeros(4, int), np.ones(4, int)
    # row 0: a x3, b x5 -> b; row 1: a x4, b x4, b more confident -> b; row 2: all distinct, equal q -> image 0
    rows = [[a, a, a, b, b, b, b, b], [a, a, a, a, b, b, b, b], [np.full(4, v) for v in range(8)]]
    answers = np.stack([np.stack(images) for images in rows], axis=1)  # [8 images, 3 rows, 4 cells]
    q_halt = np.zeros((8, 3))
    q_halt[4:, 1] = 2.0
    winners, agreement = vote(answers, q_halt)
    assert np.array_equal(winners[0], b) and agreement[0] == 5
    assert np.array_equal(winners[1], b) and agreement[1] == 4
    assert np.array_equal(winners[2], np.zeros(4)) and agreement[2] == 1


def test_voting_refuses_a_task_whose_images_are_not_the_same_puzzle(tmp_path):
    build_maze_dataset(tmp_path / "maze", train_size=2, test_size=2, size=12, min_path=20)
    split = read_split(tmp_path / "maze", "test")
    for task in ("arc", None):
        with pytest.raises(HRMError, match="dihedral voting is for tasks"):
            dihedral_vote(None, split, task, 8, "cpu")


def test_eval_with_dihedral_vote_reports_voted_scores(tmp_path):
    from hrm.data.sudoku import build_small_sudoku

    build_small_sudoku(tmp_path / "data", 2, num_train=100, num_test=24, seed=1, min_blanks=8, max_blanks=12)
    run = [sys.executable, "-m", "hrm"]
    subprocess.run([*run, "train", "--config", "tiny", "--out", tmp_path / "run", f"data.path={tmp_path / 'data'}",
                    "max_steps=40", "eval_every=1000", "log.tensorboard=false"], check=True, capture_output=True)
    result = subprocess.run([*run, "eval", tmp_path / "run", "--dihedral-vote"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "8-image dihedral vote: exact" in result.stdout
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert 0.0 <= metrics["vote8/exact_accuracy"] <= 1.0
    assert 1.0 <= metrics["vote8/mean_agreement"] <= 8.0
