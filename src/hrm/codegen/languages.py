"""The six Exercism toolchains of the Aider polyglot benchmark, set up to run offline inside the sandbox.

Each Language says what it needs installed (and how to install it from Debian or npm), its limits, and three
shell steps run in one sandbox run, in the exercise folder: `setup`, `syntax` (the solution alone through the
language's front end; its exit status is reported before any submitted code runs) and `test` (aider's test
command, adapted to offline tools). Differences from aider's Docker image:

- Java: no Gradle (its wrapper downloads itself); `javac` + the JUnit 5 console launcher + AssertJ from
  Debian (`junit5`, `libassertj-core-java`), after aider's removal of `@Disabled(...)`.
- C++: cmake + make as aider, but the Catch2 main (`test/tests-main.cpp`, ~17 s to compile) is compiled once
  per catch.hpp into the cache and linked through the exercises' own `EXERCISM_COMMON_CATCH` option.
- Rust: Debian's `cargo-web` with a source replacement that points crates.io at Debian's `librust-*-dev`
  sources (`/usr/share/cargo/registry`); `--offline`.
- JavaScript: one shared node_modules (jest 29.7.0 pinned: the unpinned jest 30 drops `toThrowError`).
- Go: Debian golang-go (1.19), GOPROXY=off; `go test -v` (for per-test counts).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from hrm.codegen.sandbox import SANDBOX_PATH, GiB, Limits
from hrm.registry import Registry

CACHE_ENV = "HRM_CODEGEN_CACHE"
DEFAULT_CACHE = "/var/cache/hrm-codegen"
JS_PACKAGES = ("jest@29.7.0 @babel/core@7.25.2 @exercism/babel-preset-javascript@0.2.1 "
               "@exercism/eslint-config-javascript@0.6.0 @types/jest@29.5.12 @types/node@20.12.12 "
               "babel-jest@29.6.4 core-js@3.37.1 eslint@8.49.0")
"""The devDependencies of the exercises' package.json, pinned as the aider Dockerfile pins them (jest too)."""
JAVA_JARS = ("/usr/share/java/junit-platform-console-standalone.jar", "/usr/share/java/assertj-core.jar",
             "/usr/share/java/json-latest.jar")
"""JUnit 5 console launcher, AssertJ, and org.json (rest-api uses it)."""
AIDER_TEST_SECONDS = 180.0
"""aider's run_unit_tests timeout."""


def cache_dir() -> Path:
    """Where extracted data and built toolchain pieces live ($HRM_CODEGEN_CACHE, default /var/cache/hrm-codegen);
    it must be outside /root and any private home, since the sandbox user reads parts of it."""
    return Path(os.environ.get(CACHE_ENV, DEFAULT_CACHE))


@dataclass(frozen=True)
class Setup:
    """Per-exercise additions: host folders the sandbox may read, and environment variables."""

    read_only_paths: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Language:
    name: str
    suffixes: tuple[str, ...]
    """Source files of the solution that the syntax step receives as "$@"."""
    tools: tuple[str, ...]
    """Commands that must be on the sandbox's PATH."""
    paths: Callable[[Path], tuple[Path, ...]]
    """Files or folders that must exist, given the cache folder."""
    install: Callable[[Path], str]
    """How to install what is missing, given the cache folder."""
    limits: Limits
    env: Mapping[str, str] = field(default_factory=dict)
    setup: str = ""
    syntax: str
    test: str
    count_tests: Callable[[str], tuple[int, int]]
    """(passed, total) from the test output; (0, 0) when the runner printed no summary."""
    enable_tests: Callable[[str], str] = lambda text: text
    """Applied to the pristine test files (aider un-skips tests the same way)."""
    prepare: Callable[[Mapping[str, bytes], Path], Setup] = lambda files, cache: Setup()
    extra_files: Mapping[str, str] = field(default_factory=dict)
    """Files added to every exercise folder (tool configuration)."""
    version_commands: tuple[str, ...] = ()
    """Shell commands whose first output line names a tool's version (for reports)."""

    def missing(self, cache: Path) -> str | None:
        """Why this toolchain cannot run here, or None when it can."""
        absent = [tool for tool in self.tools if shutil.which(tool, path=SANDBOX_PATH) is None]
        absent += [str(path) for path in self.paths(cache) if not path.exists()]
        if not absent:
            return None
        return f"{self.name} toolchain incomplete (missing {', '.join(absent)}); install: {self.install(cache)}"

    def versions(self) -> list[str]:
        """First output line of each version command, run on the host with the sandbox's PATH."""
        found = []
        for command in self.version_commands:
            done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True,
                                  env={"PATH": SANDBOX_PATH, "HOME": "/nonexistent", CACHE_ENV: str(cache_dir())})
            lines = (done.stdout + done.stderr).strip().splitlines()
            found.append(lines[0] if lines else f"{command}: no output")
        return found


