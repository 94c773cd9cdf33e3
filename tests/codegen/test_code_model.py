"""The canvas code model end to end: `hrm code eval --checkpoint` on a tiny checkpoint, decoding, the
syntax screen, and (slow) a tiny model that learns a trivially small synthetic subset."""

import json

import numpy as np
import pytest
import torch

from conftest import load_or_skip

from hrm.cli import main
from hrm.codegen.canvas import CanvasShape, decode_answer
from hrm.codegen.checkpoint_eval import RECIPES, syntax_outcome
from hrm.codegen.generate import first_halt, greedy_answers, sampled_answers
from hrm.codegen.problems import PROBLEM_SETS, Task
from hrm.codegen.synthetic import generate
from hrm.codegen.training_data import build_code_dataset, canvas_rows
from hrm.config import load_config
from hrm.data.format import DatasetMetadata, single_puzzle_set, write_split
from hrm.eval.evaluate import evaluate
from hrm.eval.load import load_trained_model
from hrm.train.run import train
from hrm.train.run_config import RunConfig

TINY_MODEL = ["model.hidden_dim=16", "model.num_heads=2", "model.num_layers=1", "model.puzzle_emb_dim=16",
              "model.max_segments=2", "global_batch_size=8", "eval_every=0", "checkpoint_every=2", "log_every=1",
              "data.eval_max_examples=8"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("code_model")
    build_code_dataset(root / "data", num_train=64, num_test=8, seed=0, shape=CanvasShape(80, 48), corpora=[])
    cfg = load_config(RunConfig, "code_trm", [f"data.path={root / 'data'}", "max_steps=2", *TINY_MODEL])
    train(cfg, root / "run")
    return root


def test_checkpoint_eval_end_to_end(tiny_run, sandbox, capsys):
    out = tiny_run / "eval"
    assert main(["code", "eval", "--checkpoint", str(tiny_run / "run"), "--problems", "synthetic", "--max-tasks", "3",
                 "--samples-per-task", "3", "--k", "1,2", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["num_tasks"] == 3 and summary["segments"] == 2 and len(summary["greedy_by_segment"]) == 2
    assert summary["sampled"]["all"]["num_samples"] == 9 and "pass@2" in summary["sampled"]["all"]
    assert summary["fits_canvas"] == 1.0
    assert len((out / "samples_sampled.jsonl").read_text().splitlines()) == 9
    assert (out / "greedy.md").exists() and (out / "sampled.json").exists()
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last)["problem_set"] == "synthetic"


@pytest.mark.parametrize("problems", ["humaneval", "mbpp"])
def test_checkpoint_eval_on_public_sets(tiny_run, sandbox, problems):
    import hrm.codegen.problems.all_sets  # noqa: F401

    load_or_skip(PROBLEM_SETS.get(problems)())  # skips where HumanEval or the MBPP copy is not installed
    out = tiny_run / problems
    assert main(["code", "eval", "--checkpoint", str(tiny_run / "run"), "--problems", problems, "--max-tasks", "2",
                 "--samples-per-task", "0", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["greedy"]["all"]["num_tasks"] == 2 and "sampled" not in summary


def test_checkpoint_eval_refuses_sets_without_a_recipe(tiny_run, capsys):
    assert main(["code", "eval", "--checkpoint", str(tiny_run / "run"), "--problems", "polyglot"]) == 2
    assert "--checkpoint supports problem sets" in capsys.readouterr().err


def test_recipes_put_the_right_text_on_the_canvas():
    he = Task("HumanEval/0", "python", "from typing import List\n\n\ndef g(a: int) -> int:\n    \"\"\"doc\"\"\"\n")
    assert RECIPES.get("humaneval").prompt(he).startswith("def g(a: int)")
    mbpp = Task("mbpp/11", "python", "You are an expert Python programmer, and here is your task: Write a "
                "function. Your code should pass these tests:\n\nassert f(1) == 2\nassert f(2) == 3\n")
    assert RECIPES.get("mbpp").prompt(mbpp) == "# Write a function.\n# assert f(1) == 2\n"


def test_syntax_screen_fails_only_uncompilable_programs():
    assert syntax_outcome("def f(:\n").syntax_valid is False
    assert syntax_outcome("def f(x):\n    return x\n") is None
    assert syntax_outcome("while True: pass\n") is None  # compiled, never run


def test_decoding_greedy_sampled_and_halting():
    log_probs = torch.full((2, 4, 259), -30.0)
    log_probs[0, :2, ord("a") + 3] = 0.0
    log_probs[0, 2:, 2] = 0.0  # END
    log_probs[1, :, ord("b") + 3] = 0.0
    assert greedy_answers(log_probs) == ["aa", "bbbb"]
    samples = sampled_answers(log_probs, 3, 1.0, torch.Generator().manual_seed(0))
    assert samples == [["aa"] * 3, ["bbbb"] * 3]
    halts = torch.tensor([[False, True], [True, True], [False, False]])
    assert first_halt(halts).tolist() == [1, 0]
    assert decode_answer(np.array([3 + ord("x"), 1, 3 + ord("y")])) == "x"


@pytest.mark.slow
def test_tiny_model_learns_a_trivially_small_subset(tmp_path):
    """Two templates without constants (`upper`, `reverse`): the answer is one of two lines, picked by the spec.
    About 90 s: 400 steps of one segment (100% byte-exact on held-out prompts when measured)."""
    shape = CanvasShape(56, 24)
    templates = ["str:upper", "str:rev"]
    train_set = generate(templates, 256, 0, shape.prompt_len, shape.answer_len)
    test_set = generate(templates, 64, 1, shape.prompt_len, shape.answer_len,
                        exclude_prompts={i.prompt for i in train_set})
    for split, instances in (("train", train_set), ("test", test_set)):
        inputs, labels = canvas_rows([(i.prompt, i.answer) for i in instances], shape)
        meta = DatasetMetadata(pad_id=0, ignore_label_id=0, blank_identifier_id=0, vocab_size=259,
                               seq_len=shape.seq_len, num_puzzle_identifiers=1, total_groups=len(inputs),
                               mean_puzzle_examples=1.0, sets=["all"])
        write_split(tmp_path / "data" / split, meta, {"all": single_puzzle_set(inputs, labels)})
    cfg = load_config(RunConfig, "code_trm", [f"data.path={tmp_path / 'data'}", "max_steps=400", "eval_every=0",
                                              "model.hidden_dim=32", "model.num_heads=2", "model.puzzle_emb_dim=32",
                                              "model.max_segments=1", "optim.lr=5e-3", "optim.lr_warmup_steps=10",
                                              "optim.ema=false", "checkpoint_every=400", "max_minutes=0"])
    train(cfg, tmp_path / "run")
    loaded = load_trained_model(tmp_path / "run")
    from hrm.data.format import read_split

    result = evaluate(loaded.model, read_split(tmp_path / "data", "test"), 64, torch.device("cpu"))
    assert result.metrics["exact_accuracy"] >= 0.9
