"""Held-out likelihood baselines, in bits per note, on the same token
sequences the model is scored on and the model's own bits per note
(`evaluate_bits_per_note`, the one implementation shared with the trainer).

Every model predicts every token after <bos> (meter, bar lines, notes, rests,
holds, durations, <eos>); the bits of a sequence are summed and divided by the
notes it holds (`tokenizer.count_notes`).

Bigram baseline (`BigramModel`), for the melody representation a
pitch/duration bigram: an event token (note:P, rest, hold, and also bar and
<eos>) is predicted from the previous event token and whether a bar line was
just written; a duration token from the previous duration token. For other
representations the context is simply the previous token. Probabilities are
Dirichlet-smoothed towards an add-one unigram over the whole vocabulary:
P(x | c) = (n(c, x) + BETA * U(x)) / (n(c) + BETA), U(x) = (n(x) + 1) / (N + V).

Uniform baseline (`uniform_bits`): at each step, the number of tokens the
sampling grammar allows (`tokenizer.grammar`, with no key or pitch-range
constraint, the piece's own number of bars (melody) or length in seconds
(performance)); a token costs log2 of that number. Forced tokens (bar lines,
the final <eos>) cost 0 bits. A token the grammar would not allow costs
log2(V) and is counted in `outside_grammar`.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from composer.model.lookback import lookback_batch
from composer.model.network import MusicRNN
from composer.representations.base import BOS, PAD, Constraints, Tokenizer
from composer.representations.melody import BAR, HOLD, REST, MelodyTokenizer

BETA = 5.0     # strength of the unigram prior of the bigram model, in pseudo-counts


class BigramModel:
    """A smoothed bigram over token contexts (see the module docstring)."""

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self.pairs: dict[tuple, Counter] = defaultdict(Counter)
        self.unigram: Counter = Counter()
        self.sequences = 0
        self._totals: dict | None = None     # context -> count, computed on first use
        self._n_uni = 0

    def _contexts(self, tokens: Sequence[int]) -> Iterable[tuple[tuple, int]]:
        """(context, token) for every token after <bos>."""
        tok = self.tokenizer
        if not isinstance(tok, MelodyTokenizer):
            for prev, cur in zip(tokens, tokens[1:]):
                yield ("prev", prev), cur
            return
        last_event, last_dur, prev = BOS, None, BOS
        for cur in tokens[1:]:
            if tok.is_dur(cur):
                yield ("dur", last_dur), cur
                last_dur = cur
            else:
                yield ("event", last_event, prev == BAR), cur
                if cur in (REST, HOLD) or tok.is_note(cur):
                    last_event = cur
            prev = cur

    def fit(self, sequences: Iterable[Sequence[int]]) -> BigramModel:
        for seq in sequences:
            seq = [t for t in seq if t != PAD]
            if len(seq) < 2:
                continue
            self.sequences += 1
            self._totals = None
            for context, token in self._contexts(seq):
                self.pairs[context][token] += 1
                self.unigram[token] += 1
        return self

    def prob(self, context: tuple, token: int) -> float:
        """P(token | context), smoothed (see the module docstring)."""
        if self._totals is None:
            self._totals = {c: sum(counts.values()) for c, counts in self.pairs.items()}
            self._n_uni = sum(self.unigram.values())
        uni = (self.unigram.get(token, 0) + 1) / (self._n_uni + self.tokenizer.vocab_size)
        counts = self.pairs.get(context)
        n_pair = counts.get(token, 0) if counts else 0
        return (n_pair + BETA * uni) / (self._totals.get(context, 0) + BETA)

    def sequence_bits(self, tokens: Sequence[int]) -> float:
        """Negative log2-likelihood of every token after <bos>."""
        return -sum(math.log2(self.prob(context, token))
                    for context, token in self._contexts([t for t in tokens if t != PAD]))


@dataclass
class UniformBits:
    bits: list[float]           # per sequence
    outside_grammar: int        # tokens the grammar would not have allowed


def _constraints_key(tokenizer: Tokenizer, tokens: Sequence[int]) -> tuple:
    if isinstance(tokenizer, MelodyTokenizer):
        return ("bars", max(1, sum(1 for t in tokens if t == BAR)))
    return ("seconds", round(max(tokenizer.decode(tokens).duration_seconds, 0.01), 2))


def uniform_bits(tokenizer: Tokenizer, sequences: Sequence[Sequence[int]], *, batch: int = 256) -> UniformBits:
    """Bits of each sequence under the uniform-over-allowed-tokens model.
    Sequences with the same constraints are run through one batched grammar."""
    V = tokenizer.vocab_size
    seqs = [[int(t) for t in seq if t != PAD] for seq in sequences]
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, seq in enumerate(seqs):
        groups[_constraints_key(tokenizer, seq)].append(i)
    out, outside = [0.0] * len(seqs), 0
    for (kind, value), members in groups.items():
        constraints = Constraints(bars=value) if kind == "bars" else Constraints(seconds=value)
        for start in range(0, len(members), batch):
            idx = members[start:start + batch]
            length = max(len(seqs[i]) for i in idx)
            tokens = torch.full((len(idx), length), PAD, dtype=torch.long)
            for row, i in enumerate(idx):
                tokens[row, :len(seqs[i])] = torch.tensor(seqs[i], dtype=torch.long)
            grammar = tokenizer.grammar(len(idx), constraints, "cpu")
            bits = torch.zeros(len(idx), dtype=torch.float64)
            rows = torch.arange(len(idx))
            for t in range(length):
                mask = grammar.mask()                                   # (B, V)
                if t > 0:                                               # <bos> is given, not predicted
                    tok = tokens[:, t]
                    real = tok != PAD
                    ok = mask[rows, tok] & real
                    allowed = mask.sum(dim=1).clamp(min=1).double()
                    bits += torch.where(ok, torch.log2(allowed), torch.zeros_like(bits))
                    bits += torch.where(real & ~ok, torch.full_like(bits, math.log2(V)), torch.zeros_like(bits))
                    outside += int((real & ~ok).sum())
                grammar.update(tokens[:, t])
            for row, i in enumerate(idx):
                out[i] = float(bits[row])
    return UniformBits(out, outside)


# ---- the model's own bits per note (the trainer's validation metric) ----
# Bits per note = total negative log-likelihood (base 2) of every token of every
# held-out piece, predicted from its own beginning (<bos>), divided by the
# number of notes those pieces hold (`tokenizer.count_notes`). It does not depend
# on how a representation splits a note into tokens, so melody and performance
# models, or two vocabularies, can be compared.
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
