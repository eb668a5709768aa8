"""Chord labels: a root (pitch class) and a quality, or no chord.

A label is an int: NO_CHORD (0), or 1 + root * len(QUALITIES) + quality index.
This numbering is stored in accompaniment model files; only append to QUALITIES.
"""
from __future__ import annotations

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
