"""Validation metric shared by the trainer and `composer evaluate`.

Bits per note = total negative log-likelihood (base 2) of every token of every
held-out piece, predicted from its own beginning (<bos>), divided by the
number of notes those pieces hold (`tokenizer.count_notes`). It does not depend
on how a representation splits a note into tokens, so melody and performance
models, or two vocabularies, can be compared.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from composer.lookback import lookback_batch
from composer.model import MusicRNN
from composer.tokenizer import PAD, Tokenizer

LN2 = math.log(2.0)


@dataclass
class BitsPerNote:
    """A sum that can be added across batches, files and processes."""

    nll_bits: float = 0.0   # total negative log2-likelihood of all predicted tokens
    notes: int = 0          # notes in those pieces
    tokens: int = 0         # predicted tokens (every token after <bos>)
    files: int = 0

    @property
    def bits_per_note(self) -> float:
        return self.nll_bits / self.notes if self.notes else float("nan")

    @property
    def bits_per_token(self) -> float:
        return self.nll_bits / self.tokens if self.tokens else float("nan")

    def __add__(self, other: BitsPerNote) -> BitsPerNote:
        return BitsPerNote(self.nll_bits + other.nll_bits, self.notes + other.notes,
                           self.tokens + other.tokens, self.files + other.files)

    def to_dict(self) -> dict:
        return {"bits_per_note": self.bits_per_note, "bits_per_token": self.bits_per_token,
                "nll_bits": self.nll_bits, "notes": self.notes, "tokens": self.tokens, "files": self.files}


@torch.no_grad()
def sequence_nll_bits(model: MusicRNN, tokenizer: Tokenizer, sequences: Sequence[Sequence[int]], *,
                      device: torch.device | str = "cpu", batch_size: int = 32,
                      window: int = 1024, max_positions: int = 8192) -> list[float]:
    """Negative log2-likelihood (bits) of each whole sequence, one float per
    sequence. Long sequences are run in `window`-token pieces with the
    recurrent state carried over, which gives the same result as one pass.
    The model is put in eval mode (no dropout) and left that way. Batches
    hold at most `batch_size` pieces and, unless one piece alone is longer,
    `max_positions` padded positions: pieces are sorted by length, so a batch
    of short pieces never waits on padding up to the longest one."""
    model.eval()
    device = torch.device(device)
    use_pos = model.config.position_classes > 1
    bars = getattr(model.config, "lookback", ())
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    out = [0.0] * len(sequences)
    for idx in _batches(order, [len(s) for s in sequences], batch_size, max_positions):
        length = max(len(sequences[i]) for i in idx)
        tokens = torch.full((len(idx), length), PAD, dtype=torch.long)
        positions = torch.zeros((len(idx), length), dtype=torch.long)
        for row, i in enumerate(idx):
            seq = list(sequences[i])
            tokens[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
            if use_pos:
                positions[row, :len(seq)] = torch.tensor(tokenizer.positions(seq), dtype=torch.long)
        tokens, positions = tokens.to(device), positions.to(device)
        lookback = lookback_batch(tokenizer, [sequences[i] for i in idx], bars, length).to(device) if bars else None
        totals = torch.zeros(len(idx), dtype=torch.float64, device=device)
        state = None
        for t0 in range(0, length - 1, window):
            t1 = min(t0 + window, length - 1)
            x = tokens[:, t0:t1]                                  # (B, W)
            y = tokens[:, t0 + 1:t1 + 1]                          # (B, W)
            logits, state = model(x, state, positions=positions[:, t0:t1] if use_pos else None,
                                  lookback=lookback[:, t0:t1] if bars else None)
            nll = F.cross_entropy(logits.float().transpose(1, 2), y, reduction="none")  # (B, W) nats
            totals += (nll * (y != PAD)).sum(dim=1).double()
        for row, i in enumerate(idx):
            out[i] = float(totals[row]) / LN2
    return out


def _batches(order: list[int], lengths: list[int], batch_size: int, max_positions: int):
    """Consecutive runs of `order` (sorted by length) of at most `batch_size`
    items whose count x longest length stays within `max_positions`."""
    batch: list[int] = []
    for i in order:
        if batch and (len(batch) >= batch_size or (len(batch) + 1) * lengths[i] > max_positions):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def evaluate_bits_per_note(model: MusicRNN, tokenizer: Tokenizer, sequences: Iterable[Sequence[int]], *,
                           device: torch.device | str = "cpu", batch_size: int = 32) -> BitsPerNote:
    """Bits per note of `model` over whole token sequences (each starting with
    <bos>), e.g. the held-out pieces of a corpus. Returns the sums so callers
    can combine shards (see `training.distributed.all_reduce_metric`)."""
    sequences = [list(s) for s in sequences if len(s) > 1]
    if not sequences:
        return BitsPerNote()
    bits = sequence_nll_bits(model, tokenizer, sequences, device=device, batch_size=batch_size)
    notes = sum(tokenizer.count_notes(s) for s in sequences)
    tokens = sum(sum(1 for t in s[1:] if t != PAD) for s in sequences)
    return BitsPerNote(nll_bits=sum(bits), notes=notes, tokens=tokens, files=len(sequences))
