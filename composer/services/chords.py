"""A melody over a chord progression (`generate --chords "Am F C G"`): the
request's progression, its length, key and meter, and the "Chords" track
written under each piece.

Without a length the piece is the fewest whole passes of the progression
that reach the default length: a four-chord loop makes 8 bars, a 12-bar blues
12, and the piece ends where the progression ends (its turnaround). Without
a time signature the meter is 4/4 (a primer's own, with a primer), so the
chords fall where the progression says in every piece. The key for the notes
between the chords' tones, and for the cadences of a form, is --key/--scale
when given, else the one the chords imply (analysis.lead.progression_key).
"""
from __future__ import annotations

import math
from dataclasses import replace

from composer.analysis.lead import progression_key
from composer.errors import ComposerError
from composer.music.harmony import NO_CHORD, QUALITIES, root_and_quality
from composer.music.progression import Progression, beats_in_bar, parse_progression
from composer.music.scales import SCALES, allowed_pitch_classes
from composer.music.song import Note, Song, Track
from composer.services.defaults import AUTO, DEFAULTS, FREE

CHORDS_PROGRAM = 0              # General MIDI acoustic grand piano
CHORD_ROOT_LOW = 48             # C3: roots in C3..B3, the chord above, the bass an octave below the root
CHORD_VELOCITY, BASS_VELOCITY = 60, 68      # under a melody at the decoder's 80


def request_progression(request) -> Progression | None:
    """The request's progression (None without chords); raises ComposerError
    naming a bad chord or a bar holding more chords than its meter's beats."""
    if request.chords is None:
        return None
    meter = request.time_signature or (4, 4)
    return parse_progression(request.chords, max_chords_per_bar=beats_in_bar(tuple(meter)))


def check_chords(request) -> None:
    """The request's chord rules that need no model; fills in `request.bars`
    (module docstring) when neither a length nor a named form gives one."""
    progression = request_progression(request)
    if progression is None:
        if not request.chords_track:
            raise ComposerError("leaving out the chords track only applies to a melody over chords: give chords")
        return
    if request.bars is None and request.seconds is None and (request.form or FREE).strip().lower() in (FREE, AUTO):
        request.bars = len(progression) * progression.passes_for(DEFAULTS.bars)


def check_chords_model(tokenizer_kind: str, request, model_name: str) -> None:
    if request.chords is not None and tokenizer_kind != "melody":
        raise ComposerError(f"a melody over chords needs a melody model; {model_name} is a {tokenizer_kind} model")


def chord_meter(request) -> tuple[int, int] | None:
    """The meter of a melody over chords: the request's, else 4/4 (None: the primer's)."""
    if request.time_signature is not None:
        return tuple(request.time_signature)
    return (4, 4) if request.primer is None else None


def chord_scale(request, progression: Progression) -> frozenset[int] | None:
    """The pitch classes of the notes between chord tones (None: any)."""
    if request.key is not None or request.scale is not None:
        return allowed_pitch_classes(request.key, request.scale)
    key = progression_key(progression)
    if key is None:
        return None
    tonic, minor = key
    return frozenset((tonic + step) % 12 for step in SCALES["minor" if minor else "major"])


def voicing(chord: int) -> list[int]:
    """MIDI pitches of a block chord: root position from a root in C3..B3,
    the bass an octave below the root; [] for N."""
    rq = root_and_quality(chord)
    if rq is None:
        return []
    root = CHORD_ROOT_LOW + rq[0]
    return [root - 12] + [root + step for step in QUALITIES[rq[1]][1]]


def chords_track(progression: Progression, bars: int, time_signature: tuple[int, int],
                 start: float = 0.0) -> Track:
    """The progression over `bars` bars from beat `start` as block chords (module constants)."""
    notes = []
    for begin, end, chord in progression.spans(bars, time_signature, start):
        if chord == NO_CHORD:
            continue
        bass, *upper = voicing(chord)
        notes.append(Note(begin, end, bass, BASS_VELOCITY))
        notes += [Note(begin, end, pitch, CHORD_VELOCITY) for pitch in upper]
    return Track(notes=sorted(notes), program=CHORDS_PROGRAM, name="Chords")


def with_chords(song: Song, progression: Progression, bars: int, primer_beats: float) -> Song:
    """`song` with a Chords track under its new bars, which start at the bar
    line after a primer of `primer_beats` (0: none, or dropped)."""
    bar = song.bar_length()
    start = math.ceil(primer_beats / bar - 1e-9) * bar
    track = chords_track(progression, bars, song.time_signature, start)
    length = max(song.length or 0.0, start + bars * bar)
    return replace(song, tracks=[*song.tracks, track], length=length)
