"""`hrm data code-synth`: answer-canvas datasets for code, from offline sources only, never a test problem.

Sources (`--corpus`, comma-separated, added to the training split only):
- the synthetic benchmark's training split (always; hrm.codegen.synthetic);
- `mbpp`: MBPP training tasks, ids 511-974 (google-research's split: 11-510 are the test set, 1-10 the
  few-shot prompts, neither is used) less those whose text or code repeats a test task's, prompt = the task
  text and its first assert as comments (`mbpp_prompt`, the prompt `hrm code eval` shows for a test task),
  answer = the reference code;
- `stdlib`: documented functions of the running interpreter's standard library (tests excluded), prompt = the
  source from `def` to the end of the docstring (as a HumanEval prompt), answer = the rest of the body.
Every corpus pair then passes the leakage check (hrm.codegen.leakage: no function of a HumanEval or MBPP test
task, by name or normalised body); the synthetic rows are generated, not mined, and are only counted against
it (`synthetic_bodies_shared`). A pair whose answer does not fit the canvas is dropped; the rest are shuffled
with the build seed and the first `max_corpus_rows` kept; a prompt longer than the canvas is cut to its head
(`fit_prompt`; counted as `prompts_cut`). All counts are in `build.json`.

Splits written: `train`, `test` (held-out instances of the training templates), `test_unseen` (held-out
templates), each in the authors' format plus `<split>.jsonl` (the synthetic instances) at the root, and
`canvas.json` (the canvas shape, read back at generation time).
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import sysconfig
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from hrm.codegen.canvas import IGNORE_LABEL, PAD, VOCAB_SIZE, CanvasShape, encode_input, encode_labels, fit_prompt
from hrm.codegen.jsonl import read_jsonl
from hrm.codegen.leakage import HeldOutFingerprints, evaluation_fingerprints, fingerprint, leak_reason
from hrm.codegen.problems import SHARED_DATA
from hrm.codegen.problems.mbpp import EVALUATION_IDS as MBPP_EVALUATION_IDS
from hrm.codegen.synthetic import benchmark_splits
from hrm.data.format import DatasetMetadata, single_puzzle_set, staged_dataset, write_split
from hrm.data.tasks import TASKS, TaskSpec
from hrm.errors import DatasetError
from hrm.registry import Registry

MBPP_TRAIN_IDS = range(511, 975)
MBPP_FILE = SHARED_DATA / "mbpp" / "mbpp.jsonl"
CANVAS_FILE = "canvas.json"
SPLITS = {"train": "train", "test": "test_seen", "test_unseen": "test_unseen"}  # folder -> synthetic split

CORPORA: Registry = Registry("code corpus")  # name -> (mbpp/stdlib path or None) -> iterator of (prompt, answer)


def _mbpp_code(record: dict) -> str:
    return record["code"].replace("\r\n", "\n").strip("\n") + "\n"


def mbpp_prompt(text: str, first_test: str) -> str:
    """What a model sees of an MBPP task, in training and in evaluation: the text and one assert, as comments."""
    return f"# {text}\n# {first_test}\n"


def mbpp_training_pairs(path: Path | None = None) -> Iterator[tuple[str, str]]:
    """(task text + first assert, reference code) for MBPP ids 511-974, less the three (602, 704, 872)
    whose text repeats a test task's word for word, and any whose code repeats a test task's."""
    path = path or MBPP_FILE
    if not path.is_file():
        raise DatasetError(f"MBPP file '{path}' not found (the shared copy lives in ../shared/data/mbpp)")
    records = [record for _, record in read_jsonl(path)]
    test = [record for record in records if record.get("task_id") in MBPP_EVALUATION_IDS]
    test_texts = {record["text"].strip().lower() for record in test}
    test_code = {_mbpp_code(record) for record in test}
    for record in records:
        if record.get("task_id") in MBPP_TRAIN_IDS and record["text"].strip().lower() not in test_texts \
                and _mbpp_code(record) not in test_code:
            yield mbpp_prompt(record["text"], record["test_list"][0]), _mbpp_code(record)


STDLIB_EXCLUDED = {"test", "tests", "idlelib", "site-packages", "lib2to3"}


def stdlib_pairs(root: Path | None = None) -> Iterator[tuple[str, str]]:
    """(source from `def` to the docstring's end, the rest of the body) for documented functions of the
    standard library, tests excluded, dedented to column 0; a function whose lines cannot be dedented as one
    (a multi-line string at column 0) or whose code starts on the docstring's line is skipped."""
    root = root or Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        if STDLIB_EXCLUDED & set(path.relative_to(root).parts):
            continue
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = source.splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef) or ast.get_docstring(node) is None or len(node.body) < 2 \
                    or node.body[1].lineno <= node.body[0].end_lineno:
                continue
            text = lines[node.lineno - 1:node.end_lineno]
            indent = text[0][:len(text[0]) - len(text[0].lstrip())]
            if not all(line.startswith(indent) or not line.strip() for line in text):
                continue
            text = [line[len(indent):] for line in text]
            cut = node.body[0].end_lineno - node.lineno + 1
            yield "\n".join(text[:cut]) + "\n", "\n".join(text[cut:]).lstrip("\n") + "\n"


CORPORA.add("mbpp", mbpp_training_pairs)
CORPORA.add("stdlib", stdlib_pairs)


