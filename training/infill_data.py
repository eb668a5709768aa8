"""Training data and the validation metric of infill runs (`--objective infill`).

SpanSampler: each example is a random span of `span_bars` (low, high) whole
bars inside a random training piece, with up to `context_bars` bars on each
side (composer.model.infill_network.span_example), transposed like ChunkSampler's
chunks. As with ChunkSampler, every batch is a pure function of (seed, rank,
step), so an interrupted run resumes exactly.

Span bits per note: the negative log2-likelihood of the span's tokens (its
bar tokens, events and durations), given what the model is allowed to see,
divided by the notes in the span. The spans are deterministic
(`eval_spans`: a function of the piece's tokens), so an infill model given
both sides and a plain left-to-right model given the left side only
(everything before the span) can be scored on the same spans.
"""
from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from composer.analysis.likelihood import LN2, BitsPerNote
from composer.model.infill_network import InfillRNN, SpanExample, bar_indices, span_bounds, span_example
from composer.model.lookback import lookback_batch
from composer.representations.base import PAD, Tokenizer
from training.data import transpose_tables

EVAL_SPAN_BARS = (1, 2, 3, 4)     # one span of each length per validation piece (when it is long enough)


@dataclass
class InfillBatch:
    tokens: torch.Tensor           # (B, T) forward stream inputs
    positions: torch.Tensor        # (B, T)
    remaining: torch.Tensor        # (B, T)
    in_span: torch.Tensor          # (B, T)
    targets: torch.Tensor          # (B, T) next forward token, PAD where there is none
    span_targets: torch.Tensor     # (B, T) bool: the target is a span token
    right_tokens: torch.Tensor     # (B, R) reversed right contexts
    right_positions: torch.Tensor  # (B, R)
    right_lengths: torch.Tensor    # (B,)

    @property
    def n_tokens(self) -> int:
        return int((self.targets != PAD).sum())

    def model_inputs(self, device) -> dict[str, torch.Tensor]:
        names = ("tokens", "positions", "remaining", "in_span", "right_tokens", "right_positions")
        out = {name: getattr(self, name).to(device) for name in names}
        out["right_lengths"] = self.right_lengths          # stays on the CPU (pack_padded_sequence)
        return out


def collate(examples: list[SpanExample]) -> InfillBatch:
    B = len(examples)
    T = max(len(e.forward) for e in examples) - 1
    R = max(len(e.right) for e in examples)
    fields = {name: torch.zeros((B, T), dtype=torch.long) for name in ("tokens", "positions", "remaining", "in_span")}
    targets = torch.full((B, T), PAD, dtype=torch.long)
    span_targets = torch.zeros((B, T), dtype=torch.bool)
    right = torch.full((B, R), PAD, dtype=torch.long)
    right_positions = torch.zeros((B, R), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.forward) - 1
        fields["tokens"][row, :n] = torch.tensor(e.forward[:-1])
        fields["positions"][row, :n] = torch.tensor(e.forward_positions[:-1])
        fields["remaining"][row, :n] = torch.tensor(e.remaining[:-1])
        fields["in_span"][row, :n] = torch.tensor(e.in_span[:-1])
        targets[row, :n] = torch.tensor(e.forward[1:])
        span_targets[row, e.span_start - 1:n] = True
        right[row, :len(e.right)] = torch.tensor(e.right)
        right_positions[row, :len(e.right)] = torch.tensor(e.right_positions)
    lengths = torch.tensor([len(e.right) for e in examples], dtype=torch.long)
    return InfillBatch(targets=targets, span_targets=span_targets, right_tokens=right, right_positions=right_positions,
                       right_lengths=lengths, **fields)


class SpanSampler:
    """Random spans of whole bars in random training pieces (module docstring)."""

    def __init__(self, tokenizer: Tokenizer, sequences: list[list[int]], *, batch: int,
                 span_bars: tuple[int, int] = (1, 4), context_bars: int = 8, transpose: tuple[int, int] = (0, 0),
                 seed: int = 0, rank: int = 0, use_positions: bool = True):
        low, high = span_bars
        if not 1 <= low <= high:
            raise ValueError(f"span bars must be LOW..HIGH with 1 <= LOW <= HIGH, got {low}..{high}")
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.batch, self.span_bars, self.context_bars = batch, (low, high), context_bars
        self.seed, self.rank, self.transpose = seed, rank, transpose
        self.sequences = [np.asarray(s, dtype=np.int64) for s in sequences if len(bar_indices(s)) >= 1]
        if not self.sequences:
            raise ValueError("no training sequences with a bar")
        self.positions = [list(tokenizer.positions(s)) if use_positions else [0] * len(s) for s in self.sequences]
        self.bars = [len(bar_indices(s)) for s in self.sequences]
        weights = np.array(self.bars, dtype=np.float64)
        self.weights = weights / weights.sum()
        self.tables = transpose_tables(tokenizer, *transpose) if tuple(transpose) != (0, 0) else {}
        self.n_tokens = int(sum(len(s) - 1 for s in self.sequences))

    @property
    def steps_per_epoch(self) -> int:
        """Steps after which (on average) every bar was in a span once."""
        mean_span = (self.span_bars[0] + self.span_bars[1]) / 2
        return max(1, math.ceil(sum(self.bars) / (self.batch * mean_span)))

    def batch_at(self, step: int) -> InfillBatch:
        rng = np.random.default_rng([self.seed, self.rank, step, 0x1F11])
        examples = []
        for i in rng.choice(len(self.sequences), size=self.batch, p=self.weights):
            n_bars = min(int(rng.integers(self.span_bars[0], self.span_bars[1] + 1)), self.bars[i])
            first = int(rng.integers(0, self.bars[i] - n_bars + 1))
            shift = int(rng.integers(self.transpose[0], self.transpose[1] + 1)) if self.tables else 0
            tokens = self._moved(self.sequences[i], shift)
            examples.append(span_example(tokens.tolist(), self.positions[i], first, n_bars, self.context_bars))
        return collate(examples)

    def _moved(self, tokens: np.ndarray, shift: int) -> np.ndarray:
        while shift != 0:
            moved = self.tables[shift][tokens]
            if (moved >= 0).all():
                return moved
            shift -= 1 if shift > 0 else -1
        return tokens


