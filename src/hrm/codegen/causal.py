"""The causal formulation of a code task: the canvas row, but the answer region is decoded byte by byte.

Layout (p = prompt_len, a = answer_len, answer bytes c_0 .. c_{n-1}, n < a):

    inputs  [ prompt, PAD after | BLANK, c_0, ..., c_{n-1}, PAD ... ]
    labels  [ IGNORE x p        | c_0,   c_1, ..., END,     IGNORE ... ]

(An answer of exactly `a` bytes has no END: its labels are c_0 .. c_{a-1}.)

The answer region's input is its labels shifted right by one (BLANK plays BOS), and attention over it is
causal (`causal_mask`): the prompt (and the puzzle prefix) see the prompt only, answer position t sees the
prompt and answer positions <= t, whose inputs hold c_0 .. c_{t-1}. So no position ever sees the byte it
predicts or a later one, in any ACT segment: the carried states at position t depend on the same inputs.
Same bytes, tokens and prompt as the canvas (hrm.codegen.canvas); only the answer region's input differs.

Decoding (`decode`) uses that order: a position's states in every network call depend only on earlier
positions' states in the same call, so the prompt is run once and each new byte runs only its own position,
attending to cached keys and values of every earlier position, call by call (`CachedRows`). That computes what
a full forward of the row computes at that position (tested), at a cost per byte that does not grow with
the prompt's length times the recursion depth.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hrm.codegen.canvas import BLANK, BYTE_OFFSET, END, IGNORE_LABEL, PAD, CanvasShape, decode_answer, encode_input, \
    fit_prompt
from hrm.codegen.generate import LOG_PROBS
from hrm.codegen.training_data import SPLITS, read_canvas_shape
from hrm.errors import ConfigError
from hrm.models import ACTModel
from hrm.models.extensions import EXTENSIONS, ExtensionSpec
from hrm.nn.attention import Attention


def causal_rows(canvas_inputs: np.ndarray, canvas_labels: np.ndarray, shape: CanvasShape
                ) -> tuple[np.ndarray, np.ndarray]:
    """Canvas rows [n, s] (answer bytes then END fill) -> causal (inputs, labels) [n, s] (module docstring)."""
    answer = shape.answer_slice
    region = canvas_labels[:, answer]
    ends = region == END
    # the first END; an answer that fills the whole region has none and is scored to its last byte
    stop = np.where(ends.any(-1), ends.argmax(-1), shape.answer_len - 1)
    scored = np.arange(shape.answer_len)[None, :] <= stop[:, None]
    labels = canvas_labels.copy()
    labels[:, answer] = np.where(scored, region, IGNORE_LABEL)
    shifted = np.concatenate([np.full((len(region), 1), BLANK, region.dtype), region[:, :-1]], axis=1)
    inputs = canvas_inputs.copy()
    inputs[:, answer] = np.where(scored, shifted, PAD)
    return inputs, labels


def write_causal_dataset(canvas_dir: str | Path, out: str | Path) -> Path:
    """A copy of a `hrm data code-synth` dataset with every split's rows in the causal layout."""
    canvas_dir, out = Path(canvas_dir), Path(out)
    shape = read_canvas_shape(canvas_dir)
    shutil.copytree(canvas_dir, out)
    for folder in SPLITS:
        inputs_path, labels_path = out / folder / "all__inputs.npy", out / folder / "all__labels.npy"
        inputs, labels = causal_rows(np.load(inputs_path), np.load(labels_path), shape)
        np.save(inputs_path, inputs)
        np.save(labels_path, labels)
    return out


def causal_mask(shape: CanvasShape, num_prefix: int) -> torch.Tensor:
    """[l, l] boolean, l = num_prefix + seq_len, True where a query may attend a key: every query sees the
    prefix and the prompt; an answer query also sees the answer positions up to itself."""
    total = num_prefix + shape.seq_len
    visible_prefix = num_prefix + shape.prompt_len
    query = torch.arange(total).view(-1, 1)
    key = torch.arange(total).view(1, -1)
    return (key < visible_prefix) | ((key <= query) & (query >= visible_prefix))


def make_causal(model: ACTModel, shape: CanvasShape) -> ACTModel:
    """Set the causal mask on every attention layer of `model` (in place; returns it)."""
    _mask_attention(model.reasoner, shape.prompt_len)
    return model


