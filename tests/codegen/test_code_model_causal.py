"""`hrm code eval --checkpoint` on a causal code model (trained with the causal_answer extension): the
formulation is read from the run, decoding is byte by byte, the report is the canvas one; errors are one line."""

import json
import shutil

import pytest
import torch

from hrm.cli import main
from hrm.codegen.canvas import CanvasShape
from hrm.codegen.causal import decode, write_causal_dataset
from hrm.codegen.checkpoint_eval import evaluate_checkpoint, render_summary, sample_subset
from hrm.codegen.code_models import FORMULATIONS, load_code_model
from hrm.codegen.training_data import build_code_dataset
from hrm.config import load_config
from hrm.train.run import train
from hrm.train.run_config import RunConfig

TINY_MODEL = ["model.hidden_dim=16", "model.num_heads=2", "model.num_layers=1", "model.puzzle_emb_dim=16",
              "model.max_segments=2", "global_batch_size=8", "eval_every=0", "checkpoint_every=2", "log_every=1",
              "data.eval_max_examples=8"]
PROMPTS = ["def f(x):\n    # add 3\n", "def g(s):\n    # upper\n", "def h(xs):\n    # sum\n"]


@pytest.fixture(scope="module")
def causal_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("code_causal")
    build_code_dataset(root / "canvas", num_train=64, num_test=8, seed=0, shape=CanvasShape(80, 48), corpora=[])
    write_causal_dataset(root / "canvas", root / "data")
    cfg = load_config(RunConfig, "code_trm", [f"data.path={root / 'data'}", "max_steps=2", *TINY_MODEL,
                                              "model.extensions.causal_answer.prompt_len=80"])
    train(cfg, root / "run")
    return root


def test_causal_checkpoint_report(causal_run, sandbox, capsys):
    out = causal_run / "eval"
    assert main(["code", "eval", "--checkpoint", str(causal_run / "run"), "--problems", "synthetic", "--max-tasks", "4",
                 "--samples-per-task", "2", "--k", "1,2", "--sample-tasks", "2", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["formulation"] == "causal" and summary["num_tasks"] == 4 and summary["segments"] == 2
    assert summary["greedy_columns"] == ["2 seg per byte"] and len(summary["greedy_by_segment"]) == 1
    assert "adaptive" not in summary  # the causal Q head sees only the prompt: no adaptive halting
    assert summary["greedy"]["all"]["num_tasks"] == 4
    assert summary["num_sampled_tasks"] == 2 and summary["sampled_task_ids"] == ["synthetic/seen/0", "synthetic/seen/2"]
    assert summary["sampled"]["all"]["num_samples"] == 4 and "pass@2" in summary["sampled"]["all"]
    assert len((out / "samples_sampled.jsonl").read_text().splitlines()) == 4
    assert len((out / "samples_greedy.jsonl").read_text().splitlines()) == 4
    assert (out / "greedy.md").exists() and (out / "sampled.json").exists()
    printed = capsys.readouterr().out
    assert "causal model" in printed and "on 2 of the 4 tasks" in printed
    assert json.loads(printed.strip().splitlines()[-1])["problem_set"] == "synthetic"


def test_prompts_longer_than_the_canvas_are_cut_and_scored(causal_run, sandbox):
    summary = evaluate_checkpoint(str(causal_run / "run"), "humaneval", num_samples=0, temperature=0.8, ks=[1],
                                  num_workers=2, max_tasks=3, data_path=None, seed=0, out=None)
    assert summary["coverage"] == {"tasks": 3, "with_reference": 3, "prompt_fits": 0, "answer_fits": 1, "both_fit": 0}
    assert summary["greedy"]["all"]["num_tasks"] == 3  # no task leaves the denominator
    assert "prompts that fit uncut: 0 of 3" in render_summary(summary)


def test_formulation_is_read_from_the_run(causal_run):
    model = load_code_model(causal_run / "run")
    assert model.formulation == "causal" and model.shape == CanvasShape(80, 48)


def test_greedy_is_deterministic_and_sampling_follows_the_seed(causal_run):
    model = load_code_model(causal_run / "run")
    generate = FORMULATIONS.get("causal").generate

    def run(seed: int):
        return generate(model, PROMPTS, [0, 2], 3, 0.8, torch.Generator().manual_seed(seed))

    first, again, other = run(0), run(0), run(1)
    assert first.greedy == again.greedy == other.greedy and len(first.greedy[0]) == len(PROMPTS)
    assert first.halt_at is None and first.columns == ["2 seg per byte"]
    assert first.sampled == again.sampled and len(first.sampled) == 2 and all(len(s) == 3 for s in first.sampled)
    # rows leave the batch when they end: one prompt at a time writes the same greedy answers
    assert [decode(model.model, model.shape, [p])[0] for p in PROMPTS] == first.greedy[0]


def test_sample_subset_spreads_over_the_set():
    assert sample_subset(400, 4) == [0, 100, 200, 300]
    assert sample_subset(3, None) == sample_subset(3, 10) == [0, 1, 2]


@pytest.mark.parametrize("damage", ["missing", "garbage_weights", "wrong_prompt_len"])
def test_bad_checkpoint_is_one_clear_error_line(causal_run, tmp_path, capsys, damage):
    run = tmp_path / "run"
    if damage != "missing":
        shutil.copytree(causal_run / "run", run)
    checkpoint = sorted((run / "checkpoints").glob("step_*"))[-1] if damage != "missing" else None
    if damage == "garbage_weights":
        for name in ("model.safetensors", "ema.safetensors"):
            if (checkpoint / name).exists():
                (checkpoint / name).write_bytes(b"not a safetensors file")
    data = None
    if damage == "wrong_prompt_len":  # a dataset whose canvas has another prompt/answer split, same length
        data = tmp_path / "data"
        shutil.copytree(causal_run / "data", data)
        (data / "canvas.json").write_text(json.dumps({"prompt_len": 70, "answer_len": 58}))
    argv = ["code", "eval", "--checkpoint", str(run), "--problems", "synthetic", "--max-tasks", "1",
            "--samples-per-task", "0"] + (["--data", str(data)] if data else [])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("hrm: error: ") and str(run) in err[0]


def test_causal_rows_keep_an_answer_that_fills_the_region():
    from hrm.codegen.canvas import BLANK, END, IGNORE_LABEL, decode_answer
    from hrm.codegen.causal import causal_rows
    from hrm.codegen.training_data import canvas_rows

    shape = CanvasShape(4, 6)
    inputs, labels = causal_rows(*canvas_rows([("f", "abcdef"), ("g", "ab")], shape), shape)
    assert decode_answer(labels[0, 4:]) == "abcdef" and END not in labels[0, 4:].tolist()  # scored to its last byte
    assert inputs[0, 4] == BLANK and decode_answer(inputs[0, 5:]) == "abcde"
    assert labels[1, 6] == END and (labels[1, 7:] == IGNORE_LABEL).all()
