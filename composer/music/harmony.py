"""Chord labels: a root (pitch class) and a quality, or no chord.

A label is an int: NO_CHORD (0), or 1 + root * len(QUALITIES) + quality index.
This numbering is stored in accompaniment model files; only append to QUALITIES.
"""
from __future__ import annotations

import numpy as np

from composer.errors import ComposerError

# quality name -> intervals above the root; the name is what a chord symbol writes after the root
QUALITIES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("", (0, 4, 7)),            # major
    ("m", (0, 3, 7)),           # minor
    ("dim", (0, 3, 6)),
    ("aug", (0, 4, 8)),
    ("7", (0, 4, 7, 10)),       # dominant seventh
    ("maj7", (0, 4, 7, 11)),
    ("m7", (0, 3, 7, 10)),
    ("sus4", (0, 5, 7)),
)
NO_CHORD = 0
LABEL_COUNT = 1 + 12 * len(QUALITIES)
ROOT_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def label(root: int, quality: int) -> int:
    if not 0 <= quality < len(QUALITIES):
        raise ValueError(f"quality index must be in 0..{len(QUALITIES) - 1}, got {quality}")
    return 1 + (root % 12) * len(QUALITIES) + quality


def root_and_quality(chord: int) -> tuple[int, int] | None:
    """(root pitch class, quality index), or None for NO_CHORD."""
    if not 0 <= chord < LABEL_COUNT:
        raise ValueError(f"chord label must be in 0..{LABEL_COUNT - 1}, got {chord}")
    if chord == NO_CHORD:
        return None
    return divmod(chord - 1, len(QUALITIES))


def chord_tones(chord: int) -> frozenset[int]:
    """The pitch classes of a label (empty for NO_CHORD)."""
    rq = root_and_quality(chord)
    if rq is None:
        return frozenset()
    root, quality = rq
    return frozenset((root + step) % 12 for step in QUALITIES[quality][1])


def chord_name(chord: int) -> str:
    rq = root_and_quality(chord)
    if rq is None:
        return "N"
    return ROOT_NAMES[rq[0]] + QUALITIES[rq[1]][0]


def parse_chord(text: str) -> int:
    """A chord symbol ("Am", "F#7", "Bbmaj7", "Cdim", "Gsus4", "N") as a label."""
    from composer.music.scales import parse_key
    name = text.strip()
    if name in ("N", "NC", "N.C."):
        return NO_CHORD
    for cut in (2, 1):
        root_text, rest = name[:cut], name[cut:]
        try:
            root = parse_key(root_text)
        except (ComposerError, ValueError):
            continue
        for index, (quality, _) in enumerate(QUALITIES):
            if rest == quality or (rest == "min" and quality == "m") or (rest == "maj" and quality == ""):
                return label(root, index)
    known = ", ".join(q or "(major)" for q, _ in QUALITIES)
    raise ComposerError(f"unknown chord {text!r}: write a root (C, F#, Bb, ...) and one of {known}, or N")


# Template matching (label_pitches). Weights are shares of the sounding time, summing to 1.
MIN_SHARE = 0.05        # a pitch class under this share of the sounding time does not count as sounding
SEVENTH_SHARE = 0.15    # a seventh chord only when its 7th has this share (more than one eighth of 4 voices)
MIN_FIT = 0.3           # a best fit under this is no chord (e.g. a scale run, a cluster)
SEVENTH_COST = 0.15     # a seventh chord must explain clearly more than its triad (G-B-D + a melody E is G, not Em7)
BASS_BONUS = 0.1        # the chord on the bass note is the likelier reading of a near tie
# what a chord tone missing from the sound costs, by its place in the template (root, third, fifth, seventh);
# the fifth of dim, aug and sus4 is what makes them (G-C alone is a C fifth, not Gsus4 without its D)
MISSING_COST = (0.3, 0.25, 0.1, 0.3)
DEFINING_FIFTH = ("dim", "aug", "sus4")


