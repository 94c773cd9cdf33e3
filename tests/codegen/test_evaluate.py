"""`hrm code eval` end to end (LiveCodeBench fixture, HumanEval references) and its bad-input errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hrm.cli import main
from hrm.codegen.evaluate import read_samples
from hrm.codegen.problems import Task
from hrm.errors import DatasetError

DATA = Path(__file__).parent / "data"
TASKS = [Task("t1", "python", "p"), Task("t2", "python", "p")]


def hrm(*args):
    return subprocess.run([sys.executable, "-m", "hrm", *map(str, args)], capture_output=True, text=True)


def test_read_samples_groups_several_per_task(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in
                            [("t1", "a"), ("t2", "b"), ("t1", "c")]))
    samples = read_samples(path, TASKS, None)
    assert [s.completion for s in samples["t1"]] == ["a", "c"] and len(samples["t2"]) == 1


@pytest.mark.parametrize("line, message", [
    ('{"task_id": "t1"}', "s.jsonl:2: missing key 'completion'"),
    ('{"task_id": "t9", "completion": ""}', "s.jsonl:2: unknown task_id 't9'"),
    ('{"task_id": "t1", "completion": "", "edit_format": "udiff"}', "s.jsonl:2: unknown edit_format 'udiff'"),
    ('{"task_id": "t1", "completion": ', "s.jsonl:2: not valid JSON"),
])
def test_bad_samples_are_one_clear_error(tmp_path, line, message):
    path = tmp_path / "s.jsonl"
    path.write_text('{"task_id": "t1", "completion": "x"}\n' + line + "\n")
    with pytest.raises(DatasetError, match=message):
        read_samples(path, TASKS, None)


def test_cli_scores_samples_and_writes_reports(sandbox, tmp_path):
    result = hrm("code", "eval", "--problems", f"lcb:{DATA / 'lcb_sample.jsonl'}", "--samples",
                 DATA / "lcb_samples.jsonl", "--k", "1,2", "--out", tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["num_tasks"] == 3 and summary["num_samples"] == 6
    assert summary["pass@1"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3) and "pass@2" not in summary
    assert (tmp_path / "report.json").exists() and "## Samples that did not pass (2)" in \
        (tmp_path / "report.md").read_text()


def test_cli_missing_checkpoint_is_one_clear_error(capsys, tmp_path):
    assert main(["code", "eval", "--problems", "synthetic", "--checkpoint", str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--problems", "nosuch", "--reference"], "unknown problem set 'nosuch'"),
    (["--problems", "lcb", "--samples", "x.jsonl"], "lcb:FILE.jsonl"),
    (["--problems", f"lcb:{DATA / 'lcb_sample.jsonl'}", "--reference"], "no reference solutions"),
    (["--problems", f"lcb:{DATA / 'lcb_sample.jsonl'}", "--samples", "absent.jsonl"], "absent.jsonl: no such file"),
])
def test_cli_bad_input_is_one_line(capsys, args, message):
    assert main(["code", "eval", *args]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1, error
