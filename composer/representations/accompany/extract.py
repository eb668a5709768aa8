"""A multi-track Song as an Arrangement, and an Arrangement as a multi-track Song.

What is taken from a file (`arrangement_from_song`):
  melody   the line the melody policy takes (composer.representations.melody),
           on the grid, each note cut where the next starts
  chords   one label per beat, by template matching (harmony.label_many) over
           the notes sounding in that beat: accompaniment notes weighted by
           how long they sound, melody notes at MELODY_WEIGHT, the lowest
           accompaniment note at the beat's start breaking near ties
  voices   the rows config.voices asks for. When every accompaniment track is
           one line (a chorale written as S, A, T, B parts) and there are
           enough of them, rows come from the tracks ordered by mean pitch:
           "bass" the lowest, the others from the top down. Otherwise from
           the notes sounding at each step: "bass" the lowest accompaniment
           note, the others the 1st, 2nd, ... highest under the melody
           (above the bass when a bass row is asked for).
The accompaniment is every pitched track but the melody's; drums are left out.
Notes start and end on the grid; a note struck again is a new onset, a held
one HOLD; pitches outside config.low..high are moved by octaves into it.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from composer.music import harmony
from composer.music.song import Note, Song, Track
from composer.representations.accompany.grid import HOLD, ONSET, REST, AccompanyConfig, Arrangement
from composer.representations.base import UnusableMusic
from composer.representations.melody import MelodyConfig, MelodyTokenizer
from composer.representations.melody.config import meter_range_problem

MELODY_WEIGHT = 0.5             # a melody note counts this much against an accompaniment note in the chord
MIN_ACCOMPANIMENT_NOTES = 4     # fewer notes in the other tracks is no accompaniment
MONOPHONIC_OVERLAP = 0.05       # a track is one line when at most this share of its notes overlap the one before
# General MIDI programs by voice name (0-based): bass 32 Acoustic Bass, chords 0 Acoustic Grand Piano,
# inner voices 48 String Ensemble; chorale voices (with an alto, tenor or soprano row) 52 Choir Aahs
PROGRAMS = {"bass": 32, "chords": 0, "inner": 48, "soprano": 52, "alto": 52, "tenor": 52}
CHORALE_VOICES = ("soprano", "alto", "tenor")
CHORALE_PROGRAM = 52
VELOCITY = 80

Grid = tuple[int, int, int]     # (start step, end step, pitch) of one note


def arrangement_from_song(song: Song, config: AccompanyConfig, *, track: int | str | None = None,
                          chords: str = "highest") -> Arrangement:
    """The melody of `song` and the accompaniment under it (module docstring).

    `track` and `chords` are the melody policy's override and chord reduction, as
    for the melody representation. Raises UnusableMusic with the reason when the
    file has no melody ("no notes", "drums only", ...) or no accompaniment."""
    line = MelodyTokenizer(MelodyConfig(steps_per_quarter=config.steps_per_beat, track=track, chords=chords))
    meters = _usable_meters(song)
    index, melody_track = line.melody_track(song)
    melody_notes, dropped = line.monophonic(melody_track)
    if len(melody_notes) < line.config.min_notes:
        raise UnusableMusic(f"too short ({len(melody_notes)} melody notes, need {line.config.min_notes})")
    parts = [t for i, t in enumerate(song.tracks) if i != index and not t.is_drum and t.notes]
    _require_accompaniment(parts, dropped)
    spb = config.steps_per_beat
    melody = [_on_grid(n, spb) for n in melody_notes]
    accompaniment = sorted(_on_grid(n, spb) for t in parts for n in t.notes)
    beats = -(-max(end for _, end, _ in melody + accompaniment) // spb)
    steps = beats * spb
    labels = (_beat_chords(melody, accompaniment, steps, spb) if config.chords
              else np.zeros(beats, dtype=np.int16))
    return Arrangement(steps_per_beat=spb, melody=_line_row(melody, steps, config),
                       voices=_voice_rows(parts, line, melody, accompaniment, steps, config),
                       chords=labels, step_in_bar=_step_in_bar(replace(song, time_signatures=meters), steps, spb),
                       voice_names=tuple(config.voices), time_signatures=meters,
                       tempo=song.tempo, source=_source(song, index, parts, config))


def _source(song: Song, melody_index: int, parts: list[Track], config: AccompanyConfig) -> str:
    track = song.tracks[melody_index]
    melody = f"melody: track {melody_index}" + (f" '{track.name}'" if track.name else "")
    voices = ("" if not config.voices else "; voices from the parts" if parts_by_voice(parts, config)
              else "; voices from the chord notes")
    return f"{melody} (program {track.program}); accompaniment: {len(parts)} track(s){voices}"


def _usable_meters(song: Song) -> list[tuple[float, int, int]]:
    """The meter map without the changes no bar can be counted in (0/4, 3/7, ...); an
    opening meter like that makes the file unusable, as for the melody representation."""
    problem = meter_range_problem(tuple(song.time_signature))
    if problem:
        raise UnusableMusic(f"unsupported {problem}")
    return [m for m in song.time_signatures if not meter_range_problem(tuple(m[1:]))] or [(0.0, 4, 4)]


def _require_accompaniment(parts: list[Track], dropped: int) -> None:
    if not parts:
        raise UnusableMusic("no accompaniment: melody and chords in one track" if dropped
                            else "no accompaniment: one melody line only")
    count = sum(len(t.notes) for t in parts)
    if count < MIN_ACCOMPANIMENT_NOTES:
        raise UnusableMusic(f"no accompaniment: the other tracks hold {count} note(s), "
                            f"need {MIN_ACCOMPANIMENT_NOTES}")


def _on_grid(note: Note, steps_per_beat: int) -> Grid:
    start = round(note.start * steps_per_beat)
    return start, max(start + 1, round(note.end * steps_per_beat)), note.pitch


def fold(pitch: int, config: AccompanyConfig) -> int:
    """`pitch` moved by octaves into config.low..high (clipped if the range is under an octave)."""
    if pitch < config.low:
        pitch += 12 * -(-(config.low - pitch) // 12)
    elif pitch > config.high:
        pitch -= 12 * -(-(pitch - config.high) // 12)
    return min(max(pitch, config.low), config.high)


def _line_row(notes: list[Grid], steps: int, config: AccompanyConfig) -> np.ndarray:
    """Step tokens of one line of notes that do not overlap (each cut where the next starts)."""
    row = np.full(steps, REST, dtype=np.int16)
    for start, end, pitch in notes:
        row[start] = config.onset(fold(pitch, config))
        row[start + 1:end] = HOLD
    return row


def _picked_row(pitch: np.ndarray, start: np.ndarray, config: AccompanyConfig) -> np.ndarray:
    """Step tokens of a row that takes, at each step, the note of pitch[s] struck at
    step start[s] (pitch -1: none): a new note, or one it moves to, is an onset."""
    row = np.full(len(pitch), REST, dtype=np.int16)
    for s in np.flatnonzero(pitch >= 0):
        same = s > 0 and pitch[s - 1] == pitch[s] and start[s - 1] == start[s]
        row[s] = HOLD if same else config.onset(fold(int(pitch[s]), config))
    return row


def _beat_chords(melody: list[Grid], accompaniment: list[Grid], steps: int, spb: int) -> np.ndarray:
    """One chord label per beat (module docstring)."""
    weight = np.zeros((steps, 12))
    for notes, share in ((accompaniment, 1.0), (melody, MELODY_WEIGHT)):
        for start, end, pitch in notes:
            weight[start:end, pitch % 12] += share
    lowest = np.full(steps, 128)
    for start, end, pitch in accompaniment:
        lowest[start:end] = np.minimum(lowest[start:end], pitch)
    bass = np.where(lowest[::spb] < 128, lowest[::spb] % 12, -1)
    labels = harmony.label_many(weight.reshape(-1, spb, 12).sum(axis=1), bass)
    labels[(lowest.reshape(-1, spb) == 128).all(axis=1)] = harmony.NO_CHORD     # the melody alone
    return labels


def _step_in_bar(song: Song, steps: int, spb: int) -> np.ndarray:
    bar_starts = np.array(song.bar_starts(end=steps / spb) or [0.0])
    beats = np.arange(steps) / spb
    bar = np.searchsorted(bar_starts, beats + 1e-9, side="right") - 1
    return np.round((beats - bar_starts[np.maximum(bar, 0)]) * spb).astype(np.int16)


def _is_one_line(track: Track) -> bool:
    notes = sorted(track.notes)
    overlaps = sum(1 for a, b in zip(notes, notes[1:]) if b.start < a.end - 1e-6)
    return overlaps <= MONOPHONIC_OVERLAP * len(notes)


def parts_by_voice(parts: list[Track], config: AccompanyConfig) -> dict[str, Track]:
    """The track each voice row comes from, when the accompaniment is separate one-line
    parts, enough for the rows asked (empty: the rows come from the chord notes)."""
    sung = [name for name in config.voices if name != "chords"]
    if not sung or len(parts) < len(sung) or not all(_is_one_line(t) for t in parts):
        return {}
    ordered = sorted(parts, key=lambda t: -sum(n.pitch for n in t.notes) / len(t.notes))
    by_part = dict(zip([name for name in sung if name != "bass"], ordered))
    if "bass" in sung:
        by_part["bass"] = ordered[-1]
    return by_part


def _voice_rows(parts: list[Track], line: MelodyTokenizer, melody: list[Grid], accompaniment: list[Grid],
                steps: int, config: AccompanyConfig) -> np.ndarray:
    """[V, steps] step tokens of the rows config.voices asks for (module docstring)."""
    spb = config.steps_per_beat
    rows = np.full((len(config.voices), steps), REST, dtype=np.int16)
    by_part = parts_by_voice(parts, config)
    sounding = _sounding(accompaniment, steps)
    limit = np.full(steps, 128)
    for start, end, pitch in melody:
        limit[start:end] = pitch
    rank = 0
    for v, name in enumerate(config.voices):
        if name in by_part:
            notes, _ = line.monophonic(by_part[name])
            rows[v] = _line_row([_on_grid(n, spb) for n in notes], steps, config)
        elif name == "bass":
            rows[v] = _picked_row(*_lowest(sounding), config)
        else:
            pitch, start = _kth_highest(sounding, limit, rank, skip_lowest="bass" in config.voices)
            rows[v] = _picked_row(pitch, start, config)
            rank += 1
    return rows


def _sounding(notes: list[Grid], steps: int) -> np.ndarray:
    """[steps, 128]: 1 + the step where the note of that pitch sounding then was struck (0: none)."""
    out = np.zeros((steps, 128), dtype=np.int32)
    for start, end, pitch in notes:         # sorted by start: a pitch struck again takes over
        out[start:end, pitch] = start + 1
    return out


def _lowest(sounding: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pitch, start) of the lowest note at each step (pitch -1: none)."""
    occupied = sounding > 0
    pitch = np.where(occupied.any(axis=1), occupied.argmax(axis=1), -1)
    return pitch, sounding[np.arange(len(pitch)), np.maximum(pitch, 0)] - 1