def canvas_rows(pairs: list[tuple[str, str]], shape: CanvasShape) -> tuple[np.ndarray, np.ndarray]:
    """(inputs [n, s], labels [n, s]); every answer must fit the canvas."""
    inputs = [encode_input(fit_prompt(prompt, shape), shape) for prompt, _ in pairs]
    labels = [encode_labels(answer, shape) for _, answer in pairs]
    return (np.stack(inputs), np.stack(labels)) if pairs else \
        (np.zeros((0, shape.seq_len), np.int32), np.zeros((0, shape.seq_len), np.int32))


def corpus_pairs(pairs: Iterable[tuple[str, str]], shape: CanvasShape, tests: HeldOutFingerprints, max_rows: int,
                 seed: int) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """A corpus's training pairs, deduplicated, leak-checked, fitting the answer region, shuffled with `seed`
    and capped at `max_rows`; and the counts of each step."""
    corpus = list(dict.fromkeys(pairs))
    reasons = [leak_reason(prompt, answer, tests) for prompt, answer in corpus]
    clean = [pair for pair, reason in zip(corpus, reasons) if reason is None]
    fits = [pair for pair in clean if len(pair[1].encode("utf-8")) <= shape.answer_len]
    random.Random(seed).shuffle(fits)
    kept = fits[:max_rows]
    return kept, {"read": len(corpus), "leak_name": reasons.count("name"), "leak_body": reasons.count("body"),
                  "answer_too_long": len(clean) - len(fits), "kept": len(kept),
                  "prompts_cut": sum(len(prompt.encode("utf-8")) > shape.prompt_len for prompt, _ in kept)}


def build_code_dataset(out: str | Path, *, num_train: int, num_test: int, seed: int, shape: CanvasShape,
                       corpora: list[str], max_corpus_rows: int = 1000, overwrite: bool = False) -> dict:
    """Write the dataset (module docstring); returns the build summary also saved as build.json. With corpora,
    `corpus_counts` holds each one's counts and `synthetic_bodies_shared` the synthetic training rows whose
    normalised body is also a test task's (one-line programs such as `return len(xs)`; kept, generated)."""
    synthetic = benchmark_splits(num_train, num_test, seed, shape.prompt_len, shape.answer_len)
    summary: dict = {"seed": seed, "canvas": vars(shape), "rows": {}, "dropped_too_long": {}, "corpora": corpora}
    if corpora:
        tests = evaluation_fingerprints()
        summary["corpus_counts"] = {}
        summary["synthetic_bodies_shared"] = sum(not fingerprint(i.prompt + i.answer)[1].isdisjoint(tests.bodies)
                                                 for i in synthetic["train"])
    with staged_dataset(out, overwrite) as root:
        for folder, split in SPLITS.items():
            pairs = [(i.prompt, i.answer) for i in synthetic[split]]
            if folder == "train":
                for name in corpora:
                    kept, counts = corpus_pairs(CORPORA.get(name)(), shape, tests, max_corpus_rows, seed)
                    summary["corpus_counts"][name] = counts
                    summary["dropped_too_long"][name] = counts["answer_too_long"]
                    summary["rows"][name] = len(kept)
                    pairs += kept
            inputs, labels = canvas_rows(pairs, shape)
            meta = DatasetMetadata(pad_id=PAD, ignore_label_id=IGNORE_LABEL, blank_identifier_id=0,
                                   vocab_size=VOCAB_SIZE, seq_len=shape.seq_len, num_puzzle_identifiers=1,
                                   total_groups=len(inputs), mean_puzzle_examples=1.0, sets=["all"])
            write_split(root / folder, meta, {"all": single_puzzle_set(inputs, labels)})
            with open(root / f"{split}.jsonl", "w") as handle:
                for instance in synthetic[split]:
                    handle.write(json.dumps(instance.to_json()) + "\n")
            summary["rows"][folder] = len(inputs)
        (root / CANVAS_FILE).write_text(json.dumps(vars(shape)))
        (root / "build.json").write_text(json.dumps(summary, indent=1))
    return summary


def read_canvas_shape(data_path: Path) -> CanvasShape:
    path = Path(data_path) / CANVAS_FILE
    if not path.is_file():
        raise DatasetError(f"'{path}' is missing: the checkpoint's dataset is not a code canvas dataset "
                           "(build one with `hrm data code-synth`)")
    return CanvasShape(**json.loads(path.read_text()))


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True)
    parser.add_argument("--num-train", type=int, default=6000, help="synthetic training instances")
    parser.add_argument("--num-test", type=int, default=200, help="instances per held-out split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prompt-len", type=int, default=80, help="prompt bytes of the canvas")
    parser.add_argument("--answer-len", type=int, default=48, help="answer bytes of the canvas")
    parser.add_argument("--corpus", default="", help=f"extra training sources, comma-separated: {CORPORA.names()}")
    parser.add_argument("--max-corpus-rows", type=int, default=1000,
                        help="rows kept per extra source, after the leak check and a seeded shuffle")
    parser.add_argument("--overwrite", action="store_true")


def _build(args: argparse.Namespace) -> None:
    corpora = [name for name in args.corpus.split(",") if name]
    for name in corpora:
        if name not in CORPORA:
            raise DatasetError(f"unknown corpus '{name}'; have {CORPORA.names()}")
    summary = build_code_dataset(args.out, num_train=args.num_train, num_test=args.num_test, seed=args.seed,
                                 shape=CanvasShape(args.prompt_len, args.answer_len), corpora=corpora,
                                 max_corpus_rows=args.max_corpus_rows, overwrite=args.overwrite)
    print(json.dumps(summary))


TASKS.add("code-synth", TaskSpec(name="code-synth", help="code answer canvases: synthetic programs "
                                 "(+ MBPP 511-974, stdlib with --corpus)", add_arguments=_add_arguments, build=_build))
