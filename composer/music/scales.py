"""Keys, scales and pitch-class sets for the sampling constraints."""
from __future__ import annotations

from composer.errors import ConstraintError

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "melodic_minor": (0, 2, 3, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "chromatic": tuple(range(12)),
}
SCALE_ALIASES = {"ionian": "major", "aeolian": "minor", "natural_minor": "minor",
                 "pentatonic": "major_pentatonic"}

KEY_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
_TONICS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
SHARP_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
FLAT_NAMES = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]
# semitones from a mode's tonic down to its relative major's (C dorian -> Bb major)
_RELATIVE_MAJOR = {"minor": 9, "harmonic_minor": 9, "melodic_minor": 9, "minor_pentatonic": 9, "blues": 9,
                   "dorian": 2, "phrygian": 4, "lydian": 5, "mixolydian": 7, "locrian": 11}
_FLAT_MAJORS = {5, 10, 3, 8, 1, 6}          # F, Bb, Eb, Ab, Db, Gb major are written with flats


def scale_title(name: str) -> str:
    """The name a musician reads: 'harmonic_minor' -> 'harmonic minor'."""
    return name.replace("_", " ")


def uses_flats(key: str | None, scale: str | None = None) -> bool:
    """Whether notes in `key` + `scale` are spelled with flats: a key written
    with a flat or a sharp keeps it; a natural tonic follows its relative
    major (D minor and G dorian are F major's notes, so flats). No key: sharps."""
    if key is None:
        return False
    accidental = key.strip()[1:].replace("♯", "#").replace("♭", "b")
    if accidental:
        return "b" in accidental
    mode = SCALE_ALIASES.get(_scale_id(scale), _scale_id(scale)) if scale else "major"
    return (parse_key(key) - _RELATIVE_MAJOR.get(mode, 0)) % 12 in _FLAT_MAJORS


def spell(pitch: int, key: str | None = None, scale: str | None = None) -> str:
    """A MIDI pitch named as written in `key` + `scale`: 70 -> 'A#4' in E, 'Bb4' in F."""
    names = FLAT_NAMES if uses_flats(key, scale) else SHARP_NAMES
    return f"{names[pitch % 12]}{pitch // 12 - 1}"


def parse_key(name: str) -> int:
    """Key name to pitch class: 'C' -> 0, 'F#' -> 6, 'Bb' -> 10, 'eb' -> 3."""
    text = name.strip()
    if text and text[0].upper() in _TONICS:
        pc = _TONICS[text[0].upper()]
        rest = text[1:].replace("♯", "#").replace("♭", "b")
        if all(ch in "#b" for ch in rest) and len(rest) <= 2:
            return (pc + rest.count("#") - rest.count("b")) % 12
    raise ConstraintError(f"unknown key {name!r}; use a note name such as {', '.join(KEY_NAMES)}")


def parse_scale(name: str) -> tuple[int, ...]:
    """Scale name to its intervals in semitones above the tonic."""
    key = _scale_id(name)
    key = SCALE_ALIASES.get(key, key)
    if key not in SCALES:
        raise ConstraintError(f"unknown scale {name!r}; use one of {', '.join(SCALES)}")
    return SCALES[key]


def _scale_id(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def allowed_pitch_classes(key: str | None, scale: str | None) -> frozenset[int] | None:
    """The pitch classes a key + scale allows, or None for no constraint.

    A key without a scale means major; a scale without a key means tonic C.
    """
    if key is None and scale is None:
        return None
    tonic = parse_key(key) if key is not None else 0
    intervals = parse_scale(scale) if scale is not None else SCALES["major"]
    return frozenset((tonic + i) % 12 for i in intervals)
