"""Build good and hostile MIDI files in code, for tests and benchmarks.

Good files are `Song`s written with `composer.music.midifile`; hostile files are raw
bytes assembled chunk by chunk, so each one is broken in exactly one way.
Other test modules may import this (it has no test functions).

    from benchmarks.midi_factory import melody, write_song, HOSTILE
    write_song(melody(32, seed=1), tmp_path / "a.mid")
    (tmp_path / "bad.mid").write_bytes(HOSTILE["truncated_track"].build())
"""
from __future__ import annotations

import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from composer.music.midifile import song_to_bytes, write_midi
from composer.music.song import Note, Song, Track

# ---------------------------------------------------------------- good songs

SCALE = [0, 2, 4, 5, 7, 9, 11]   # C major, semitones above the tonic


def melody_notes(n_notes: int, *, seed: int = 0, low: int = 60, step: float = 0.5,
                 velocity: int = 90) -> list[Note]:
    """A stepwise diatonic line of `n_notes` notes, each `step` beats long."""
    rng = random.Random(seed)
    degree, notes = 7, []
    for i in range(n_notes):
        degree = max(0, min(14, degree + rng.choice([-2, -1, -1, 1, 1, 2])))
        pitch = low + 12 * (degree // 7) + SCALE[degree % 7]
        notes.append(Note(i * step, (i + 1) * step, pitch, velocity))
    return notes


def melody(n_notes: int = 32, *, seed: int = 0, tempo: float = 120.0, program: int = 73,
           time_signature: tuple[int, int] = (4, 4), step: float = 0.5, name: str = "Flute") -> Song:
    """A one-track melody."""
    return Song(tracks=[Track(melody_notes(n_notes, seed=seed, step=step), program=program, name=name)],
                tempos=[(0.0, tempo)], time_signatures=[(0.0, *time_signature)])


def band(bars: int = 8, *, seed: int = 0, with_drums: bool = True) -> Song:
    """Melody (top), block chords (middle, 3 notes each beat) and an optional drum track."""
    tune = Track(melody_notes(bars * 8, seed=seed, low=72), program=0, name="Melody")
    chords = Track(program=48, name="Strings")
    for beat in range(bars * 4):
        root = 48 + SCALE[(beat // 4) % 7]
        chords.notes.extend(Note(beat, beat + 1, root + k, 70) for k in (0, 4, 7))
    chords.notes.sort()
    tracks = [chords, tune]
    if with_drums:
        tracks.append(drum_track(bars * 4))
    return Song(tracks=tracks, tempos=[(0.0, 100.0)], time_signatures=[(0.0, 4, 4)])


def drum_track(beats: int) -> Track:
    notes = sorted(Note(b + off, b + off + 0.25, pitch, 100)
                   for b in range(beats) for off, pitch in ((0.0, 36), (0.5, 42)))
    return Track(notes=notes, program=0, is_drum=True, name="Drums")


def drums_only(beats: int = 32) -> Song:
    return Song(tracks=[drum_track(beats)])


def no_notes() -> Song:
    """Tempo and meter, a named track with a program change, but no notes."""
    return Song(tracks=[Track(notes=[], program=5, name="Silent")])


def write_song(song: Song, path: str | Path) -> Path:
    """Write `song` to `path` (parents created), replacing any file there."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_midi(song, path, force=True)


# ---------------------------------------------------------------- raw SMF bytes

def varlen(value: int) -> bytes:
    """MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def header(fmt: int = 1, ntracks: int = 1, division: int = 480) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, fmt, ntracks, division)


def track_chunk(events: bytes, *, end: bool = True, declared_length: int | None = None) -> bytes:
    """An MTrk chunk around `events` (delta-time + message bytes), with end-of-track."""
    body = events + (b"\x00\xff\x2f\x00" if end else b"")
    length = len(body) if declared_length is None else declared_length
    return b"MTrk" + struct.pack(">I", length) + body


def note_events(n_notes: int, *, channel: int = 0, ticks: int = 240, first_pitch: int = 60) -> bytes:
    """`n_notes` consecutive notes on `channel`, each `ticks` long."""
    out = bytearray()
    for i in range(n_notes):
        pitch = first_pitch + SCALE[i % 7]
        out += b"\x00" + bytes([0x90 | channel, pitch, 90])
        out += varlen(ticks) + bytes([0x80 | channel, pitch, 0])
    return bytes(out)


def tempo_event(microseconds_per_beat: int, delta: int = 0) -> bytes:
    return varlen(delta) + b"\xff\x51\x03" + microseconds_per_beat.to_bytes(3, "big")


def smf(*tracks: bytes, fmt: int = 1, division: int = 480, ntracks: int | None = None) -> bytes:
    """A whole file from MTrk chunks (`ntracks` can lie about their number)."""
    return header(fmt, len(tracks) if ntracks is None else ntracks, division) + b"".join(tracks)


def riff_wrap(data: bytes) -> bytes:
    """The RIFF RMID container some Windows tools write around an SMF."""
    chunk = b"data" + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) & 1 else b"")
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"RMID" + chunk


