"""MVoT on small mazes: CE alone versus CE + token discrepancy loss (CPU, single thread).

A VQ tokenizer (one image token per maze cell) is trained on rendered 6x6 mazes with partial paths drawn. Then a
TRM (same seed, same batches, same steps) is trained to write, at each of its T = 4 ACT segments, the answer path
and a visual thought: the picture of the maze with the first 2t path cells drawn (all of them at the last
segment), as image tokens fed back to the next segment. Runs: CE alone (discrepancy_weight 0) and CE + L_D
(weight 1, MVoT's); on request CE + 0.1 L_D, CE + L_D with the paper's squared distance, and the text-only
baseline (no image slots). Scored on held-out mazes: exact answer, valid shortest path, visual-token accuracy,
the Euclidean distance between predicted and target code embeddings, and how the decoded thought pictures read
back (path IoU; whether the drawn cells start a shortest path). `--device cuda` runs the same on a GPU.

    python benchmarks/neat_mvot.py --out benchmarks/results/neat_mvot
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hrm.data.maze import generate_mazes
from hrm.neat.mvot.path_targets import random_path_prefixes, segment_target_grids
from hrm.neat.mvot.render import render_grids
from hrm.neat.mvot.scoring import score
from hrm.neat.mvot.thoughts import TINY_TRM, MVoTConfig, VisualThoughtReasoner, train_on_batch
from hrm.neat.mvot.tokenizer import GridTokenizer, TokenizerConfig, tokenizer_quality, train_tokenizer

MAZE = dict(size=6, min_path=8)  # path of >= 8 moves: 7+ cells to draw, so with k = 2 each of T = 4 thoughts grows
CELLS_PER_THOUGHT = 2  # k: thought t shows the first min(2t, n) path cells, the last one all n
TOKENIZER = dict(pixels_per_cell=2, cells_per_token=1, codebook_size=16, code_dim=16, channels=32)
TOKENIZER_BATCH_SIZE = 64
RUNS = {"ce": dict(discrepancy_weight=0.0), "ce+ld": dict(discrepancy_weight=1.0),
        "ce+0.1ld": dict(discrepancy_weight=0.1), "ce+ld_squared": dict(discrepancy_weight=1.0, distance="squared"),
        "text_only": dict(use_visual_thoughts=False)}
DEFAULT_RUNS = ["ce", "ce+ld"]  # the others on request: the 20-minute CPU budget holds two runs
REPORT_DATE = "2026-11-24"
DEVICE = "CPU, 2 cores (1 thread)"


def maze_tensors(num_train: int, num_test: int) -> tuple[torch.Tensor, ...]:
    """Disjoint train/test mazes (dihedral copies count as the same maze): inputs, labels [m, l] long."""
    seen: set[bytes] = set()
    rng = np.random.default_rng(0)
    out = []
    for count in (num_train, num_test):
        batch = generate_mazes(count, rng=rng, seen=seen, **MAZE)
        out += [torch.from_numpy(batch.inputs.reshape(count, -1)).long(),
                torch.from_numpy(batch.labels.reshape(count, -1)).long()]
    return tuple(out)


def fit_tokenizer(inputs: torch.Tensor, labels: torch.Tensor, steps: int, batch_size: int,
                  device: str) -> tuple[GridTokenizer, list]:
    torch.manual_seed(0)
    tokenizer = GridTokenizer(TokenizerConfig(**TOKENIZER)).to(device)
    generator = torch.Generator().manual_seed(0)

    def batches():
        while True:
            rows = torch.randint(len(inputs), (batch_size,), generator=generator)
            yield random_path_prefixes(inputs[rows], labels[rows], generator).to(device)

    return tokenizer, train_tokenizer(tokenizer, batches(), steps, lr=2e-3, seed=0)


def targets_for(model: VisualThoughtReasoner, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor | None:
    if not model.config.use_visual_thoughts:
        return None
    device = model.distances.device
    return torch.cat([model.thought_targets(i.to(device), l.to(device))
                      for i, l in zip(inputs.split(256), labels.split(256))])


def run(name: str, tokenizer: GridTokenizer, data: tuple, reasoner: dict, steps: int, batch_size: int, lr: float,
        warmup: int, device: str, seed: int) -> tuple[dict, ...]:
    """Train and score one run; `seed` sets the reasoner's initialisation and batch order (not the tokenizer's)."""
    train_inputs, train_labels, test_inputs, test_labels = data
    config = MVoTConfig(model=dict(reasoner), tokenizer=tokenizer.config, maze_size=MAZE["size"],
                        cells_per_thought=CELLS_PER_THOUGHT, **RUNS[name])
    torch.manual_seed(seed)
    model = VisualThoughtReasoner(config, tokenizer).to(device)
    train_targets = targets_for(model, train_inputs, train_labels)
    test_targets = targets_for(model, test_inputs, test_labels)
    optimizer = torch.optim.AdamW(model.reasoner.parameters(), lr=lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    start, start_cpu, history = time.perf_counter(), time.process_time(), []
    model.train()
    for step in range(steps):
        for group in optimizer.param_groups:  # linear warm-up over the first `warmup` batches
            group["lr"] = lr * min(1.0, (step + 1) / max(warmup, 1))
        rows = torch.randint(len(train_inputs), (batch_size,), generator=generator)
        segments = train_on_batch(model, optimizer, train_inputs[rows].to(device), train_labels[rows].to(device),
                                  None if train_targets is None else train_targets[rows])
        history.append({k: float(np.mean([s[k] for s in segments])) for k in segments[0]})  # mean over segments
        if step % 50 == 0:
            print(name, step, json.dumps(history[-1]), flush=True)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    result = {"run": name, "parameters": model.reasoner.num_parameters(), "train_seconds": round(seconds, 1),
              "train_cpu_seconds": round(cpu_seconds, 1),
              "final_train_loss": {k: round(float(np.mean([h[k] for h in history[-50:]])), 4) for k in history[-1]},
              **score(model, test_inputs.to(device), test_labels.to(device), test_targets)}
    print(json.dumps({k: v for k, v in result.items() if "by_segment" not in k}), flush=True)
    thoughts = None
    if test_targets is not None:
        thoughts = model.solve(test_inputs[:3].to(device), test_targets[:3, 0])[1].cpu()
    return result, thoughts


def save_thought_pictures(path: Path, tokenizer: GridTokenizer, inputs: torch.Tensor, labels: torch.Tensor,
                          thoughts: dict[str, torch.Tensor]) -> None:
    """Per maze: the target picture of each segment, then each run's decoded visual thoughts."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    num_mazes, num_segments = inputs.shape[0], next(iter(thoughts.values())).shape[1]
    rows = 1 + len(thoughts)
    side = MAZE["size"]
    fig, axes = plt.subplots(num_mazes * rows, num_segments, figsize=(1.6 * num_segments, 1.6 * num_mazes * rows))
    for m in range(num_mazes):
        for t in range(num_segments):
            target = segment_target_grids(inputs[m:m + 1], labels[m:m + 1], torch.tensor([t + 1]), num_segments,
                                          CELLS_PER_THOUGHT)
            pictures = [render_grids(target.view(1, side, side), tokenizer.config.pixels_per_cell)[0]]
            pictures += [tokenizer.decode(codes[m:m + 1, t])[0] for codes in thoughts.values()]
            for r, (title, picture) in enumerate(zip(["target", *thoughts], pictures)):
                ax = axes[m * rows + r, t]
                ax.imshow(picture.clamp(0, 1).permute(1, 2, 0).numpy(), interpolation="nearest")
                ax.set_xticks([]), ax.set_yticks([])
                if t == 0:
                    ax.set_ylabel(f"maze {m + 1}\n{title}", fontsize=7)
                if m == 0 and r == 0:
                    ax.set_title(f"segment {t + 1}/{num_segments}", fontsize=8)
    fig.suptitle("Visual thoughts: decoded image tokens of each ACT segment (held-out mazes)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))  # room for the suptitle
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(report: dict, pictures: str) -> str:
    rows = ["| run | answer exact | valid shortest path | thought token acc. | code-embedding distance | "
            "picture cell acc. | path IoU | prefix valid | prefix at target length | picture exact |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        p = r.get("thought_pictures")
        thought = (f"{r['thought_token_accuracy']:.3f} | {r['thought_embedding_distance']:.3f} | "
                   f"{p['cell_accuracy']:.3f} | {p['path_iou']:.3f} | {p['prefix_valid']:.3f} | "
                   f"{p['prefix_at_target_length']:.3f} | {p['picture_exact']:.3f}") if p else " | ".join(["n/a"] * 7)
        rows.append(f"| {r['run']} | **{r['answer_exact']:.3f}** | {r['answer_valid_shortest_path']:.3f} | {thought} |")
    c = report["tokenizer_ceiling"]
    rows.append(f"| tokenizer ceiling (target codes decoded) | | | 1 | 0 | {c['cell_accuracy']:.3f} | {c['path_iou']:.3f} | "
                f"{c['prefix_valid']:.3f} | {c['prefix_at_target_length']:.3f} | {c['picture_exact']:.3f} |")
    num_segments = report["model"]["max_segments"]
    by_segment = ["| run | " + " | ".join(f"segment {t + 1}" for t in range(num_segments)) + " |",
                  "|---|" + "---|" * num_segments]
    for r in report["results"]:
        if "thought_pictures_by_segment" in r:
            segments = r["thought_pictures_by_segment"]
            by_segment += [
                f"| {r['run']}: path IoU | " + " | ".join(f"{p['path_iou']:.3f}" for p in segments) + " |",
                f"| {r['run']}: prefix valid (cells drawn when valid) | " + " | ".join(
                    f"{p['prefix_valid']:.3f} ({p['prefix_length']:.1f})" for p in segments) + " |",
                f"| {r['run']}: prefix at target length | " + " | ".join(
                    f"{p['prefix_at_target_length']:.3f}" for p in segments) + " |"]
        by_segment.append(f"| {r['run']}: answer exact | " + " | ".join(
            f"{a:.3f}" for a in r["answer_exact_by_segment"]) + " |")
    targets = report["results"][0].get("thought_pictures_by_segment")
    if targets:
        by_segment.append("| target path cells (mean) | " + " | ".join(f"{p['target_length']:.1f}" for p in targets)
                          + " |")
    warmup = f", after {report['warmup']} warm-up batches" if report.get("warmup") else ""
    shared = "; the CPU machine was shared with other jobs" if "CPU" in report["device"] else ""
    return "\n".join([
        f"# MVoT on {MAZE['size']}x{MAZE['size']} mazes ({report['date']}, {report['device']})",
        "",
        f"`{report['command']}`; torch {report['torch']}, {report['threads']} thread(s). Mazes: "
        f"{report['num_train']} train, {report['num_test']} held-out, shortest path >= {MAZE['min_path']} moves. "
        f"Tokenizer: {report['tokenizer_steps']} steps, {TOKENIZER['codebook_size']} codes, "
        f"{report['num_image_tokens']} tokens per picture; its round trip on held-out partial-path pictures: "
        f"cell accuracy {report['tokenizer_quality']['cell_accuracy']:.3f}, codebook usage "
        f"{report['tokenizer_quality']['codebook_usage']:.2f}. Reasoner: TRM, width {report['model']['hidden_dim']}, "
        f"{report['results'][0]['parameters']:,} parameters, T = {report['model']['max_segments']} segments, "
        f"{report['steps']} batches of {report['batch_size']} (one AdamW step per segment, lr {report['lr']}{warmup}, "
        f"seed {report['seed']}, same batches for every run; the tokenizer and the mazes are the same for every seed).",
        "",
        *rows,
        "",
        *by_segment,
        "",
        f"Training time per run (wall clock{shared}): " + ", ".join(
            f"{r['run']} {r['train_seconds']} s" for r in report["results"]) + ".",
        "",
        "Answer exact is the headline (the whole path equals the label); valid shortest path also accepts the "
        "tied shortest paths most of these mazes have. Thought metrics score the picture each segment's image "
        "tokens decode to, read back cell by cell, against the target picture (the first min(2t, n) path cells "
        "of the label, all n at the last segment), pooled over segments and held-out mazes: path IoU over drawn "
        "path cells; prefix valid = the drawn path cells are exactly the first m cells after S of some shortest "
        "path (m >= 1, any tied path); prefix at target length = valid with m equal to the target's. The "
        "code-embedding distance is the Euclidean distance between predicted and target codes' codebook "
        f"embeddings (what L_D penalises). Pictures: `{pictures}`.",
        "",
    ])


ANSWER_METRICS = ("answer exact", "valid shortest path")  # the only ones a run without visual thoughts has
SEED_METRICS = {  # name in the seed table: how to read it from one run's result
    "answer exact": lambda r: r["answer_exact"],
    "valid shortest path": lambda r: r["answer_valid_shortest_path"],
    "path IoU": lambda r: r["thought_pictures"]["path_iou"],
    "prefix valid": lambda r: r["thought_pictures"]["prefix_valid"],
    "prefix at target length": lambda r: r["thought_pictures"]["prefix_at_target_length"],
    "picture exact": lambda r: r["thought_pictures"]["picture_exact"],
}


def seed_summary(reports: list[dict]) -> str:
    """Several seeds' reports (one or more per seed, e.g. the visual runs and the text-only run apart): mean +-
    standard error per run, CE + L_D minus CE paired by seed, and thought validity by segment."""
    by_run: dict[str, dict[int, dict]] = {}
    for report in reports:
        for result in report["results"]:
            by_run.setdefault(result["run"], {})[report.get("seed", 0)] = result
    seeds = sorted({seed for results in by_run.values() for seed in results})

    def mean_se(values: list[float]) -> str:
        values = np.asarray(values, dtype=float)
        se = values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
        return f"{values.mean():.3f} ± {se:.3f}"

    first = reports[0]
    model = first["model"]
    lines = [f"# MVoT on {first['maze']['size']}x{first['maze']['size']} mazes over seeds {', '.join(map(str, seeds))} "
             f"({first['date']}, {first['device']})", "",
             f"Each seed is one run of `benchmarks/neat_mvot.py --seed S` (same mazes and tokenizer; the seed sets the "
             f"reasoner's initialisation and batch order): TRM width {model['hidden_dim']}, {first['num_train']} "
             f"training mazes, {first['steps']} batches of {first['batch_size']}, lr {first['lr']}"
             f"{', ' + str(first['warmup']) + ' warm-up batches' if first.get('warmup') else ''}; "
             f"{first['num_test']} held-out mazes. Mean ± standard error over seeds; the paired row subtracts CE "
             "from CE + L_D seed by seed.", "",
             "| run | seeds | " + " | ".join(SEED_METRICS) + " |", "|---|---|" + "---|" * len(SEED_METRICS)]
    for name, results in by_run.items():
        rows = list(results.values())
        lines.append(f"| {name} | {len(rows)} | " + " | ".join(
            mean_se([read(r) for r in rows]) if "thought_pictures" in rows[0] or key in ANSWER_METRICS else "n/a"
            for key, read in SEED_METRICS.items()) + " |")
    if {"ce", "ce+ld"} <= set(by_run) and by_run["ce"].keys() == by_run["ce+ld"].keys():
        pairs = [(by_run["ce"][seed], by_run["ce+ld"][seed]) for seed in by_run["ce"]]
        lines.append(f"| ce+ld minus ce (paired) | {len(pairs)} | " + " | ".join(
            mean_se([read(b) - read(a) for a, b in pairs]) for read in SEED_METRICS.values()) + " |")
    segment_runs = {name: list(results.values()) for name, results in by_run.items()
                    if all("thought_pictures_by_segment" in r for r in results.values())}
    if segment_runs:
        num_segments = model["max_segments"]
        lines += ["", "By segment (mean ± standard error over seeds):", "",
                  "| run | " + " | ".join(f"segment {t + 1}" for t in range(num_segments)) + " |",
                  "|---|" + "---|" * num_segments]
        for name, rows in segment_runs.items():
            lines.append(f"| {name}: prefix valid | " + " | ".join(
                mean_se([r["thought_pictures_by_segment"][t]["prefix_valid"] for r in rows])
                for t in range(num_segments)) + " |")
            lines.append(f"| {name}: answer exact | " + " | ".join(
                mean_se([r["answer_exact_by_segment"][t] for r in rows]) for t in range(num_segments)) + " |")
    lines += ["", "Per seed (answer exact): " + "; ".join(
        f"{name} " + " / ".join(f"{results[seed]['answer_exact']:.3f}" if seed in results else "-" for seed in seeds)
        for name, results in by_run.items()) + f" (seeds {', '.join(map(str, seeds))})"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-train", type=int, default=2000)
    parser.add_argument("--num-test", type=int, default=300)
    parser.add_argument("--tokenizer-steps", type=int, default=300)
    parser.add_argument("--steps", type=int, default=375, help="training batches per run (T optimizer steps each)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=0, help="batches of linear lr warm-up")
    parser.add_argument("--hidden-dim", type=int, default=TINY_TRM["hidden_dim"], help="reasoner width")
    parser.add_argument("--num-heads", type=int, default=TINY_TRM["num_heads"])
    parser.add_argument("--seed", type=int, default=0, help="reasoner initialisation and batch order")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="cpu (the committed results) or cuda")
    parser.add_argument("--runs", nargs="+", default=DEFAULT_RUNS, choices=RUNS)
    parser.add_argument("--out", type=Path, help="write OUT.json, OUT.md and OUT_thoughts.png")
    parser.add_argument("--seed-summary", nargs="+", type=Path, metavar="JSON",
                        help="only summarise finished runs' JSONs over seeds into OUT.md")
    args = parser.parse_args()
    if args.seed_summary:
        text = seed_summary([json.loads(path.read_text()) for path in args.seed_summary])
        if args.out:
            args.out.with_suffix(".md").write_text(text)
        print(text)
        return
    torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = True  # GPU runs: TF32 matmuls (float32 elsewhere); no effect on CPU

    data = maze_tensors(args.num_train, args.num_test)
    start = time.perf_counter()
    tokenizer, tokenizer_history = fit_tokenizer(data[0], data[1], args.tokenizer_steps, TOKENIZER_BATCH_SIZE,
                                                 args.device)
    held_out_pictures = random_path_prefixes(data[2], data[3], torch.Generator().manual_seed(1))
    quality = tokenizer_quality(tokenizer, held_out_pictures.to(args.device))
    print("tokenizer", round(time.perf_counter() - start, 1), "s", json.dumps(quality), flush=True)

    reasoner = dict(TINY_TRM, hidden_dim=args.hidden_dim, num_heads=args.num_heads)
    results, thoughts = [], {}
    for name in args.runs:
        result, run_thoughts = run(name, tokenizer, data, reasoner, args.steps, args.batch_size, args.lr,
                                   args.warmup, args.device, args.seed)
        results.append(result)
        if run_thoughts is not None:
            thoughts[name] = run_thoughts
    with_thoughts = [r for r in results if "tokenizer_ceiling" in r]
    device = DEVICE if args.device == "cpu" else torch.cuda.get_device_name()
    report = {"date": REPORT_DATE, "device": device, "torch": torch.__version__, "threads": args.threads,
              "command": "python " + " ".join(sys.argv), "maze": MAZE, "num_train": args.num_train,
              "num_test": args.num_test, "tokenizer": TOKENIZER, "tokenizer_steps": args.tokenizer_steps,
              "tokenizer_final_loss": tokenizer_history[-1], "tokenizer_quality": quality,
              "num_image_tokens": (MAZE["size"] // TOKENIZER["cells_per_token"]) ** 2,
              "tokenizer_ceiling": with_thoughts[0]["tokenizer_ceiling"] if with_thoughts else None,
              "model": reasoner, "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
              "warmup": args.warmup,
              "seed": args.seed,
              "results": results}
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
        if with_thoughts:
            args.out.with_suffix(".md").write_text(markdown(report, f"{args.out.name}_thoughts.png"))
            save_thought_pictures(args.out.parent / f"{args.out.name}_thoughts.png", tokenizer.cpu(), data[2][:3],
                                  data[3][:3], thoughts)
    if with_thoughts:
        print(markdown(report, f"{args.out.name if args.out else 'OUT'}_thoughts.png"))


if __name__ == "__main__":
    main()