def _count_cargo(output: str) -> tuple[int, int]:
    passed = failed = 0
    for passed_text, failed_text in re.findall(r"^test result: \w+\. (\d+) passed; (\d+) failed;", output,
                                               re.MULTILINE):
        passed, failed = passed + int(passed_text), failed + int(failed_text)
    return passed, passed + failed


def _count_pytest(output: str) -> tuple[int, int]:
    summary = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed|errors?)\b", line)]
    if not summary:
        return 0, 0
    counts = {word: int(number) for number, word in re.findall(r"(\d+) (passed|failed|errors?)\b", summary[-1])}
    passed = counts.get("passed", 0)
    return passed, passed + counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)


def _count_catch(output: str) -> tuple[int, int]:
    if match := re.search(r"All tests passed \(\d+ assertions? in (\d+) test cases?\)", output):
        return int(match.group(1)), int(match.group(1))
    if match := re.search(r"test cases:\s*(\d+) \|\s*(\d+) passed \|\s*(\d+) failed", output):
        return int(match.group(2)), int(match.group(1))
    if match := re.search(r"test cases:\s*(\d+) \|\s*(\d+) failed", output):
        return 0, int(match.group(1))
    return 0, 0


def _count_junit(output: str) -> tuple[int, int]:
    found = {key: int(number) for number, key in re.findall(r"\[\s*(\d+) tests (successful|failed|aborted)\s*\]",
                                                             output)}
    passed = found.get("successful", 0)
    return passed, passed + found.get("failed", 0) + found.get("aborted", 0)


def _count_jest(output: str) -> tuple[int, int]:
    """Tests run = passed + failed: jest's total also holds the tests the spec skips (`xit`, which aider, and
    so this harness, leaves skipped)."""
    lines = re.findall(r"^Tests:(.*)$", output, re.MULTILINE)
    if not lines:
        return 0, 0
    counts = {word: int(number) for number, word in re.findall(r"(\d+) (\w+)", lines[-1])}
    return counts.get("passed", 0), counts.get("passed", 0) + counts.get("failed", 0)


def _count_go_tests(output: str) -> tuple[int, int]:
    passed = len(re.findall(r"^\s*--- PASS:", output, re.MULTILINE))
    failed = len(re.findall(r"^\s*--- FAIL:", output, re.MULTILINE))
    return passed, passed + failed


_catch_lock = threading.Lock()


