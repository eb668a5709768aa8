"""Musical statistics of two sets of pieces and how much their distributions
overlap, in the spirit of Yang & Lerch (2018), "On the evaluation of
generative models in music".

Each feature becomes a histogram on fixed bins for each set (normalised to sum
1) and the overlapping area OA = sum_i min(p_i, q_i), in [0, 1]: 1 for
identical distributions, 0 for disjoint ones. Features (beats are quarter
notes; "notes" are all non-drum notes of a piece):

  pitch_class     share of notes on each pitch class C..B (pooled over the set)
  pitch_range     per piece: highest - lowest pitch, semitones (bins of 2)
  interval        melodic interval between consecutive onsets, semitones,
                  -12..+12 (larger ones in the end bins; highest note of a chord)
  note_length     note durations, in classes from 1/8 beat to 4+ beats (nearest class, log scale)
  ioi             inter-onset intervals between consecutive onsets, same classes
  notes_per_bar   note onsets in each bar (0..32+)
  in_scale        per piece: share of notes in its best-fitting key, major or
                  harmonic minor on any tonic (bins of 0.05)
  empty_bars      per piece: share of bars where no note sounds (bins of 0.05)
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

from composer.music.song import Note, Song

LENGTH_CLASSES = [0.125, 1 / 6, 0.25, 1 / 3, 0.5, 2 / 3, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0]
LENGTH_LABELS = ["1/8", "1/6", "1/4", "1/3", "1/2", "2/3", "3/4", "1", "3/2", "2", "3", "4+"]
PITCH_CLASS_LABELS = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
MAJOR = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)


@dataclass
class FeatureComparison:
    """One feature: both histograms on the same bins and their overlap."""

    name: str
    labels: list[str]                   # one per bin
    generated: list[float]              # normalised histogram of the generated pieces
    reference: list[float]              # normalised histogram of the folder's pieces
    oa: float                           # overlapping area in [0, 1]
    generated_mean: float | None = None  # mean of the raw values (None for categorical features)
    reference_mean: float | None = None
    unit: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def overlap_area(p, q) -> float:
    """OA of two histograms on the same bins: sum of min after normalising each
    to 1; 0.0 if either is empty."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"histograms need the same bins, got {p.shape} and {q.shape}")
    if p.sum() <= 0 or q.sum() <= 0:
        return 0.0
    return float(np.minimum(p / p.sum(), q / q.sum()).sum())


def _normalised(counts) -> list[float]:
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    return (counts / total).tolist() if total > 0 else counts.tolist()


def _length_class(beats: np.ndarray) -> np.ndarray:
    logs = np.log2(np.asarray(LENGTH_CLASSES))
    values = np.log2(np.clip(beats, 1e-3, None))
    return np.abs(values[:, None] - logs[None, :]).argmin(axis=1)


def _onsets(notes: list[Note]) -> list[Note]:
    """The highest note of each onset, in time order."""
    top: dict[float, Note] = {}
    for n in notes:
        key = round(n.start, 4)
        if key not in top or n.pitch > top[key].pitch:
            top[key] = n
    return [top[k] for k in sorted(top)]


def best_key_share(notes: list[Note]) -> float:
    """Share of notes whose pitch class is in the best-fitting major or
    harmonic-minor scale (any of the 24 keys); 0.0 for no notes."""
    if not notes:
        return 0.0
    counts = np.bincount([n.pitch % 12 for n in notes], minlength=12)
    best = 0
    for tonic in range(12):
        for scale in (MAJOR, HARMONIC_MINOR):
            best = max(best, int(sum(counts[(tonic + d) % 12] for d in scale)))
    return best / len(notes)


def bar_stats(song: Song) -> tuple[list[int], int]:
    """(note onsets in each bar, bars where nothing sounds), for bars from beat 0
    to the end of the last note (following the meter changes, `Song.bar_starts`)."""
    notes = song.notes
    starts = (song.bar_starts(song.end_beat) or [0.0]) if notes else []
    n_bars = len(starts)
    onsets = [0] * n_bars
    sounding = [False] * n_bars
    for n in notes:
        first = min(bisect.bisect_right(starts, n.start + 1e-9) - 1, n_bars - 1)
        last = min(bisect.bisect_left(starts, n.end - 1e-9) - 1, n_bars - 1)
        onsets[first] += 1
        for b in range(first, max(first, last) + 1):
            sounding[b] = True
    return onsets, sum(not s for s in sounding)


