"""Note edits of the piano roll as pure functions on a Song (no widgets):
snapping to the grid, drawing, moving, transposing, resizing and deleting
notes. Each edit returns a new Song (the one given is never changed), so an
undo step is just the song before and the song after (`NoteEdit`).

Notes are values (composer.music.song.Note is frozen): an edit removes notes
by value and adds new ones; an added note goes into the track of the note it
replaces, a drawn one into the first pitched track.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from composer.music.song import Note, Song, Track, melody_song, pitch_name

SNAPS = ("bar", "beat", "1/8", "1/16", "off")
DEFAULT_SNAP = "1/16"
MIN_LENGTH = 1 / 32          # beats: the shortest note a resize leaves with snapping off
DRAW_VELOCITY = 80
AUDITION_BEATS = 2.0         # a note heard when clicked sounds at most this long


@dataclass(frozen=True)
class NoteEdit:
    """One undo step: `before` -> `after`, with the notes selected on each side."""

    before: Song
    after: Song
    text: str                                # "move 3 notes", for Undo's menu entry and the status line
    selected_before: tuple[Note, ...] = ()
    selected_after: tuple[Note, ...] = ()


def snap_step(snap: str, song: Song | None) -> float:
    """The grid step of `snap` (one of SNAPS) in beats; 0 for "off"."""
    if snap not in SNAPS:
        raise ValueError(f"snap must be one of {', '.join(SNAPS)}, got {snap!r}")
    if snap == "off":
        return 0.0
    if snap == "bar":
        return song.bar_length() if song is not None else 4.0
    if snap == "beat":
        return 4.0 / (song.time_signature[1] if song is not None else 4)
    return 4.0 / int(snap.split("/")[1])


def snap(beat: float, step: float, how: str = "nearest") -> float:
    """`beat` on the grid of `step` beats (unchanged for step 0): the nearest
    line, or the one at or before it ("floor")."""
    if step <= 0:
        return beat
    lines = beat / step
    k = int(lines // 1) if how == "floor" else round(lines)
    if how == "floor" and abs(lines - round(lines)) < 1e-9:
        k = round(lines)           # a beat on a line stays there despite rounding
    return k * step


def apply_edit(song: Song, removed: list[Note], added: list[Note]) -> Song:
    """A copy of `song` without `removed` (one of each, from the first pitched
    track holding it) and with `added`: added[i] goes into the track removed[i]
    came from, the rest into the first pitched track (made if there is none)."""
    tracks = [replace(t, notes=list(t.notes)) for t in song.tracks]
    pitched = [t for t in tracks if not t.is_drum]
    homes: list[Track] = []
    for note in removed:
        home = next((t for t in pitched if note in t.notes), None)
        if home is None:
            raise ValueError(f"note {note} is not in the song")
        home.notes.remove(note)
        homes.append(home)
    for k, note in enumerate(added):
        if k < len(homes):
            homes[k].notes.append(note)
            continue
        if not pitched:
            pitched.append(Track(name="melody"))
            tracks.append(pitched[0])
        pitched[0].notes.append(note)
    for track in tracks:
        track.notes.sort()
    return replace(song, tracks=tracks, tempos=list(song.tempos), time_signatures=list(song.time_signatures))


def moved(notes: list[Note], d_beats: float, d_pitch: int) -> list[Note]:
    """`notes` shifted by `d_beats` and `d_pitch` semitones, as a group: the shift
    is cut so that none starts before beat 0 or leaves the pitches 0..127."""
    if not notes:
        return []
    d_beats = max(d_beats, -min(n.start for n in notes))
    d_pitch = max(-min(n.pitch for n in notes), min(127 - max(n.pitch for n in notes), d_pitch))
    return [Note(n.start + d_beats, n.end + d_beats, n.pitch + d_pitch, n.velocity) for n in notes]


def resized(notes: list[Note], d_beats: float, min_length: float) -> list[Note]:
    """`notes` with their ends moved by `d_beats`, none shorter than `min_length`
    (nor than it already was, if shorter)."""
    return [Note(n.start, max(n.start + min(min_length, n.duration), n.end + d_beats), n.pitch, n.velocity)
            for n in notes]


def drawn(start: float, end: float, pitch: int, step: float, velocity: int = DRAW_VELOCITY) -> Note:
    """A note drawn from beat `start` to beat `end` (a drag, either way) at
    `pitch`: both ends snapped to the grid of `step`, at least one step long."""
    start, end = sorted((max(0.0, start), max(0.0, end)))
    length = step if step > 0 else MIN_LENGTH * 8
    first = snap(start, step, "floor")
    last = max(first + length, snap(end, step) if step > 0 else end)
    return Note(first, last, max(0, min(127, pitch)), velocity)


def describe(verb: str, count: int) -> str:
    return f"{verb} {count} note{'s' if count != 1 else ''}"


def move_edit(song: Song, notes: list[Note], d_beats: float, d_pitch: int, text: str = "") -> NoteEdit | None:
    """Move (and transpose) `notes` of `song`; None when nothing would change."""
    after = moved(notes, d_beats, d_pitch)
    if after == list(notes):
        return None
    text = text or describe("move", len(notes))
    return NoteEdit(song, apply_edit(song, notes, after), text, tuple(notes), tuple(after))


def resize_edit(song: Song, notes: list[Note], d_beats: float, min_length: float) -> NoteEdit | None:
    after = resized(notes, d_beats, min_length)
    if after == list(notes):
        return None
    return NoteEdit(song, apply_edit(song, notes, after), describe("resize", len(notes)), tuple(notes), tuple(after))


def delete_edit(song: Song, notes: list[Note]) -> NoteEdit | None:
    if not notes:
        return None
    return NoteEdit(song, apply_edit(song, notes, []), describe("delete", len(notes)), tuple(notes), ())


def draw_edit(song: Song, note: Note, selected: list[Note]) -> NoteEdit:
    return NoteEdit(song, apply_edit(song, [], [note]), f"draw {note_text(note, song)}", tuple(selected), (note,))


def note_text(note: Note, song: Song) -> str:
    """"C5 in bar 3", bars counted from 1 in the opening meter."""
    return f"{pitch_name(note.pitch)} in bar {int(note.start // song.bar_length()) + 1}"


def audition_song(song: Song, note: Note) -> Song:
    """`note` alone, from beat 0, at the song's tempo and on its instrument: what
    is heard when the note is drawn or clicked."""
    program = next((t.program for t in song.tracks if not t.is_drum and note in t.notes),
                   next((t.program for t in song.tracks if not t.is_drum), 0))
    return melody_song([Note(0.0, min(note.duration, AUDITION_BEATS), note.pitch, note.velocity)],
                       tempo=song.tempo, program=program)
