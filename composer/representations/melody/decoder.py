"""Decoding melody tokens as they are sampled, a few at a time."""
from __future__ import annotations

from typing import TYPE_CHECKING

from composer.music.song import Note, Song, Track
from composer.representations.base import EOS, Decoder
from composer.representations.melody.config import BAR, HOLD, REST

if TYPE_CHECKING:
    from composer.representations.melody.tokenizer import MelodyTokenizer


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
        listed = [] if c.any_meter else [tuple(t) for t in c.time_signatures]
        self.ts = listed[0] if listed and (4, 4) not in listed else (4, 4)
        self.spb = c.steps_per_bar(self.ts)
        self.pos, self.pending, self.started, self.ended, self.bars = 0, None, False, False, 0
        # a meter change takes effect at the next bar line: bars before it, from step `origin`
        self.origin, self.bars_before, self.numerator, self.next_ts = 0, 0, None, None
        self.changes: list[tuple[float, int, int]] = []    # (beat, num, den) after the opening meter
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
        note_base, dur_base, vocab_end = tok_.note_base, tok_.dur_base, tok_.vocab_size
        pitch_low, any_meter = c.pitch_low, c.any_meter
        pos, pending, started, bars = self.pos, self.pending, self.started, self.bars
        ts, spb, last_note, steps = self.ts, self.spb, self.last_note, self.steps
        origin, before = self.origin, self.bars_before
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
                bars = max(bars, before + -(-(pos - origin) // spb))
                pending = None
            elif note_base <= tok < dur_base or tok == REST or tok == HOLD:
                started = True
                pending = tok
            elif tok == BAR:
                started = True
                if (pos - origin) % spb:
                    pos += spb - (pos - origin) % spb
                    last_note = None
                if self.next_ts is not None:
                    before, origin = before + (pos - origin) // spb, pos
                    if self.next_ts != (self.changes[-1][1:] if self.changes else ts):
                        self.changes.append((pos / c.steps_per_quarter, *self.next_ts))
                    spb, self.next_ts = c.steps_per_bar(self.next_ts), None
                bars = max(bars, before + (pos - origin) // spb + 1)
            elif tok_.is_meter(tok) and (any_meter or not started):
                self.numerator, meter = tok_.read_meter(self.numerator, tok)
                if meter and not started:
                    ts, spb = meter, c.steps_per_bar(meter)
                elif meter:
                    self.next_ts = meter
        self.pos, self.pending, self.started, self.bars = pos, pending, started, bars
        self.ts, self.spb, self.last_note, self.origin, self.bars_before = ts, spb, last_note, origin, before

    def result(self) -> tuple[list[Note], tuple[int, int], int]:
        """(notes, meter, number of bars) of the tokens fed so far."""
        spq = self.tokenizer.config.steps_per_quarter
        steps, notes = self.steps, self.notes
        for s, e, p in steps[len(notes):len(steps) - 1]:     # the last may still grow
            notes.append(Note(s / spq, e / spq, p))
        tail = [Note(s / spq, e / spq, p) for s, e, p in steps[len(notes):]]
        return (notes + tail, self.ts, self.bars)

    def end_step(self, bars: int) -> int:
        """The grid step where bar `bars` (counted from 1) ends."""
        return self.origin + (bars - self.bars_before) * self.spb

    def song(self) -> Song:
        """The tokens fed so far as a one-track Song, `length` the bars decoded (whole bars,
        so a piece that ends in rests keeps them)."""
        if self._song is None:
            notes, ts, bars = self.result()
            self._song = Song(tracks=[Track(notes=notes, program=self.program, name="melody")],
                              tempos=[(0.0, self.tempo)], time_signatures=[(0.0, *ts)] + self.changes,
                              length=self.end_step(bars) / self.tokenizer.config.steps_per_quarter)
        return self._song
