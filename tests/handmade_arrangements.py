"""Arrangements written by hand, one step a beat, for the harmony statistics tests."""
from __future__ import annotations

import numpy as np

from composer.music.harmony import NO_CHORD, parse_chord
from composer.representations.accompany.grid import HOLD, REST, AccompanyConfig, Arrangement

CONFIG = AccompanyConfig(steps_per_beat=1, voices=("alto", "tenor", "bass"))
H, R = "-", None        # hold, rest


def row(items) -> np.ndarray:
    """Step tokens from pitches (onset), "-" (hold) and None (rest)."""
    return np.array([HOLD if x == H else REST if x is None else CONFIG.onset(x) for x in items], dtype=np.int16)


def piece(melody, *voices, names=None, chords=None, meter=(4, 4), name="") -> Arrangement:
    """An Arrangement at one step a beat; bars of meter[0] beats from step 0."""
    steps = len(melody)
    names = names or (("bass",) if len(voices) == 1 else ("alto", "tenor", "bass")[:len(voices)])
    chords = [NO_CHORD] * steps if chords is None else [parse_chord(c) for c in chords]
    return Arrangement(steps_per_beat=1, melody=row(melody),
                       voices=np.array([row(v) for v in voices], dtype=np.int16).reshape(len(voices), steps),
                       chords=np.array(chords, dtype=np.int16),
                       step_in_bar=np.arange(steps, dtype=np.int16) % meter[0],
                       voice_names=tuple(names), time_signatures=[(0.0, meter[0], meter[1])], name=name)


C3, D3, G3, C4, D4, E4, F4, G4, A4, B4, C5, D5, E5, F5, G5 = 48, 50, 55, 60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77, 79
