"""The Aider polyglot benchmark: 225 Exercism exercises in C++, Go, Java, JavaScript, Python and Rust.

Source: the shared `polyglot-benchmark.tar.gz` (extracted once into the cache, never into the repository) or
an extracted folder. A task is `<language>/<slug>`. The answer is a reply in an aider edit format
(`whole` or `diff`, see hrm.codegen.edit_formats) that edits the exercise's editable files (aider's rule:
`files.solution` minus test, example and build files). Only the editable files and new files come from the
reply; every other file is the pristine exercise's (aider likewise restores the tests). The tests run with the
language's offline toolchain (hrm.codegen.languages); a case passes when the test command exits 0 and its
runner reports at least one test and no failure (aider looks at the exit status only; the extra condition
stops a solution that exits 0 before any test runs).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Sequence

from hrm.codegen.edit_formats import EDIT_FORMATS, FENCE, MalformedEdit
from hrm.codegen.languages import LANGUAGES, Language, cache_dir
from hrm.codegen.outcome import Outcome, failed
from hrm.codegen.problems import PROBLEM_SETS, SHARED_DATA, ProblemSet, Sample, Task
from hrm.codegen.sandbox import Execution, Sandbox
from hrm.errors import DatasetError

NOT_EDITABLE_NAMES = ("CMakeLists.txt", "Cargo.toml")
DEFAULT_EDIT_FORMAT = "whole"
ADDENDUM = ("\n\n####\n\nUse the instructions above to change the supplied files: {files}.\n"
            "Keep the names of the existing functions and classes: the tests call them.\n"
            "Use only the language's standard library; do not add packages.\n")
"""Modelled on aider's benchmark addendum (benchmark/prompts.py)."""
ERROR_LINE = re.compile(r"error|Error|ERROR|FAIL|panicked|Exception|assert", re.MULTILINE)


@dataclass(frozen=True)
class Exercise:
    language: Language
    slug: str
    files: dict[str, bytes]
    """Every file of the exercise outside its dot-folders (.meta, .docs, ...), tests already enabled."""
    editable: tuple[str, ...]
    references: dict[str, bytes]
    """The reference solution: path in the exercise -> content."""
    has_tests: bool
    """False for exercises Exercism marks `.meta/.skip_tests` (go/counter: the answer is a test suite); for those
    the test command's exit status alone decides, as in aider."""


class Polyglot(ProblemSet):
    name = "polyglot"
    default_source = str(SHARED_DATA / "polyglot-benchmark.tar.gz")

    def load(self, source: str | None) -> Sequence[Task]:
        root = _benchmark_root(Path(source or self.default_source))
        self._exercises: dict[str, Exercise] = {}
        tasks = []
        for language_name in LANGUAGES:
            practice = root / language_name / "exercises" / "practice"
            if not practice.is_dir():
                raise DatasetError(f"{root}: no folder {language_name}/exercises/practice")
            for folder in sorted(path for path in practice.iterdir() if path.is_dir()):
                exercise = _read_exercise(LANGUAGES.get(language_name), folder)
                task_id = f"{language_name}/{folder.name}"
                self._exercises[task_id] = exercise
                tasks.append(Task(task_id, language_name, _prompt(folder, exercise)))
        return tasks

    def check_ready(self, tasks: Sequence[Task]) -> dict[str, str]:
        cache = cache_dir()
        reasons = {name: LANGUAGES.get(name).missing(cache) for name in {task.language for task in tasks}}
        return {name: reason for name, reason in reasons.items() if reason is not None}

    def reference(self, task: Task) -> Sample | None:
        exercise = self._exercises[task.task_id]
        listing = "".join(f"{path}\n{FENCE}\n{_text(content)}{FENCE}\n\n"
                          for path, content in exercise.references.items())
        return Sample(task.task_id, listing, "whole")

    def grade(self, task: Task, sample: Sample, sandbox: Sandbox) -> Outcome:
        exercise = self._exercises[task.task_id]
        stubs = {path: _text(exercise.files[path]) for path in exercise.editable}
        try:
            written = EDIT_FORMATS.get(sample.edit_format or DEFAULT_EDIT_FORMAT)(sample.completion, stubs)
        except MalformedEdit as error:
            return failed(f"malformed {sample.edit_format or DEFAULT_EDIT_FORMAT} edit: {error}", well_formed=False)
        protected = set(exercise.files) - set(exercise.editable)
        files: dict[str, str | bytes] = {**exercise.files, **exercise.language.extra_files}
        files.update({path: text for path, text in written.items() if path not in protected})
        clash = _path_clash(files)
        if clash:
            return failed(f"malformed {sample.edit_format or DEFAULT_EDIT_FORMAT} edit: {clash}", well_formed=False)
        return _run_tests(exercise, files, sorted(set(exercise.editable) | (set(written) - protected)), sandbox)


def _path_clash(files: dict[str, str | bytes]) -> str | None:
    """A file whose path runs through another file (`a` and `a/b`), which no folder can hold."""
    for path in files:
        for parent in PurePosixPath(path).parents:
            if str(parent) in files:
                return f"new file {path} would be inside the file {parent}"
    return None


