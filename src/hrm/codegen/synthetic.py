"""A synthetic program-synthesis benchmark: one-line Python functions from a short spec and two examples.

A template is one or two operations of one family, applied in order (`add 3, times 2` -> `(x+3)*2`);
an instance draws the constants and the inputs. The prompt is a signature, the spec and two input/output
examples; the answer is the function body; six more inputs are hidden tests. Every instance is
execution-checked when it is made: its reference source, compiled, must give on every input what the
operations' own Python semantics give, and an instance whose outputs are all equal is dropped (a constant
`return` would pass it).

Splits, all from one seed:
- `train`: instances of the training templates;
- `test_seen`: held-out instances of the training templates: their exact answer program never occurs in
  training (programs are assigned to train or test by a hash of their text);
- `test_unseen`: instances of held-out templates, combinations of two operations never seen together in
  training (every operation on its own is trained), a compositional test.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import asdict, dataclass
from typing import Callable

from hrm.errors import HRMError
from hrm.registry import Registry

INDENT = "    "
NUM_EXAMPLES = 2
NUM_HIDDEN_TESTS = 6
HELD_OUT_TEMPLATE_SHARE = 0.2
HELD_OUT_PROGRAM_PERCENT = 15
TEMPLATE_SPLIT_SEED = 1234  # fixed: the held-out templates never depend on the data seed
MAX_DRAWS_PER_INSTANCE = 50


@dataclass(frozen=True)
class Op:
    """One operation: its spec words, its source on an expression, its meaning on a value."""

    name: str
    words: Callable[[object], str]
    source: Callable[[str, object], str]  # (inner expression, constant) -> expression
    apply: Callable[[object, object], object]  # (value, constant) -> value
    constant: Callable[[random.Random], object] = lambda rng: None
    kind: str = "infix"  # "infix" | "postfix" (a slice or method) | "call"; says where parentheses go

    def on(self, inner: str, inner_is_atom: bool, k: object) -> tuple[str, bool]:
        """(expression, is atom): infix and postfix operators parenthesise an infix operand."""
        operand = inner if inner_is_atom or self.kind == "call" else f"({inner})"
        return self.source(operand, k), self.kind != "infix"


def _k(low: int, high: int) -> Callable[[random.Random], int]:
    return lambda rng: rng.randint(low, high)


INT_OPS = [
    Op("add", lambda k: f"add {k}", lambda e, k: f"{e}+{k}", lambda v, k: v + k, _k(1, 9)),
    Op("sub", lambda k: f"minus {k}", lambda e, k: f"{e}-{k}", lambda v, k: v - k, _k(1, 9)),
    Op("mul", lambda k: f"times {k}", lambda e, k: f"{e}*{k}", lambda v, k: v * k, _k(2, 9)),
    Op("div", lambda k: f"div {k}", lambda e, k: f"{e}//{k}", lambda v, k: v // k, _k(2, 9)),
    Op("mod", lambda k: f"mod {k}", lambda e, k: f"{e}%{k}", lambda v, k: v % k, _k(2, 9)),
    Op("max", lambda k: f"at least {k}", lambda e, k: f"max({e}, {k})", lambda v, k: max(v, k), _k(0, 9), "call"),
    Op("min", lambda k: f"at most {k}", lambda e, k: f"min({e}, {k})", lambda v, k: min(v, k), _k(0, 9), "call"),
    Op("sq", lambda k: "squared", lambda e, k: f"{e}**2", lambda v, k: v * v),
]
STR_OPS = [
    Op("upper", lambda k: "upper", lambda e, k: f"{e}.upper()", lambda v, k: v.upper(), kind="postfix"),
    Op("rev", lambda k: "reverse", lambda e, k: f"{e}[::-1]", lambda v, k: v[::-1], kind="postfix"),
    Op("first", lambda k: f"first {k}", lambda e, k: f"{e}[:{k}]", lambda v, k: v[:k], _k(1, 4), "postfix"),
    Op("drop", lambda k: f"drop {k}", lambda e, k: f"{e}[{k}:]", lambda v, k: v[k:], _k(1, 3), "postfix"),
    Op("repeat", lambda k: f"repeat {k}", lambda e, k: f"{e}*{k}", lambda v, k: v * k, _k(2, 3)),
    Op("append", lambda k: f"append {k}", lambda e, k: f"{e}+'{k}'", lambda v, k: v + k,
       lambda rng: rng.choice("xyz!")),
]
ELEMENT_OPS = {op.name: op for op in INT_OPS if op.name in ("add", "sub", "mul", "sq")}
FILTERS: dict[str, tuple[Callable[[object], str], Callable[[object], str], Callable[[int, object], bool],
                         Callable[[random.Random], object]]] = {
    # name -> (words, condition source on `v`, meaning, constant)
    "gt": (lambda k: f"keep >{k}", lambda k: f"v>{k}", lambda v, k: v > k, _k(1, 7)),
    "lt": (lambda k: f"keep <{k}", lambda k: f"v<{k}", lambda v, k: v < k, _k(2, 8)),
    "even": (lambda k: "keep even", lambda k: "v%2==0", lambda v, k: v % 2 == 0, lambda rng: None),
    "odd": (lambda k: "keep odd", lambda k: "v%2==1", lambda v, k: v % 2 == 1, lambda rng: None),
}
REDUCERS = {"list": "", "sum": "sum", "len": "count"}


@dataclass(frozen=True)
class Instance:
    """One execution-checked task; `tests` are [args, expected] pairs, the first NUM_EXAMPLES shown."""

    template: str
    family: str
    prompt: str
    answer: str
    entry_point: str
    tests: list

    def to_json(self) -> dict:
        return asdict(self)


class SyntheticError(HRMError):
    """The synthetic generator cannot satisfy a request."""


@dataclass(frozen=True)
class Template:
    """A family's argument, input generator and a `draw` that returns (spec, expression, meaning)."""

    name: str
    family: str
    argument: str
    draw: Callable[[random.Random], tuple[str, str, Callable[[object], object]]]
    inputs: Callable[[random.Random], object]
    composite: bool