def _templates() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(member [L, 12] 0/1, missing cost [L, 12], root [L]) for labels 1..LABEL_COUNT-1."""
    member = np.zeros((LABEL_COUNT - 1, 12))
    cost = np.zeros((LABEL_COUNT - 1, 12))
    roots = np.zeros(LABEL_COUNT - 1, dtype=np.int64)
    for root in range(12):
        for quality, (_, steps) in enumerate(QUALITIES):
            row = label(root, quality) - 1
            roots[row] = root
            for place, step in enumerate(steps):
                member[row, (root + step) % 12] = 1
                defining = place == 2 and QUALITIES[quality][0] in DEFINING_FIFTH
                cost[row, (root + step) % 12] = 1.0 if defining else MISSING_COST[place]
    return member, cost, roots


_MEMBER, _MISSING, _ROOTS = _templates()
_SEVENTHS = np.array([len(QUALITIES[(row % len(QUALITIES))][1]) == 4 for row in range(LABEL_COUNT - 1)])
_SEVENTH_PC = np.array([(r + QUALITIES[row % len(QUALITIES)][1][-1]) % 12 for row, r in enumerate(_ROOTS)])


def label_many(weights, bass=None) -> np.ndarray:
    """The chord label (int16 [N]) best fitting each row of `weights` ([N, 12]: how long
    each pitch class sounds, any unit), or NO_CHORD; `bass` ([N] pitch classes, -1 for
    none) breaks near ties towards the chord on that root. See `label_pitches`."""
    w = np.asarray(weights, dtype=np.float64).reshape(-1, 12)
    total = w.sum(axis=1, keepdims=True)
    share = np.divide(w, total, out=np.zeros_like(w), where=total > 0)          # (N, 12)
    present = share >= MIN_SHARE
    covered = share @ _MEMBER.T                                                 # (N, L)
    missing = (~present).astype(np.float64) @ _MISSING.T
    score = 2 * covered - 1 - missing      # covered - outside - missing
    # a chord needs its root sounding; a seventh chord needs its 7th and three of its four tones
    score[~present[:, _ROOTS]] = -np.inf
    seventh_ok = (share[:, _SEVENTH_PC] >= SEVENTH_SHARE) & (present.astype(np.float64) @ _MEMBER.T >= 3)
    score[~seventh_ok & _SEVENTHS] = -np.inf
    score[:, _SEVENTHS] -= SEVENTH_COST
    if bass is not None:
        b = np.asarray(bass).reshape(-1, 1)
        score += BASS_BONUS * (_ROOTS[None, :] == b)
    # equal scores (C-E-G as C or as Cmaj7 with its 7th missing): the chord of fewer tones
    score -= 1e-6 * _MEMBER.sum(axis=1)
    best = score.argmax(axis=1)
    fit = score[np.arange(len(w)), best]
    out = (best + 1).astype(np.int16)
    out[(present.sum(axis=1) < 2) | ~(fit >= MIN_FIT)] = NO_CHORD
    return out


def label_pitches(weights, bass: int | None = None) -> int:
    """The chord label that best fits the sounding pitch classes, or NO_CHORD.

    `weights`: a dict {pitch or pitch class: how long it sounds} or a 12-array.
    Each label scores covered - outside - missing: the share of the sound on its
    chord tones, minus the share off them, minus MISSING_COST for each chord tone
    not sounding. A chord needs its root; a seventh chord needs its 7th to hold
    SEVENTH_SHARE of the sound (a passing 7th leaves a triad) and costs
    SEVENTH_COST; on equal scores the chord of fewer tones wins. Fewer than two
    pitch classes sounding, or a best score under MIN_FIT, is NO_CHORD. `bass`
    (pitch class) adds BASS_BONUS to the chords on the bass note (C-E-G# over
    C: Caug; G-B-F over G: G7, not Bdim).
    """
    if isinstance(weights, dict):
        row = np.zeros(12)
        for pitch, weight in weights.items():
            row[int(pitch) % 12] += weight
    else:
        row = np.asarray(weights, dtype=np.float64)
        if row.shape != (12,):
            raise ValueError(f"weights must be a dict or 12 values (one per pitch class), got shape {row.shape}")
    if (row < 0).any():
        raise ValueError("weights must be >= 0")
    return int(label_many(row[None, :], None if bass is None else [bass % 12])[0])
