"""A melody over a chord progression: the key the chords imply, and how
often the melody's notes are tones of the chord sounding under them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from composer.analysis.form import key_of_weights
from composer.music.harmony import NO_CHORD, chord_tones, root_and_quality
from composer.music.progression import Progression, beat_quarters, beats_in_bar
from composer.music.scales import SCALES
from composer.music.song import Note

MINOR_QUALITIES = (1, 2, 6)          # m, dim, m7 (harmony.QUALITIES): a minor third above the root


def progression_key(progression: Progression) -> tuple[int, bool] | None:
    """(tonic pitch class, minor) of the key the chords imply: the major or
    natural minor scale holding most of the chord tones (weighted by the share
    of a bar they sound); among those, the key whose tonic chord ends, else
    opens, the progression; then the one whose tonic sounds most; then the
    key profiles' choice (analysis.form.key_of_weights). Dm G7 C is C major,
    Am F C G A minor, A D E7 A A major. None under N only."""
    weights = np.zeros(12)
    for bar in progression.bars:
        for chord in bar:
            for pc in chord_tones(chord):
                weights[pc] += 1.0 / len(bar)
    profile = key_of_weights(weights)
    if profile is None:
        return None
    chords = [c for c in progression.labels() if c != NO_CHORD]

    def score(key: tuple[int, bool]) -> tuple:
        tonic, minor = key
        scale = {(tonic + step) % 12 for step in SCALES["minor" if minor else "major"]}
        fit = sum(weights[pc] for pc in scale) / weights.sum()
        home = root_and_quality(chords[-1]), root_and_quality(chords[0])
        is_tonic = [rq is not None and rq[0] == tonic and (rq[1] in MINOR_QUALITIES) == minor for rq in home]
        return (round(fit, 9), is_tonic[0], is_tonic[1], round(weights[tonic], 9),
                key == (profile[0], profile[1] == "minor"))

    return max(((tonic, minor) for tonic in range(12) for minor in (False, True)), key=score)


@dataclass
class ChordToneShares:
    """Counts of melody notes by where they start, and how many are chord tones."""

    strong: int = 0          # notes starting on a strong beat (progression.is_strong)
    strong_tones: int = 0
    beat: int = 0            # notes starting on any beat
    beat_tones: int = 0
    notes: int = 0           # all notes under a chord
    tones: int = 0

    def add(self, other: ChordToneShares) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def shares(self) -> dict[str, float]:
        """Chord-tone share of the strong-beat, on-beat and all notes (NaN without any)."""
        def share(hit, n):
            return hit / n if n else float("nan")
        return {"strong": share(self.strong_tones, self.strong), "beat": share(self.beat_tones, self.beat),
                "all": share(self.tones, self.notes)}


def chord_tone_counts(notes: list[Note], progression: Progression, time_signature: tuple[int, int],
                      bars: int, start: float = 0.0) -> ChordToneShares:
    """Count the notes (start/end in quarter notes) that start in the `bars` bars
    from beat `start` where the progression repeats, by onset: strong beat, any
    beat, anywhere; notes under N (no chord) are left out."""
    beat = beat_quarters(time_signature)
    beats = beats_in_bar(time_signature)
    bar_length = time_signature[0] * 4 / time_signature[1]
    out = ChordToneShares()
    for note in notes:
        offset = note.start - start
        bar = int(np.floor(offset / bar_length + 1e-9))
        if not 0 <= bar < bars:
            continue
        within = offset - bar * bar_length
        b = min(int(np.floor(within / beat + 1e-9)), beats - 1)
        chord = progression.chord_at(bar, b, beats)
        if chord == NO_CHORD:
            continue
        tone = note.pitch % 12 in chord_tones(chord)
        on_beat = abs(within - round(within / beat) * beat) < 1e-6
        out.notes += 1
        out.tones += tone
        if on_beat:
            out.beat += 1
            out.beat_tones += tone
            if progression.strong(bar, b, beats):
                out.strong += 1
                out.strong_tones += tone
    return out