def _mask_attention(reasoner: nn.Module, prompt_len: int) -> None:
    config = reasoner.config
    if getattr(config, "token_mixer", "attention") != "attention":
        raise ConfigError("the causal formulation needs model.token_mixer 'attention' (an MLP mixer sees all)")
    if not 0 < prompt_len < config.seq_len:
        raise ConfigError(f"causal_answer.prompt_len must be in 1..{config.seq_len - 1}, got {prompt_len}")
    mask = causal_mask(CanvasShape(prompt_len, config.seq_len - prompt_len), reasoner.num_prefix)
    for module in reasoner.modules():
        if isinstance(module, Attention):
            module.attn_mask = mask


@dataclass(kw_only=True)
class CausalAnswerConfig:
    """`model.extensions.causal_answer.prompt_len=P`: train and load a causal code model by configuration."""

    prompt_len: int = 0  # positions before the answer region (the dataset's canvas prompt length)

    def validate(self) -> None:
        if self.prompt_len < 1:
            raise ConfigError("model.extensions.causal_answer.prompt_len must be >= 1")


EXTENSIONS.add("causal_answer", ExtensionSpec(
    config=CausalAnswerConfig, apply=lambda reasoner, options: _mask_attention(reasoner, options.prompt_len)))


class _CachedAttention(nn.Module):
    """Stands in for one Attention layer while CachedRows runs: same projections, keys and values cached."""

    def __init__(self, attention: Attention, rows: "CachedRows") -> None:
        super().__init__()
        self.attention = attention
        self.rows = rows

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        return self.rows.attend(self.attention, x, rope)


class CachedRows:
    """Causal decoding state of b rows: the keys and values [b, h, l, d] of every attention call that one
    position's recursion makes (all ACT segments, every recursion, every layer, in order), for the positions
    decoded so far. The prompt (with the puzzle prefix) is run once, `chunk_rows` rows at a time; `step` then
    runs one new position per row. Each position runs `num_segments` ACT segments (default: the model's
    `max_segments`). Needs rope or no position encoding (a learned table is added per row in Reasoner.embed,
    which this does not repeat)."""

    def __init__(self, act: ACTModel, shape: CanvasShape, prompts: list[str], chunk_rows: int = 16,
                 num_segments: int | None = None) -> None:
        reasoner = act.reasoner
        if reasoner.config.pos_encoding == "learned":
            raise ConfigError("cached causal decoding needs model.pos_encoding 'rope' or 'none', not 'learned'")
        mask = causal_mask(shape, reasoner.num_prefix)
        attention = [m for m in reasoner.modules() if isinstance(m, Attention)]
        if not attention or any(m.attn_mask is None or not torch.equal(m.attn_mask, mask) for m in attention):
            raise ConfigError(f"causal decoding needs the causal_answer mask for a {shape.prompt_len}-byte prompt "
                              "on every attention layer")
        self.reasoner = reasoner
        self.num_segments = act.config.max_segments if num_segments is None else num_segments
        if self.num_segments < 1:
            raise ConfigError(f"causal decoding needs at least one ACT segment per byte, got {num_segments}")
        self.num_rows, self.length = len(prompts), 0
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self._rows, self._call = slice(None), 0
        rows = torch.from_numpy(np.stack([encode_input(fit_prompt(p, shape), shape) for p in prompts]))
        visible = reasoner.num_prefix + shape.prompt_len
        for start in range(0, len(prompts), chunk_rows):
            self._rows = slice(start, start + chunk_rows)
            part = rows[self._rows]
            self._run(reasoner.embed(part, torch.zeros(len(part), dtype=torch.int32))[:, :visible])
        self._rows, self.length = slice(None), visible

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [b]: each row's input at the next position -> logits [b, v] there (the next byte's)."""
        x = self.reasoner.embed_scale * self.reasoner.embed_tokens(tokens.view(-1, 1).int())
        logits = self.reasoner.lm_head(self._run(x)[:, -1])
        self.length += 1
        return logits

    def select(self, index: torch.Tensor) -> None:
        """Keep (or repeat) rows: row i becomes old row index[i]."""
        self.keys = [k.index_select(0, index) for k in self.keys]
        self.values = [v.index_select(0, index) for v in self.values]
        self.num_rows = len(index)

    def attend(self, attention: Attention, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None
               ) -> torch.Tensor:
        """Attention.forward for positions length.. of the current rows, over every cached position and
        themselves: the causal mask's rule, since the prompt comes first and the answer one position a step."""
        start, end = self.length, self.length + x.shape[1]
        q, k, v = attention.project(x, None if rope is None else (rope[0][start:end], rope[1][start:end]))
        call = self._call
        self._call += 1
        if call == len(self.keys):
            size = (self.num_rows, attention.num_heads, self.reasoner.total_len, attention.head_dim)
            self.keys.append(k.new_zeros(size))
            self.values.append(v.new_zeros(size))
        self.keys[call][self._rows, :, start:end] = k
        self.values[call][self._rows, :, start:end] = v
        return attention.merge(F.scaled_dot_product_attention(q, self.keys[call][self._rows, :, :end],
                                                              self.values[call][self._rows, :, :end]))

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        """All ACT segments from the initial states on embedded positions x [b, l, d] -> z_high [b, l, d]."""
        reasoner = self.reasoner
        z_high = reasoner.init_high.expand(x.shape).clone()
        z_low = reasoner.init_low.expand(x.shape).clone()
        with self._cached_attention():
            for _ in range(self.num_segments):
                z_high, z_low = reasoner.recurse(z_high, z_low, x)
        self._call = 0
        return z_high

    @contextmanager
    def _cached_attention(self) -> Iterator[None]:
        """Every Attention layer of the reasoner replaced by a _CachedAttention for the duration."""
        slots = [(parent, name, child) for parent in self.reasoner.modules()
                 for name, child in parent.named_children() if isinstance(child, Attention)]
        try:
            for parent, name, child in slots:
                setattr(parent, name, _CachedAttention(child, self))
            yield
        finally:
            for parent, name, child in slots:
                setattr(parent, name, child)


