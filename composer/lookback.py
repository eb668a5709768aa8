"""Lookback inputs of the melody representation (Magenta's Lookback RNN,
adapted to event tokens): what the music did one, two ... bars back at the
same point of the bar, so a recurrent model can repeat a bar without having
to remember it in its state.

After each token the model is told, for each distance j = 1..N bars:
  - the token that came next at the same place j bars back: the event
    (note:P | rest | hold) that started at this grid step j bars back when
    the next token is an event, its duration when the next token is a
    duration; <pad> ("none") where nothing started there, before the first
    bar, or when the bar is full and a bar line comes next;
  - whether the music is repeating bar j back: every event of the current bar
    so far (position, event, duration) equals the one j bars back, and at a
    bar line whether the bar just finished equalled its bar j back.
The flags are one integer per token, bit j-1 for distance j.

`LookbackTracker` computes this one token at a time; `lookback_features`
runs it over a whole sequence. Training, evaluation and sampling all use the
tracker, so they cannot disagree.
"""
from __future__ import annotations

import numpy as np
import torch

from .melody import BAR, HOLD, REST, MelodyTokenizer
from .model import LOOKBACK_MAX
from .tokenizer import PAD

NONE = PAD          # "no event at this place j bars back"
MAX_BARS = LOOKBACK_MAX   # distances 1..MAX_BARS; the flags of all distances are one class of 2**N


class LookbackTracker:
    """The lookback features of one growing melody token sequence."""

    __slots__ = ("tok", "bars", "spb", "pos", "started", "pending", "history", "current", "flags")

    def __init__(self, tok: MelodyTokenizer, bars: int):
        if not isinstance(tok, MelodyTokenizer):
            raise ValueError(f"lookback inputs need the melody representation, got {getattr(tok, 'kind', tok)!r}")
        if not 1 <= bars <= MAX_BARS:
            raise ValueError(f"lookback bars must be in 1..{MAX_BARS}, got {bars}")
        c = tok.config
        self.tok, self.bars = tok, bars
        self.spb = c.steps_per_bar(tuple(c.time_signatures[0]))   # as MelodyTokenizer.positions
        self.pos = 0                   # grid step in the current bar (spb: the bar is full)
        self.started = False           # a bar line was seen
        self.pending: int | None = None  # an event token waiting for its duration
        self.history: list[tuple] = []   # finished bars, each a tuple of (pos, event, dur), oldest first
        self.current: list[tuple] = []   # the bar in progress
        self.flags = 0

    def copy(self) -> "LookbackTracker":
        other = LookbackTracker.__new__(LookbackTracker)
        for name in self.__slots__:
            setattr(other, name, getattr(self, name))
        other.history, other.current = list(self.history), list(self.current)
        return other

    def feed(self, token: int) -> list[int]:
        """Take one token; returns [lookback token of distance 1..N, flags] for the token after it."""
        tok, t = self.tok, int(token)
        if t == BAR:
            if self.started:
                self.history.append(tuple(self.current))
            self.started, self.current, self.pos, self.pending = True, [], 0, None
        elif tok.ts_base <= t < tok.note_base:
            if not self.started:
                self.spb = tok.config.steps_per_bar(tuple(tok.config.time_signatures[t - tok.ts_base]))
        elif tok.is_dur(t):
            if self.pending is not None and self.started:
                event = (self.pos, self.pending, t)
                self.current.append(event)
                self._update_flags()
                self.pos += t - tok.dur_base + 1
            self.pending = None
        elif tok.is_note(t) or t in (REST, HOLD):
            self.pending = t
        return self._features()

    def _update_flags(self) -> None:
        n, flags = len(self.current), 0
        for j in range(1, self.bars + 1):
            if len(self.history) >= j:
                back = self.history[-j]
                before = n == 1 or (self.flags >> (j - 1)) & 1     # the events before this one matched
                if before and len(back) >= n and back[n - 1] == self.current[n - 1]:
                    flags |= 1 << (j - 1)
        self.flags = flags

    def _features(self) -> list[int]:
        out = [NONE] * self.bars
        if self.started and self.pos < self.spb:
            which = 2 if self.pending is not None else 1      # the event or its duration
            for j in range(1, min(self.bars, len(self.history)) + 1):
                for pos, event, dur in self.history[-j]:
                    if pos == self.pos:
                        out[j - 1] = dur if which == 2 else event
                        break
                    if pos > self.pos:
                        break
        out.append(self.flags)
        return out


def lookback_features(tok: MelodyTokenizer, tokens, bars: int) -> np.ndarray:
    """(T, bars + 1) int64: after each token, the lookback tokens of distance 1..bars and the flags."""
    tracker = LookbackTracker(tok, bars)
    rows = [tracker.feed(t) for t in tokens]
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), bars + 1)


def transpose_features(features: np.ndarray, table: np.ndarray | None, bars: int) -> np.ndarray:
    """Features of a sequence transposed with `table` (token -> moved token, -1 out of range):
    the lookback tokens move with the music; one that would leave the range becomes "none"."""
    if table is None:
        return features
    out = features.copy()
    moved = table[out[:, :bars]]
    out[:, :bars] = np.where(moved >= 0, moved, NONE)
    return out


def lookback_batch(tok: MelodyTokenizer, sequences, bars: int, length: int) -> torch.Tensor:
    """(B, length, bars + 1) features of token sequences, "none" and flags 0 past each one's end."""
    out = torch.zeros((len(sequences), length, bars + 1), dtype=torch.long)
    for row, seq in enumerate(sequences):
        seq = list(seq)[:length]
        if seq:
            out[row, :len(seq)] = torch.from_numpy(lookback_features(tok, seq, bars))
    return out


class LookbackRows:
    """One tracker per row of the sampler's batch, kept in step with the grammar's rows."""

    def __init__(self, template: LookbackTracker, rows: int):
        self.template = template
        self.trackers = [template.copy() for _ in range(rows)]

    def feed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Each row's next token (L,) -> the features for the RNN's step (L, 1, bars + 1)."""
        rows = [tr.feed(t) for tr, t in zip(self.trackers, tokens.tolist())]
        return torch.tensor(rows, dtype=torch.long).unsqueeze(1)

    def keep(self, rows) -> None:
        self.trackers = [self.trackers[i] for i in rows.tolist()]

    def restart(self, rows) -> None:
        for i in rows.tolist():
            self.trackers[i] = self.template.copy()
