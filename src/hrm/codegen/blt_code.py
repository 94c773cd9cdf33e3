"""The BLT code model: the byte latent transformer with TRM's recursion as its latent, on code tasks.

Same rows as the causal byte model (hrm.codegen.causal): the prompt and answer bytes of a `hrm data
code-synth` dataset (read back from its canvas arrays, so the prompt is the same cut head). One row is one
BLT sequence (hrm.neat.blt.byte_vocab ids):

    ids     [ BOS, prompt bytes, ANSWER, c_0, ..., c_{n-1}, EOS, EOS pad ... ]
    scored  the predictions of c_0 .. c_{n-1} and EOS only (next-byte loss; the prompt is never scored)

ANSWER (BLT's unused BOE id) marks where the answer starts, since prompts have different lengths. The model
(`BLTModel`, `latent="trm"`) reads ids[:, :-1] and predicts ids[:, 1:]; it is causal (logits at t depend on
ids[:, :t + 1] only, entropy patching included), so no answer byte is ever an input at or after the
position that predicts it. Patches come from a frozen entropy model trained on the training rows' bytes
(`train_entropy_model`), never on a test problem, with a threshold calibrated on training rows for a target
mean patch size. Greedy generation is byte by byte (argmax, appended, until EOS or `answer_len` ids), and
scoring goes through the canvas's sandboxed grading (`hrm.codegen.checkpoint_eval`). `model="plain"` trains,
by the same loop, a control without patches: a causal byte transformer over every byte (`PlainCodeModel`).
Results against the causal byte TRM: docs/neat-blt.md, "BLT as the code model's front end".

Axis legend: b batch, t positions (ids[:, 0] = BOS), v vocab (260).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from hrm.codegen.canvas import decode_answer
from hrm.codegen.checkpoint_eval import grade_greedy
from hrm.codegen.training_data import read_canvas_shape
from hrm.neat.blt import BLTConfig, BLTModel, EntropyModel, Patcher, threshold_for_mean_patch_size
from hrm.neat.blt.byte_vocab import BOE_ID, BOS_ID, EOS_ID, OFFSET
from hrm.neat.blt.patching import patch_ids
from hrm.train.ema import EMA
from hrm.train.run import write_atomic

ANSWER_ID = BOE_ID  # "the answer starts here" (BLT's begin-of-entity id, otherwise unused)
PAD_ID = EOS_ID  # right padding; never scored, and causal attention keeps it from earlier positions
CHECKPOINT, CARD = "blt_code.safetensors", "blt_code.json"


# ---------------------------------------------------------------- rows


def code_ids(prompt: str, answer: str | None = None) -> list[int]:
    """BOS, prompt bytes, ANSWER, then (when given) the answer bytes and EOS."""
    ids = [BOS_ID, *(b + OFFSET for b in prompt.encode("utf-8")), ANSWER_ID]
    return ids if answer is None else ids + [b + OFFSET for b in answer.encode("utf-8")] + [EOS_ID]


@dataclass
class CodeBatch:
    """Right-padded rows: ids [b, t], answer_at [b] (index of ANSWER), lengths [b] (ids up to EOS)."""

    ids: torch.Tensor
    answer_at: torch.Tensor
    lengths: torch.Tensor

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, index: torch.Tensor) -> "CodeBatch":
        """The rows at `index`, trimmed to their longest."""
        lengths = self.lengths[index]
        return CodeBatch(self.ids[index, :int(lengths.max())], self.answer_at[index], lengths)

    def scored(self) -> torch.Tensor:
        """bool [b, t - 1]: which next-byte targets ids[:, 1:] are scored (the answer bytes and EOS)."""
        target = torch.arange(1, self.ids.shape[1])[None, :]
        return (target > self.answer_at[:, None]) & (target < self.lengths[:, None])


def pack(pairs: Sequence[tuple[str, str]]) -> CodeBatch:
    """(prompt, answer) pairs -> a `CodeBatch` (PAD_ID on the right)."""
    rows = [code_ids(prompt, answer) for prompt, answer in pairs]
    ids = torch.full((len(rows), max(map(len, rows))), PAD_ID, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row)
    answer_at = torch.tensor([len(code_ids(prompt)) - 1 for prompt, _ in pairs])
    return CodeBatch(ids, answer_at, torch.tensor([len(row) for row in rows]))


def canvas_pairs(data_dir: str | Path, folder: str = "train") -> list[tuple[str, str]]:
    """The (prompt, answer) pairs of one split of a `hrm data code-synth` dataset, as the canvas and causal
    models see them (the prompt is the canvas's cut head)."""
    data_dir = Path(data_dir)
    shape = read_canvas_shape(data_dir)
    inputs = np.load(data_dir / folder / "all__inputs.npy")
    labels = np.load(data_dir / folder / "all__labels.npy")
    return [(decode_answer(row[:shape.prompt_len]), decode_answer(label[shape.answer_slice]))
            for row, label in zip(inputs, labels)]


def answer_text(ids: Sequence[int]) -> str:
    """The code generated ids hold: their bytes up to the first special id (EOS)."""
    data = bytearray()
    for i in ids:
        if i < OFFSET:
            break
        data.append(i - OFFSET)
    return data.decode("utf-8", errors="replace")


def masked_next_byte_loss(logits_of: Callable[[torch.Tensor], torch.Tensor], ids: torch.Tensor,
                          scored: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats) of the scored targets ids[:, 1:][scored], from logits_of(ids[:, :-1])."""
    logits = logits_of(ids[:, :-1])
    return F.cross_entropy(logits[scored].float(), ids[:, 1:][scored])


# ---------------------------------------------------------------- model


@dataclass(kw_only=True)
class BLTCodeConfig:
    """The BLT code model and its training. Defaults: the benchmark's (benchmarks/code_blt_vs_bytes.py); the
    latent's net is the byte TRM's (`code_trm`: width 64, 2 layers, SwiGLU x2, T = 2, n = 2)."""

    blt: BLTConfig = field(default_factory=lambda: BLTConfig(
        local_dim=32, latent_dim=64, num_encoder_layers=1, num_decoder_layers=1, num_latent_layers=2,
        latent="trm", latent_recursions=2, deep_recursions=2, num_local_heads=2, num_latent_heads=4,
        num_cross_heads=2, expansion=2.0, ngram_sizes=(3, 4, 5), hash_table_size=512))
    model: str = "blt"  # "blt", or "plain": the control, a causal byte transformer with no patches or latent
    plain_dim: int = 64  # the control's width, layers and SwiGLU factor (default: the byte TRM's net)
    plain_layers: int = 2
    plain_expansion: float = 2.0
    rule: str = "global"  # patching: "global" / "monotonic" (entropy) or "fixed"
    mean_patch_size: float = 4.0  # target bytes per patch (entropy rules: calibrated; fixed: the size)
    entropy_dim: int = 64
    entropy_layers: int = 2
    entropy_steps: int = 300
    steps: int = 1000
    batch_size: int = 32
    lr: float = 2e-3
    warmup_steps: int = 50
    weight_decay: float = 0.1
    ema_decay: float = 0.99
    clip: float = 1.0
    seed: int = 0


class CodeLM(nn.Module):
    """A causal byte LM over code rows (forward: ids [b, t], optional patch starts -> logits [b, t, v]) with
    the answer-only loss and greedy answer generation."""

    def loss(self, batch: CodeBatch, starts: torch.Tensor | None = None) -> torch.Tensor:
        """Next-byte loss on the answer bytes and EOS; `starts` [b, t] (the patching of batch.ids, whose
        first t positions cover the inputs ids[:, :-1]) saves the entropy model's pass."""
        inputs_starts = None if starts is None else starts[:, :batch.ids.shape[1]]
        return masked_next_byte_loss(lambda ids: self(ids, inputs_starts), batch.ids, batch.scored())

    @torch.inference_mode()
    def greedy(self, prompts: Sequence[str], max_answer_ids: int, batch_size: int = 200) -> list[str]:
        """Greedy answers: the argmax byte at the last position, appended, until EOS (or any non-byte id)
        or `max_answer_ids` ids. Rows of different lengths share a right-padded batch: row i reads its
        logits at its own last position, which never sees the padding after it."""
        self.eval()
        answers: list[str] = []
        for first in range(0, len(prompts), batch_size):
            rows = [code_ids(p) for p in prompts[first:first + batch_size]]
            lengths = torch.tensor([len(r) for r in rows])
            ids = torch.full((len(rows), int(lengths.max()) + max_answer_ids), PAD_ID, dtype=torch.long)
            for i, row in enumerate(rows):
                ids[i, :len(row)] = torch.tensor(row)
            out = torch.full((len(rows), max_answer_ids), PAD_ID, dtype=torch.long)
            done = torch.zeros(len(rows), dtype=torch.bool)
            arange = torch.arange(len(rows))
            for step in range(max_answer_ids):
                end = int(lengths.max())
                token = self(ids[:, :end])[arange, lengths - 1].argmax(-1)
                out[:, step] = torch.where(done, PAD_ID, token)
                done |= token < OFFSET
                if done.all():
                    break
                ids[arange, lengths] = out[:, step]
                lengths = lengths + 1
            answers += [answer_text(row.tolist()) for row in out]
        return answers

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


class BLTCodeModel(CodeLM):
    """A `BLTModel` with its patcher (held, not owned: the entropy model's weights are not parameters)."""

    def __init__(self, config: BLTConfig, patcher: Patcher) -> None:
        super().__init__()
        self.patcher = patcher
        self.blt = BLTModel(config, patcher=patcher)

    def forward(self, ids: torch.Tensor, starts: torch.Tensor | None = None) -> torch.Tensor:
        return self.blt(ids, starts)


class PlainCodeModel(CodeLM):
    """The control: a causal byte transformer over every byte (the `EntropyModel` class), no patches."""

    def __init__(self, dim: int, num_layers: int, expansion: float) -> None:
        super().__init__()
        self.patcher = None
        self.net = EntropyModel(dim=dim, num_layers=num_layers, expansion=expansion)

    def forward(self, ids: torch.Tensor, starts: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(ids)


def patch_stats(model: BLTCodeModel, batch: CodeBatch) -> dict:
    """Input positions (bytes, BOS and ANSWER included) against the patches the latent sees, over real
    (unpadded) inputs ids[:, :length - 1]."""
    starts = model.patcher(batch.ids[:, :-1])
    inputs = batch.lengths - 1
    patches = patch_ids(starts).gather(1, (inputs - 1)[:, None]).squeeze(1) + 1
    return {"bytes": int(inputs.sum()), "patches": int(patches.sum()),
            "bytes_per_patch": float(inputs.sum() / patches.sum()),
            "mean_bytes_per_row": float(inputs.float().mean()), "mean_patches_per_row": float(patches.float().mean())}


# ---------------------------------------------------------------- training


def train_entropy_model(batch: CodeBatch, config: BLTCodeConfig, generator: torch.Generator) -> EntropyModel:
    """A small causal byte LM on the training rows' bytes (every real position scored), then frozen."""
    model = EntropyModel(dim=config.entropy_dim, num_layers=config.entropy_layers)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    for _ in range(config.entropy_steps):
        rows = batch.rows(torch.randint(0, len(batch), (config.batch_size,), generator=generator))
        real = torch.arange(1, rows.ids.shape[1])[None, :] < rows.lengths[:, None]
        loss = masked_next_byte_loss(model, rows.ids, real)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval().requires_grad_(False)


def make_patcher(batch: CodeBatch, config: BLTCodeConfig, generator: torch.Generator) -> tuple[Patcher, dict]:
    """The patcher (and a record of it): entropy model and threshold from the training rows only."""
    if config.rule == "fixed":
        return Patcher("fixed", patch_size=round(config.mean_patch_size)), {"rule": "fixed"}
    entropy_model = train_entropy_model(batch, config, generator)
    sample = batch.rows(torch.arange(min(len(batch), 512)))
    entropies = entropy_model.entropies(sample.ids)
    real = torch.arange(sample.ids.shape[1])[None, :] < sample.lengths[:, None]
    with torch.no_grad():
        nll = masked_next_byte_loss(entropy_model, sample.ids, real[:, 1:]).item()
    # calibrate on the rows' real positions: padded tails would skew the quantile, so use equal-length rows
    shortest = int(sample.lengths.min())
    threshold = threshold_for_mean_patch_size(entropies[:, :shortest], config.rule, config.mean_patch_size)
    record = {"rule": config.rule, "threshold": threshold, "entropy_train_bits_per_byte": nll / math.log(2),
              "entropy_parameters": sum(p.numel() for p in entropy_model.parameters())}
    return Patcher(config.rule, threshold, entropy_model=entropy_model), record


def lr_at(step: int, config: BLTCodeConfig) -> float:
    """Linear warmup, then constant (code_trm's schedule)."""
    return config.lr * min(1.0, (step + 1) / max(1, config.warmup_steps))


def build_model(config: BLTCodeConfig, patcher: Patcher | None) -> CodeLM:
    if config.model == "plain":
        return PlainCodeModel(config.plain_dim, config.plain_layers, config.plain_expansion)
    return BLTCodeModel(config.blt, patcher)


def train_rows(pairs: Sequence[tuple[str, str]], config: BLTCodeConfig, max_minutes: float = math.inf,
               metrics_path: Path | None = None, log_every: int = 25) -> tuple[CodeLM, dict]:
    """Train on (prompt, answer) pairs: entropy model and threshold first (from these rows), then the BLT
    with AdamW, code_trm's schedule, and an EMA of the weights, which the returned model holds."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    train = pack(pairs)
    start = time.monotonic()
    if config.model == "plain":
        model, patching = build_model(config, None), {"rule": "none (every byte)"}
        all_starts = torch.zeros(len(train), 1, dtype=torch.bool)  # unused
    else:
        patcher, patching = make_patcher(train, config, generator)
        with torch.no_grad():  # the entropy model is frozen: patch every row once
            all_starts = torch.cat([patcher(train.ids[i:i + 500]) for i in range(0, len(train), 500)])
        model = build_model(config, patcher)
    patching["seconds"] = time.monotonic() - start
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                  betas=(0.9, 0.95))
    ema = EMA(model, config.ema_decay)
    metrics = metrics_path.open("w") if metrics_path else None
    step, losses = 0, []
    for step in range(config.steps):
        if (time.monotonic() - start) / 60 > max_minutes:
            break
        index = torch.randint(0, len(train), (config.batch_size,), generator=generator)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        model.train()
        loss = model.loss(train.rows(index), all_starts[index])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimizer.step()
        ema.update(model)
        losses.append(loss.item())
        if metrics and ((step + 1) % log_every == 0 or step + 1 == config.steps):
            metrics.write(json.dumps({"step": step + 1, "train/lm_loss": losses[-1],
                                      "elapsed_s": time.monotonic() - start}) + "\n")
            metrics.flush()
    if metrics:
        metrics.close()
    with torch.no_grad():
        for name, value in ema.state_dict().items():
            dict(model.named_parameters())[name].copy_(value)
    record = {"steps": len(losses), "minutes": (time.monotonic() - start) / 60, "losses": losses,
              "final_train_lm_loss": losses[-1] if losses else None, "num_parameters": model.num_parameters(),
              "patching": patching}
    return model.eval(), record


def train_blt_code(data_dir: str | Path, out: str | Path, config: BLTCodeConfig | None = None,
                   max_minutes: float = math.inf) -> dict:
    """Train on the dataset's `train` rows; writes `out/blt_code.safetensors` and `.json` (EMA weights, entropy
    model; configs, threshold) and `out/metrics.jsonl`; returns the training record (without per-step losses)."""
    config = config or BLTCodeConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model, record = train_rows(canvas_pairs(data_dir, "train"), config, max_minutes, out / "metrics.jsonl")
    record.pop("losses")
    save_blt_code(model, config, record, out)
    return record


def save_blt_code(model: CodeLM, config: BLTCodeConfig, record: dict, out: Path) -> None:
    """Tensors to safetensors, config and training record to JSON (what `load_blt_code` reads)."""
    entropy_model = model.patcher.entropy_model if model.patcher else None
    tensors = {f"model.{k}": v for k, v in (model if config.model == "plain" else model.blt).state_dict().items()}
    if entropy_model is not None:
        tensors.update({f"entropy.{k}": v for k, v in entropy_model.state_dict().items()})
    staging = out / (CHECKPOINT + ".tmp")  # tensors then card, each renamed into place whole
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(staging))
    staging.replace(out / CHECKPOINT)
    write_atomic(out / CARD, json.dumps({"config": asdict(config), "record": record}, indent=1))


def read_saved(run_dir: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """The run's card (config, training record) and tensors; safetensors and JSON, so loading runs no code."""
    run_dir = Path(run_dir)
    if not (run_dir / CHECKPOINT).is_file() or not (run_dir / CARD).is_file():
        raise FileNotFoundError(f"'{run_dir}' holds no trained code model ({CHECKPOINT} and {CARD})")
    return json.loads((run_dir / CARD).read_text()), load_file(str(run_dir / CHECKPOINT))


def load_blt_code(run_dir: str | Path) -> CodeLM:
    """The trained model (EMA weights) with its patcher, from `train_blt_code`'s folder."""
    saved, tensors = read_saved(run_dir)
    config = saved["config"]
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    blt = BLTConfig(**{**config["blt"], "ngram_sizes": tuple(config["blt"]["ngram_sizes"])})
    if config.get("model") == "plain":
        model = PlainCodeModel(config["plain_dim"], config["plain_layers"], config["plain_expansion"])
        model.load_state_dict(weights)
        return model.eval()
    if config["rule"] == "fixed":
        patcher = Patcher("fixed", patch_size=round(config["mean_patch_size"]))
    else:
        entropy_model = EntropyModel(dim=config["entropy_dim"], num_layers=config["entropy_layers"])
        entropy_model.load_state_dict({k[len("entropy."):]: v for k, v in tensors.items()
                                       if k.startswith("entropy.")})
        patcher = Patcher(config["rule"], saved["record"]["patching"]["threshold"],
                          entropy_model=entropy_model.eval().requires_grad_(False))
    model = BLTCodeModel(blt, patcher)
    model.blt.load_state_dict(weights)
    return model.eval()


# ---------------------------------------------------------------- scoring


def evaluate_blt_code(run_dir: str | Path, data_dir: str | Path, spec: str = "synthetic", num_workers: int = 2,
                      max_tasks: int | None = None) -> dict:
    """`grade_greedy` of a trained BLT code model, answers capped at the canvas's answer length; adds the
    patch statistics of the benchmark's prompts and greedy answers."""
    model = load_blt_code(run_dir)
    shape = read_canvas_shape(Path(data_dir))
    generated: list[tuple[str, str]] = []

    def generate(prompts: list[str]) -> list[str]:
        answers = model.greedy(prompts, shape.answer_len)
        generated.extend(zip(prompts, answers))
        return answers

    result = grade_greedy(spec, generate, shape, num_workers, max_tasks)
    if model.patcher is not None:
        with torch.no_grad():
            result["patches"] = patch_stats(model, pack(generated))
    return result
