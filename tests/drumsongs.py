"""Songs with drum tracks built in code, for the drums tests."""
from __future__ import annotations

import random

from composer.music.song import Note, Song, Track

KICK, SNARE, CLOSED_HAT, OPEN_HAT, CRASH = 36, 38, 42, 46, 49


def drum_notes(bars: int, time_signature: tuple[int, int] = (4, 4), *, seed: int = 0, start: float = 0.0) -> list[Note]:
    """A rock-ish pattern of `bars` bars: hat on every eighth, kick on the downbeat,
    snare on the other beats, a random extra kick or open hat now and then."""
    num, den = time_signature
    eighths = num * 8 // den
    rng = random.Random(seed)
    notes = []
    for bar in range(bars):
        for i in range(eighths):
            beat = start + bar * num * 4 / den + i * 0.5
            notes.append(Note(beat, beat + 0.25, CLOSED_HAT if rng.random() < 0.8 else OPEN_HAT, 70))
            if i == 0:
                notes.append(Note(beat, beat + 0.25, KICK, 110))
            elif i % 2 == 0:
                notes.append(Note(beat, beat + 0.25, SNARE if rng.random() < 0.7 else KICK, 100))
    return notes


def band_song(bars: int = 4, time_signature: tuple[int, int] = (4, 4), *, seed: int = 0, drums: bool = True,
              tempo: float = 100.0) -> Song:
    """A melody of quarter notes and (unless `drums` is False) a drum track."""
    num, den = time_signature
    beats = bars * num * 4 / den
    tune = [Note(float(b), b + 1.0, 60 + (b * 5 + seed) % 12) for b in range(int(beats))]
    tracks = [Track(notes=tune, program=73, name="Flute")]
    if drums:
        tracks.append(Track(notes=drum_notes(bars, time_signature, seed=seed), is_drum=True, name="Kit"))
    return Song(tracks=tracks, tempos=[(0.0, tempo)], time_signatures=[(0.0, num, den)], length=beats)