def _prepare_cpp(files: Mapping[str, bytes], cache: Path) -> Setup:
    """Compile this exercise's pristine Catch2 main once (keyed by its bytes and the compiler) into the cache."""
    sources = {name: files[f"test/{name}"] for name in ("catch.hpp", "tests-main.cpp")}
    compiler = subprocess.run(["g++", "--version"], capture_output=True, check=True).stdout
    key = hashlib.sha256(sources["catch.hpp"] + sources["tests-main.cpp"] + compiler).hexdigest()[:16]
    folder = cache / "cpp-catch" / key
    with _catch_lock:
        if not (folder / "catchlib.cmake").exists():
            folder.parent.mkdir(parents=True, exist_ok=True)
            build = Path(tempfile.mkdtemp(dir=folder.parent))
            for name, data in sources.items():
                (build / name).write_bytes(data)
            # The exercises' CMakeLists build with CXX_STANDARD 17, no extensions, Debug (-g).
            subprocess.run(["g++", "-std=c++17", "-g", "-c", "tests-main.cpp", "-o", "catch-main.o"], cwd=build,
                           check=True, capture_output=True)
            (build / "catchlib.cmake").write_text(
                "add_library(catchlib OBJECT IMPORTED)\n"
                f"set_property(TARGET catchlib PROPERTY IMPORTED_OBJECTS {folder}/catch-main.o)\n")
            os.chmod(build, 0o755)
            build.rename(folder)
    return Setup(read_only_paths=(str(folder),), env={"HRM_CATCHLIB": str(folder / "catchlib.cmake")})


def _prepare_javascript(files: Mapping[str, bytes], cache: Path) -> Setup:
    modules = cache / "javascript" / "node_modules"
    return Setup(read_only_paths=(str(modules),), env={"HRM_NODE_MODULES": str(modules)})


LANGUAGES: Registry[Language] = Registry("language")

LANGUAGES.add("python", Language(
    name="python", suffixes=(".py",), tools=("python3",),
    paths=lambda cache: (Path("/usr/lib/python3/dist-packages/pytest"),),
    install=lambda cache: "apt-get install python3 python3-pytest",
    limits=Limits(wall_seconds=AIDER_TEST_SECONDS, cpu_seconds=120, memory_bytes=2 * GiB, num_processes=32),
    syntax='python3 -m py_compile "$@"',
    test="python3 -m pytest -q -p no:cacheprovider",
    count_tests=_count_pytest,
    version_commands=("python3 --version", "python3 -m pytest --version")))

LANGUAGES.add("go", Language(
    name="go", suffixes=(".go",), tools=("go", "gofmt"), paths=lambda cache: (),
    install=lambda cache: "apt-get install golang-go",
    limits=Limits(wall_seconds=AIDER_TEST_SECONDS, cpu_seconds=120, memory_bytes=8 * GiB, num_processes=512,
                  disk_bytes=512 << 20),
    env={"GOCACHE": "/tmp/.cache/go-build", "GOPATH": "/tmp/.go", "GOPROXY": "off", "GOFLAGS": "-mod=mod",
         "GOTOOLCHAIN": "local"},
    syntax='gofmt -l -e "$@" > /dev/null',
    test="go test -v ./...",
    count_tests=_count_go_tests,
    version_commands=("go version",)))

LANGUAGES.add("javascript", Language(
    name="javascript", suffixes=(".js",), tools=("node",),
    paths=lambda cache: (cache / "javascript" / "node_modules" / "jest",
                         cache / "javascript" / "node_modules" / "@babel" / "parser"),
    install=lambda cache: (f"apt-get install nodejs npm && npm install --prefix {cache}/javascript --no-audit "
                           f"--no-fund --save-exact {JS_PACKAGES}"),
    # V8 reserves large virtual ranges per worker thread (parallel-letter-frequency dies at 16 GiB).
    limits=Limits(wall_seconds=AIDER_TEST_SECONDS, cpu_seconds=120, memory_bytes=64 * GiB, num_processes=256),
    setup='ln -s "$HRM_NODE_MODULES" node_modules',
    syntax=("node -e 'const parser = require(\"@babel/parser\"), fs = require(\"fs\");"
            " for (const f of process.argv.slice(1)) parser.parse(fs.readFileSync(f, \"utf8\"),"
            " {sourceType: \"module\"})' \"$@\""),
    test="node_modules/.bin/jest ./*",
    count_tests=_count_jest,
    enable_tests=lambda text: re.sub(r"\bxtest\(", "test(", text),
    prepare=_prepare_javascript,
    version_commands=("echo node $(node --version)",
                      "echo jest $(node -p 'require(process.env.HRM_CODEGEN_CACHE"
                      " + \"/javascript/node_modules/jest/package.json\").version')")))

