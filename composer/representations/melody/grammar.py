"""The melody sampling grammar: which tokens may come next in each sequence
of a batch, from small per-state tables."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from composer.representations.base import BOS, EOS, PAD, Constraints, Grammar
from composer.representations.melody.chords import ChordRule
from composer.representations.melody.config import BAR, DENOMINATORS, HOLD, NUMERATORS, REST

if TYPE_CHECKING:
    from composer.representations.melody.tokenizer import MelodyTokenizer


class MelodyGrammar(Grammar):
    """<bos> meter bar (event dur)... with durations that never cross a bar line,
    exactly `constraints.bars` new bars, then <eos>. The meter is one token
    (listed meters) or a numerator and a denominator token (any meter); it is
    stated once: sampling writes no meter change (a change fed in a primer or
    scored sequence is followed, from the next bar). Without a primer the
    first bar is never silent: until a note has started in it, a rest may not
    reach its bar line (a pickup rest may).

    The state of each sequence lives in small NumPy arrays on the CPU and the
    mask is one lookup into a table with one row per kind of grammar state
    (`_mask_table`); only the finished (B, V) mask is moved to `device`. The
    torch version of this class spent ~0.8 ms of a 2.1 ms batch-1 sampling
    step in 10-25 small torch operations for mask() + update()
    (docs/benchmarks.md); the lookup costs tens of microseconds."""

    # phases
    START, METER, EVENT, DURATION, FINISHED, DENOMINATOR = range(6)
    row_state = ("phase", "pos", "spb", "bars_done", "bars_base", "has_prev", "bar_open", "sounded", "pending_rest",
                 "num", "den", "sound_pitch")

    def __init__(self, tok: MelodyTokenizer, batch: int, constraints: Constraints, device):
        c = tok.config
        if constraints.bars is None or constraints.bars < 1:
            raise ValueError(f"melody sampling needs bars >= 1, got {constraints.bars}")
        self.tok, self.device = tok, device
        self.bars_wanted = constraints.bars
        self.fixed_ts = tuple(constraints.time_signature) if constraints.time_signature else None
        problem = self.fixed_ts and c.meter_problem(self.fixed_ts)
        if problem:
            raise ValueError(problem)
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
        self.num = np.zeros(batch, dtype=np.int64)           # a numerator token waiting for its denominator
        self.den = np.full(batch, self.fixed_ts[1] if self.fixed_ts else 4, dtype=np.int64)   # of the meter
        self.sound_pitch = np.full(batch, -1, dtype=np.int64)  # the last note or rest (-1) begun: what a hold holds
        self._masks = _mask_table(tok, constraints, self.fixed_ts)                 # (_ROW_DUR + D + 1, V)
        self._kind, self._steps, self._num_of, self._den_of = _token_tables(tok)  # (V,) each
        self._note_pitch = np.full(tok.vocab_size, -1, dtype=np.int64)              # (V,) pitch of a note token
        self._note_pitch[tok.note_base:tok.dur_base] = np.arange(c.pitch_low, c.pitch_high + 1)
        self.chord_rule = (ChordRule(tok, constraints, self._masks[_ROW_EVENT, tok.note_base:tok.dur_base])
                           if constraints.chords is not None else None)

    @property
    def done(self) -> torch.Tensor:
        return torch.from_numpy(self.phase == self.FINISHED)                      # (B,) bool

    def max_steps(self) -> int:
        c = self.tok.config
        remaining = (self.bars_wanted + 1) * (2 * c.max_bar_steps + 1) + (4 if c.any_meter else 3)
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
        rows = np.where(self.phase == self.DURATION, _ROW_DUR + remaining, rows)
        if self.tok.config.any_meter:                         # a denominator that fits the numerator
            rows = np.where(self.phase == self.DENOMINATOR, _ROW_DUR + self.tok.config.max_duration + self.num, rows)
        return rows

    def mask(self) -> torch.Tensor:
        return torch.from_numpy(self.allowed()).to(self.device)

    def allowed(self) -> np.ndarray:
        """The tokens each row may take next, (B, V) bool on the CPU, a fresh array
        (grammars that extend this one narrow it further)."""
        m = self._masks[self.mask_rows()]
        if self.chord_rule is not None:
            self.chord_rule.narrow(self, m)
        if not self.primed and not self.sounded.all():
            self.forbid_silent_opening(m)
        return m

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
        meter, self.num, den = self.meter_update(ph, kind, t)
        self.den = np.where(meter, den, self.den)
        begun = event & (kind == EVENT_KIND) & (t != HOLD)
        self.sound_pitch = np.where(begun, self._note_pitch[t], self.sound_pitch)
        spq = self.tok.config.steps_per_quarter
        self.spb = np.where(meter, np.maximum(self.num * 4 * spq // np.maximum(den, 1), 1), self.spb)
        dur = (ph == self.DURATION) & (kind == DUR_KIND)
        self.pos = self.pos + np.where(dur, self._steps[t], 0)
        self.has_prev |= dur
        self.sounded |= event & (kind == EVENT_KIND) & (t != REST) & (t != HOLD)
        self.pending_rest = np.where(event & (kind == EVENT_KIND) & (t != HOLD), t == REST, self.pending_rest)
        full = dur & (self.pos >= self.spb)
        self.bars_done = self.bars_done + full
        self.pos[full] = 0

    def meter_update(self, ph, kind, t) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For tokens t (B,) of kinds `kind` written in phases ph: (which complete a
        meter, the numerator of each row after them, the denominator they give)."""
        num = np.where((kind == NUM_KIND) & ((ph == self.METER) | (ph == self.EVENT)), self._num_of[t], self.num)
        meter = ((ph == self.METER) & (kind == TS_KIND)) | ((ph == self.DENOMINATOR) & (kind == DEN_KIND))
        num = np.where(meter & (kind == TS_KIND), self._num_of[t], num)
        return meter, num, self._den_of[t]

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
# TS_KIND: a listed meter; NUM_KIND, DEN_KIND: the numerator and denominator of any meter.
OTHER_KIND, BOS_KIND, TS_KIND, BAR_KIND, EVENT_KIND, DUR_KIND, EOS_KIND, PAD_KIND, NUM_KIND, DEN_KIND = range(10)

