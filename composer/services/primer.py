"""Primers: a short one written as text, a file or song, and what a model
will take from it. The rules a primer must meet for a model are checked in
composer.services.generate.prepare; `describe_primer` says the same before
generating (the app shows it next to the primer)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from composer.errors import ComposerError
from composer.music.midifile import read_midi
from composer.music.song import Note, Song, melody_song

if TYPE_CHECKING:       # (the tokenizers import torch; the app reads primers before it is loaded)
    from composer.representations.base import Tokenizer

_LETTER = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_PRIMER_NOTE = re.compile(r"^(?P<name>[A-Ga-g][#b]?-?\d|R|r|\d{1,3})(?::(?P<beats>\d+(?:\.\d+)?(?:/\d+)?))?$")


def parse_note_list(text: str) -> list[Note]:
    """A short primer written as text: 'C4:1 D4:0.5 R:0.5 E4:2' (name or MIDI
    number, ':' beats, default 1; R is a rest)."""
    notes, beat = [], 0.0
    for item in text.replace(",", " ").split():
        match = _PRIMER_NOTE.match(item)
        if not match:
            raise ComposerError(f"primer note {item!r} is not NAME[:BEATS] (e.g. C4:1, F#5:0.5, R:1, 60:2)")
        beats_text = match["beats"] or "1"
        num, _, den = beats_text.partition("/")
        if den and float(den) == 0:
            raise ComposerError(f"primer note {item!r} divides by zero beats")
        beats = float(num) / float(den or 1)
        if beats <= 0:
            raise ComposerError(f"primer note {item!r} must last > 0 beats")
        name = match["name"]
        if name not in ("R", "r"):
            if name.isdigit():
                pitch = int(name)
            else:                                 # Cb4 is B3 (59), B#3 is C4 (60): the letter names the octave
                letter, accidental, octave = name[0].upper(), name[1:2] if name[1:2] in ("#", "b") else "", \
                    int(re.sub(r"^[A-Ga-g][#b]?", "", name))
                pitch = _LETTER[letter] + {"#": 1, "b": -1}.get(accidental, 0) + 12 * (octave + 1)
            if not 0 <= pitch <= 127:
                raise ComposerError(f"primer note {item!r} is outside MIDI pitch 0..127")
            notes.append(Note(beat, beat + beats, pitch))
        beat += beats
    if not notes:
        raise ComposerError("primer note list has no notes")
    return notes


def load_primer(primer) -> Song:
    """A primer given as a path to a MIDI file, a note-list string, a Song or notes."""
    if isinstance(primer, Song):
        return primer
    if isinstance(primer, list):
        return melody_song(primer)
    path = Path(primer)
    if path.exists():
        return read_midi(path)
    if isinstance(primer, str) and not primer.lower().endswith((".mid", ".midi", ".kar")):
        return melody_song(parse_note_list(primer))
    raise ComposerError(f"primer file {primer} does not exist")



def damage_warning(name, song: Song) -> str:
    """What the reader salvaged of a damaged file `name` ("" for an intact one),
    e.g. "tune.mid is damaged: read up to the damage (truncated at byte 1,234
    (...): kept 212 notes)". The CLI prints it as a warning; the app shows it."""
    return f"{name} is damaged: read up to the damage ({song.damage})" if song.damage else ""


def describe_primer(song: Song, tokenizer: Tokenizer | None) -> str:
    """How the primer is reduced for `tokenizer`, e.g.
    "track 2 'Flute' (program 73): 24 notes, 3 chord notes dropped, 1 other track ignored"
    (then, for a damaged file, what was read of it)."""
    text = _reduction(song, tokenizer)
    return f"{text}; damaged file read up to the damage ({song.damage})" if song.damage else text


def _reduction(song: Song, tokenizer: Tokenizer | None) -> str:
    pitched = [t for t in song.tracks if t.notes and not t.is_drum]
    drums = sum(1 for t in song.tracks if t.notes and t.is_drum)
    ts = "{}/{}".format(*song.time_signature)
    if not pitched:
        return "no pitched notes: this primer cannot be used" + (" (drums only)" if drums else "")
    if tokenizer is not None:       # (a tokenizer given: torch is loaded already)
        from composer.representations.base import UnusableMusic
        from composer.representations.melody import MelodyTokenizer
    if tokenizer is None or not isinstance(tokenizer, MelodyTokenizer):
        total = sum(len(t.notes) for t in pitched)
        text = f"{total} notes from {len(pitched)} track(s) merged, {ts}"
        return text + (f", {drums} drum track(s) ignored" if drums else "")
    try:
        notes, source, dropped = tokenizer.extract(song)
    except UnusableMusic as exc:
        return f"cannot be used: {exc}"
    parts = [f"{source}: {len(notes)} notes"]
    if dropped:
        parts.append(f"{dropped} chord notes dropped")
    others = len(pitched) - 1
    if others:
        parts.append(f"{others} other track(s) ignored")
    if drums:
        parts.append(f"{drums} drum track(s) ignored")
    c = tokenizer.config
    outside = sum(1 for n in notes if not c.pitch_low <= n.pitch <= c.pitch_high)
    if outside:
        parts.append(f"{outside} notes outside the model's range skipped")
    if c.meter_problem(tuple(song.time_signature)):
        parts.append(f"meter {ts} unknown to this model")
    else:
        parts.append(ts)
    return ", ".join(parts)