def _kth_highest(sounding: np.ndarray, limit: np.ndarray, k: int, *, skip_lowest: bool):
    """(pitch, start) of the (k+1)-th highest note under `limit` at each step (pitch -1: none)."""
    occupied = sounding > 0
    if skip_lowest:
        low, _ = _lowest(sounding)
        has = low >= 0
        occupied[np.flatnonzero(has), low[has]] = False
    occupied &= np.arange(128)[None, :] < limit[:, None]
    from_top = np.cumsum(occupied[:, ::-1], axis=1)[:, ::-1]
    picked = occupied & (from_top == k + 1)
    pitch = np.where(picked.any(axis=1), picked.argmax(axis=1), -1)
    return pitch, sounding[np.arange(len(pitch)), np.maximum(pitch, 0)] - 1


def arrangement_to_song(arrangement: Arrangement, config: AccompanyConfig, *, melody_program: int = 0) -> Song:
    """A multi-track Song: the melody first, then one track per voice row (General
    MIDI program by name, or config.programs), the "chords" row as block chords of
    each beat's label struck in that row's rhythm under its pitch. Meter and tempo
    are the arrangement's."""
    arr = arrangement
    if arr.steps_per_beat != config.steps_per_beat:
        raise ValueError(f"the arrangement has {arr.steps_per_beat} steps a beat, the config "
                         f"{config.steps_per_beat}")
    spb = arr.steps_per_beat
    tracks = [Track(row_notes(arr.melody, config), program=melody_program, name="Melody")]
    chorale = any(name in CHORALE_VOICES for name in arr.voice_names)
    for v, name in enumerate(arr.voice_names):
        if config.programs:
            program = config.programs[v]
        else:
            program = CHORALE_PROGRAM if chorale and name == "bass" else PROGRAMS[name]
        notes = row_notes(arr.voices[v], config)
        if name == "chords":
            notes = _block_chords(notes, arr.chords)
        tracks.append(Track(notes, program=program, name=name.title()))
    return Song(tracks=tracks, tempos=[(0.0, float(arr.tempo))],
                time_signatures=list(arr.time_signatures) or [(0.0, 4, 4)], length=arr.steps / spb)


