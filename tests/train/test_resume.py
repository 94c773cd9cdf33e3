"""A run killed with SIGKILL and restarted with the same command logs the same losses, bit for bit."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hrm.data.sudoku import build_small_sudoku
from hrm.errors import CheckpointError, ConfigError
from hrm.train.checkpoint import list_checkpoints


@pytest.fixture(scope="module")
def mini_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "mini"
    build_small_sudoku(path, 2, num_train=200, num_test=50, seed=0, min_blanks=8, max_blanks=12)
    return path


def command(out: Path, data: Path, steps: int = 24) -> list[str]:
    return [sys.executable, "-m", "hrm", "train", "--config", "tiny", "--out", str(out), f"data.path={data}",
            f"max_steps={steps}", "checkpoint_every=4", "eval_every=0", "log.tensorboard=false", "log.plot=false",
            "optim.lr_warmup_steps=5"]


def losses(run: Path) -> list[tuple[int, float]]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in records if "loss" in r]


def test_sigkill_and_restart_gives_identical_losses(tmp_path, mini_data):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    straight = tmp_path / "straight"
    subprocess.run(command(straight, mini_data), check=True, env=env, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(command(killed, mini_data), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list_checkpoints(killed)) < 2:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    interrupted_at = list_checkpoints(killed)[-1].name
    assert interrupted_at != "step_00000024", "the run finished before it could be killed"
    subprocess.run(command(killed, mini_data), check=True, env=env, capture_output=True)

    expected = losses(straight)
    assert len(expected) == 24
    assert losses(killed) == expected  # exact float equality, step for step
    final = "checkpoints/step_00000024/model.safetensors"
    assert (straight / final).read_bytes() == (killed / final).read_bytes()
    assert (straight / "checkpoints/step_00000024/ema.safetensors").read_bytes() == \
        (killed / "checkpoints/step_00000024/ema.safetensors").read_bytes()


def test_restart_with_other_architecture_is_refused(tmp_path, mini_data):
    from hrm.config import load_config
    from hrm.train.run import train
    from hrm.train.run_config import RunConfig

    run = tmp_path / "run"
    overrides = [f"data.path={mini_data}", "max_steps=2", "checkpoint_every=2", "log.tensorboard=false",
                 "log.progress=false", "log.plot=false"]
    train(load_config(RunConfig, "tiny", overrides), run)
    with pytest.raises(ConfigError, match="model.hidden_dim: 32 -> 48"):
        train(load_config(RunConfig, "tiny", overrides + ["model.hidden_dim=48"]), run)
    # a longer run of the same config resumes instead
    train(load_config(RunConfig, "tiny", overrides[:1] + ["max_steps=3"] + overrides[2:]), run)
    assert list_checkpoints(run)[-1].name == "step_00000003"


def test_corrupt_checkpoint_gives_one_clear_error(tmp_path, mini_data):
    from hrm.config import load_config
    from hrm.train.run import train
    from hrm.train.run_config import RunConfig

    run = tmp_path / "run"
    overrides = [f"data.path={mini_data}", "max_steps=2", "checkpoint_every=2", "log.tensorboard=false",
                 "log.progress=false", "log.plot=false"]
    train(load_config(RunConfig, "tiny", overrides), run)
    weights = list_checkpoints(run)[-1] / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt") as err:
        train(load_config(RunConfig, "tiny", overrides[:1] + ["max_steps=4"] + overrides[2:]), run)
    assert "\n" not in str(err.value)
    # a half-written folder from a kill is never taken for a checkpoint
    (run / "checkpoints" / "step_00000009.tmp-abc").mkdir()
    assert list_checkpoints(run)[-1].name == "step_00000002"
