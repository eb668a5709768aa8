"""The melody sampling grammar: which tokens may come next in each sequence
of a batch, from small per-state tables."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from composer.representations.base import BOS, EOS, PAD, Constraints, Grammar
from composer.representations.melody.config import BAR, HOLD, REST

if TYPE_CHECKING:
    from composer.representations.melody.tokenizer import MelodyTokenizer


class MelodyGrammar(Grammar):
    """<bos> ts bar (event dur)... with durations that never cross a bar line,
    exactly `constraints.bars` new bars, then <eos>. Without a primer the
    first bar is never silent: until a note has started in it, a rest may not
    reach its bar line (a pickup rest may).

    The state of each sequence lives in small NumPy arrays on the CPU and the
    mask is one lookup into a table with one row per kind of grammar state
    (`_mask_table`); only the finished (B, V) mask is moved to `device`. The
    torch version of this class spent ~0.8 ms of a 2.1 ms batch-1 sampling
    step in 10-25 small torch operations for mask() + update()
    (docs/benchmarks.md); the lookup costs tens of microseconds."""

    # phases
    START, METER, EVENT, DURATION, FINISHED = range(5)
    row_state = ("phase", "pos", "spb", "bars_done", "bars_base", "has_prev", "bar_open", "sounded", "pending_rest")

    def __init__(self, tok: MelodyTokenizer, batch: int, constraints: Constraints, device):
        c = tok.config
        if constraints.bars is None or constraints.bars < 1:
            raise ValueError(f"melody sampling needs bars >= 1, got {constraints.bars}")
        self.tok, self.device = tok, device
        self.bars_wanted = constraints.bars
        self.fixed_ts = tuple(constraints.time_signature) if constraints.time_signature else None
        if self.fixed_ts and self.fixed_ts not in [tuple(t) for t in c.time_signatures]:
            known = ", ".join(f"{n}/{d}" for n, d in c.time_signatures)
            raise ValueError(f"time signature {self.fixed_ts[0]}/{self.fixed_ts[1]} is not one this model knows "
                             f"({known})")
        self.phase = np.full(batch, self.START, dtype=np.int64)
        self.pos = np.zeros(batch, dtype=np.int64)           # step within the current bar
        self.spb = np.full(batch, c.steps_per_bar(self.fixed_ts or (4, 4)), dtype=np.int64)
        self.bars_done = np.zeros(batch, dtype=np.int64)     # complete bars so far
        self.bars_base = np.zeros(batch, dtype=np.int64)     # bars of the primer
        self.primed = False
        self.has_prev = np.zeros(batch, dtype=bool)          # a note or rest was written (hold may follow)
        self.bar_open = np.zeros(batch, dtype=bool)          # a bar token was just written
        self.sounded = np.zeros(batch, dtype=bool)           # a note has started (the opening rule is kept)
        self.pending_rest = np.zeros(batch, dtype=bool)      # the event waiting for its duration is silent
        self._masks = _mask_table(tok, constraints, self.fixed_ts)                 # (_ROW_DUR + D + 1, V)
        self._kind, self._steps, self._spb_of = _token_tables(tok)                 # (V,) each

    @property
    def done(self) -> torch.Tensor:
        return torch.from_numpy(self.phase == self.FINISHED)                      # (B,) bool

    def max_steps(self) -> int:
        remaining = (self.bars_wanted + 1) * (2 * self.tok.config.max_duration + 1) + 3
        return int(remaining)

    def mark_primed(self) -> None:
        """Call after feeding a primer: new bars are counted from here."""
        self.bars_base = self.bars_done + (self.pos > 0)
        self.primed = True

    def mask_rows(self) -> np.ndarray:
        """The row of the mask table that applies to each sequence (B,)."""
        event = self.phase == self.EVENT
        need_bar = event & (self.pos == 0) & ~self.bar_open
        finished_bars = (self.bars_done - self.bars_base) >= self.bars_wanted
        rows = np.where(event, np.where(need_bar, np.where(finished_bars, _ROW_EOS, _ROW_BAR),
                                        _ROW_EVENT + self.has_prev),                # + 1: hold allowed
                        _PHASE_ROW[self.phase])
        # steps left in the bar, 1..max_duration (np.clip's dispatch took ~35 us a step, as much as the rest)
        remaining = np.minimum(np.maximum(self.spb - self.pos, 1), self.tok.config.max_duration)
        return np.where(self.phase == self.DURATION, _ROW_DUR + remaining, rows)

    def mask(self) -> torch.Tensor:
        m = self._masks[self.mask_rows()]                                         # (B, V) bool
        if not self.primed and not self.sounded.all():
            self.forbid_silent_opening(m)
        return torch.from_numpy(m).to(self.device)

    def forbid_silent_opening(self, m: np.ndarray) -> None:
        """In the first new bar of an unprimed piece, before its first note: no
        rest (or hold of one) that reaches the bar line. Edits m (B, V) in place."""
        ph = self.phase
        opening = ~self.sounded & (self.bars_done == 0) & ((ph == self.EVENT) | (ph == self.DURATION))
        opening &= ~((ph == self.EVENT) & (self.pos == 0) & ~self.bar_open)       # (the first bar line)
        remaining = self.spb - self.pos
        rows = np.flatnonzero(opening & (ph == self.EVENT) & (remaining == 1))
        m[rows, REST] = False
        m[rows, HOLD] = False
        rows = np.flatnonzero(opening & (ph == self.DURATION) & self.pending_rest        # (>= 2: never no choice)
                              & (remaining >= 2) & (remaining <= self.tok.config.max_duration))
        m[rows, self.tok.dur_base + remaining[rows] - 1] = False

    def update(self, tokens: torch.Tensor) -> None:
        t = tokens.detach().to("cpu", torch.long).numpy()                         # (B,)
        kind = self._kind[t]
        ph = self.phase
        self.phase = _NEXT_PHASE[ph, kind]
        event = ph == self.EVENT
        self.bar_open[event & (kind == BAR_KIND)] = True
        self.bar_open[event & (kind == EVENT_KIND)] = False
        meter = (ph == self.METER) & (kind == TS_KIND)
        self.spb = np.where(meter, self._spb_of[t], self.spb)
        dur = (ph == self.DURATION) & (kind == DUR_KIND)
        self.pos = self.pos + np.where(dur, self._steps[t], 0)
        self.has_prev |= dur
        self.sounded |= event & (kind == EVENT_KIND) & (t != REST) & (t != HOLD)
        self.pending_rest = np.where(event & (kind == EVENT_KIND) & (t != HOLD), t == REST, self.pending_rest)
        full = dur & (self.pos >= self.spb)
        self.bars_done = self.bars_done + full
        self.pos[full] = 0

    def allowed_notes(self) -> np.ndarray:
        """Which note tokens the constraints allow, in pitch order (pitch_high - pitch_low + 1,) bool."""
        return self._masks[_ROW_EVENT, self.tok.note_base:self.tok.dur_base].copy()

    def positions(self) -> torch.Tensor:
        return torch.from_numpy(np.minimum(self.pos, self.tok.config.max_duration - 1))   # (B,) long

    def progress_rows(self) -> np.ndarray:
        made = (np.maximum(self.bars_done - self.bars_base, 0).astype(np.float32)
                + self.pos.astype(np.float32) / self.spb.astype(np.float32))
        return np.minimum(made / np.float32(self.bars_wanted), np.float32(1.0))


# ---- the grammar's tables ---------------------------------------------------------------------
# Token kinds, for the phase transitions (public: grammars that extend this one read them).
OTHER_KIND, BOS_KIND, TS_KIND, BAR_KIND, EVENT_KIND, DUR_KIND, EOS_KIND, PAD_KIND = range(8)

# _NEXT_PHASE[phase, kind]: the phase after a token of that kind. A token that
# does not fit its phase leaves the phase as it is, except <eos> (always) and
# <pad> (once started), which end the sequence.
_NEXT_PHASE = np.repeat(np.arange(5)[:, None], 8, axis=1)
_NEXT_PHASE[MelodyGrammar.START, BOS_KIND] = MelodyGrammar.METER
_NEXT_PHASE[MelodyGrammar.METER, TS_KIND] = MelodyGrammar.EVENT
_NEXT_PHASE[MelodyGrammar.EVENT, EVENT_KIND] = MelodyGrammar.DURATION
_NEXT_PHASE[MelodyGrammar.DURATION, DUR_KIND] = MelodyGrammar.EVENT
_NEXT_PHASE[:, EOS_KIND] = MelodyGrammar.FINISHED
_NEXT_PHASE[MelodyGrammar.METER:, PAD_KIND] = MelodyGrammar.FINISHED

# Rows of the mask table: what may come next in each kind of state.
_ROW_BOS, _ROW_METER, _ROW_EOS, _ROW_BAR, _ROW_EVENT, _ROW_EVENT_HOLD, _ROW_PAD = range(7)
_ROW_DUR = _ROW_PAD          # + r for r = 1 .. max_duration: durations 1..r (r steps left in the bar)
_PHASE_ROW = np.array([_ROW_BOS, _ROW_METER, -1, -1, _ROW_PAD])   # EVENT and DURATION rows depend on more state


def _mask_table(tok: MelodyTokenizer, constraints: Constraints, fixed_ts) -> np.ndarray:
    """(_ROW_DUR + max_duration + 1, V) bool: one allowed-token row per kind of state."""
    c = tok.config
    D = c.max_duration
    table = np.zeros((_ROW_DUR + D + 1, tok.vocab_size), dtype=bool)
    for row, token in ((_ROW_BOS, BOS), (_ROW_EOS, EOS), (_ROW_BAR, BAR), (_ROW_PAD, PAD)):
        table[row, token] = True
    if fixed_ts:
        table[_ROW_METER, tok.ts_token(fixed_ts)] = True
    else:
        table[_ROW_METER, tok.ts_base:tok.note_base] = True
    notes = [tok.note_token(p) for p in range(c.pitch_low, c.pitch_high + 1) if constraints.pitch_ok(p)]
    if not notes:
        raise ValueError("no pitch in this model's range satisfies the key, scale and pitch range")
    table[_ROW_EVENT, notes] = True
    table[_ROW_EVENT, REST] = True
    table[_ROW_EVENT_HOLD] = table[_ROW_EVENT]
    table[_ROW_EVENT_HOLD, HOLD] = True
    for r in range(1, D + 1):
        table[_ROW_DUR + r, tok.dur_base:tok.dur_base + r] = True
    return table


def _token_tables(tok: MelodyTokenizer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per token id (V,): its kind, its length in grid steps (durations, else 0)
    and the steps per bar of its meter (time signatures, else 0)."""
    c = tok.config
    V = tok.vocab_size
    kind = np.full(V, OTHER_KIND, dtype=np.int64)
    kind[[BOS, BAR, EOS, PAD]] = [BOS_KIND, BAR_KIND, EOS_KIND, PAD_KIND]
    kind[tok.ts_base:tok.note_base] = TS_KIND
    kind[[REST, HOLD]] = EVENT_KIND
    kind[tok.note_base:tok.dur_base] = EVENT_KIND
    kind[tok.dur_base:] = DUR_KIND
    steps = np.zeros(V, dtype=np.int64)
    steps[tok.dur_base:] = np.arange(1, V - tok.dur_base + 1)
    spb = np.zeros(V, dtype=np.int64)
    spb[tok.ts_base:tok.note_base] = [c.steps_per_bar(tuple(ts)) for ts in c.time_signatures]
    return kind, steps, spb
