"""Arrangements built in code (a melody on chord tones over I-IV-V-I with a
bass on the roots and inner voices on the other chord tones), for tests of
the harmoniser that need data or a tiny trained model."""
from __future__ import annotations

import numpy as np

from composer.music import harmony
from composer.representations.accompany.grid import HOLD, REST, AccompanyConfig, Arrangement

PROGRESSION = ((0, 0), (5, 0), (7, 0), (0, 0))      # (root, quality): C F G C in C major
VOICE_OFFSETS = {"soprano": 72, "alto": 60, "tenor": 52, "inner": 55, "bass": 36}


def _row(pitches_per_beat: list[int], spb: int, config: AccompanyConfig) -> np.ndarray:
    row = []
    for pitch in pitches_per_beat:
        row += [config.onset(pitch) if pitch >= 0 else REST] + [HOLD if pitch >= 0 else REST] * (spb - 1)
    return np.array(row, dtype=np.int16)


def _in_register(pc: int, floor: int) -> int:
    return floor + (pc - floor) % 12


def make_arrangement(config: AccompanyConfig, *, key: int = 0, bars: int = 4, seed: int = 0,
                     name: str = "") -> Arrangement:
    """`bars` bars of 4/4, one chord a bar (the progression in `key`), the
    melody on a random chord tone each beat, each voice on a chord tone."""
    rng = np.random.default_rng(seed)
    spb = config.steps_per_beat
    rows = [v for v in config.voices if v != "chords"]
    melody, chords, voices = [], [], {v: [] for v in rows}
    for bar in range(bars):
        root, quality = PROGRESSION[bar % len(PROGRESSION)]
        root = (root + key) % 12
        tones = sorted(harmony.chord_tones(harmony.label(root, quality)))
        for beat in range(4):
            chords.append(harmony.label(root, quality))
            melody.append(_in_register(int(rng.choice(tones)), 67))
            for i, v in enumerate(rows):
                pc = root if v == "bass" else tones[(i + beat) % len(tones)]
                voices[v].append(_in_register(pc, VOICE_OFFSETS.get(v, 55)))
    return Arrangement(
        steps_per_beat=spb, melody=_row(melody, spb, config),
        voices=np.array([_row(voices[v], spb, config) for v in rows], dtype=np.int16).reshape(len(rows), -1),
        chords=np.array(chords, dtype=np.int16),
        step_in_bar=np.array([i % (4 * spb) for i in range(bars * 4 * spb)], dtype=np.int16),
        voice_names=tuple(rows), name=name or f"piece{seed}")


def arrangements(config: AccompanyConfig, count: int = 8) -> list[Arrangement]:
    return [make_arrangement(config, key=k % 5, bars=4 + k % 3, seed=k, name=f"piece{k}") for k in range(count)]