# _NEXT_PHASE[phase, kind]: the phase after a token of that kind. A token that
# does not fit its phase leaves the phase as it is, except <eos> (always) and
# <pad> (once started), which end the sequence.
_NEXT_PHASE = np.repeat(np.arange(6)[:, None], 10, axis=1)
_NEXT_PHASE[MelodyGrammar.START, BOS_KIND] = MelodyGrammar.METER
_NEXT_PHASE[MelodyGrammar.METER, TS_KIND] = MelodyGrammar.EVENT
_NEXT_PHASE[MelodyGrammar.EVENT, EVENT_KIND] = MelodyGrammar.DURATION
_NEXT_PHASE[MelodyGrammar.DURATION, DUR_KIND] = MelodyGrammar.EVENT
_NEXT_PHASE[MelodyGrammar.METER, NUM_KIND] = MelodyGrammar.DENOMINATOR
_NEXT_PHASE[MelodyGrammar.EVENT, NUM_KIND] = MelodyGrammar.DENOMINATOR      # a change, before a bar line
_NEXT_PHASE[MelodyGrammar.DENOMINATOR, DEN_KIND] = MelodyGrammar.EVENT
_NEXT_PHASE[:, EOS_KIND] = MelodyGrammar.FINISHED
_NEXT_PHASE[MelodyGrammar.METER:, PAD_KIND] = MelodyGrammar.FINISHED