def meta_event(meta_type: int, payload: bytes, delta: int = 0) -> bytes:
    return varlen(delta) + bytes([0xFF, meta_type]) + varlen(len(payload)) + payload


def karaoke_bytes(n_notes: int = 16) -> bytes:
    """A .kar-style file: text events (title, lyrics) before and between the notes."""
    events = meta_event(0x01, b"@KMIDI KARAOKE FILE") + meta_event(0x03, b"Words") + tempo_event(600_000)
    for i in range(n_notes):
        events += meta_event(0x05, f"la{i} ".encode()) + note_events(1, first_pitch=60 + SCALE[i % 7])
    return smf(track_chunk(events))


def good_bytes(n_notes: int = 16) -> bytes:
    """A small valid one-track file."""
    return smf(track_chunk(tempo_event(500_000) + note_events(n_notes)))


# ---------------------------------------------------------------- hostile cases

@dataclass(frozen=True)
class HostileCase:
    """A broken (or merely odd) file and what reading it must give.

    `error` is a substring of the MidiReadError message, or None if the file
    must be read; then `notes` is the expected number of notes in the Song.
    `scan_reason` is a substring of the ingest reason (None: the file is used).
    `damage` is a substring of `Song.damage` for a damaged file that is read up
    to the damage (None: the file is intact); without salvage it is the error.
    """

    build: Callable[[], bytes]
    error: str | None
    notes: int | None = None
    scan_reason: str | None = None
    damage: str | None = None


def _million_events() -> bytes:
    # 1,000,000 events in 3 MB (below the size cap, above the default event cap
    # of 500,000): one note-on, then note-on/off pairs under running status
    body = b"\x00\x90\x3c\x40" + b"\x01\x3c\x00\x00\x3c\x40" * 499_999 + b"\x01\x3c\x00"
    return smf(track_chunk(body))


def _damaged_big() -> bytes:
    # 240,000 events, then an undefined status byte: read up to it (the fast reader, not mido)
    body = b"\x00\x90\x3c\x40" + b"\x01\x3c\x00\x00\x3c\x40" * 120_000 + b"\x00\xf4" + b"\x01\x3c\x00" * 100
    return smf(track_chunk(body))


def _hundred_tracks() -> bytes:
    tracks = [track_chunk(tempo_event(500_000))]
    tracks += [track_chunk(note_events(10, channel=i % 9, first_pitch=48 + i % 30)) for i in range(99)]
    return smf(*tracks)


