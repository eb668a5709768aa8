"""A chord progression as a lead sheet writes it, and where its chords sound.

"Am F C G" is four bars of one chord each; "Am F | C G" is two bars of two
chords each (`|` separates bars). A bar's chords share its beats evenly, the
earlier chords taking the extra beat when they do not divide (3/4 with two
chords: 2 + 1 beats). A piece longer than the progression repeats it.
"""
from __future__ import annotations

from dataclasses import dataclass

from composer.errors import ComposerError
from composer.music.harmony import NO_CHORD, chord_name, parse_chord

MAX_PROGRESSION_BARS = 256


def beat_quarters(time_signature: tuple[int, int]) -> float:
    """One beat in quarter notes: three of the denominator's notes in compound
    meters (6/8, 9/8, 12/8, 6/4, 12/16 ...: a numerator of 6, 9, 12 ... over 4
    or shorter), else one denominator note."""
    num, den = time_signature
    return (3 if num % 3 == 0 and num > 3 and den >= 4 else 1) * 4 / den


def beats_in_bar(time_signature: tuple[int, int]) -> int:
    """Whole beats of `beat_quarters` in one bar (at least 1)."""
    num, den = time_signature
    return max(1, int(round(num * 4 / den / beat_quarters(time_signature), 6)))


def chord_slot(beat: int, beats: int, count: int) -> int:
    """Which of a bar's `count` chords sounds on beat `beat` (0-based) of a
    bar of `beats` beats."""
    return min(beat, beats - 1) * count // beats


def is_strong(beat: int, beats: int, count: int) -> bool:
    """A strong beat: the downbeat, the middle beat of a bar of 4, 6, 8 ...
    beats (beat 3 of 4/4), and every beat where a new chord starts."""
    if beat == 0 or (beats >= 4 and beats % 2 == 0 and beat == beats // 2):
        return True
    return 0 < beat < beats and chord_slot(beat, beats, count) != chord_slot(beat - 1, beats, count)


@dataclass(frozen=True)
class Progression:
    """The chord labels of each bar (composer.music.harmony), in order."""

    bars: tuple[tuple[int, ...], ...]

    def __post_init__(self):
        if not self.bars or any(not bar for bar in self.bars):
            raise ValueError("a progression needs at least one bar and a chord in every bar")

    def __len__(self) -> int:
        return len(self.bars)

    def bar(self, index: int) -> tuple[int, ...]:
        """The chords of bar `index` of a piece (0-based), the progression repeated."""
        return self.bars[index % len(self.bars)]

    def chord_at(self, bar: int, beat: int, beats: int) -> int:
        chords = self.bar(bar)
        return chords[chord_slot(beat, beats, len(chords))]

    def strong(self, bar: int, beat: int, beats: int) -> bool:
        return is_strong(beat, beats, len(self.bar(bar)))

    def spans(self, bars: int, time_signature: tuple[int, int], start: float = 0.0) -> list[tuple[float, float, int]]:
        """(start, end, label) in quarter notes of every chord of `bars` bars in
        `time_signature` from beat `start`; a chord repeated inside a bar is one span."""
        beat = beat_quarters(time_signature)
        beats = beats_in_bar(time_signature)
        bar_length = time_signature[0] * 4 / time_signature[1]
        out = []
        for j in range(bars):
            origin = start + j * bar_length
            first = 0
            for b in range(1, beats + 1):
                if b == beats or self.chord_at(j, b, beats) != self.chord_at(j, first, beats):
                    end = origin + (bar_length if b == beats else b * beat)
                    out.append((origin + first * beat, end, self.chord_at(j, first, beats)))
                    first = b
        return out

    def labels(self) -> list[int]:
        """Every chord label of the progression, in order (repeats kept)."""
        return [chord for bar in self.bars for chord in bar]

    def text(self) -> str:
        """The progression written back: "Am F | C G" (bars with one chord: "Am F C G")."""
        if all(len(bar) == 1 for bar in self.bars):
            return " ".join(chord_name(bar[0]) for bar in self.bars)
        return " | ".join(" ".join(chord_name(c) for c in bar) for bar in self.bars)

    def passes_for(self, bars: int) -> int:
        """The fewest whole passes of the progression that make at least `bars` bars."""
        return max(1, -(-bars // len(self.bars)))

    @property
    def silent(self) -> bool:
        return all(c == NO_CHORD for c in self.labels())


def parse_progression(text: str, *, max_chords_per_bar: int | None = None) -> Progression:
    """Chords separated by spaces, one per bar, or bars separated by `|` with
    one or more chords each ("Am F | C G"). Raises ComposerError naming the bad
    chord or bar (parse_chord's message for a chord)."""
    source = (text or "").strip()
    if not source:
        raise ComposerError("the chord progression is empty: write chords such as 'Am F C G' or 'Am F | C G'")
    if "|" in source:
        bars = [part.split() for part in source.strip("|").split("|")]
    else:
        bars = [[chord] for chord in source.split()]
    for number, bar in enumerate(bars, start=1):
        if not bar:
            raise ComposerError(f"bar {number} of the chord progression {text!r} is empty: "
                                "write a chord (or N for none) between the bar lines")
        if max_chords_per_bar is not None and len(bar) > max_chords_per_bar:
            raise ComposerError(f"bar {number} of the chord progression has {len(bar)} chords "
                                f"({' '.join(bar)}), more than its {max_chords_per_bar} beats: "
                                "split it over more bars")
    if len(bars) > MAX_PROGRESSION_BARS:
        raise ComposerError(f"the chord progression has {len(bars)} bars, at most {MAX_PROGRESSION_BARS} "
                            "are allowed (a shorter one repeats)")
    return Progression(tuple(tuple(parse_chord(chord) for chord in bar) for bar in bars))
