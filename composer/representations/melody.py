"""The melody representation: one monophonic line on a grid.

Tokens (after <pad> <bos> <eos>):
  ts:N/D    the meter, once, right after <bos>
  bar       start of every bar
  note:P    a note of MIDI pitch P ... followed by its duration
  rest      silence ...                followed by its duration
  hold      continue the previous note or rest across a bar line ...
  dur:K     K grid steps (1 .. steps in the longest bar)

A piece is <bos> ts bar (event dur)+ bar (event dur)+ ... <eos>. Events never
cross a bar line (a long note becomes note + hold), so the number of bars is
exact and a sampler can count them.

Melody policy (how one line is taken from a multi-track file), see
`MelodyConfig`: drum tracks are ignored; unless `track` names one, the chosen
track is the one with the highest mean pitch among tracks that have at least
a third as many onsets as the busiest track (the tune is usually the top
voice); chords are reduced to their highest note (`chords="highest"`) or
lowest (`"lowest"`); each note is cut where the next one starts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from composer.config import ConfigMixin
from composer.music.song import Note, Song, Track
from composer.representations.base import (
    BOS,
    EOS,
    PAD,
    Constraints,
    Decoder,
    Encoded,
    Grammar,
    Tokenizer,
    UnusableMusic,
)

SPECIALS = ["<pad>", "<bos>", "<eos>", "bar", "rest", "hold"]
BAR, REST, HOLD = 3, 4, 5


@dataclass(frozen=True)
class MelodyConfig(ConfigMixin):
    steps_per_quarter: int = 4
    pitch_low: int = 36
    pitch_high: int = 96
    time_signatures: tuple = ((2, 4), (3, 4), (4, 4), (6, 8), (9, 8), (12, 8), (2, 2), (3, 8), (5, 4))
    track: int | str | None = None     # policy override: a track index or part of its name
    chords: str = "highest"            # "highest" or "lowest"
    min_notes: int = 8

    def __post_init__(self):
        if self.steps_per_quarter not in (1, 2, 3, 4, 6, 8, 12):
            raise ValueError(f"steps_per_quarter must be one of 1,2,3,4,6,8,12, got {self.steps_per_quarter}")
        if not 0 <= self.pitch_low < self.pitch_high <= 127:
            raise ValueError(f"pitch range must be within 0..127, got {self.pitch_low}..{self.pitch_high}")
        if self.chords not in ("highest", "lowest"):
            raise ValueError(f"chords must be 'highest' or 'lowest', got {self.chords!r}")
        for num, den in self.time_signatures:
            if self._steps(num, den) != int(self._steps(num, den)):
                raise ValueError(f"time signature {num}/{den} does not fit the grid")

    def _steps(self, num, den) -> float:
        return num * 4 / den * self.steps_per_quarter

    def steps_per_bar(self, time_signature: tuple[int, int]) -> int:
        return int(self._steps(*time_signature))

    @property
    def max_duration(self) -> int:
        return max(self.steps_per_bar(ts) for ts in self.time_signatures)


class MelodyTokenizer(Tokenizer):
    kind = "melody"
    config: MelodyConfig

    def __init__(self, config: MelodyConfig | None = None):
        super().__init__(config or MelodyConfig())
        c = self.config
        self.ts_base = len(SPECIALS)
        self.note_base = self.ts_base + len(c.time_signatures)
        self.dur_base = self.note_base + (c.pitch_high - c.pitch_low + 1)

    def _build_vocab(self) -> list[str]:
        c = self.config
        return (SPECIALS + [f"ts:{n}/{d}" for n, d in c.time_signatures]
                + [f"note:{p}" for p in range(c.pitch_low, c.pitch_high + 1)]
                + [f"dur:{k}" for k in range(1, c.max_duration + 1)])

    # ---- token helpers -------------------------------------------------
    def note_token(self, pitch: int) -> int:
        return self.note_base + pitch - self.config.pitch_low

    def dur_token(self, steps: int) -> int:
        return self.dur_base + steps - 1

    def ts_token(self, ts: tuple[int, int]) -> int:
        return self.ts_base + list(self.config.time_signatures).index(tuple(ts))

    def is_note(self, tok: int) -> bool:
        return self.note_base <= tok < self.dur_base

    def is_dur(self, tok: int) -> bool:
        return self.dur_base <= tok < self.vocab_size

    # ---- melody policy ---------------------------------------------------
    def extract(self, song: Song) -> tuple[list[Note], str, int]:
        """The melody line of `song` (policy in the module docstring).

        Returns (notes, description of the source track, notes dropped)."""
        tracks = [(i, t) for i, t in enumerate(song.tracks) if t.notes]
        if not tracks:
            raise UnusableMusic("no notes")
        pitched = [(i, t) for i, t in tracks if not t.is_drum]
        if not pitched:
            raise UnusableMusic("drums only")
        override = self.config.track
        if override is not None:
            chosen = [(i, t) for i, t in pitched
                      if (isinstance(override, int) and i == override)
                      or (isinstance(override, str) and override.lower() in t.name.lower())]
            if not chosen:
                raise UnusableMusic(f"no pitched track matches {override!r}")
            index, track = chosen[0]
        else:
            onsets = {i: len({n.start for n in t.notes}) for i, t in pitched}
            busiest = max(onsets.values())
            candidates = [(i, t) for i, t in pitched if onsets[i] * 3 >= busiest]
            index, track = max(candidates,
                               key=lambda it: (sum(n.pitch for n in it[1].notes) / len(it[1].notes), -it[0]))
        notes, dropped = self._monophonic(track)
        label = f"track {index}" + (f" '{track.name}'" if track.name else "") + f" (program {track.program})"
        return notes, label, dropped

    def _monophonic(self, track: Track) -> tuple[list[Note], int]:
        spq = self.config.steps_per_quarter
        by_step: dict[int, Note] = {}
        pick_high = self.config.chords == "highest"
        dropped = 0
        for note in track.notes:
            step = round(note.start * spq)
            other = by_step.get(step)
            if other is None:
                by_step[step] = note
                continue
            dropped += 1
            if (note.pitch > other.pitch) == pick_high:
                by_step[step] = note
        starts = sorted(by_step)
        out = []
        for k, step in enumerate(starts):
            note = by_step[step]
            end = max(step + 1, round(note.end * spq))
            if k + 1 < len(starts):
                end = min(end, starts[k + 1])
            out.append(Note(step / spq, end / spq, note.pitch, note.velocity))
        return out, dropped

    # ---- encode / decode -------------------------------------------------
    def encode(self, song: Song) -> Encoded:
        c = self.config
        ts = tuple(song.time_signature)
        if ts not in [tuple(t) for t in c.time_signatures]:
            raise UnusableMusic(f"unsupported time signature {ts[0]}/{ts[1]}")
        notes, source, dropped = self.extract(song)
        # Music after a change to another meter is cut off: bars must stay exact.
        change = next((b for b, n, d in song.time_signatures[1:] if (n, d) != ts), None)
        if change is not None:
            notes = [n for n in notes if n.start < change]
            notes = [Note(n.start, min(n.end, change), n.pitch, n.velocity) for n in notes]
        out_of_range = [n.pitch for n in notes if not c.pitch_low <= n.pitch <= c.pitch_high]
        if out_of_range:
            raise UnusableMusic(f"melody pitch {out_of_range[0]} is outside the range {c.pitch_low}..{c.pitch_high}")
        if len(notes) < c.min_notes:
            raise UnusableMusic(f"too short ({len(notes)} melody notes, need {c.min_notes})")
        tokens = self.encode_notes(notes, ts)
        return Encoded(tokens=tokens, n_notes=len(notes), source=source, notes_dropped=dropped,
                       info={"time_signature": f"{ts[0]}/{ts[1]}", "cut_at_meter_change": change})

    def encode_notes(self, notes: list[Note], ts: tuple[int, int], *, end: bool = True) -> list[int]:
        """Tokens for monophonic grid notes (start/end in beats) in meter `ts`."""
        spq, spb = self.config.steps_per_quarter, self.config.steps_per_bar(ts)
        events: list[tuple[int, int, int | None]] = []   # (start step, end step, pitch or None)
        pos = 0
        for note in notes:
            start, stop = round(note.start * spq), round(note.end * spq)
            if start > pos:
                events.append((pos, start, None))
            events.append((max(start, pos), stop, note.pitch))
            pos = stop
        if pos % spb:
            events.append((pos, pos + spb - pos % spb, None))   # fill the last bar with rest
        tokens = [BOS, self.ts_token(ts)]
        for start, stop, pitch in events:
            first = True
            while start < stop:
                if start % spb == 0:
                    tokens.append(BAR)
                length = min(stop - start, spb - start % spb)
                if first:
                    tokens.append(REST if pitch is None else self.note_token(pitch))
                else:
                    tokens.append(HOLD)
                tokens.append(self.dur_token(length))
                start += length
                first = False
        if end:
            tokens.append(EOS)
        return tokens

    def decode(self, tokens, *, tempo: float = 120.0, program: int = 0) -> Song:
        decoder = self.decoder(tempo=tempo, program=program)
        decoder.feed(tokens)
        return decoder.song()

    def decode_notes(self, tokens) -> tuple[list[Note], tuple[int, int], int]:
        """Lenient decoding: returns (notes, meter, number of bars)."""
        decoder = MelodyDecoder(self)
        decoder.feed(tokens)
        return decoder.result()

    def decoder(self, *, tempo: float = 120.0, program: int = 0) -> MelodyDecoder:
        return MelodyDecoder(self, tempo=tempo, program=program)

    def count_notes(self, tokens) -> int:
        """Note tokens that a duration completes (holds are not new notes)."""
        count, pending = 0, False
        for tok in (int(t) for t in tokens):
            if self.is_note(tok):
                pending = True
            elif self.is_dur(tok):
                count += pending
                pending = False
            elif tok in (REST, HOLD):
                pending = False
        return count

    @property
    def position_classes(self) -> int:
        return self.config.max_duration

    def positions(self, tokens) -> list[int]:
        """The grid step within the bar where the next event will start, after
        each token (the same value the sampling grammar tracks)."""
        c = self.config
        spb = c.steps_per_bar(tuple(c.time_signatures[0]))
        pos, out = 0, []
        for tok in (int(t) for t in tokens):
            if self.ts_base <= tok < self.note_base:
                spb = c.steps_per_bar(tuple(c.time_signatures[tok - self.ts_base]))
            elif tok == BAR:
                pos = 0
            elif self.is_dur(tok):
                pos = (pos + tok - self.dur_base + 1) % spb
            out.append(min(pos, c.max_duration - 1))
        return out

    def transpose(self, tokens: list[int], semitones: int) -> list[int] | None:
        if semitones == 0:
            return list(tokens)
        lo, hi = self.note_base, self.dur_base
        out = []
        for tok in tokens:
            if lo <= tok < hi:
                tok += semitones
                if not lo <= tok < hi:
                    return None
            out.append(tok)
        return out

    def grammar(self, batch: int, constraints: Constraints, device) -> MelodyGrammar:
        return MelodyGrammar(self, batch, constraints, device)


class MelodyDecoder(Decoder):
    """Decodes a growing melody: `feed` the tokens added since the last call,
    `result` gives what `decode_notes` would of all tokens so far. The app
    previews every partial variation while sampling (up to 20 times a second),
    so a preview costs only the new tokens: the loop keeps its state in local
    names, and notes that can no longer change (all but the last, which a
    `hold` may still lengthen) become Note objects once."""

    def __init__(self, tokenizer: MelodyTokenizer, *, tempo: float = 120.0, program: int = 0):
        c = tokenizer.config
        self.tokenizer, self.tempo, self.program = tokenizer, float(tempo), program
        self.ts = tuple(c.time_signatures[0]) if (4, 4) not in c.time_signatures else (4, 4)
        self.spb = c.steps_per_bar(self.ts)
        self.pos, self.pending, self.started, self.ended, self.bars = 0, None, False, False, 0
        self.last_note: list | None = None   # [start, end, pitch] of the note that ended at `pos`
        self.steps: list[list[int]] = []     # every note as [start, end, pitch] in grid steps
        self.notes: list[Note] = []          # Note objects of steps[:len(notes)], all final
        self._song: Song | None = None       # song() until more tokens come (a finished row's stays)

    def feed(self, tokens) -> None:
        if self.ended:
            return
        self._song = None
        tok_ = self.tokenizer
        c = tok_.config
        ts_base, note_base, dur_base, vocab_end = tok_.ts_base, tok_.note_base, tok_.dur_base, tok_.vocab_size
        pitch_low = c.pitch_low
        pos, pending, started, bars = self.pos, self.pending, self.started, self.bars
        ts, spb, last_note, steps = self.ts, self.spb, self.last_note, self.steps
        for tok in map(int, tokens):
            if tok == EOS:
                self.ended = True
                break
            if dur_base <= tok < vocab_end:
                if pending is None:
                    continue
                n = tok - dur_base + 1
                if pending == HOLD and last_note is not None and last_note[1] == pos:
                    last_note[1] += n
                elif note_base <= pending < dur_base:
                    last_note = [pos, pos + n, pending - note_base + pitch_low]
                    steps.append(last_note)
                else:
                    last_note = None
                pos += n
                bars = max(bars, -(-pos // spb))
                pending = None
            elif note_base <= tok < dur_base or tok == REST or tok == HOLD:
                started = True
                pending = tok
            elif tok == BAR:
                started = True
                if pos % spb:
                    pos += spb - pos % spb
                    last_note = None
                bars = max(bars, pos // spb + 1)
            elif ts_base <= tok < note_base and not started:
                ts = tuple(c.time_signatures[tok - ts_base])
                spb = c.steps_per_bar(ts)
        self.pos, self.pending, self.started, self.bars = pos, pending, started, bars
        self.ts, self.spb, self.last_note = ts, spb, last_note

    def result(self) -> tuple[list[Note], tuple[int, int], int]:
        """(notes, meter, number of bars) of the tokens fed so far."""
        spq = self.tokenizer.config.steps_per_quarter
        steps, notes = self.steps, self.notes
        for s, e, p in steps[len(notes):len(steps) - 1]:     # the last may still grow
            notes.append(Note(s / spq, e / spq, p))
        tail = [Note(s / spq, e / spq, p) for s, e, p in steps[len(notes):]]
        return (notes + tail, self.ts, self.bars)

    def song(self) -> Song:
        """The tokens fed so far as a one-track Song, `length` the bars decoded (whole bars,
        so a piece that ends in rests keeps them)."""
        if self._song is None:
            notes, ts, bars = self.result()
            self._song = Song(tracks=[Track(notes=notes, program=self.program, name="melody")],
                              tempos=[(0.0, self.tempo)], time_signatures=[(0.0, *ts)],
                              length=bars * self.spb / self.tokenizer.config.steps_per_quarter)
        return self._song


class MelodyGrammar(Grammar):
    """<bos> ts bar (event dur)... with durations that never cross a bar line,
    exactly `constraints.bars` new bars, then <eos>.

    The state of each sequence lives in small NumPy arrays on the CPU and the
    mask is one lookup into a table with one row per kind of grammar state
    (`_mask_table`); only the finished (B, V) mask is moved to `device`. The
    torch version of this class spent ~0.8 ms of a 2.1 ms batch-1 sampling
    step in 10-25 small torch operations for mask() + update()
    (docs/benchmarks.md); the lookup costs tens of microseconds."""

    # phases
    START, METER, EVENT, DURATION, FINISHED = range(5)
    row_state = ("phase", "pos", "spb", "bars_done", "bars_base", "has_prev", "bar_open")

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
        return torch.from_numpy(self._masks[self.mask_rows()]).to(self.device)      # (B, V) bool

    def update(self, tokens: torch.Tensor) -> None:
        t = tokens.detach().to("cpu", torch.long).numpy()                         # (B,)
        kind = self._kind[t]
        ph = self.phase
        self.phase = _NEXT_PHASE[ph, kind]
        event = ph == self.EVENT
        self.bar_open[event & (kind == _BAR_TOKEN)] = True
        self.bar_open[event & (kind == _EVENT_TOKEN)] = False
        meter = (ph == self.METER) & (kind == _TS_TOKEN)
        self.spb = np.where(meter, self._spb_of[t], self.spb)
        dur = (ph == self.DURATION) & (kind == _DUR_TOKEN)
        self.pos = self.pos + np.where(dur, self._steps[t], 0)
        self.has_prev |= dur
        full = dur & (self.pos >= self.spb)
        self.bars_done = self.bars_done + full
        self.pos[full] = 0

    def positions(self) -> torch.Tensor:
        return torch.from_numpy(np.minimum(self.pos, self.tok.config.max_duration - 1))   # (B,) long

    def progress_rows(self) -> np.ndarray:
        made = (np.maximum(self.bars_done - self.bars_base, 0).astype(np.float32)
                + self.pos.astype(np.float32) / self.spb.astype(np.float32))
        return np.minimum(made / np.float32(self.bars_wanted), np.float32(1.0))


# ---- the grammar's tables ---------------------------------------------------------------------
# Token kinds, for the phase transitions.
_OTHER_TOKEN, _BOS_TOKEN, _TS_TOKEN, _BAR_TOKEN, _EVENT_TOKEN, _DUR_TOKEN, _EOS_TOKEN, _PAD_TOKEN = range(8)

# _NEXT_PHASE[phase, kind]: the phase after a token of that kind. A token that
# does not fit its phase leaves the phase as it is, except <eos> (always) and
# <pad> (once started), which end the sequence.
_NEXT_PHASE = np.repeat(np.arange(5)[:, None], 8, axis=1)
_NEXT_PHASE[MelodyGrammar.START, _BOS_TOKEN] = MelodyGrammar.METER
_NEXT_PHASE[MelodyGrammar.METER, _TS_TOKEN] = MelodyGrammar.EVENT
_NEXT_PHASE[MelodyGrammar.EVENT, _EVENT_TOKEN] = MelodyGrammar.DURATION
_NEXT_PHASE[MelodyGrammar.DURATION, _DUR_TOKEN] = MelodyGrammar.EVENT
_NEXT_PHASE[:, _EOS_TOKEN] = MelodyGrammar.FINISHED
_NEXT_PHASE[MelodyGrammar.METER:, _PAD_TOKEN] = MelodyGrammar.FINISHED

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
    kind = np.full(V, _OTHER_TOKEN, dtype=np.int64)
    kind[[BOS, BAR, EOS, PAD]] = [_BOS_TOKEN, _BAR_TOKEN, _EOS_TOKEN, _PAD_TOKEN]
    kind[tok.ts_base:tok.note_base] = _TS_TOKEN
    kind[[REST, HOLD]] = _EVENT_TOKEN
    kind[tok.note_base:tok.dur_base] = _EVENT_TOKEN
    kind[tok.dur_base:] = _DUR_TOKEN
    steps = np.zeros(V, dtype=np.int64)
    steps[tok.dur_base:] = np.arange(1, V - tok.dur_base + 1)
    spb = np.zeros(V, dtype=np.int64)
    spb[tok.ts_base:tok.note_base] = [c.steps_per_bar(tuple(ts)) for ts in c.time_signatures]
    return kind, steps, spb
