"""A melody over a chord progression: the chord rule of melody sampling.

What sounds on a strong beat (composer.music.progression.is_strong: the
downbeat, beat 3 of 4/4, every chord change) is a tone of the chord sounding
then, or a rest: a note starting there is a chord tone, a hold into it
continues a chord tone or a rest, and a note that is not a tone of the next
strong beat's chord ends before it. Every other note is a chord tone or in
`Constraints.pitch_classes` (the key). Bar j of the progression is new bar j
(after a primer); the primer's unfinished bar takes the key only. Only the
sampling mask changes, so any melody model follows a progression untrained.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from composer.music.harmony import LABEL_COUNT, NO_CHORD, chord_name, chord_tones
from composer.music.progression import Progression, beat_quarters
from composer.representations.base import Constraints
from composer.representations.melody.config import HOLD

if TYPE_CHECKING:
    from composer.representations.melody.grammar import MelodyGrammar
    from composer.representations.melody.tokenizer import MelodyTokenizer

_TONES = np.zeros((LABEL_COUNT, 12), dtype=bool)          # (labels, 12): the pitch classes of each chord
for _label in range(1, LABEL_COUNT):
    _TONES[_label, sorted(chord_tones(_label))] = True


class ChordRule:
    """The masks of the chord rule for a MelodyGrammar (module docstring);
    it reads the grammar's per-row state and keeps none of its own."""

    def __init__(self, tok: MelodyTokenizer, constraints: Constraints, in_range: np.ndarray):
        c = tok.config
        self.tok, self.progression = tok, constraints.chords
        self.note_pcs = np.arange(c.pitch_low, c.pitch_high + 1) % 12                     # (N,) of the note tokens
        self.scale = np.ones(12, dtype=bool)                                               # (12,) non-chord tones
        if constraints.pitch_classes is not None:
            self.scale[:] = False
            self.scale[sorted(constraints.pitch_classes)] = True
        self.beat_of = np.array([[max(1, round(c.steps_per_quarter * beat_quarters((n, d)))) if n and d else 1
                                  for d in range(33)] for n in range(33)], dtype=np.int64)  # [num, den] -> steps
        self._tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        playable = np.zeros(12, dtype=bool)
        playable[self.note_pcs[in_range]] = True
        for chord in set(self.progression.labels()):
            wanted = _TONES[chord] if chord != NO_CHORD else self.scale
            if not (wanted & playable).any():
                what = f"a tone of chord {chord_name(chord)}" if chord != NO_CHORD else "in the key"
                raise ValueError(f"no pitch in the pitch range (and the model's) is {what}: widen the "
                                 "pitch range or change the chord")

    def table(self, beats: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For bars of `beats` beats, per progression bar p and beat b: the chord
        label (P, beats), whether b is strong (P, beats), and the first strong
        beat >= b (P, beats + 1; `beats` when none is left)."""
        if beats not in self._tables:
            prog: Progression = self.progression
            P = len(prog)
            labels = np.array([[prog.chord_at(p, b, beats) for b in range(beats)] for p in range(P)], dtype=np.int64)
            strong = np.array([[prog.strong(p, b, beats) for b in range(beats)] for p in range(P)], dtype=bool)
            following = np.full((P, beats + 1), beats, dtype=np.int64)
            for b in range(beats - 1, -1, -1):
                following[:, b] = np.where(strong[:, b], b, following[:, b + 1])
            self._tables[beats] = labels, strong, following
        return self._tables[beats]

    def _where(self, g: MelodyGrammar, rows: np.ndarray):
        """Per row of `rows`: progression bar, beat length and bar length in beats, beat index."""
        beat = self.beat_of[np.minimum(g.num[rows], 32), np.minimum(g.den[rows], 32)]
        beats = np.maximum(g.spb[rows] // beat, 1)
        bar = (g.bars_done[rows] - g.bars_base[rows]) % len(self.progression)
        return bar, beat, beats, np.minimum(g.pos[rows] // beat, beats - 1)

    def labels_at(self, g: MelodyGrammar, rows: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """The chord sounding at grid step `pos` (R,) of the current bar of `rows`."""
        bar, beat, beats, _ = self._where(g, rows)
        out = np.zeros(len(rows), dtype=np.int64)
        for n in np.unique(beats).tolist():
            k = beats == n
            out[k] = self.table(n)[0][bar[k], np.minimum(pos[k] // beat[k], n - 1)]
        return out

    def fit_cadence(self, g: MelodyGrammar, row: int, pos: int, pcs: np.ndarray) -> np.ndarray:
        """The cadence notes (12,) bool of a phrase of row `row` of g whose cadence
        beat starts at grid step `pos` of the current bar: those of `pcs` that are
        tones of the chord there, else that chord's tones (the key's, under N)."""
        label = int(self.labels_at(g, np.array([row]), np.array([pos]))[0])
        tones = _TONES[label] if label != NO_CHORD else self.scale
        return pcs & tones if (pcs & tones).any() else tones.copy()

    def narrow(self, g: MelodyGrammar, m: np.ndarray) -> None:
        """Apply the rule to the allowed tokens m (B, V) of grammar g, in place."""
        tok = self.tok
        event = (g.phase == g.EVENT) & ~((g.pos == 0) & ~g.bar_open)        # (a bar token comes first)
        j = g.bars_done - g.bars_base
        inside = (j >= 0) & (j < g.bars_wanted)
        notes = slice(tok.note_base, tok.dur_base)
        rows = np.flatnonzero(event & ~inside)
        if len(rows):
            m[rows, notes] &= self.scale[self.note_pcs]
        rows = np.flatnonzero(event & inside)
        if len(rows):
            self._events(g, m, rows)
        rows = np.flatnonzero((g.phase == g.DURATION) & inside & (g.sound_pitch >= 0))
        if len(rows):
            self._durations(g, m, rows)

    def _events(self, g: MelodyGrammar, m: np.ndarray, rows: np.ndarray) -> None:
        """Notes (and holds) that may start at each row's step."""
        bar, beat, beats, b = self._where(g, rows)
        label, strong = np.zeros(len(rows), dtype=np.int64), np.zeros(len(rows), dtype=bool)
        for n in np.unique(beats).tolist():
            k = beats == n
            labels, strongs, _ = self.table(n)
            label[k], strong[k] = labels[bar[k], b[k]], strongs[bar[k], b[k]]
        strong &= (g.pos[rows] % beat == 0) & (label != NO_CHORD)
        tones = _TONES[label]                                                              # (R, 12)
        allowed = np.where(strong[:, None], tones, tones | self.scale)
        m[rows, self.tok.note_base:self.tok.dur_base] &= allowed[:, self.note_pcs]
        held = g.sound_pitch[rows]
        hold_ok = (held < 0) | tones[np.arange(len(rows)), np.maximum(held, 0) % 12]
        m[rows[strong & ~hold_ok], HOLD] = False

    def _durations(self, g: MelodyGrammar, m: np.ndarray, rows: np.ndarray) -> None:
        """A sounding note that is no tone of the next strong beat's chord ends before it."""
        bar, beat, beats, _ = self._where(g, rows)
        limit = np.full(len(rows), 1 << 30, dtype=np.int64)                     # longest duration, grid steps
        pcs = g.sound_pitch[rows] % 12
        for n in np.unique(beats).tolist():
            k = np.flatnonzero(beats == n)
            labels, _, following = self.table(n)
            nxt = following[bar[k], np.minimum(g.pos[rows[k]] // beat[k] + 1, n)]   # the next strong beat
            ahead = nxt < n
            label = labels[bar[k], np.minimum(nxt, n - 1)]
            clash = ahead & (label != NO_CHORD) & ~_TONES[label, pcs[k]]
            limit[k[clash]] = nxt[clash] * beat[k[clash]] - g.pos[rows[k[clash]]]
        lengths = np.arange(1, m.shape[1] - self.tok.dur_base + 1)                        # (D,)
        m[rows, self.tok.dur_base:] &= lengths[None, :] <= np.maximum(limit, 1)[:, None]
