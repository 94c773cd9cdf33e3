"""Data parallelism: two gloo processes under torchrun log the same losses as one process at the
same global batch (the global batch is split by rows; every rank draws the same global RNG)."""

import json
import os
import subprocess
import sys

import pytest

from hrm.data.sudoku import build_small_sudoku


def losses(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.distributed
def test_two_processes_match_one(tmp_path):
    data = tmp_path / "mini"
    build_small_sudoku(data, 2, num_train=200, num_test=50, seed=0, min_blanks=8, max_blanks=12)
    args = ["--config", "tiny", f"data.path={data}", "max_steps=12", "checkpoint_every=6", "eval_every=6",
            "global_batch_size=32", "log.tensorboard=false", "log.plot=false", "log.progress=false",
            "model.halt_exploration_prob=0.5"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "hrm", "train", "--out", str(tmp_path / "one"), *args],
                   check=True, env=env, capture_output=True)
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                             "-m", "hrm", "train", "--out", str(tmp_path / "two"), *args],
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert [r["step"] for r in one] == [r["step"] for r in two]
    train_one = [r for r in one if "loss" in r]
    train_two = [r for r in two if "loss" in r]
    assert len(train_one) == 12
    for a, b in zip(train_one, train_two):
        # same rows, same halting decisions; only the order of floating-point reductions differs
        assert a["train/halted_rows"] == b["train/halted_rows"]
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5, abs=1e-7)
    evals_one = [r for r in one if "eval/exact_accuracy" in r]
    evals_two = [r for r in two if "eval/exact_accuracy" in r]
    assert len(evals_one) == len(evals_two) == 2
    for a, b in zip(evals_one, evals_two):
        assert a["eval/count"] == b["eval/count"] == 50
        assert a["eval/accuracy"] == pytest.approx(b["eval/accuracy"], abs=1e-4)
