"""The Aider polyglot exercises: loading, bad input, reference solutions per language, edit formats end to end.

Python and C++ run by default; each other language is skipped, with the install line, where its offline
toolchain is absent (docs/codegen-harness.md)."""

import pytest
from conftest import failing_references, load_or_skip

from hrm.codegen.languages import LANGUAGES, cache_dir
from hrm.codegen.problems import Sample
from hrm.codegen.problems.polyglot import Polyglot
from hrm.errors import DatasetError

EXPECTED_COUNTS = {"cpp": 26, "go": 39, "java": 47, "javascript": 49, "python": 34, "rust": 30}


def needs(language: str):
    reason = LANGUAGES.get(language).missing(cache_dir())
    return pytest.mark.skipif(reason is not None, reason=reason or "")


@pytest.fixture(scope="module")
def polyglot():
    return load_or_skip(Polyglot())


def grade(polyglot, sandbox, task_id, completion=None, edit_format="whole"):
    problem_set, tasks = polyglot
    sample = problem_set.reference(tasks[task_id]) if completion is None else Sample(task_id, completion, edit_format)
    return problem_set.grade(tasks[task_id], sample, sandbox)


def test_loads_225_exercises(polyglot):
    problem_set, tasks = polyglot
    counts = {language: sum(task.language == language for task in tasks.values()) for language in EXPECTED_COUNTS}
    assert counts == EXPECTED_COUNTS
    assert problem_set._exercises["rust/accumulate"].editable == ("src/lib.rs",)  # Cargo.toml is not editable
    assert problem_set._exercises["cpp/all-your-base"].editable == ("all_your_base.cpp", "all_your_base.h")
    assert "bowling.py\n```\n" in tasks["python/bowling"].prompt


def test_reference_mapping_keeps_java_helper_classes(polyglot):
    problem_set, _ = polyglot
    assert sorted(problem_set._exercises["java/bowling"].references) == \
        ["src/main/java/BowlingGame.java", "src/main/java/Frame.java"]


def test_missing_folder_and_broken_config_are_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="no folder cpp/exercises/practice"):
        Polyglot().load(str(tmp_path))
    exercise = tmp_path / "cpp" / "exercises" / "practice" / "hello"
    (exercise / ".meta").mkdir(parents=True)
    (exercise / ".meta" / "config.json").write_text("{not json")
    with pytest.raises(DatasetError, match=r"hello/.meta/config.json: unreadable exercise config"):
        Polyglot().load(str(tmp_path))


@needs("python")
@pytest.mark.parametrize("task_id", ["python/bowling", "python/zipper"])
def test_python_references_pass(polyglot, clean_sandbox, task_id):
    outcome = grade(polyglot, clean_sandbox, task_id)
    assert outcome.verdict == "passed" and outcome.syntax_valid and outcome.tests_passed == outcome.tests_total > 0


@needs("cpp")
def test_cpp_reference_passes(polyglot, clean_sandbox):
    outcome = grade(polyglot, clean_sandbox, "cpp/all-your-base")
    assert outcome.verdict == "passed" and outcome.tests_passed == outcome.tests_total == 17, outcome


@needs("cpp")
def test_cpp_solution_cannot_read_secrets_at_compile_time(polyglot, clean_sandbox):
    reply = 'all_your_base.cpp\n```\n#include "/etc/shadow"\n```\n'
    outcome = grade(polyglot, clean_sandbox, "cpp/all-your-base", reply)
    assert outcome.verdict == "failed" and outcome.syntax_valid is False, outcome


@pytest.mark.parametrize("language, task_id", [
    ("go", "go/alphametics"), ("java", "java/bowling"), ("javascript", "javascript/affine-cipher"),
    ("rust", "rust/gigasecond")])
def test_other_language_references_pass(polyglot, clean_sandbox, language, task_id):
    reason = LANGUAGES.get(language).missing(cache_dir())
    if reason is not None:
        pytest.skip(reason)
    outcome = grade(polyglot, clean_sandbox, task_id)
    assert outcome.verdict == "passed" and outcome.syntax_valid and outcome.tests_passed == outcome.tests_total > 0


@needs("python")
def test_search_replace_reply_end_to_end(polyglot, clean_sandbox):
    problem_set, tasks = polyglot
    exercise = problem_set._exercises["python/bowling"]
    stub, solution = exercise.files["bowling.py"].decode(), exercise.references["bowling.py"].decode()
    reply = f"bowling.py\n```python\n<<<<<<< SEARCH\n{stub}=======\n{solution}>>>>>>> REPLACE\n```\n"
    assert grade(polyglot, clean_sandbox, "python/bowling", reply, "diff").verdict == "passed"


@needs("python")
def test_malformed_reply_fails_with_its_reason(polyglot, clean_sandbox):
    reply = "bowling.py\n```\n<<<<<<< SEARCH\nnot in the stub\n=======\nx = 1\n>>>>>>> REPLACE\n```\n"
    outcome = grade(polyglot, clean_sandbox, "python/bowling", reply, "diff")
    assert (outcome.verdict, outcome.well_formed, outcome.syntax_valid) == ("failed", False, None)
    assert "malformed diff edit: block 1: SEARCH text does not match any lines of bowling.py" == outcome.reason


@needs("python")
def test_rewritten_tests_are_ignored(polyglot, clean_sandbox):
    """Only editable and new files come from the reply: a rewritten test file is replaced by the pristine one."""
    reply = "bowling_test.py\n```\ndef test_nothing():\n    pass\n```\n"
    outcome = grade(polyglot, clean_sandbox, "python/bowling", reply)
    assert outcome.verdict == "failed" and outcome.tests_total > 1, outcome


@needs("python")
def test_exiting_zero_before_the_tests_is_not_a_pass(polyglot, clean_sandbox):
    reply = "bowling.py\n```\nimport os\nos._exit(0)\n```\n"
    outcome = grade(polyglot, clean_sandbox, "python/bowling", reply)
    assert outcome.verdict == "failed" and "no passing run" in outcome.reason, outcome


@pytest.mark.slow
def test_all_references(polyglot, clean_sandbox):
    """The offline toolchains' known gaps: 6 Rust references use crates outside Cargo.toml, 3 Java exercises need
    libraries Debian lacks, and Go 1.19 has no `slices` package (docs/codegen-harness.md)."""
    problem_set, tasks = polyglot
    ready = {language for language in EXPECTED_COUNTS if LANGUAGES.get(language).missing(cache_dir()) is None}
    failures = set(failing_references(problem_set, {task_id: task for task_id, task in tasks.items()
                                                    if task.language in ready}, clean_sandbox))
    known = {"rust/alphametics", "rust/decimal", "rust/grep", "rust/pig-latin", "rust/poker", "rust/robot-name",
             "java/hangman", "java/rest-api", "java/mazy-mice", "go/dnd-character"}
    assert failures <= known, failures - known


@needs("python")
def test_new_file_inside_an_existing_file_is_malformed(polyglot, clean_sandbox):
    reply = "bowling.py/extra.py\n```\nx = 1\n```\n"
    outcome = grade(polyglot, clean_sandbox, "python/bowling", reply)
    assert not outcome.well_formed and "inside the file bowling.py" in outcome.reason, outcome