TEMPLATES: Registry[Template] = Registry("synthetic template")


def _chain(ops: list[Op], argument: str) -> Callable[[random.Random], tuple[str, str, Callable]]:
    def draw(rng: random.Random) -> tuple[str, str, Callable]:
        constants = [op.constant(rng) for op in ops]
        expression, atom = argument, True
        for op, k in zip(ops, constants):
            expression, atom = op.on(expression, atom, k)

        def meaning(value: object) -> object:
            for op, k in zip(ops, constants):
                value = op.apply(value, k)
            return value

        return ", ".join(op.words(k) for op, k in zip(ops, constants)), expression, meaning

    return draw


def _list_draw(element: str | None, keep: str | None, reducer: str) -> Callable:
    def draw(rng: random.Random) -> tuple[str, str, Callable]:
        op = ELEMENT_OPS[element] if element else None
        k_map = op.constant(rng) if op else None
        k_keep = FILTERS[keep][3](rng) if keep else None
        words = ([FILTERS[keep][0](k_keep)] if keep else []) + ([f"each {op.words(k_map)}"] if op else []) + \
            ([REDUCERS[reducer]] if REDUCERS[reducer] else [])
        if op is None and keep is None:
            expression = f"{reducer}(xs)"
        else:
            item = op.source("v", k_map) if op else "v"
            condition = f" if {FILTERS[keep][1](k_keep)}" if keep else ""
            body = f"{item} for v in xs{condition}"
            expression = {"list": f"[{body}]", "sum": f"sum({body})", "len": f"len([{body}])"}[reducer]

        def meaning(values: list) -> object:
            kept = [v for v in values if keep is None or FILTERS[keep][2](v, k_keep)]
            mapped = [op.apply(v, k_map) if op else v for v in kept]
            return mapped if reducer == "list" else sum(mapped) if reducer == "sum" else len(mapped)

        return ", ".join(words), expression, meaning

    return draw


def _int_input(rng: random.Random) -> int:
    return rng.randint(-5, 20)


def _str_input(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 5)))


def _list_input(rng: random.Random) -> list[int]:
    return [rng.randint(0, 9) for _ in range(rng.randint(1, 4))]


def _register_templates() -> None:
    for family, ops, argument, inputs in (("int", INT_OPS, "x", _int_input), ("str", STR_OPS, "s", _str_input)):
        for first in ops:
            TEMPLATES.add(f"{family}:{first.name}", Template(f"{family}:{first.name}", family, argument,
                                                           _chain([first], argument), inputs, False))
            for second in ops:
                if second is not first:
                    name = f"{family}:{first.name}+{second.name}"
                    TEMPLATES.add(name, Template(name, family, argument, _chain([first, second], argument),
                                                 inputs, True))
    for reducer in REDUCERS:
        for keep in (None, *FILTERS):
            for element in (None, *ELEMENT_OPS):
                if (reducer == "list" and element is None and keep is None) or (reducer == "len" and element):
                    continue
                parts = [p for p in (keep and f"keep_{keep}", element and f"each_{element}", reducer) if p]
                name = "list:" + "+".join(parts)
                num_ops = (keep is not None) + (element is not None) + (reducer != "list")
                TEMPLATES.add(name, Template(name, "list", "xs", _list_draw(element, keep, reducer), _list_input,
                                             num_ops >= 2))


