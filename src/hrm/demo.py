"""`hrm demo`: build 6x6 sudoku, train a small TRM on CPU, score it on puzzles it never saw.

Every held-out puzzle's solution grid appears nowhere in training (there are 28 million 6x6 grids), so
the model cannot recall answers: it has to fill the blanks from the row, column and box constraints,
cell by cell, over its recursive steps.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from hrm.config import load_config
from hrm.data.format import read_split
from hrm.eval.evaluate import evaluate
from hrm.eval.load import load_trained_model
from hrm.train.metrics_log import plot_curves
from hrm.train.run import train
from hrm.train.run_config import RunConfig

DEMO_CONFIG = "demo"
BOX = (2, 3)  # the built-in "sudoku6" dataset: boxes 2 rows tall, 3 columns wide
SIDE = BOX[0] * BOX[1]
SHOWN = 4


def grid_text(tokens: np.ndarray) -> list[str]:
    """Token ids (1 = blank, 2.. = digits) as rows of digits with '.' for blanks, '|' between boxes."""
    cells = ["." if t <= 1 else str(int(t) - 1) for t in tokens]
    rows = []
    for r in range(SIDE):
        row = cells[r * SIDE:(r + 1) * SIDE]
        rows.append(" | ".join(" ".join(row[c:c + BOX[1]]) for c in range(0, SIDE, BOX[1])))
    return rows


def render_examples(inputs: np.ndarray, preds: np.ndarray, labels: np.ndarray, out_png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    side = SIDE
    fig, axes = plt.subplots(1, len(inputs), figsize=(2.4 * len(inputs), 2.6), squeeze=False)
    for ax, given, pred, label in zip(axes[0], inputs, preds, labels):
        ax.set_xlim(0, side)
        ax.set_ylim(side, 0)
        ax.set_xticks([])
        ax.set_yticks([])
        for k in range(side + 1):
            ax.axhline(k, color="black", linewidth=2.0 if k % BOX[0] == 0 else 0.6)
            ax.axvline(k, color="black", linewidth=2.0 if k % BOX[1] == 0 else 0.6)
        for cell in range(side * side):
            r, c = divmod(cell, side)
            if given[cell] > 1:
                text, colour = str(int(given[cell]) - 1), "black"
            else:
                text, colour = str(int(pred[cell]) - 1), "tab:green" if pred[cell] == label[cell] else "tab:red"
            ax.text(c + 0.5, r + 0.55, text, ha="center", va="center", fontsize=15, color=colour)
        ax.set_title("solved" if np.array_equal(pred, label) else "wrong", fontsize=10)
    fig.suptitle("held-out 6x6 sudoku: givens black, model's answers green (right) / red (wrong)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def run_demo(out: str | Path, seed: int = 0) -> float:
    out = Path(out)
    start = time.perf_counter()
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    run_dir = out / "run"
    cfg = load_config(RunConfig, DEMO_CONFIG, [f"seed={seed}"])
    print("demo: training a TRM on 6x6 sudoku; every held-out puzzle's solution grid is absent from training")
    train(cfg, run_dir)
    data_dir = run_dir / "data"

    loaded = load_trained_model(run_dir, "cpu")
    split = read_split(data_dir, "test")
    result = evaluate(loaded.model, split, 500, torch.device("cpu"))
    accuracy = result.metrics["exact_accuracy"]
    puzzles = split.sets["all"]
    inputs = np.asarray(puzzles.inputs[result.example_ids])
    labels = np.asarray(puzzles.labels[result.example_ids])
    shown = np.arange(min(SHOWN, len(inputs)))
    print("demo: a few held-out puzzles and the model's answers")
    for i in shown:
        status = "solved" if np.array_equal(result.predictions[i], labels[i]) else "WRONG"
        for given_row, pred_row in zip(grid_text(inputs[i]), grid_text(result.predictions[i])):
            print(f"  {given_row}   ->   {pred_row}")
        print(f"  ({status})")
    render_examples(inputs[shown], result.predictions[shown], labels[shown], out / "examples.png")
    plot_curves(run_dir / "metrics.jsonl", out / "learning_curves.png")
    summary = {"exact_accuracy": accuracy, "held_out": int(result.metrics["count"]),
               "token_accuracy": result.metrics["accuracy"], "minutes": (time.perf_counter() - start) / 60}
    (out / "demo.json").write_text(json.dumps(summary, indent=1))
    print(f"demo: wrote {out / 'examples.png'} and {out / 'learning_curves.png'}; "
          f"{summary['minutes']:.1f} minutes in all")
    print(f"demo: exact_accuracy={accuracy:.4f} held_out={int(result.metrics['count'])}")
    return accuracy
