"""Harmony and voice leading of Arrangements (composer.representations.accompany):
what a musician checks in a harmonised piece, measured the same way on a
folder and on a model's output.

  chord_tone_share     share of melody notes starting on a strong beat whose
                       pitch class is a tone of that beat's chord
  parallels_per_bar    parallel (consecutive) perfect fifths and octaves
                       between any two parts, per bar
  crossings_per_bar    voice crossings between any two parts, per bar
  chord_histogram      the folder's chords by name and its share of "no chord" beats
  baseline_bits        held-out bits per chord label of two simple chord
                       predictors (composer.analysis.harmony_baselines)

Parts are the melody (top) and the voice rows under it, in row order (the
grid's rows go top to bottom); a row named "chords" is left out of the voice
leading, as it is a chord instrument, not a line. Per-bar values are per piece
(count / bars of the piece), then the mean and the sample SD over pieces.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

from composer.analysis.harmony_baselines import baseline_bits  # noqa: F401 (part of this module's API)
from composer.music import harmony
from composer.representations.accompany.grid import ONSET, AccompanyConfig, Arrangement, sounding_pitches

NOT_A_LINE = ("chords",)            # voice rows left out of parallels and crossings
QUADRUPLE = (4, 12)                 # numerators whose bar has a secondary accent halfway (4/4, 4/2, 12/8)


@dataclass
class PerBar:
    """A count per bar over pieces: mean and sample SD of the pieces' count / bars."""

    mean: float
    sd: float
    count: int          # the events over all pieces
    bars: int           # bars over all pieces
    pieces: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def per_bar(counts, bars) -> PerBar:
    """PerBar of per-piece `counts` over per-piece `bars` (SD: ddof=1; 0.0 for one piece, NaN for none)."""
    counts, bars = np.asarray(counts, dtype=np.float64), np.asarray(bars, dtype=np.float64)
    if not len(counts):
        return PerBar(math.nan, math.nan, 0, 0, 0)
    rates = counts / np.maximum(bars, 1)
    sd = float(rates.std(ddof=1)) if len(rates) > 1 else 0.0
    return PerBar(float(rates.mean()), sd, int(counts.sum()), int(bars.sum()), len(rates))


def bar_count(arrangement: Arrangement) -> int:
    """Bars of a piece: its downbeats, plus the pickup bar when it starts mid-bar."""
    sib = arrangement.step_in_bar
    if not len(sib):
        return 0
    return int(np.count_nonzero(sib == 0)) + int(sib[0] != 0)


# ---- chord tones on strong beats --------------------------------------------------------------
def _numerator_at(arrangement: Arrangement, step: int) -> int:
    beat = step / arrangement.steps_per_beat
    numerator = 4
    for start, num, _den in sorted(arrangement.time_signatures):
        if start <= beat + 1e-6:
            numerator = num
    return numerator


