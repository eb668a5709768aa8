"""Qt-free helpers for "Regenerate from bar N": the music before a bar, and a
song's bars (what a model takes from a primer: composer.services.primer)."""
from __future__ import annotations

from dataclasses import replace

from composer.music.song import Note, Song


def song_before(song: Song, beat: float) -> Song:
    """`song` with only the music before `beat` (notes crossing it are cut there)."""
    tracks = []
    for track in song.tracks:
        notes = [Note(n.start, min(n.end, beat), n.pitch, n.velocity) for n in track.notes if n.start < beat]
        tracks.append(replace(track, notes=notes))
    return replace(song, tracks=tracks, length=min(song.length_beats, beat))


def bar_count(song: Song) -> int:
    """Whole bars the song spans (at its opening meter), bars of rest at its end included."""
    bar = song.bar_length()
    return max(1, int(-(-song.length_beats // bar)))
