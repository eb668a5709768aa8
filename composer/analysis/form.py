"""Form statistics: does a piece repeat, answer and cadence? (issue 17)

Everything is measured on the first `bars` bars of each piece (default 16),
bars counted from beat 0 as the melody representation counts them (a meter
change starts a bar of the new meter), on its top line (the highest note of each onset;
a melody is its own top line). Onsets and inter-onset intervals are on a
32nd-note grid (8 steps per quarter note).

Per piece (`piece_form`):
  bar_repetition    share of the measured bars whose content equals that of an
                    earlier bar; a bar's content is the tuple of (onset step
                    within the bar, pitch) of the notes starting in it. An empty
                    bar never counts as a repeat, but every measured bar is in
                    the denominator. None for a piece with no bar.
  motif_repetition  share of 4-note patterns (3 successive pitch intervals and
                    the 3 inter-onset intervals, in grid steps) that already
                    started at an earlier note; intervals make it
                    transposition-invariant. None under 4 notes.
  pitch_range       highest - lowest pitch, semitones. None without notes.
  ends_on_tonic     the last note's pitch class is the tonic of the piece's key
                    (`best_key`). None without notes.
  silent_opening    no note starts in the first bar (none can sound in it then).

`form_stats(songs, bars)` gives every piece's values and, over the pieces
where a value is defined, mean and SD (population, ddof=0) of the first three
and the share of pieces for the last two.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from composer.music.song import Note, Song

GRID_PER_QUARTER = 8          # 32nd notes
DEFAULT_BARS = 16
KEY_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
# Krumhansl & Kessler (1982) probe-tone profiles, tonic first
MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
MEAN_FIELDS = ("bar_repetition", "motif_repetition", "pitch_range")
SHARE_FIELDS = ("ends_on_tonic", "silent_opening")
LABELS = {"bar_repetition": "bar repetition", "motif_repetition": "motif repetition",
          "pitch_range": "pitch range (semitones)", "ends_on_tonic": "ends on the tonic",
          "silent_opening": "silent first bar"}


def best_key(notes: list[Note]) -> tuple[int, str] | None:
    """The best-fitting key of `notes` as (tonic pitch class, "major" or
    "minor"), by the Krumhansl-Schmuckler method: the duration-weighted
    pitch-class histogram correlated with each of the 24 rotated Krumhansl-Kessler
    profiles; ties go to the lower tonic, major first. None without notes or
    when every pitch class has the same weight."""
    weights = np.zeros(12)
    for n in notes:
        weights[n.pitch % 12] += n.duration
    return key_of_weights(weights) if notes else None


def key_of_weights(weights) -> tuple[int, str] | None:
    """`best_key` of a pitch-class histogram (12 weights, C first, e.g. beats
    sounded); None when every pitch class has the same weight."""
    weights = np.asarray(weights, dtype=float)
    if np.ptp(weights) == 0:
        return None
    centred = weights - weights.mean()
    r = _KEY_PROFILES @ (centred / np.linalg.norm(centred))     # Pearson r with each key, (24,)
    best = int(np.flatnonzero(r >= r.max() - 1e-12)[0])          # ties: the lower tonic, major first
    return best // 2, ("major", "minor")[best % 2]


def _key_profiles() -> np.ndarray:
    """(24, 12): the profiles of C major, C minor, C# major ... rotated to each
    tonic, centred and of unit length, so a dot product is a correlation
    (the sampler's form plan asks for a key at every cadence bar)."""
    rows = [np.roll(profile, tonic) for tonic in range(12) for profile in (MAJOR_PROFILE, MINOR_PROFILE)]
    centred = np.array(rows, dtype=float) - np.mean(rows, axis=1, keepdims=True)
    return centred / np.linalg.norm(centred, axis=1, keepdims=True)


_KEY_PROFILES = _key_profiles()


def top_line(notes: list[Note]) -> list[Note]:
    """The highest note of each onset (onsets on the 32nd grid), in time order."""
    top: dict[int, Note] = {}
    for n in notes:
        step = round(n.start * GRID_PER_QUARTER)
        if step not in top or n.pitch > top[step].pitch:
            top[step] = n
    return [top[s] for s in sorted(top)]


@dataclass(frozen=True)
class PieceForm:
    """The form statistics of one piece (see the module docstring)."""

    bars: int                           # bars measured: min(requested, the piece's own)
    notes: int                          # top-line notes in them
    bar_repetition: float | None
    motif_repetition: float | None
    pitch_range: int | None
    ends_on_tonic: bool | None
    silent_opening: bool
    key: str | None                     # e.g. "A minor"


def piece_bars(song: Song) -> int:
    """Bars from beat 0 to the end of the piece (its `length` when it ends in
    rests), counting a partial last bar; bars follow the meter changes."""
    return len(song.bar_starts())


def piece_form(song: Song, bars: int = DEFAULT_BARS) -> PieceForm:
    """Form statistics of the first `bars` bars of `song`."""
    if bars < 1:
        raise ValueError(f"bars must be >= 1, got {bars}")
    starts = song.bar_starts()
    n_bars = min(bars, len(starts))
    end = starts[n_bars] if n_bars < len(starts) else math.inf
    line = [n for n in top_line(song.notes) if n.start < end - 1e-9]
    contents: list[list[tuple[int, int]]] = [[] for _ in range(n_bars)]
    for n in line:
        index = min(bisect.bisect_right(starts, n.start + 1e-9) - 1, n_bars - 1)
        contents[index].append((round((n.start - starts[index]) * GRID_PER_QUARTER), n.pitch))
    seen, repeats = set(), 0
    for content in map(tuple, contents):
        repeats += bool(content) and content in seen
        seen.add(content)
    pitches = [n.pitch for n in line]
    steps = [round(n.start * GRID_PER_QUARTER) for n in line]
    patterns = [tuple(pitches[i + k + 1] - pitches[i + k] for k in range(3))
                + tuple(steps[i + k + 1] - steps[i + k] for k in range(3)) for i in range(len(line) - 3)]
    heard, motif_repeats = set(), 0
    for pattern in patterns:
        motif_repeats += pattern in heard
        heard.add(pattern)
    key = best_key(line)
    return PieceForm(
        bars=n_bars, notes=len(line),
        bar_repetition=repeats / n_bars if n_bars else None,
        motif_repetition=motif_repeats / len(patterns) if patterns else None,
        pitch_range=max(pitches) - min(pitches) if pitches else None,
        ends_on_tonic=None if key is None else line[-1].pitch % 12 == key[0],
        silent_opening=not contents or not contents[0],
        key=None if key is None else f"{KEY_NAMES[key[0]]} {key[1]}")


@dataclass
class FormStats:
    """Form statistics of a set of pieces: `pieces` (one PieceForm each) and
    `summary`: for each of MEAN_FIELDS {"mean", "sd", "n"}, for each of
    SHARE_FIELDS {"share", "n"} (n: pieces where the value is defined; mean,
    sd and share are None when n is 0)."""

    bars: int
    pieces: list[PieceForm] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def to_dict(self, *, per_piece: bool = True) -> dict:
        out = {"bars": self.bars, "count": len(self.pieces), "summary": self.summary}
        if per_piece:
            out["pieces"] = [asdict(p) for p in self.pieces]
        return out


def summarise(pieces: list[PieceForm]) -> dict:
    """The `FormStats.summary` of `pieces`."""
    out = {}
    for name in MEAN_FIELDS:
        values = [getattr(p, name) for p in pieces if getattr(p, name) is not None]
        out[name] = {"mean": float(np.mean(values)) if values else None,
                     "sd": float(np.std(values)) if values else None, "n": len(values)}
    for name in SHARE_FIELDS:
        values = [getattr(p, name) for p in pieces if getattr(p, name) is not None]
        out[name] = {"share": sum(values) / len(values) if values else None, "n": len(values)}
    return out


def form_stats(songs, bars: int = DEFAULT_BARS) -> FormStats:
    """Form statistics of each of `songs` (first `bars` bars) and their summary."""
    pieces = [piece_form(song, bars) for song in songs]
    return FormStats(bars=bars, pieces=pieces, summary=summarise(pieces))


def summary_text(summary: dict, name: str) -> str:
    """'0.400 +- 0.210' for a mean field, '12.5%' for a share field, '-' when undefined."""
    entry = summary.get(name) or {}
    if name in SHARE_FIELDS:
        return "-" if entry.get("share") is None else f"{100 * entry['share']:.1f}%"
    if entry.get("mean") is None:
        return "-"
    digits = 1 if name == "pitch_range" else 3
    return f"{entry['mean']:.{digits}f} +- {entry['sd']:.{digits}f}"


def summary_table(sides: dict[str, dict]) -> list[str]:
    """Lines of a table with one column per summary in `sides` (name -> FormStats.summary)."""
    lines = [f"{'statistic':<25}" + "".join(f"{name:>18}" for name in sides)]
    for field_name in MEAN_FIELDS + SHARE_FIELDS:
        lines.append(f"{LABELS[field_name]:<25}"
                     + "".join(f"{summary_text(summary, field_name):>18}" for summary in sides.values()))
    return lines
