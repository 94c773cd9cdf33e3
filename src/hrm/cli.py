"""`hrm` command line: subcommands only, wiring and no logic.

    hrm data <task> --out DIR ...      build a dataset in the authors' on-disk format
    hrm train --config NAME|PATH [--out RUN_DIR] [key=value ...]
    hrm eval RUN_DIR|CHECKPOINT [--data DIR]
    hrm solve sudoku <81 chars> | maze FILE|- [--checkpoint PATH]
    hrm export RUN_DIR|CHECKPOINT --out FILE.safetensors [--dtype bfloat16]
    hrm demo
    hrm code eval --problems humaneval|mbpp|synthetic|polyglot|lcb:FILE --samples FILE|--reference|--checkpoint PATH
"""

from __future__ import annotations

import argparse
import sys

from hrm.errors import HRMError


def _add_data(sub: argparse._SubParsersAction) -> None:
    import hrm.codegen.training_data  # noqa: F401  (registers `hrm data code-synth`)
    from hrm.data.all_tasks import TASKS

    parser = sub.add_parser("data", help="build a dataset (authors' on-disk format)")
    tasks = parser.add_subparsers(dest="task", required=True, metavar="TASK")
    for name in TASKS:
        spec = TASKS.get(name)
        task_parser = tasks.add_parser(name, help=spec.help)
        spec.add_arguments(task_parser)
        task_parser.set_defaults(handler=lambda args, spec=spec: spec.build(args))


def _add_train(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("train", help="train a model from a config")
    parser.add_argument("--config", required=True, help="bundled config name (e.g. tiny, trm_sudoku) or YAML path")
    parser.add_argument("--out", default=None, help="run folder (default runs/<config name>)")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. max_steps=100 optim.lr=3e-4")

    def handler(args: argparse.Namespace) -> None:
        from hrm.train.run import train_from_cli

        train_from_cli(args.config, args.out, args.overrides)

    parser.set_defaults(handler=handler)


LATENT_RECURSIONS_HELP = ("TRM only: latent recursions n per segment at inference (default: the model card's "
                          "setting, else the trained n)")


def _add_eval(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help="evaluate a run folder or checkpoint; last stdout line is JSON")
    parser.add_argument("target", help="run folder (latest checkpoint) or checkpoint folder")
    parser.add_argument("--data", default=None, help="dataset folder (default: the run's own)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--max-examples", type=int, default=None, help="evaluate only the first N examples")
    parser.add_argument("--dihedral-vote", action="store_true",
                        help="also solve the 8 rotated/mirrored images of every puzzle and score the answer most "
                             "images agree on (maze, sudoku; 8x the compute); metrics vote8/*")
    parser.add_argument("--halt-caps", default=None,
                        help="comma-separated segment caps for adaptive halting, e.g. 2,4,8,16")
    parser.add_argument("--no-ema", action="store_true", help="use raw weights even if the run kept an EMA")
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"],
                        help="activation dtype: float32 | bfloat16 (default: the model's on GPU, float32 on CPU)")
    parser.add_argument("--latent-recursions", type=int, default=None, help=LATENT_RECURSIONS_HELP)

    def handler(args: argparse.Namespace) -> None:
        from hrm.eval.cli import eval_from_cli

        eval_from_cli(args)

    parser.set_defaults(handler=handler)


def _add_solve(sub: argparse._SubParsersAction) -> None:
    from hrm.solve import SOLVERS, solve_from_cli

    parser = sub.add_parser("solve", help="solve one puzzle with a trained model (the bundled one by default)")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    for name in SOLVERS:
        solver = SOLVERS.get(name)
        kind = kinds.add_parser(name, help=solver.help)
        kind.add_argument("puzzle", help=solver.argument_help)
        kind.add_argument("--checkpoint", default=None, help="checkpoint folder, run folder or .safetensors file")
        kind.add_argument("--device", default="cpu")
        kind.add_argument("--dihedral-vote", action="store_true",
                          help="solve the 8 rotated/mirrored images and keep the answer most agree on (8x the work)")
        kind.add_argument("--latent-recursions", type=int, default=None, help=LATENT_RECURSIONS_HELP)
        kind.set_defaults(handler=solve_from_cli)


def _add_export(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help="write a checkpoint's (EMA) weights and config as a small file to ship")
    parser.add_argument("target", help="run folder (latest checkpoint) or checkpoint folder")
    parser.add_argument("--out", required=True, help="FILE.safetensors (FILE.json is written beside it)")
    parser.add_argument("--dtype", default="bfloat16", help="bfloat16 (default) | float32 | float16")
    parser.add_argument("--no-ema", action="store_true", help="export the raw weights even if the run kept an EMA")

    def handler(args: argparse.Namespace) -> None:
        from hrm.eval.export import export_weights

        path = export_weights(args.target, args.out, args.dtype, use_ema=not args.no_ema)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and {path.with_suffix('.json')}")

    parser.set_defaults(handler=handler)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="build a small reasoning task, train on CPU, evaluate on held-out puzzles")
    parser.add_argument("--out", default="runs/demo", help="folder for the data, run, plots")
    parser.add_argument("--seed", type=int, default=0)

    def handler(args: argparse.Namespace) -> None:
        from hrm.demo import run_demo

        run_demo(args.out, seed=args.seed)

    parser.set_defaults(handler=handler)


def _add_code(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("code", help="code benchmarks: grade generated code in a sandbox")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    evaluate = actions.add_parser("eval", help="grade samples (or reference solutions); last stdout line is JSON")
    evaluate.add_argument("--problems", required=True,
                          help="humaneval | mbpp | synthetic[:FILE.jsonl] | polyglot | lcb:FILE.jsonl")
    answers = evaluate.add_mutually_exclusive_group(required=True)
    answers.add_argument("--samples", help="JSONL: {task_id, completion[, edit_format]} per line")
    answers.add_argument("--checkpoint", help="a code model, canvas or causal (run or checkpoint folder): generate, then grade")
    answers.add_argument("--reference", action="store_true", help="grade the dataset's reference solutions")
    evaluate.add_argument("--edit-format", default=None, help="polyglot samples without edit_format: whole | diff")
    evaluate.add_argument("--k", default="1,10,100", help="comma-separated k for pass@k (those all tasks allow)")
    evaluate.add_argument("--workers", type=int, default=2, help="parallel runs (at most one per sandbox user)")
    evaluate.add_argument("--max-tasks", type=int, default=None, help="grade only the first N tasks")
    evaluate.add_argument("--out", default=None, help="folder for report.json and report.md")
    model = evaluate.add_argument_group("with --checkpoint")
    model.add_argument("--samples-per-task", type=int, default=10, help="sampled completions per task (0: greedy only)")
    model.add_argument("--temperature", type=float, default=0.8, help="sampling temperature")
    model.add_argument("--data", default=None, help="the model's code-synth dataset (default: the run's own)")
    model.add_argument("--seed", type=int, default=0, help="sampling seed")
    model.add_argument("--sample-tasks", type=int, default=None,
                       help="sample only N tasks spread evenly over the set (greedy still covers every task)")

    def handler(args: argparse.Namespace) -> None:
        from hrm.codegen.evaluate import eval_from_cli

        eval_from_cli(args)

    evaluate.set_defaults(handler=handler)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hrm", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_data, _add_train, _add_eval, _add_solve, _add_export, _add_demo, _add_code):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    import hrm.neat  # noqa: F401  (registers the research model extensions)
    import hrm.codegen.causal  # noqa: F401  (registers the causal_answer extension)

    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except HRMError as err:
        print(f"hrm: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hrm: interrupted", file=sys.stderr)
        return 130
    return 0