def _run_tests(exercise: Exercise, files: dict[str, str | bytes], solution: list[str], sandbox: Sandbox) -> Outcome:
    language = exercise.language
    setup = language.prepare(exercise.files, cache_dir())
    nonce = secrets.token_hex(8)
    marker = f"hrm-syntax-{nonce}"
    script = (f"{language.setup}; " if language.setup else "") + \
        f"( {language.syntax} ) >/dev/null 2>&1; echo \"{marker} $?\"; {language.test}"
    sources = [path for path in solution if path.endswith(language.suffixes)]
    execution = sandbox.run(["/bin/sh", "-c", script, "sh", *sources], files=files, limits=language.limits,
                            env={**language.env, **setup.env}, read_only_paths=setup.read_only_paths,
                            workdir=exercise.slug)
    return _judge(execution, exercise, marker)


def _judge(execution: Execution, exercise: Exercise, marker: str) -> Outcome:
    stdout = execution.stdout.decode("utf-8", "replace")
    output = stdout + "\n" + execution.stderr.decode("utf-8", "replace")
    found = re.search(rf"^{marker} (\d+)$", stdout, re.MULTILINE)
    syntax_valid = None if found is None else found.group(1) == "0"
    passed, total = exercise.language.count_tests(output[found.end():] if found else output)
    common = dict(syntax_valid=syntax_valid, tests_passed=passed, tests_total=total, seconds=execution.seconds)
    if execution.timed_out:
        return Outcome(verdict="timeout", reason=execution.describe(), **common)
    if execution.returncode == 0 and (not exercise.has_tests or 0 < total == passed):
        return Outcome(verdict="passed", reason="", **common)
    if execution.returncode == 0:
        reason = "test command exited 0 but its runner reported no passing run"
    else:
        reason = f"{execution.describe()}; {passed} of {total} tests passed; " + \
            _first_error(output[found.end():] if found else output)
    return Outcome(verdict="failed", reason=reason, **common)


def _first_error(output: str) -> str:
    """The first line that looks like an error, else the last non-blank line (clipped)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if ERROR_LINE.search(line)]
    return (errors or lines or ["no output"])[0 if errors else -1][:200]


def _benchmark_root(source: Path) -> Path:
    """The folder holding <language>/exercises/practice: `source` itself, or its extraction in the cache."""
    if source.is_dir():
        return source / "polyglot-benchmark" if (source / "polyglot-benchmark").is_dir() else source
    if not source.is_file():
        raise DatasetError(f"{source}: no such file or folder (the polyglot benchmark archive or its extraction)")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = cache_dir() / "polyglot" / digest
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=target.parent))
        try:
            with tarfile.open(source) as archive:
                archive.extractall(scratch, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise DatasetError(f"{source}: cannot extract ({error})") from None
        os.replace(scratch, target)
    return _benchmark_root(target)


def _read_exercise(language: Language, folder: Path) -> Exercise:
    config_path = folder / ".meta" / "config.json"
    try:
        config = json.loads(config_path.read_text())["files"]
        solution, tests, examples = config["solution"], config["test"], config["example"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DatasetError(f"{config_path}: unreadable exercise config ({error!r})") from None
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and not any(part.startswith(".") for part in PurePosixPath(relative).parts[:-1]):
            files[relative] = path.read_bytes()
    for test in tests:
        if test in files:
            files[test] = language.enable_tests(_text(files[test])).encode()
    hidden = set(tests) | set(examples)
    editable = tuple(path for path in solution if path in files and path not in hidden
                     and PurePosixPath(path).name not in NOT_EDITABLE_NAMES)
    references = {target: (folder / example).read_bytes()
                  for example, target in _reference_targets(examples, editable).items()}
    return Exercise(language, folder.name, files, editable, references,
                    has_tests=not (folder / ".meta" / ".skip_tests").exists())


def _reference_targets(examples: Sequence[str], editable: Sequence[str]) -> dict[str, str]:
    """Where each `.meta` reference file goes: the editable file of the same name; else the one editable file
    with its suffix that no other reference file claims by name; else beside an editable file of its suffix,
    under its own name (Java helper classes)."""
    def name(path: str) -> str:
        return PurePosixPath(path).name

    def suffix(path: str) -> str:
        return PurePosixPath(path).suffix

    claimed = {path for path in editable if any(name(path) == name(example) for example in examples)}
    targets = {}
    for example in examples:
        same_name = [path for path in editable if name(path) == name(example)]
        free = [path for path in editable if suffix(path) == suffix(example) and path not in claimed]
        beside = [path for path in editable if suffix(path) == suffix(example)]
        if same_name:
            targets[example] = same_name[0]
        elif len(free) == 1:
            targets[example] = free[0]
        else:
            folder = PurePosixPath(beside[0]).parent if beside else PurePosixPath(".")
            targets[example] = (folder / name(example)).as_posix()
    return targets


def _prompt(folder: Path, exercise: Exercise) -> str:
    docs = [folder / ".docs" / name for name in ("introduction.md", "instructions.md", "instructions.append.md")]
    text = "".join(path.read_text() for path in docs if path.exists())
    text += ADDENDUM.format(files=" ".join(exercise.editable))
    for path in exercise.editable:
        text += f"\n{path}\n{FENCE}\n{_text(exercise.files[path])}{FENCE}\n"
    return text


def _text(content: bytes) -> str:
    text = content.decode("utf-8", "replace")
    return text if not text or text.endswith("\n") else text + "\n"


PROBLEM_SETS.add(Polyglot.name, Polyglot)