_register_templates()


def held_out_templates() -> list[str]:
    """A fixed fifth of the composite templates, drawn per family; their operations are all trained alone."""
    held = []
    for family in ("int", "str", "list"):
        names = sorted(n for n in TEMPLATES if TEMPLATES.get(n).family == family and TEMPLATES.get(n).composite)
        rng = random.Random(f"{TEMPLATE_SPLIT_SEED}:{family}")
        held += sorted(rng.sample(names, round(len(names) * HELD_OUT_TEMPLATE_SHARE)))
    return held


def training_templates() -> list[str]:
    held = set(held_out_templates())
    return [name for name in TEMPLATES if name not in held]


def is_test_program(answer: str) -> bool:
    """Programs whose text hashes into the reserved share are held out of training altogether."""
    return zlib.crc32(answer.encode()) % 100 < HELD_OUT_PROGRAM_PERCENT


def _show(value: object) -> str:
    return repr(value).replace(", ", ",")


def make_instance(template: Template, rng: random.Random, max_prompt_bytes: int) -> Instance | None:
    """One checked instance, or None when this draw is degenerate or does not fit."""
    spec, expression, meaning = template.draw(rng)
    inputs: list = []
    while len(inputs) < NUM_EXAMPLES + NUM_HIDDEN_TESTS:
        value = template.inputs(rng)
        if value not in inputs:
            inputs.append(value)
    tests = [[[value], meaning(value)] for value in inputs]
    if len({_show(expected) for _, expected in tests}) == 1:
        return None
    signature = f"def f({template.argument}):\n"
    examples = " ".join(f"f({_show(args[0])})={_show(expected)}" for args, expected in tests[:NUM_EXAMPLES])
    prompt = f"{signature}{INDENT}# {spec}\n{INDENT}# {examples}\n"
    answer = f"{INDENT}return {expression}\n"
    if len(prompt.encode()) > max_prompt_bytes:
        return None
    check_reference(signature + answer, tests)
    return Instance(template.name, template.family, prompt, answer, "f", tests)


def check_reference(source: str, tests: list) -> None:
    """Execution check of a reference we generated ourselves (trusted code: model output never comes here)."""
    namespace: dict = {}
    exec(compile(source, "<synthetic reference>", "exec"), namespace)  # noqa: S102 - our own template source
    for args, expected in tests:
        got = namespace["f"](*args)
        if got != expected:
            raise SyntheticError(f"reference {source!r} gives {got!r} for {args!r}, expected {expected!r}")


def generate(templates: list[str], count: int, seed: int, max_prompt_bytes: int, max_answer_bytes: int,
             keep: Callable[[Instance], bool] = lambda instance: True,
             exclude_prompts: set[str] | None = None) -> list[Instance]:
    """`count` distinct instances (by prompt), templates drawn uniformly; deterministic in `seed`."""
    if not templates:
        raise SyntheticError("no templates to draw from")
    rng = random.Random(seed)
    seen = set(exclude_prompts or ())
    instances: list[Instance] = []
    misses = 0
    while len(instances) < count:
        instance = make_instance(TEMPLATES.get(rng.choice(templates)), rng, max_prompt_bytes)
        if instance is None or instance.prompt in seen or len(instance.answer.encode()) > max_answer_bytes \
                or not keep(instance):
            misses += 1
            if misses > MAX_DRAWS_PER_INSTANCE * (count + 10):
                raise SyntheticError(f"could only make {len(instances)} of {count} instances")
            continue
        seen.add(instance.prompt)
        instances.append(instance)
    return instances


def benchmark_splits(num_train: int, num_test: int, seed: int, max_prompt_bytes: int,
                     max_answer_bytes: int) -> dict[str, list[Instance]]:
    """The three splits (module docstring); train and the two test splits share no prompt and no program."""
    trained = training_templates()
    train = generate(trained, num_train, seed, max_prompt_bytes, max_answer_bytes,
                     keep=lambda i: not is_test_program(i.answer))
    train_prompts = {i.prompt for i in train}
    seen = generate(trained, num_test, seed + 1, max_prompt_bytes, max_answer_bytes,
                    keep=lambda i: is_test_program(i.answer), exclude_prompts=train_prompts)
    unseen = generate(held_out_templates(), num_test, seed + 2, max_prompt_bytes, max_answer_bytes,
                      exclude_prompts=train_prompts)
    return {"train": train, "test_seen": seen, "test_unseen": unseen}