def row_notes(row: np.ndarray, config: AccompanyConfig) -> list[Note]:
    """The notes of a row of step tokens, in beats (a HOLD with nothing to hold is a rest)."""
    notes, pitch, start = [], None, 0
    spb = config.steps_per_beat
    for s, token in enumerate(list(row) + [REST]):
        if token == HOLD and pitch is not None:
            continue
        if pitch is not None:
            notes.append(Note(start / spb, s / spb, pitch, VELOCITY))
        pitch, start = (config.pitch_of(int(token)), s) if token >= ONSET else (None, s)
    return notes


def _block_chords(tops: list[Note], labels: np.ndarray) -> list[Note]:
    """Each top note as the chord of its beat voiced under it (closest chord tones at or
    below it), struck again where the label changes while it is held; the top note
    alone where there is no chord."""
    out = []
    for top in tops:
        cuts = [top.start] + [b for b in range(int(top.start) + 1, int(np.ceil(top.end)))
                              if labels[b] != labels[b - 1]] + [top.end]
        for begin, end in zip(cuts, cuts[1:]):
            tones = harmony.chord_tones(int(labels[min(int(begin), len(labels) - 1)]))
            for pc in tones or {top.pitch % 12}:
                pitch = top.pitch - (top.pitch - pc) % 12
                if pitch >= 0:
                    out.append(Note(float(begin), float(end), pitch, VELOCITY - 16))
    return sorted(out)