LANGUAGES.add("java", Language(
    name="java", suffixes=(".java",), tools=("javac", "java"),
    paths=lambda cache: tuple(Path(jar) for jar in JAVA_JARS),
    install=lambda cache: ("apt-get install default-jdk-headless junit5 libassertj-core-java "
                           "libandroid-json-org-java"),
    limits=Limits(wall_seconds=AIDER_TEST_SECONDS, cpu_seconds=120, memory_bytes=8 * GiB, num_processes=2048),
    env={"JAVA_TOOL_OPTIONS": "-Xmx512m -Xss4m -XX:+UseSerialGC -XX:TieredStopAtLevel=1",
         "HRM_JAVA_CP": ":".join(JAVA_JARS)},
    syntax=('mkdir -p /tmp/classes && javac -nowarn -encoding UTF-8 -d /tmp/classes -cp "$HRM_JAVA_CP" '
            '$(find src/main -name "*.java")'),
    test=('javac -nowarn -encoding UTF-8 -d /tmp/classes -cp "/tmp/classes:$HRM_JAVA_CP" '
          '$(find src/test -name "*.java") && java -jar /usr/share/java/junit-platform-console-standalone.jar '
          '--class-path "/tmp/classes:$HRM_JAVA_CP" --scan-class-path --disable-banner --disable-ansi-colors '
          '--details=tree --fail-if-no-tests'),
    count_tests=_count_junit,
    enable_tests=lambda text: re.sub(r"@Disabled\([^)]*\)\s*\n", "", text),
    version_commands=("javac -version",
                      "dpkg-query -W junit5 libassertj-core-java libandroid-json-org-java | tr '\\n\\t' '  '")))

LANGUAGES.add("cpp", Language(
    name="cpp", suffixes=(".cpp", ".h", ".hpp"), tools=("g++", "cmake", "make"),
    paths=lambda cache: (Path("/usr/include/boost/date_time.hpp"),),
    install=lambda cache: "apt-get install g++ cmake make libboost-date-time-dev",
    # bank-account's concurrency test starts 1000 threads (8 MiB of stack address space each).
    limits=Limits(wall_seconds=AIDER_TEST_SECONDS, cpu_seconds=120, memory_bytes=16 * GiB, num_processes=2048,
                  disk_bytes=512 << 20),
    syntax='for f in "$@"; do g++ -std=c++17 -fsyntax-only -x c++ -I. "$f" || exit 1; done',
    test=('mkdir -p build && cd build && cmake -G "Unix Makefiles" -DEXERCISM_RUN_ALL_TESTS=1 '
          '-DEXERCISM_COMMON_CATCH=1 -DCMAKE_PROJECT_INCLUDE="$HRM_CATCHLIB" .. && make'),
    count_tests=_count_catch,
    prepare=_prepare_cpp,
    version_commands=("g++ --version", "cmake --version")))

LANGUAGES.add("rust", Language(
    name="rust", suffixes=(".rs",), tools=("cargo", "rustc"),
    paths=lambda cache: (Path("/usr/share/cargo/registry"),),
    install=lambda cache: "apt-get install cargo-web rustc-web librust-time-dev librust-anyhow-dev librust-rand-dev",
    limits=Limits(wall_seconds=AIDER_TEST_SECONDS, cpu_seconds=120, memory_bytes=8 * GiB, num_processes=512,
                  disk_bytes=1 * GiB, file_bytes=256 << 20),
    env={"CARGO_HOME": "/tmp/.cargo", "CARGO_TERM_COLOR": "never"},
    syntax="cargo build --offline --quiet",
    test="cargo test --offline -- --include-ignored",
    count_tests=_count_cargo,
    # crates.io replaced by Debian's packaged crate sources, so that `--offline` resolves dependencies.
    extra_files={".cargo/config.toml": '[source.crates-io]\nreplace-with = "debian"\n\n'
                                       '[source.debian]\ndirectory = "/usr/share/cargo/registry"\n'},
    version_commands=("cargo --version", "rustc --version")))
