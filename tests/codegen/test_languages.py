"""Toolchain specs: test-count parsing of each runner's output, and clear reasons for missing toolchains."""

from pathlib import Path

import pytest

from hrm.codegen.languages import LANGUAGES

SAMPLE_OUTPUTS = {
    "python": ("....F.                                 [100%]\n1 failed, 5 passed in 0.04s\n", (5, 6)),
    "go": ("=== RUN   TestA\n--- PASS: TestA (0.00s)\n=== RUN   TestB\n    --- PASS: TestB/x (0.00s)\n"
           "    --- FAIL: TestB/y (0.00s)\n--- FAIL: TestB (0.00s)\nFAIL\n", (2, 4)),
    "javascript": ("Tests:       1 failed, 2 skipped, 15 passed, 18 total\n", (15, 16)),  # skipped: not run
    "java": ("[        31 tests found           ]\n[        29 tests successful      ]\n"
             "[         2 tests failed          ]\n[         0 tests aborted         ]\n", (29, 31)),
    "cpp": ("test cases: 17 | 15 passed | 2 failed\nassertions: 17 | 15 passed | 2 failed\n", (15, 17)),
    "rust": ("test result: ok. 0 passed; 0 failed; 0 ignored\n"
             "test result: FAILED. 4 passed; 1 failed; 0 ignored; 0 measured\n", (4, 5)),
}


@pytest.mark.parametrize("name", sorted(SAMPLE_OUTPUTS))
def test_count_tests(name):
    output, expected = SAMPLE_OUTPUTS[name]
    assert LANGUAGES.get(name).count_tests(output) == expected


def test_counts_of_all_passing_runs():
    assert LANGUAGES.get("cpp").count_tests("All tests passed (40 assertions in 12 test cases)") == (12, 12)
    assert LANGUAGES.get("javascript").count_tests("Tests:       16 passed, 16 total") == (16, 16)
    assert LANGUAGES.get("python").count_tests("31 passed in 0.04s") == (31, 31)


@pytest.mark.parametrize("name", sorted(SAMPLE_OUTPUTS))
def test_no_summary_means_no_counts(name):
    assert LANGUAGES.get(name).count_tests("Segmentation fault (core dumped)\n") == (0, 0)


def test_missing_toolchain_names_what_and_how_to_install(tmp_path: Path):
    reason = LANGUAGES.get("javascript").missing(tmp_path)
    assert reason is not None and "node_modules" in reason and f"npm install --prefix {tmp_path}/javascript" in reason
    assert "jest@29.7.0" in reason


def test_test_files_are_enabled_as_aider_does():
    java = LANGUAGES.get("java").enable_tests('    @Disabled("Remove to run test")\n    @Test\n')
    assert java == "        @Test\n"  # aider removes the annotation, not its indentation
    assert LANGUAGES.get("javascript").enable_tests("  xtest('a', () => {});") == "  test('a', () => {});"