@dataclass
class SetFeatures:
    """Raw feature values of a set of pieces (see the module docstring)."""

    pitch_classes: list[int] = field(default_factory=lambda: [0] * 12)
    pitch_ranges: list[int] = field(default_factory=list)
    intervals: list[int] = field(default_factory=list)
    lengths: list[float] = field(default_factory=list)
    iois: list[float] = field(default_factory=list)
    notes_per_bar: list[int] = field(default_factory=list)
    in_scale: list[float] = field(default_factory=list)
    empty_bars: list[float] = field(default_factory=list)
    pieces: int = 0

    def add(self, song: Song) -> None:
        notes = song.notes
        if not notes:
            return
        self.pieces += 1
        for n in notes:
            self.pitch_classes[n.pitch % 12] += 1
        pitches = [n.pitch for n in notes]
        self.pitch_ranges.append(max(pitches) - min(pitches))
        line = _onsets(notes)
        self.intervals += [b.pitch - a.pitch for a, b in zip(line, line[1:])]
        self.lengths += [n.duration for n in notes]
        self.iois += [b.start - a.start for a, b in zip(line, line[1:])]
        onsets, empty = bar_stats(song)
        self.notes_per_bar += onsets
        self.in_scale.append(best_key_share(notes))
        self.empty_bars.append(empty / len(onsets) if onsets else 0.0)


def set_features(songs) -> SetFeatures:
    features = SetFeatures()
    for song in songs:
        features.add(song)
    return features


def _hist(values, edges) -> np.ndarray:
    return np.histogram(np.clip(np.asarray(values, dtype=np.float64), edges[0], edges[-1] - 1e-9), bins=edges)[0]


def _mean(values) -> float | None:
    return float(np.mean(values)) if len(values) else None


def compare_sets(generated: SetFeatures, reference: SetFeatures) -> list[FeatureComparison]:
    """Every feature of the module docstring, generated vs reference."""
    out = []

    def add(name, labels, g_counts, r_counts, g_values=None, r_values=None, unit=""):
        out.append(FeatureComparison(name, labels, _normalised(g_counts), _normalised(r_counts),
                                     overlap_area(g_counts, r_counts),
                                     None if g_values is None else _mean(g_values),
                                     None if r_values is None else _mean(r_values), unit))

    add("pitch_class", PITCH_CLASS_LABELS, generated.pitch_classes, reference.pitch_classes)
    edges = np.arange(0, 50, 2)
    add("pitch_range", [f"{int(e)}" for e in edges[:-1]], _hist(generated.pitch_ranges, edges),
        _hist(reference.pitch_ranges, edges), generated.pitch_ranges, reference.pitch_ranges, "semitones")
    edges = np.arange(-12.5, 13.5, 1.0)
    add("interval", [f"{int(e + 0.5):+d}" for e in edges[:-1]], _hist(generated.intervals, edges),
        _hist(reference.intervals, edges), generated.intervals, reference.intervals, "semitones")
    n_cls = len(LENGTH_CLASSES)
    for name, g, r in (("note_length", generated.lengths, reference.lengths),
                       ("ioi", generated.iois, reference.iois)):
        g_counts = (np.bincount(_length_class(np.asarray(g, dtype=np.float64)), minlength=n_cls) if g
                    else np.zeros(n_cls))
        r_counts = (np.bincount(_length_class(np.asarray(r, dtype=np.float64)), minlength=n_cls) if r
                    else np.zeros(n_cls))
        add(name, LENGTH_LABELS, g_counts, r_counts, g, r, "beats")
    edges = np.arange(0, 34, 1)
    add("notes_per_bar", [str(int(e)) for e in edges[:-1]], _hist(generated.notes_per_bar, edges),
        _hist(reference.notes_per_bar, edges), generated.notes_per_bar, reference.notes_per_bar, "notes")
    edges = np.linspace(0, 1.0, 21)
    edges[-1] = 1.0 + 1e-6
    for name, g, r in (("in_scale", generated.in_scale, reference.in_scale),
                       ("empty_bars", generated.empty_bars, reference.empty_bars)):
        add(name, [f"{e:.2f}" for e in edges[:-1]], _hist(g, edges), _hist(r, edges), g, r, "share")
    return out
