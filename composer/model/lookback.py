"""Lookback inputs of the melody representation (Magenta's Lookback RNN,
adapted to event tokens): what the music did some bars back (the distances,
e.g. 1, 2, 4 and 8 bars) at the same point of the bar, so a recurrent model
can repeat a bar without having to remember it in its state. (Magenta looks
1 and 2 bars back; in the folk corpus an exact repeat of a bar among the first
16 is mostly 4 or 8 bars after its model, rarely 1.)

After each token the model is told, for each distance j:
  - the token that came next at the same place j bars back: the event
    (note:P | rest | hold) that started at this grid step j bars back when
    the next token is an event, its duration when the next token is a
    duration; <pad> ("none") where nothing started there, before the first
    bar, or when the bar is full and a bar line comes next;
  - whether the music is repeating bar j back: every event of the current bar
    so far (position, event, duration) equals the one j bars back, and at a
    bar line whether the bar just finished equalled its bar j back.
The flags are one integer per token, bit i for the i-th distance.

`LookbackTracker` computes this one token at a time; `lookback_features`
runs it over a whole sequence. Training, evaluation and sampling all use the
tracker, so they cannot disagree.
"""
from __future__ import annotations

import numpy as np
import torch

from composer.model.network import check_lookback
from composer.representations.base import PAD
from composer.representations.melody import BAR, HOLD, REST, MelodyTokenizer

NONE = PAD          # "no event at this place j bars back"


class LookbackTracker:
    """The lookback features of one growing melody token sequence."""

    __slots__ = ("tok", "distances", "spb", "pos", "started", "pending", "history", "current", "flags",
                 "numerator", "next_spb")

    def __init__(self, tok: MelodyTokenizer, distances):
        if not isinstance(tok, MelodyTokenizer):
            raise ValueError(f"lookback inputs need the melody representation, got {getattr(tok, 'kind', tok)!r}")
        distances = tuple(distances)
        check_lookback(distances)
        if not distances:
            raise ValueError("lookback needs at least one distance in bars")
        c = tok.config
        self.tok, self.distances = tok, distances
        self.spb = c.steps_per_bar((4, 4) if c.any_meter else tuple(c.time_signatures[0]))   # as tok.positions
        self.numerator: int | None = None   # a numerator token waiting for its denominator
        self.next_spb: int | None = None    # a meter change: the bar length from the next bar line
        self.pos = 0                   # grid step in the current bar (spb: the bar is full)
        self.started = False           # a bar line was seen
        self.pending: int | None = None  # an event token waiting for its duration
        self.history: list[tuple] = []   # the last finished bars, each a tuple of (pos, event, dur), oldest first
        self.current: list[tuple] = []   # the bar in progress
        self.flags = 0

    def copy(self) -> LookbackTracker:
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
                if len(self.history) > self.distances[-1]:
                    del self.history[0]
            self.started, self.current, self.pos, self.pending = True, [], 0, None
            if self.next_spb is not None:
                self.spb, self.next_spb = self.next_spb, None
        elif tok.is_meter(t):
            self.numerator, meter = tok.read_meter(self.numerator, t)
            if meter and not self.started:
                self.spb = tok.config.steps_per_bar(meter)
            elif meter and tok.config.any_meter:
                self.next_spb = tok.config.steps_per_bar(meter)
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
        for i, j in enumerate(self.distances):
            if len(self.history) >= j:
                back = self.history[-j]
                before = n == 1 or (self.flags >> i) & 1     # the events before this one matched
                if before and len(back) >= n and back[n - 1] == self.current[n - 1]:
                    flags |= 1 << i
        self.flags = flags

    def _features(self) -> list[int]:
        out = [NONE] * len(self.distances)
        if self.started and self.pos < self.spb:
            which = 2 if self.pending is not None else 1      # the event or its duration
            for i, j in enumerate(self.distances):
                if j > len(self.history):
                    break
                for pos, event, dur in self.history[-j]:
                    if pos == self.pos:
                        out[i] = dur if which == 2 else event
                        break
                    if pos > self.pos:
                        break
        out.append(self.flags)
        return out


def lookback_features(tok: MelodyTokenizer, tokens, distances) -> np.ndarray:
    """(T, N + 1) int64: after each token, the lookback tokens of the N distances and the flags."""
    tracker = LookbackTracker(tok, distances)
    rows = [tracker.feed(t) for t in tokens]
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), len(tracker.distances) + 1)


def transpose_features(features: np.ndarray, table: np.ndarray | None) -> np.ndarray:
    """Features of a sequence transposed with `table` (token -> moved token, -1 out of range):
    the lookback tokens move with the music; one that would leave the range becomes "none"."""
    if table is None:
        return features
    out = features.copy()
    moved = table[out[:, :-1]]
    out[:, :-1] = np.where(moved >= 0, moved, NONE)
    return out


def lookback_batch(tok: MelodyTokenizer, sequences, distances, length: int) -> torch.Tensor:
    """(B, length, N + 1) features of token sequences, "none" and flags 0 past each one's end."""
    out = torch.zeros((len(sequences), length, len(distances) + 1), dtype=torch.long)
    for row, seq in enumerate(sequences):
        seq = list(seq)[:length]
        if seq:
            out[row, :len(seq)] = torch.from_numpy(lookback_features(tok, seq, distances))
    return out


class LookbackRows:
    """One tracker per row of the sampler's batch, kept in step with the grammar's rows."""

    def __init__(self, template: LookbackTracker, rows: int):
        self.template = template
        self.trackers = [template.copy() for _ in range(rows)]

    def feed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Each row's next token (L,) -> the features for the RNN's step (L, 1, N + 1)."""
        rows = [tr.feed(t) for tr, t in zip(self.trackers, tokens.tolist())]
        return torch.tensor(rows, dtype=torch.long).unsqueeze(1)

    def keep(self, rows) -> None:
        self.trackers = [self.trackers[i] for i in rows.tolist()]

    def restart(self, rows) -> None:
        for i in rows.tolist():
            self.trackers[i] = self.template.copy()
