"""Qt-free helpers for primers: what a model will take from a primer file,
and the primer for "Regenerate from bar N"."""
from __future__ import annotations

from dataclasses import replace

from composer.music.song import Note, Song
from composer.representations.base import Tokenizer, UnusableMusic
from composer.representations.melody import MelodyTokenizer


def describe_primer(song: Song, tokenizer: Tokenizer | None) -> str:
    """How the primer is reduced for `tokenizer`, e.g.
    "track 2 'Flute' (program 73): 24 notes, 3 chord notes dropped, 1 other track ignored"."""
    pitched = [t for t in song.tracks if t.notes and not t.is_drum]
    drums = sum(1 for t in song.tracks if t.notes and t.is_drum)
    ts = "{}/{}".format(*song.time_signature)
    if not pitched:
        return "no pitched notes: this primer cannot be used" + (" (drums only)" if drums else "")
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
    if tuple(song.time_signature) not in [tuple(t) for t in c.time_signatures]:
        parts.append(f"meter {ts} unknown to this model")
    else:
        parts.append(ts)
    return ", ".join(parts)


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