def strong_steps(arrangement: Arrangement, *, middle: bool = True) -> np.ndarray:
    """Steps of the strong beats: every bar's downbeat and, with `middle`, the
    halfway point of bars in quadruple meter (beat 3 of 4/4, the third dotted
    quarter of 12/8), where a whole bar of the meter follows the downbeat."""
    downbeats = arrangement.strong_beat_steps()
    if not middle:
        return downbeats
    sib = arrangement.step_in_bar
    extra = []
    for step in downbeats:
        bar_steps = _bar_steps(sib, int(step))
        if bar_steps % 2 == 0 and _numerator_at(arrangement, int(step)) in QUADRUPLE:
            extra.append(int(step) + bar_steps // 2)
    return np.array(sorted(set(downbeats.tolist()) | set(extra)), dtype=np.int64)


def _bar_steps(step_in_bar: np.ndarray, start: int) -> int:
    """Length in steps of the bar starting at `start`, 0 if the piece ends before it is whole."""
    end = start + 1
    while end < len(step_in_bar) and step_in_bar[end] != 0:
        end += 1
    return end - start if end < len(step_in_bar) else 0


def chord_tone_counts(arrangements, config: AccompanyConfig | None = None, *,
                      middle: bool = True) -> tuple[int, int]:
    """(strong-beat melody onsets on a chord tone, strong-beat melody onsets
    under a chord) over all pieces: see chord_tone_share."""
    config = config or AccompanyConfig()
    tones = notes = 0
    for arr in arrangements:
        for step in strong_steps(arr, middle=middle):
            token = int(arr.melody[step])
            chord = int(arr.chords[step // arr.steps_per_beat])
            if token < ONSET or chord == harmony.NO_CHORD:
                continue
            notes += 1
            tones += config.pitch_of(token) % 12 in harmony.chord_tones(chord)
    return tones, notes


def chord_tone_share(arrangements, config: AccompanyConfig | None = None, *, middle: bool = True) -> float:
    """Share of melody notes starting on a strong beat whose pitch class is a
    tone of the chord labelled on that beat; beats labelled NO_CHORD are left
    out (NaN when no note qualifies).

    Strong beats are each bar's downbeat and, by default, the middle of a bar
    in quadruple meter (beat 3 of 4/4, 4/2; the third dotted quarter of 12/8).
    Beat 3 of 4/4 carries the bar's secondary accent, and harmony moves there
    as often as on the downbeat (a chord a beat in chorales, two a bar in most
    songs), so a non-chord tone there is heard as one just as on beat 1; it
    also doubles the notes measured in 4/4, the commonest meter, which steadies
    the share of a small folder. The other beats (2 and 4, the second of 2/4,
    3/4's second and third) are weak, where passing and neighbour notes belong.
    `middle=False` measures downbeats only. `config` (the grid's pitch range)
    reads the tokens; default AccompanyConfig().
    """
    tones, notes = chord_tone_counts(arrangements, config, middle=middle)
    return tones / notes if notes else math.nan


# ---- voice leading ----------------------------------------------------------------------------
def line_rows(arrangement: Arrangement, config: AccompanyConfig) -> list[tuple[str, np.ndarray]]:
    """(name, sounding pitch per step, -1 where silent) of each part, top to bottom."""
    rows = [("melody", sounding_pitches(arrangement.melody, config))]
    for name, row in zip(arrangement.voice_names, arrangement.voices):
        if name not in NOT_A_LINE:
            rows.append((name, sounding_pitches(row, config)))
    return rows


def parallel_counts(upper: np.ndarray, lower: np.ndarray) -> tuple[int, int]:
    """(parallel fifths, parallel octaves) between two parts given as sounding
    pitch per step (-1: silent).

    Counted at a step where both parts move to a new pitch (so both start a
    note there) from the notes they sounded the step before, in the same
    direction (a re-struck or held pitch is no move), and the
    interval before and after is a perfect fifth (7 semitones, mod 12), or both
    are an octave or unison (0 mod 12), compound intervals included. Contrary
    motion into the same interval, oblique motion and a repeated fifth are not
    parallels; a fifth moving to an octave (or back) is not either."""
    upper, lower = upper.astype(np.int32), lower.astype(np.int32)
    prev_u, prev_l, now_u, now_l = upper[:-1], lower[:-1], upper[1:], lower[1:]
    moves = (prev_u >= 0) & (prev_l >= 0) & (now_u >= 0) & (now_l >= 0)
    direction_u, direction_l = np.sign(now_u - prev_u), np.sign(now_l - prev_l)
    similar = moves & (direction_u == direction_l) & (direction_u != 0)
    before, after = np.abs(prev_u - prev_l) % 12, np.abs(now_u - now_l) % 12
    fifths = similar & (before == 7) & (after == 7)
    octaves = similar & (before == 0) & (after == 0)
    return int(fifths.sum()), int(octaves.sum())


def crossing_count(upper: np.ndarray, lower: np.ndarray) -> int:
    """Times the upper part goes below the lower one (pitch per step, -1:
    silent). Only steps where both sound at different pitches decide whether
    the parts are crossed; a rest or a unison inside a crossing does not end
    it, so a crossing held over either counts once."""
    both = (upper >= 0) & (lower >= 0) & (upper != lower)
    crossed = (upper < lower)[both]
    if not len(crossed):
        return 0
    return int(crossed[0]) + int(np.count_nonzero(crossed[1:] & ~crossed[:-1]))


def _voice_leading(arrangement: Arrangement, config: AccompanyConfig) -> tuple[int, int, int]:
    rows = line_rows(arrangement, config)
    fifths = octaves = crossings = 0
    for i in range(len(rows)):
        for j in range(i + 1, len(rows)):
            f, o = parallel_counts(rows[i][1], rows[j][1])
            fifths, octaves = fifths + f, octaves + o
            crossings += crossing_count(rows[i][1], rows[j][1])
    return fifths, octaves, crossings


def parallels_per_bar(arrangements, config: AccompanyConfig) -> tuple[PerBar, PerBar]:
    """(parallel fifths, parallel octaves) per bar, mean and SD over pieces,
    summed over every pair of parts (see parallel_counts)."""
    counts = [_voice_leading(a, config) for a in arrangements]
    bars = [bar_count(a) for a in arrangements]
    return per_bar([c[0] for c in counts], bars), per_bar([c[1] for c in counts], bars)


def crossings_per_bar(arrangements, config: AccompanyConfig) -> PerBar:
    """Voice crossings per bar, mean and SD over pieces, summed over every
    pair of parts (see crossing_count)."""
    counts = [_voice_leading(a, config)[2] for a in arrangements]
    return per_bar(counts, [bar_count(a) for a in arrangements])


# ---- the folder's chords ----------------------------------------------------------------------
def chord_histogram(arrangements, top: int = 12) -> dict:
    """The chord labels of all beats: {"beats", "no_chord_share" (of all
    beats), "top": [(name, share of the beats with a chord)] most frequent
    first, "distinct": labels used (no chord not counted)}."""
    counts: Counter = Counter()
    for arr in arrangements:
        counts.update(int(c) for c in arr.chords)
    beats = sum(counts.values())
    none = counts.pop(harmony.NO_CHORD, 0)
    chorded = beats - none
    return {"beats": beats, "no_chord_share": none / beats if beats else math.nan,
            "top": [(harmony.chord_name(c), n / chorded) for c, n in counts.most_common(top)],
            "distinct": len(counts)}
