"""Held-out likelihood baselines, in bits per note, on the same token
sequences the model is scored on (see training.metrics for the model's own
bits per note, the one implementation shared with the trainer).

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

from .melody import BAR, HOLD, REST, MelodyTokenizer
from .tokenizer import BOS, PAD, Constraints, Tokenizer

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
