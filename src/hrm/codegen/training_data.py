"""`hrm data code-synth`: answer-canvas datasets for code, from offline sources only, never a test problem.

Sources (`--corpus`, comma-separated, added to the training split only):
- the synthetic benchmark's training split (always; hrm.codegen.synthetic);
- `mbpp`: MBPP training tasks, ids 511-974 (google-research's split: 11-510 are the test set, 1-10 the
  few-shot prompts, neither is used) less those whose text or code repeats a test task's, prompt = the task
  text and its first assert, answer = the reference code;
- `stdlib`: small functions of the running interpreter's standard library (tests excluded), prompt = the
  signature and the docstring's first line, answer = the body.
A row whose answer does not fit the canvas is dropped (counted in `build.json`); a prompt is cut to its head.

Splits written: `train`, `test` (held-out instances of the training templates), `test_unseen` (held-out
templates), each in the authors' format plus `<split>.jsonl` (the synthetic instances) at the root, and
`canvas.json` (the canvas shape, read back at generation time).
"""

from __future__ import annotations

import argparse
import ast
import json
import sysconfig
import textwrap
from pathlib import Path
from typing import Iterator

import numpy as np

from hrm.codegen.canvas import IGNORE_LABEL, PAD, VOCAB_SIZE, CanvasShape, encode_input, encode_labels, fit_prompt
from hrm.codegen.jsonl import read_jsonl
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
            yield f"# {record['text']}\n# {record['test_list'][0]}\n", _mbpp_code(record)


def stdlib_pairs(root: Path | None = None) -> Iterator[tuple[str, str]]:
    """(signature + docstring line, body) for documented functions of the standard library, tests excluded."""
    root = root or Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        if {"test", "tests", "idlelib", "site-packages", "lib2to3"} & set(path.relative_to(root).parts):
            continue
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = source.splitlines()
        for node in ast.walk(tree):
            doc = ast.get_docstring(node) if isinstance(node, ast.FunctionDef) else None
            if not doc or len(node.body) < 2:
                continue
            body = textwrap.dedent("\n".join(lines[node.body[1].lineno - 1:node.end_lineno]))
            signature = f"def {node.name}({ast.unparse(node.args)}):\n"
            yield f'{signature}    """{doc.splitlines()[0]}"""\n', textwrap.indent(body, "    ") + "\n"


CORPORA.add("mbpp", mbpp_training_pairs)
CORPORA.add("stdlib", stdlib_pairs)


def canvas_rows(pairs: list[tuple[str, str]], shape: CanvasShape) -> tuple[np.ndarray, np.ndarray]:
    """(inputs [n, s], labels [n, s]); every answer must fit the canvas."""
    inputs = [encode_input(fit_prompt(prompt, shape), shape) for prompt, _ in pairs]
    labels = [encode_labels(answer, shape) for _, answer in pairs]
    return (np.stack(inputs), np.stack(labels)) if pairs else \
        (np.zeros((0, shape.seq_len), np.int32), np.zeros((0, shape.seq_len), np.int32))


def build_code_dataset(out: str | Path, *, num_train: int, num_test: int, seed: int, shape: CanvasShape,
                       corpora: list[str], max_corpus_rows: int = 1000, overwrite: bool = False) -> dict:
    """Write the dataset (module docstring); returns the build summary also saved as build.json."""
    synthetic = benchmark_splits(num_train, num_test, seed, shape.prompt_len, shape.answer_len)
    summary: dict = {"seed": seed, "canvas": vars(shape), "rows": {}, "dropped_too_long": {}, "corpora": corpora}
    with staged_dataset(out, overwrite) as root:
        for folder, split in SPLITS.items():
            pairs = [(i.prompt, i.answer) for i in synthetic[split]]
            if folder == "train":
                for name in corpora:
                    corpus = list(CORPORA.get(name)())
                    fits = [pair for pair in corpus if len(pair[1].encode("utf-8")) <= shape.answer_len]
                    summary["dropped_too_long"][name] = len(corpus) - len(fits)
                    summary["rows"][name] = min(len(fits), max_corpus_rows)
                    pairs += fits[:max_corpus_rows]
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
    parser.add_argument("--max-corpus-rows", type=int, default=1000, help="rows kept per extra source")
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