HOSTILE: dict[str, HostileCase] = {
    "empty_file": HostileCase(lambda: b"", "empty file", scan_reason="corrupt: empty file"),
    "truncated_header": HostileCase(lambda: header()[:9], "truncated header",
                                    scan_reason="corrupt: truncated header"),
    # damaged files are read up to the damage (notes before it kept, the hanging one closed)
    "truncated_track": HostileCase(lambda: good_bytes(40)[:150], None, notes=13,
                                   damage="truncated at byte 150 (in track 1): kept 13 notes"),
    "missing_tracks": HostileCase(lambda: smf(track_chunk(note_events(12)), ntracks=5), None, notes=12,
                                  damage="the header announces 5 tracks, the file holds 1: kept 12 notes"),
    "riff_rmid": HostileCase(lambda: riff_wrap(good_bytes(20)), None, notes=20),
    "random_bytes": HostileCase(lambda: random.Random(7).randbytes(3000), "not a MIDI file",
                                scan_reason="corrupt: not a MIDI file"),
    "ticks_per_beat_zero": HostileCase(lambda: smf(track_chunk(note_events(12)), division=0),
                                       "ticks per beat is 0", scan_reason="corrupt: ticks per beat is 0"),
    "smpte_division": HostileCase(lambda: smf(track_chunk(note_events(12)), division=0xE728),
                                  "SMPTE time division is not supported", scan_reason="unsupported: SMPTE"),
    "tempo_zero": HostileCase(lambda: smf(track_chunk(tempo_event(0) + note_events(12))), None, notes=12),
    # the largest delta time a file can hold (4 bytes, 0x0FFFFFFF ticks): read, but hours long
    "huge_tick": HostileCase(lambda: smf(track_chunk(b"\x00\x90\x3c\x40" + varlen(0x0FFF_FFFF) + b"\x80\x3c\x00")),
                             "too long (4660 minutes", scan_reason="too long (4660 minutes"),
    "tick_beyond_limit": HostileCase(lambda: smf(track_chunk(b"\x00\x90\x3c\x40" + varlen(0x0FFF_FFFF) + b"\x3c\x00"
                                                             + varlen(0x0FFF_FFFF) + b"\x3c\x40")),
                                     "tick position", scan_reason="too long: tick position"),
    "endless_note": HostileCase(lambda: smf(track_chunk(note_events(12) + b"\x00\x90\x48\x50" + varlen(960)
                                                        + b"\xff\x01\x01x")), None, notes=13),
    "damaged_big": HostileCase(_damaged_big, None, notes=120_000, damage="an undefined status byte 0xF4 at byte "
                               "720,027 of track 1: kept 120,000 notes"),
    "million_events": HostileCase(_million_events, "too many events", scan_reason="too large: too many events"),
    "huge_duration": HostileCase(lambda: smf(track_chunk(tempo_event(0xFFFFFF) + b"\x00\x90\x3c\x40"
                                                         + varlen(0x0800_0000) + b"\x80\x3c\x00")),
                                 "too long (78194 minutes", scan_reason="too long (78194 minutes"),
    "running_status_without_status": HostileCase(lambda: smf(track_chunk(b"\x00\x3c\x40" + note_events(12))),
                                                 "corrupt: a data byte (0x3C) where an event should start",
                                                 scan_reason="corrupt: a data byte (0x3C) where an event should"),
    # mido's clip=True reads 0xBC as 127: a note of pitch 127, out of the melody range
    "data_byte_over_127": HostileCase(lambda: smf(track_chunk(b"\x00\x90\xbc\x40" + note_events(12))), None,
                                      notes=13, scan_reason="melody pitch 127 is outside the range"),
    "bad_key_signature": HostileCase(lambda: smf(track_chunk(b"\x00\xff\x59\x02\x0f\x00" + note_events(12))),
                                     "corrupt: a key signature event at byte 22 of track 1 is unreadable (could "
                                     "not decode key with 15 sharps", scan_reason="corrupt: a key signature event"),
    "drums_only": HostileCase(lambda: song_to_bytes(drums_only()), None, notes=64, scan_reason="drums only"),
    "zero_notes": HostileCase(lambda: song_to_bytes(no_notes()), None, notes=0, scan_reason="no notes"),
    "hundred_tracks": HostileCase(_hundred_tracks, None, notes=990),
}