# Rows of the mask table: what may come next in each kind of state.
_ROW_BOS, _ROW_METER, _ROW_EOS, _ROW_BAR, _ROW_EVENT, _ROW_EVENT_HOLD, _ROW_PAD = range(7)
_ROW_DUR = _ROW_PAD          # + r for r = 1 .. max_duration: durations 1..r (r steps left in the bar)
# then (any meter) + n for numerator n = 1..32: the denominators that make a meter with it
_PHASE_ROW = np.array([_ROW_BOS, _ROW_METER, -1, -1, _ROW_PAD, -1])   # the others depend on more state


def _mask_table(tok: MelodyTokenizer, constraints: Constraints, fixed_ts) -> np.ndarray:
    """(_ROW_DUR + max_duration + 1 [+ 32], V) bool: one allowed-token row per kind of state."""
    c = tok.config
    D = c.max_duration
    table = np.zeros((_ROW_DUR + D + 1 + (len(NUMERATORS) if c.any_meter else 0), tok.vocab_size), dtype=bool)
    for row, token in ((_ROW_BOS, BOS), (_ROW_EOS, EOS), (_ROW_BAR, BAR), (_ROW_PAD, PAD)):
        table[row, token] = True
    if c.any_meter:          # (a numerator other than the fixed one only comes in a primer or scored piece)
        table[_ROW_METER, tok.ts_base:tok.den_base] = True
        for num in NUMERATORS:
            table[_ROW_DUR + D + num, [tok.den_base + i for i, den in enumerate(DENOMINATORS)
                                       if not c.meter_problem((num, den))]] = True
    else:
        table[_ROW_METER, tok.ts_base:tok.note_base] = True
    if fixed_ts:
        num_or_ts, *den = tok.meter_tokens(fixed_ts)
        table[_ROW_METER] = False
        table[_ROW_METER, num_or_ts] = True
        if den:
            table[_ROW_DUR + D + fixed_ts[0]] = False
            table[_ROW_DUR + D + fixed_ts[0], den[0]] = True
    ok = constraints.pitch_ok if constraints.chords is None else constraints.in_range   # (chords: see ChordRule)
    notes = [tok.note_token(p) for p in range(c.pitch_low, c.pitch_high + 1) if ok(p)]
    if not notes:
        raise ValueError("no pitch in this model's range satisfies the key, scale and pitch range")
    table[_ROW_EVENT, notes] = True
    table[_ROW_EVENT, REST] = True
    table[_ROW_EVENT_HOLD] = table[_ROW_EVENT]
    table[_ROW_EVENT_HOLD, HOLD] = True
    for r in range(1, D + 1):
        table[_ROW_DUR + r, tok.dur_base:tok.dur_base + r] = True
    return table


def _token_tables(tok: MelodyTokenizer) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per token id (V,): its kind, its length in grid steps (durations, else 0),
    and the numerator and denominator it states (meter tokens, else 0)."""
    c = tok.config
    V = tok.vocab_size
    kind = np.full(V, OTHER_KIND, dtype=np.int64)
    kind[[BOS, BAR, EOS, PAD]] = [BOS_KIND, BAR_KIND, EOS_KIND, PAD_KIND]
    num, den = np.zeros(V, dtype=np.int64), np.zeros(V, dtype=np.int64)
    if c.any_meter:
        kind[tok.ts_base:tok.den_base], kind[tok.den_base:tok.note_base] = NUM_KIND, DEN_KIND
        num[tok.ts_base:tok.den_base], den[tok.den_base:tok.note_base] = NUMERATORS, DENOMINATORS
    else:
        kind[tok.ts_base:tok.note_base] = TS_KIND
        num[tok.ts_base:tok.note_base] = [n for n, _ in c.time_signatures]
        den[tok.ts_base:tok.note_base] = [d for _, d in c.time_signatures]
    kind[[REST, HOLD]] = EVENT_KIND
    kind[tok.note_base:tok.dur_base] = EVENT_KIND
    kind[tok.dur_base:] = DUR_KIND
    steps = np.zeros(V, dtype=np.int64)
    steps[tok.dur_base:] = np.arange(1, V - tok.dur_base + 1)
    return kind, steps, num, den