def greedy_decode(model: ACTModel, shape: CanvasShape, prompts: list[str], batch_size: int = 64,
                  num_segments: int | None = None) -> list[str]:
    """Greedy completions (`decode` at temperature 0)."""
    return decode(model, shape, prompts, batch_size=batch_size, num_segments=num_segments)


@torch.inference_mode()
def decode(model: ACTModel, shape: CanvasShape, prompts: list[str], *, temperature: float = 0.0,
           generator: torch.Generator | None = None, batch_size: int = 64, num_segments: int | None = None
           ) -> list[str]:
    """Completions, one byte per step, each byte computed as `num_segments` ACT segments (default: all
    `max_segments`) from a fresh carry on the prompt and the bytes so far would compute it (with cached keys
    and values: CachedRows). The next byte is the argmax at temperature 0 (greedy), else a draw from the
    model's distribution (the trained loss's probabilities) sharpened to p^(1/T). A row stops at its first
    non-byte token (END; a PAD or BLANK ends the decoded text just the same); rows that stopped leave the batch
    once they are a quarter of it. Repeated prompts in a batch (samples) run their prompt once."""
    act = model.eval()
    log_probs_of = LOG_PROBS[act.config.loss] if temperature > 0 else None
    answers: list[str] = []
    for first in range(0, len(prompts), batch_size):
        batch = prompts[first:first + batch_size]
        unique = {prompt: index for index, prompt in enumerate(dict.fromkeys(batch))}
        rows = CachedRows(act, shape, list(unique), num_segments=num_segments)
        rows.select(torch.tensor([unique[prompt] for prompt in batch]))
        generated = torch.full((len(batch), shape.answer_len), PAD, dtype=torch.int64)
        owner = torch.arange(len(batch))  # the batch row each cached row writes
        writing = torch.ones(len(batch), dtype=torch.bool)
        tokens = torch.full((len(batch),), BLANK, dtype=torch.int64)
        for t in range(shape.answer_len):
            logits = rows.step(tokens)
            live = writing.nonzero().squeeze(-1)
            if log_probs_of is None:
                chosen = logits[live].argmax(-1)
            else:
                probs = torch.softmax(log_probs_of(logits[live].double()) / temperature, dim=-1)
                chosen = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            tokens[live] = chosen
            generated[owner[live], t] = chosen
            writing[live] = chosen >= BYTE_OFFSET
            if not writing.any():
                break
            if 4 * int((~writing).sum()) >= len(writing):
                keep = writing.nonzero().squeeze(-1)
                rows.select(keep)
                owner, tokens, writing = owner[keep], tokens[keep], writing[keep]
        answers += [decode_answer(row) for row in generated.numpy()]
    return answers
