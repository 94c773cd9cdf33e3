"""`hrm eval`: score a run, checkpoint or authors' checkpoint; the last stdout line is one JSON object."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hrm.data.format import read_split
from hrm.errors import HRMError
from hrm.eval.evaluate import evaluate
from hrm.eval.load import load_trained_model
from hrm.eval.task_metrics import task_metrics, task_name
from hrm.eval.verify import VERIFIERS
from hrm.train.run import pick_device


def eval_from_cli(args: argparse.Namespace) -> dict[str, float]:
    device = pick_device(args.device or "auto")
    loaded = load_trained_model(args.target, device, use_ema=not args.no_ema, data_path=args.data,
                                forward_dtype=args.dtype, latent_recursions=args.latent_recursions)
    data_path = Path(args.data) if args.data else loaded.data_path
    if data_path is None:
        raise HRMError(f"no dataset recorded for '{args.target}': pass --data DIR")
    split = read_split(data_path, args.split)
    model = loaded.model
    if split.metadata.seq_len != model.config.seq_len or split.metadata.vocab_size != model.config.vocab_size:
        raise HRMError(f"dataset '{data_path}' (seq_len {split.metadata.seq_len}, vocab {split.metadata.vocab_size}) "
                       f"does not fit the model (seq_len {model.config.seq_len}, vocab {model.config.vocab_size})")
    caps = [int(c) for c in args.halt_caps.split(",")] if args.halt_caps else \
        sorted({1, 2, 4, 8, model.config.max_segments} & set(range(1, model.config.max_segments + 1)))
    task = task_name(data_path)
    verify = VERIFIERS.get(task) if task in VERIFIERS else None
    result = evaluate(model, split, args.batch_size or 256, device, caps, args.max_examples or 0, progress=True,
                      verify=verify)
    metrics = {**result.metrics, **task_metrics(data_path)(split, result)}
    if args.dihedral_vote:
        from hrm.eval.dihedral_vote import dihedral_vote, vote_metrics

        voted = dihedral_vote(model, split, task, args.batch_size or 256, device, args.max_examples or 0,
                              progress=True, identity=result)
        metrics.update(vote_metrics(split, result, voted, task_metrics(data_path)))
    print(f"checkpoint: {loaded.source} (step {loaded.step}, {'EMA' if loaded.used_ema else 'raw'} weights)")
    print(f"data: {data_path}/{args.split}, {metrics.get('count', 0)} examples, {model.config.max_segments} segments")
    print(f"exact accuracy {metrics.get('exact_accuracy', 0):.4f} | token accuracy {metrics.get('accuracy', 0):.4f} "
          f"| q-halt accuracy {metrics.get('q_halt_accuracy', 0):.4f}")
    for cap in caps:
        for mode in ("adaptive", "verified"):  # verified: stop at the first answer passing the rule check
            key = f"{mode}@{cap}"
            if f"{key}/exact_accuracy" in metrics:
                print(f"{mode} halting, cap {cap:>2}: exact {metrics[key + '/exact_accuracy']:.4f}, "
                      f"mean segments {metrics[key + '/mean_segments']:.2f}")
    if "vote8/exact_accuracy" in metrics:
        task_scores = "".join(f", {key[len('vote8/'):]} {value:.4f}" for key, value in metrics.items()
                              if key.startswith("vote8/") and key.count("/") == 2)
        print(f"8-image dihedral vote: exact {metrics['vote8/exact_accuracy']:.4f}, "
              f"mean agreement {metrics['vote8/mean_agreement']:.2f} of 8{task_scores}")
    print(json.dumps({"checkpoint": str(loaded.source), "step": loaded.step, "ema": loaded.used_ema, **metrics}))
    return metrics