# ---- the metric ------------------------------------------------------------------------

def eval_spans(tokens: Sequence[int], sizes: Iterable[int] = EVAL_SPAN_BARS) -> list[tuple[int, int]]:
    """Deterministic spans (first bar 0-based, bars) of one piece: one of each
    size that fits, placed by a generator seeded with the piece's tokens."""
    n_bars = len(bar_indices(tokens))
    digest = hashlib.sha256(np.asarray(tokens, dtype=np.int64).tobytes()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "little"))
    return [(rng.randrange(0, n_bars - n + 1), n) for n in sizes if n <= n_bars]


@torch.no_grad()
def span_bits_per_note(model, tokenizer: Tokenizer, sequences: Iterable[Sequence[int]], *,
                       device: torch.device | str = "cpu", batch_size: int = 32,
                       sizes: Iterable[int] = EVAL_SPAN_BARS, context_bars: int | None = None) -> BitsPerNote:
    """Span bits per note of `model` on the `eval_spans` of whole pieces.

    An InfillRNN sees its context_bars on both sides; any other model (a plain
    left-to-right MusicRNN) sees the whole piece before the span. `context_bars`
    overrides the infill model's own. The model is left in eval mode. `files`
    counts the spans."""
    model.eval()
    device = torch.device(device)
    sizes = tuple(sizes)
    jobs = [(list(s), first, n) for s in sequences if len(s) > 2 for first, n in eval_spans(s, sizes)]
    total = BitsPerNote()
    for at in range(0, len(jobs), batch_size):
        chunk = jobs[at:at + batch_size]
        if isinstance(model, InfillRNN):
            nll = _infill_nll(model, tokenizer, chunk, device, context_bars or model.config.context_bars)
        else:
            nll = _left_nll(model, tokenizer, chunk, device)
        for (tokens, first, n), bits in zip(chunk, nll):
            start, end = span_bounds(tokens, bar_indices(tokens), first, n)
            total = total + BitsPerNote(nll_bits=bits, notes=tokenizer.count_notes(tokens[start:end]),
                                        tokens=end - start, files=1)
    return total


def _infill_nll(model: InfillRNN, tokenizer, jobs, device, context_bars: int) -> list[float]:
    use_pos = model.pos_embed is not None
    examples = []
    for tokens, first, n in jobs:
        positions = tokenizer.positions(tokens) if use_pos else [0] * len(tokens)
        examples.append(span_example(tokens, positions, first, n, context_bars))
    batch = collate(examples)
    logits = model(**batch.model_inputs(device))                             # (B, T, V)
    targets = batch.targets.to(device)
    nll = F.cross_entropy(logits.float().transpose(1, 2), targets, reduction="none")   # (B, T) nats
    nll = nll * batch.span_targets.to(device)
    return [float(v) / LN2 for v in nll.double().sum(dim=1)]


def _left_nll(model, tokenizer, jobs, device) -> list[float]:
    use_pos = getattr(model.config, "position_classes", 0) > 1
    rows = []
    for tokens, first, n in jobs:
        start, end = span_bounds(tokens, bar_indices(tokens), first, n)
        rows.append((tokens[:end], start))
    T = max(len(r) for r, _ in rows) - 1
    x = torch.full((len(rows), T), PAD, dtype=torch.long)
    y = torch.full((len(rows), T), PAD, dtype=torch.long)
    pos = torch.zeros((len(rows), T), dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.bool)
    for row, (seq, start) in enumerate(rows):
        n = len(seq) - 1
        x[row, :n], y[row, :n] = torch.tensor(seq[:-1]), torch.tensor(seq[1:])
        if use_pos:
            pos[row, :n] = torch.tensor(tokenizer.positions(seq[:-1]))
        mask[row, start - 1:n] = True
    bars = getattr(model.config, "lookback", ())
    lookback = lookback_batch(tokenizer, [seq[:-1] for seq, _ in rows], bars, T).to(device) if bars else None
    logits, _ = model(x.to(device), positions=pos.to(device) if use_pos else None,
                      **({"lookback": lookback} if bars else {}))
    nll = F.cross_entropy(logits.float().transpose(1, 2), y.to(device), reduction="none") * mask.to(device)
    return [float(v) / LN2 for v in nll.double().sum(dim=1)]
