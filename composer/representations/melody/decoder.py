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
