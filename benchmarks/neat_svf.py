"""Transformer² SVF experts on a multi-task 4x4 sudoku mix, on CPU in a few minutes.

Every input is a prompt token followed by the 16 cells of a 4x4 sudoku (digits as tokens 2..5, blanks 1;
4..8 blanks, every puzzle has a unique answer):

    sudoku        solve it
    swap14        solve it, then write 1 as 4 and 4 as 1
    swap23        solve it, then write 2 as 3 and 3 as 2

The base is a generalist, as in the paper: a TRM trained briefly on the prompted mix of all three tasks, so it
knows each and masters none. Then one SVF expert per task on the frozen base, each trained by cross-entropy on
its task only, and one more sudoku expert trained by REINFORCE (the paper's objective, ±1 whole-answer
rewards). Measured, with exact (whole-answer) accuracy as the headline:
1. every expert on every task (the diagonal should win);
2. two-pass inference on the queries of all tasks: the prompt rule, the feature classifier (pass 1 = the base
   model's own features) and an oracle, against the base alone;
3. one expert vector for the even mix of all tasks: the few-shot CEM mixture of the task experts against
   each single expert;
4. that every base weight is bit-identical after all of it.

    python benchmarks/neat_svf.py --out benchmarks/results/neat_svf     # minutes on one CPU thread
    python benchmarks/neat_svf.py --quick                               # smoke test, < 1 min
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

import hrm.neat  # noqa: F401  (registers the `svf` extension)
from hrm.data.sudoku import all_solved_grids
from hrm.data.sudoku_solver import minimal_puzzle
from hrm.models import ACTLoss, TRMConfig, build_model
from hrm.neat.svf import Batch, Expert, SVFTrainConfig, act_policy, exact_match, train_expert, using_expert
from hrm.neat.svf_dispatch import (
    BASE, CEMConfig, FeatureClassifier, PromptDispatcher, cem_mixture, two_pass,
)
from hrm.nn.losses import IGNORE_LABEL_ID
from hrm.train.optim import AdamATan2

PROMPT = {"sudoku": 6, "swap14": 7, "swap23": 8, "unknown": 9}
VOCAB = 10  # 0 pad, 1 blank, 2..5 digits, 6..9 prompts


@dataclass(frozen=True)
class Task:
    relabel: tuple[int, ...]  # output token of each digit 0..4 (0 = blank, never an answer)
    blanks: tuple[int, int]  # blanked cells per puzzle (of 16), uniform in [low, high]


TASKS = {"sudoku": Task(relabel=(0, 1, 2, 3, 4), blanks=(4, 8)),
         "swap14": Task(relabel=(0, 4, 2, 3, 1), blanks=(4, 8)),
         "swap23": Task(relabel=(0, 1, 3, 2, 4), blanks=(4, 8))}
RL_TASK = "sudoku"  # also gets a REINFORCE expert, the paper's objective (its base answers are often right)


@dataclass(kw_only=True)
class Sizes:
    """How much of everything; the full run takes a few minutes on one CPU thread."""

    base_steps: int = 500  # base TRM training steps on the prompted mix
    expert_steps: int = 100  # optimizer steps per expert (the reference script runs 200)
    batch_size: int = 64  # puzzles per base or expert step
    num_test: int = 300  # held-out puzzles per task
    num_few_shot: int = 96  # labelled puzzles of the mix that CEM scores candidates on
    cem_generations: int = 8  # of 32 candidates each (reference: 50)
    classifier_examples: int = 100  # training puzzles per task for the feature classifier
    expert_lr: float = 3e-2  # Adam lr of the cross-entropy experts
    rl_lr: float = 1e-2  # Adam lr of the REINFORCE expert


QUICK = Sizes(base_steps=30, expert_steps=3, batch_size=16, num_test=20, num_few_shot=6, cem_generations=2,
              classifier_examples=16)


class PuzzleSource:
    """4x4 puzzles with unique answers; train and test use disjoint solution grids (200 / 88 of the 288)."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        grids = all_solved_grids(2)
        grids = grids[self.rng.permutation(len(grids))]
        self.grids = {"train": grids[:200], "test": grids[200:]}

    def batch(self, task: str, size: int, split: str, device: torch.device, prompt: str | None = None) -> Batch:
        """`size` puzzles of `task` behind the prompt token of `prompt` (default: the task's own)."""
        grids = self.grids[split][self.rng.integers(len(self.grids[split]), size=size)]
        low, high = TASKS[task].blanks
        puzzles = np.stack([minimal_puzzle(g, 2, self.rng, min_clues=16 - int(self.rng.integers(low, high + 1)))
                            for g in grids])
        answers = np.array(TASKS[task].relabel)[grids]
        inputs = np.concatenate([np.full((size, 1), PROMPT[prompt or task]), puzzles + 1], axis=1)
        labels = np.concatenate([np.full((size, 1), IGNORE_LABEL_ID), answers + 1], axis=1)
        return {"inputs": torch.tensor(inputs, dtype=torch.int32, device=device),
                "labels": torch.tensor(labels, dtype=torch.int64, device=device),
                "puzzle_identifiers": torch.zeros(size, dtype=torch.int32, device=device)}

    def mixed(self, size: int, split: str, device: torch.device) -> Batch:
        """An even mix of every task, each puzzle behind its own prompt."""
        parts = [self.batch(task, size // len(TASKS), split, device) for task in TASKS]
        return concat(parts)


def concat(batches: list[Batch]) -> Batch:
    return {key: torch.cat([b[key] for b in batches]) for key in batches[0]}


def train_base(sizes: Sizes, source: PuzzleSource, device: torch.device) -> torch.nn.Module:
    """A generalist TRM trained on the prompted mix of all tasks as the trainer would (ACT carry, deep
    supervision, AdamATan2), for a short budget: it knows every task and masters none."""
    config = TRMConfig(hidden_dim=64, num_heads=4, expansion=2.0, deep_recursions=2, latent_recursions=2,
                       num_layers=2, puzzle_emb_dim=0, num_puzzle_tokens=0, max_segments=2, forward_dtype="float32",
                       seq_len=17, vocab_size=VOCAB, extensions={"svf": {"targets": ["mlp", "token_mixer"]}})
    model = build_model(config).to(device)
    loss_fn = ACTLoss(model)
    optimizer = AdamATan2(model.parameters(), lr=1e-3, weight_decay=0.1)
    carry = None
    for _ in range(sizes.base_steps):
        batch = source.mixed(sizes.batch_size, "train", device)
        carry = model.initial_carry(batch) if carry is None else carry
        carry, loss, _, _ = loss_fn(carry, batch)
        (loss / sizes.batch_size).backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def scores(log_probs: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    cells = labels != IGNORE_LABEL_ID
    right = (log_probs.argmax(-1) == labels) & cells
    return {"cell": round((right.sum() / cells.sum()).item(), 4),
            "exact": round(exact_match(log_probs, labels).double().mean().item(), 4)}


def evaluate(model: torch.nn.Module, expert: Expert | None, batch: Batch) -> dict[str, float]:
    with torch.no_grad(), using_expert(model, expert):
        log_probs, _ = act_policy(model)(batch)
    return scores(log_probs, batch["labels"])


@contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - start, 1)
    print(f"{name}: {timings[name]}", file=sys.stderr, flush=True)


def train_experts(model: torch.nn.Module, sizes: Sizes, source: PuzzleSource, seed: int, device: torch.device
                  ) -> tuple[dict[str, Expert], dict]:
    """A cross-entropy expert per task, on that task's puzzles only, and a REINFORCE expert on RL_TASK
    (named "rl_<task>")."""
    experts, training = {}, {}
    runs = [(task, task, "cross_entropy", sizes.expert_lr) for task in TASKS]
    for name, task, objective, lr in [*runs, (f"rl_{RL_TASK}", RL_TASK, "reinforce", sizes.rl_lr)]:
        config = SVFTrainConfig(objective=objective, num_steps=sizes.expert_steps, lr=lr, max_grad_norm=1.0,
                                seed=seed)
        batches = (source.batch(task, sizes.batch_size, "train", device) for _ in range(sizes.expert_steps))
        experts[name], history = train_expert(model, act_policy(model), batches, config)
        key = "reward" if objective == "reinforce" else "loss"
        tenth = max(1, len(history) // 10)
        training[name] = {"task": task, "objective": objective, "lr": lr, f"first_tenth_mean_{key}":
                          round(float(np.mean([h[key] for h in history[:tenth]])), 4),
                          f"last_tenth_mean_{key}": round(float(np.mean([h[key] for h in history[-tenth:]])), 4)}
    return experts, training


def compare_dispatch(model: torch.nn.Module, experts: dict[str, Expert], tests: dict[str, Batch], sizes: Sizes,
                     source: PuzzleSource, device: torch.device) -> dict:
    """Two-pass inference on the prompted queries of every task, the right expert being the task's own."""
    policy = act_policy(model)
    library = [experts[task] for task in TASKS]
    queries = concat([tests[task] for task in TASKS])
    truth = torch.arange(len(TASKS), device=device).repeat_interleave(sizes.num_test)
    prompt_rule = PromptDispatcher(position=0, expert_of_token={PROMPT[task]: k for k, task in enumerate(TASKS)})
    with torch.no_grad():
        features = torch.cat([policy(source.batch(task, sizes.classifier_examples, "train", device))[1]
                              for task in TASKS])
    classifier = FeatureClassifier(features.shape[1], num_experts=len(library)).to(device)
    train_accuracy = classifier.fit(features, torch.arange(len(TASKS), device=device)
                                    .repeat_interleave(sizes.classifier_examples))
    dispatch = {"base_only": evaluate(model, None, queries)}
    for name, dispatcher in (("prompt", prompt_rule), ("classifier", classifier), ("oracle", lambda b, f: truth)):
        log_probs, choice = two_pass(model, policy, library, dispatcher, queries)
        right = (choice == truth).view(len(TASKS), -1).double().mean(1)
        dispatch[name] = {"routing_accuracy": round(right.mean().item(), 4),
                          "routing_accuracy_per_task": dict(zip(TASKS, (round(v, 4) for v in right.tolist()))),
                          **scores(log_probs, queries["labels"])}
    dispatch["classifier_train_accuracy"] = round(train_accuracy, 4)
    # A query with a prompt the rule does not know keeps the base weights.
    unknown = source.batch("sudoku", 8, "test", device, prompt="unknown")
    dispatch["unknown_prompt_keeps_base"] = bool((prompt_rule(unknown, features[:8]) == BASE).all())
    return dispatch


def compare_mixture(model: torch.nn.Module, experts: dict[str, Expert], tests: dict[str, Batch], sizes: Sizes,
                    source: PuzzleSource, seed: int, device: torch.device) -> dict:
    """One expert vector for the even mix of all tasks: the few-shot CEM mixture of the task experts against each
    single expert, on the held-out puzzles of all tasks. Best single = highest exact accuracy (ties: cell)."""
    few_shot = source.mixed(sizes.num_few_shot, "train", device)
    result = cem_mixture(model, act_policy(model), [experts[task] for task in TASKS], few_shot,
                         CEMConfig(num_generations=sizes.cem_generations, seed=seed))
    mixed = concat([tests[task] for task in TASKS])
    singles = {task: evaluate(model, experts[task], mixed) for task in TASKS}
    best = max(singles, key=lambda k: (singles[k]["exact"], singles[k]["cell"]))
    mixture = evaluate(model, result.expert, mixed)
    return {"base": evaluate(model, None, mixed), "experts": singles, "cem_mixture": mixture,
            "cem_mixture_per_task": {task: evaluate(model, result.expert, tests[task]) for task in TASKS},
            "best_single": best, "mixture_beats_best_single": mixture["exact"] > singles[best]["exact"],
            "few_shot_score": [round(v, 4) for v in result.score],
            "best_per_generation": [[round(v, 4) for v in g] for g in result.best_per_generation],
            "alpha": [[round(a, 3) for a in row] for row in result.alpha.tolist()]}


def run(sizes: Sizes, seed: int, device: torch.device) -> dict:
    torch.manual_seed(seed)
    source = PuzzleSource(seed)
    timings: dict[str, float] = {}
    with timed(timings, "base_training_s"):
        model = train_base(sizes, source, device)
    weights_before = {name: t.clone() for name, t in model.state_dict().items()}
    tests = {task: source.batch(task, sizes.num_test, "test", device) for task in TASKS}
    with timed(timings, "expert_training_s"):
        experts, training = train_experts(model, sizes, source, seed, device)
    with timed(timings, "evaluation_s"):
        table = {task: {"base": evaluate(model, None, tests[task]),
                        **{f"expert_{e}": evaluate(model, expert, tests[task]) for e, expert in experts.items()}}
                 for task in TASKS}
    with timed(timings, "dispatch_s"):
        dispatch = compare_dispatch(model, experts, tests, sizes, source, device)
    with timed(timings, "cem_s"):
        mixture = compare_mixture(model, experts, tests, sizes, source, seed, device)
    after = model.state_dict()
    identical = all(torch.equal(after[name], t) for name, t in weights_before.items())
    return {"expert_training": training, "task_accuracy": table, "dispatch": dispatch, "mixture": mixture,
            "base_weights_bit_identical": identical, "timings": timings}


def pair(score: dict[str, float]) -> str:
    return f"**{score['exact']:.3f}** ({score['cell']:.3f})"


def markdown(report: dict) -> str:
    r = report["results"]
    lines = [f"# Transformer² SVF on a prompted 4x4 sudoku task mix ({report['date']}, {report['device']})", "",
             f"Command: `{report['command']}`; torch {report['torch']}, {report['threads']} CPU thread(s), "
             f"seed {report['seed']}; total {report['total_s']} s. Numbers are **exact accuracy** (whole answer "
             f"right) and, in brackets, cell accuracy, on {report['sizes']['num_test']} held-out puzzles per task "
             f"(solution grids unseen in training).", "",
             "## Each expert on every task (rows: task; columns: expert)", "",
             "| task | base | " + " | ".join(f"expert {t}" for t in TASKS) + f" | expert {RL_TASK} (REINFORCE) |",
             "|---|---|" + "---|" * (len(TASKS) + 1)]
    for task, row in r["task_accuracy"].items():
        lines.append(f"| {task} | " + " | ".join(pair(v) for v in row.values()) + " |")
    d = r["dispatch"]
    lines += ["", "## Two-pass inference on the prompted queries of all tasks", "",
              "| strategy | routing accuracy (" + ", ".join(TASKS) + ") | answers |", "|---|---|---|",
              f"| base only | - | {pair(d['base_only'])} |"]
    for name in ("prompt", "classifier", "oracle"):
        per_task = ", ".join(f"{v:.2f}" for v in d[name]["routing_accuracy_per_task"].values())
        lines.append(f"| {name} | {d[name]['routing_accuracy']:.3f} ({per_task}) | {pair(d[name])} |")
    m = r["mixture"]
    lines += ["", f"A query with an unknown prompt keeps the base weights: {d['unknown_prompt_keeps_base']}.", "",
              "## One expert vector for the even mix of all tasks", "",
              f"CEM over α (per expert and layer) on {report['sizes']['num_few_shot']} few-shot puzzles of the mix, "
              f"{report['sizes']['cem_generations']} generations of 32; scored on all held-out puzzles above.", "",
              "| base | " + " | ".join(f"expert {t}" for t in TASKS) + " | CEM mixture | beats best single? |",
              "|---|" + "---|" * (len(TASKS) + 2),
              f"| {pair(m['base'])} | " + " | ".join(pair(m["experts"][t]) for t in TASKS) +
              f" | {pair(m['cem_mixture'])} | {'yes' if m['mixture_beats_best_single'] else 'no'} |",
              "", f"Base weights bit-identical after expert training, dispatch and CEM: "
              f"{r['base_weights_bit_identical']}.", "", *verdict(report), "", f"Timings (s): {r['timings']}.", ""]
    return "\n".join(lines)


def verdict(report: dict) -> list[str]:
    """Whether each behavioural claim holds in these numbers, with the sampling noise to judge margins by."""
    r, num_test = report["results"], report["sizes"]["num_test"]
    rows = []
    for task, row in r["task_accuracy"].items():
        best = max((k for k in row if k.startswith("expert_") and k != f"expert_rl_{RL_TASK}"),
                   key=lambda k: row[k]["exact"])
        won = row[f"expert_{task}"]["exact"] >= row[best]["exact"]
        rows.append(f"{task}: {'yes' if won else 'no, expert ' + best.removeprefix('expert_') + ' is higher'}")
    m = r["mixture"]
    gain = m["cem_mixture"]["exact"] - m["experts"][m["best_single"]]["exact"]
    p = m["experts"][m["best_single"]]["exact"]
    noise = (2 * p * (1 - p) / (num_test * len(TASKS))) ** 0.5
    explain = [] if all(row.endswith("yes") for row in rows) else [
        "- Why the diagonal is weak: the three tasks share their hard part (solving) and the prompted base already "
        "relabels, so every expert mostly learns more solving, which helps every task."]
    return ["## Verdict", "",
            "- Own expert has the highest exact accuracy among the cross-entropy experts on its task: "
            + "; ".join(rows) + f". One binomial standard error at these accuracies is about "
            f"{(0.25 * 0.75 / num_test) ** 0.5:.3f} per cell of the table.",
            f"- CEM mixture against the best single expert (expert {m['best_single']}) on the mix: "
            f"{gain:+.3f} exact; the standard error of that difference (two independent proportions) is about "
            f"{noise:.3f}, so {'a margin beyond' if gain > 2 * noise else 'a margin within'} two standard errors.",
            *explain]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write <out>.json and <out>.md")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sizes = QUICK if args.quick else Sizes()
    started = date.today().isoformat()
    start = time.perf_counter()
    results = run(sizes, args.seed, torch.device("cpu"))
    report = {"date": started, "device": f"CPU, {os.cpu_count()} cores", "torch": torch.__version__,
              "threads": args.threads, "seed": args.seed,
              "command": "python benchmarks/neat_svf.py" + (" --quick" if args.quick else "") +
                         (f" --out {args.out}" if args.out else ""),
              "sizes": asdict(sizes), "total_s": round(time.perf_counter() - start, 1), "results": results}
    text = markdown(report)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(text)


if __name__ == "__main__":
    main()
