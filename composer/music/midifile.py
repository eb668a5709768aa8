"""Reading and writing Standard MIDI Files, with safety caps.

`read_midi` never raises anything but `MidiReadError` for a bad file: every
file rejected by a cap in `ReadLimits`, and every damaged file of which
nothing can be read, becomes one message that says what is wrong. Of a
damaged file (truncated, a wrong chunk length, a stray byte) it keeps what
can be read (composer.music.midisalvage) and says so in `Song.damage`;
`ReadLimits(salvage=False)` refuses such files instead. `write_midi` writes
atomically (temp file, fsync, rename) and never overwrites silently.
"""
from __future__ import annotations

import io
import os
import re
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mido

from composer.errors import MidiReadError, OutputExistsError, WriteError
from composer.music.midisalvage import salvage
from composer.music.song import GM_DRUM_CHANNEL, Note, Song, Track
from composer.safe_write import check_target

WRITE_TICKS_PER_BEAT = 480


@dataclass(frozen=True)
class ReadLimits:
    """Caps that reject pathological files before they can eat memory or time,
    and whether the readable part of a damaged file is kept (else it is refused)."""

    max_bytes: int = 4_000_000          # file size
    max_events: int = 500_000           # MIDI messages over all tracks
    max_tracks: int = 256
    max_seconds: float = 3600.0         # duration of the music
    max_ticks: int = 2**28              # any absolute tick position
    salvage: bool = True                # read a damaged file up to its damage (False: refuse it)


DEFAULT_LIMITS = ReadLimits()


def _unwrap_riff(data: bytes) -> bytes:
    """RIFF RMID files hold a normal SMF inside their 'data' chunk."""
    if data[:4] != b"RIFF" or data[8:12] != b"RMID":
        return data
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if chunk_id == b"data":
            return data[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    raise MidiReadError("RIFF/RMID file has no 'data' chunk")


def read_midi(source: str | os.PathLike | bytes, limits: ReadLimits = DEFAULT_LIMITS) -> Song:
    """Parse a MIDI file (path or bytes) into a `Song`.

    Raises `MidiReadError` naming the problem for anything that is not a
    usable MIDI file, including files over a cap in `limits`.
    """
    name = "<bytes>"
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        name = str(source)
        try:
            size = os.path.getsize(source)
            if size > limits.max_bytes:
                raise MidiReadError(f"{name}: file too large ({size:,} bytes, limit {limits.max_bytes:,})")
            data = Path(source).read_bytes()
        except OSError as exc:
            raise MidiReadError(f"{name}: cannot read file: {exc.strerror or exc}") from None
    try:
        return _parse(data, limits)
    except MidiReadError as exc:
        raise MidiReadError(f"{name}: {exc}") from None


def _parse(data: bytes, limits: ReadLimits) -> Song:
    if len(data) > limits.max_bytes:
        raise MidiReadError(f"file too large ({len(data):,} bytes, limit {limits.max_bytes:,})")
    if not data:
        raise MidiReadError("empty file")
    data = _unwrap_riff(data)
    if data[:4] != b"MThd":
        raise MidiReadError("not a MIDI file (no MThd header)")
    if len(data) < 14:
        raise MidiReadError("truncated header")
    division = struct.unpack(">H", data[12:14])[0]
    if division == 0:
        raise MidiReadError("ticks per beat is 0")
    if division & 0x8000:
        raise MidiReadError("SMPTE time division is not supported")
    return _read_smf(data, limits)


def _read_smf(data: bytes, limits: ReadLimits) -> Song:
    """The Song of an SMF whose header is checked. Its bytes are walked first
    (composer.music.midisalvage, one pass, no object per event): an intact file
    is then read by mido; of a damaged one, the part kept, or it is refused."""
    if len(data) >= 2 * limits.max_events:   # an event takes >= 2 bytes: only big files can break the cap
        n_events = _count_events(data, limits.max_events)
        if n_events > limits.max_events:   # refuse before mido builds an object per event
            raise MidiReadError(f"too many events (more than {limits.max_events:,}, limit {limits.max_events:,})")
    walked = salvage(data, limits.max_events)
    if walked.events > limits.max_events:          # (of the part kept, for a damaged file)
        raise MidiReadError(f"too many events (more than {limits.max_events:,}, limit {limits.max_events:,})")
    if walked.tracks > limits.max_tracks:
        raise MidiReadError(f"too many tracks ({walked.tracks}, limit {limits.max_tracks})")
    if walked.problems:
        return _salvaged(walked.data, walked.problems, limits)
    try:
        midi = mido.MidiFile(file=io.BytesIO(data), clip=True)
    except Exception:  # noqa: BLE001 -- not expected after the walk (mido raises many types)
        raise MidiReadError("corrupt: not a readable MIDI file") from None
    return _checked_song(midi, limits)


def _checked_song(midi: mido.MidiFile, limits: ReadLimits) -> Song:
    if len(midi.tracks) > limits.max_tracks:
        raise MidiReadError(f"too many tracks ({len(midi.tracks)}, limit {limits.max_tracks})")
    n_events = sum(len(t) for t in midi.tracks)
    if n_events > limits.max_events:
        raise MidiReadError(f"too many events ({n_events:,}, limit {limits.max_events:,})")
    return _to_song(midi, limits)


def _salvaged(kept: bytes, problems: list[str], limits: ReadLimits) -> Song:
    """The Song of `kept`, the readable part of a damaged file (a well-formed SMF),
    its `damage` saying what was wrong and what was kept; MidiReadError naming the
    first problem when `limits.salvage` is off or no note is left. Caps hold."""
    if not limits.salvage:
        raise MidiReadError(f"corrupt: {problems[0]}")
    from composer.music.midifast import read_well_formed  # (midifast imports this module)
    song = read_well_formed(kept, limits)
    if song is None:
        try:
            midi = mido.MidiFile(file=io.BytesIO(kept), clip=True)
        except Exception:  # noqa: BLE001 -- not expected: the part kept is checked event by event
            raise MidiReadError(f"corrupt: {problems[0]}") from None
        song = _checked_song(midi, limits)
    notes = sum(len(t.notes) for t in song.tracks)
    if not notes:
        raise MidiReadError(f"corrupt: {problems[0]}")
    more = f" (and {len(problems) - 1} more problem{'s' * (len(problems) > 2)})" if len(problems) > 1 else ""
    song.damage = f"{problems[0]}{more}: kept {notes:,} note{'s' * (notes != 1)}"
    return song


def _count_events(data: bytes, stop_after: int) -> int:
    """Events in the MTrk chunks of `data`, counting stopped once past `stop_after`.

    A cheap walk over the bytes (no object per event). It gives up quietly on
    anything malformed and returns the count so far: mido then names the problem.
    """
    ntracks = struct.unpack(">H", data[10:12])[0]
    pos, count = 8 + struct.unpack(">I", data[4:8])[0], 0
    for _ in range(ntracks):
        if pos + 8 > len(data) or data[pos:pos + 4] != b"MTrk":
            break
        end = min(len(data), pos + 8 + struct.unpack(">I", data[pos + 4:pos + 8])[0])
        pos, running = pos + 8, 0
        try:
            while pos < end and count <= stop_after:
                while data[pos] & 0x80:          # delta time
                    pos += 1
                pos += 1
                status = data[pos]
                if status & 0x80:
                    pos += 1
                    if status != 0xFF:           # meta events do not set running status
                        running = status
                elif running:
                    status = running
                else:
                    break
                if status == 0xFF:
                    pos += 1                     # meta type
                if status in (0xFF, 0xF0, 0xF7):
                    length = 0
                    while data[pos] & 0x80:
                        length = (length << 7) | (data[pos] & 0x7F)
                        pos += 1
                    pos += 1 + ((length << 7) | (data[pos] & 0x7F))
                else:
                    pos += 1 if status & 0xE0 == 0xC0 else 2
                count += 1
        except IndexError:
            break
        if count > stop_after:
            break
        pos = end
    return count


def _to_song(midi: mido.MidiFile, limits: ReadLimits) -> Song:
    tpb = midi.ticks_per_beat
    tempos: dict[int, float] = {}
    time_sigs: dict[int, tuple[int, int]] = {}
    tracks: list[Track] = []
    last_tick = 0
    for mtrack in midi.tracks:
        tick = 0
        open_notes: dict[tuple[int, int], list[tuple[int, int]]] = {}
        programs: dict[int, int] = {}
        by_channel: dict[int, list[tuple[int, int, int, int]]] = {}
        for msg in mtrack:
            tick += msg.time
            if tick > limits.max_ticks:
                raise MidiReadError(f"tick position {tick:,} is beyond the limit {limits.max_ticks:,}")
            if msg.type == "set_tempo":
                if msg.tempo > 0:  # tempo 0 would mean infinite speed: ignore it
                    tempos.setdefault(tick, round(mido.tempo2bpm(msg.tempo), 3))
            elif msg.type == "time_signature":
                time_sigs.setdefault(tick, (msg.numerator, msg.denominator))
            elif msg.type == "program_change":
                programs.setdefault(msg.channel, msg.program)
            elif msg.type == "note_on" and msg.velocity > 0:
                open_notes.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
            elif msg.type in ("note_off", "note_on"):
                starts = open_notes.get((msg.channel, msg.note))
                if starts:
                    start, velocity = starts.pop(0)
                    if tick > start:
                        by_channel.setdefault(msg.channel, []).append((start, tick, msg.note, velocity))
        last_tick = max(last_tick, tick)
        for (channel, pitch), starts in open_notes.items():  # notes that never end: close at track end
            for start, velocity in starts:
                if tick > start:
                    by_channel.setdefault(channel, []).append((start, tick, pitch, velocity))
        name = next((m.name for m in mtrack if m.type == "track_name"), "")
        for channel, raw in sorted(by_channel.items()):
            # sort plain tuples, then build Notes: same order as sorting Notes (their order is
            # field order) without the slow dataclass comparisons
            notes = [Note(*n) for n in sorted((s / tpb, e / tpb, p, v) for s, e, p, v in raw)]
            tracks.append(Track(notes=notes, program=programs.get(channel, 0),
                                is_drum=channel == GM_DRUM_CHANNEL, name=name))
    return finish_song(tracks, tempos, time_sigs, tpb, last_tick, limits)


def finish_song(tracks: list[Track], tempos: dict, time_sigs: dict, tpb: int, last_tick: int,
                limits: ReadLimits) -> Song:
    """The Song of a parsed file: tempo map and meters ({tick: bpm}, {tick: (num, den)}) in
    beats, defaults where a file has none, the file's end (`last_tick`, its last end-of-track)
    as `Song.length`, its resolution as `Song.ticks_per_beat`, and the duration cap. Shared by `read_midi` and
    the byte-level reader of composer/music/midifast.py, so both end a file the same way."""
    song = Song(tracks=tracks,
                tempos=[(t / tpb, bpm) for t, bpm in sorted(tempos.items())] or [(0.0, 120.0)],
                time_signatures=[(t / tpb, n, d) for t, (n, d) in sorted(time_sigs.items())] or [(0.0, 4, 4)],
                length=last_tick / tpb, ticks_per_beat=tpb)
    seconds = song.seconds_at(last_tick / tpb)
    if seconds > limits.max_seconds:
        raise MidiReadError(f"too long ({seconds / 60:.0f} minutes, limit {limits.max_seconds / 60:.0f})")
    return song


def song_to_midi(song: Song, *, ticks_per_beat: int | None = None) -> mido.MidiFile:
    """Build a type-1 mido file: a conductor track, then one track per `Track`.

    Times are written at `ticks_per_beat`, else at the song's own resolution
    (`Song.ticks_per_beat`: a song read and written again keeps every tick), else
    at WRITE_TICKS_PER_BEAT. The file ends at `Song.length_beats`: when that is
    after every event (a piece ending in rests), the conductor track ends there,
    with a text event 'end' for readers that ignore end-of-track (pretty_midi).
    """
    tpb = ticks_per_beat if ticks_per_beat is not None else song.ticks_per_beat or WRITE_TICKS_PER_BEAT
    if isinstance(tpb, bool) or not isinstance(tpb, int) or not 1 <= tpb <= 0x7FFF:
        raise ValueError(f"ticks_per_beat must be an int in 1..32767, got {tpb!r}")
    midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
    meta = [(round(b * tpb), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))) for b, bpm in song.tempos]
    meta += [(round(b * tpb), mido.MetaMessage("time_signature", numerator=n, denominator=d))
             for b, n, d in song.time_signatures]
    tracks = [_track_events(track, index, tpb) for index, track in enumerate(song.tracks)]
    last = max((tick for events in [meta, *tracks] for tick, _ in events), default=0)
    end = round(song.length_beats * tpb)
    if end > last:
        meta.append((end, mido.MetaMessage("text", text="end")))
    midi.tracks.append(_delta_track(meta))
    midi.tracks.extend(_delta_track(events) for events in tracks)
    return midi


def _track_events(track: Track, index: int, tpb: int) -> list[tuple[int, mido.Message]]:
    """(tick, message) of one `Track`: name, program, notes on the channel its index gives."""
    free_channels = [c for c in range(16) if c != GM_DRUM_CHANNEL]
    channel = GM_DRUM_CHANNEL if track.is_drum else free_channels[index % len(free_channels)]
    events = []
    if track.name:
        # MIDI text is latin-1 (mido's encoding); other characters become '?'
        name = track.name.encode("latin-1", "replace").decode("latin-1")
        events.append((0, mido.MetaMessage("track_name", name=name)))
    events.append((0, mido.Message("program_change", channel=channel, program=track.program)))
    for note in track.notes:
        start, end = round(note.start * tpb), round(note.end * tpb)
        end = max(end, start + 1)
        events.append((start, mido.Message("note_on", channel=channel, note=note.pitch, velocity=note.velocity)))
        events.append((end, mido.Message("note_off", channel=channel, note=note.pitch, velocity=0)))
    return events


def _delta_track(events: list[tuple[int, mido.Message]]) -> mido.MidiTrack:
    # Stable sort by tick with note-offs before note-ons at the same tick, so a
    # repeated pitch re-sounds instead of being cut by its own earlier note-off.
    order = {"note_off": 0}
    events = sorted(events, key=lambda e: (e[0], order.get(e[1].type, 1)))
    track, prev = mido.MidiTrack(), 0
    for tick, msg in events:
        track.append(msg.copy(time=tick - prev))
        prev = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def song_to_bytes(song: Song, *, ticks_per_beat: int | None = None) -> bytes:
    """The Standard MIDI File of `song` (see `song_to_midi`)."""
    buffer = io.BytesIO()
    song_to_midi(song, ticks_per_beat=ticks_per_beat).save(file=buffer)
    return buffer.getvalue()


def _name_head(name: str, limit: int = 100) -> str:
    """The start of `name`, at most `limit` bytes of UTF-8 (never half a character)."""
    return name.encode()[:limit].decode(errors="ignore")


def leftover_temp_files(path: str | os.PathLike) -> list[Path]:
    """Temporary files that `write_atomic(path)` leaves when it is killed mid-write
    (SIGKILL, power cut): regular files next to `path` named as its temp files are
    (mkstemp: 8 characters of [a-z0-9_]). Only the caller knows no write is running."""
    path = Path(path)
    pattern = re.compile(re.escape(f".{_name_head(path.name)}.") + r"[a-z0-9_]{8}\.tmp")
    try:
        with os.scandir(path.parent) as entries:
            return sorted(Path(e.path) for e in entries
                          if pattern.fullmatch(e.name) and e.is_file(follow_symlinks=False))
    except OSError:
        return []


def write_atomic(path: str | os.PathLike, data: bytes, *, force: bool = False) -> Path:
    """Write `data` to `path` via a temp file, fsync and rename.

    Without `force`, an existing file is never replaced (OutputExistsError);
    a device node, FIFO, socket or folder never is (NotAFileError).
    On any failure the previous file at `path` is left intact.
    """
    path = Path(path)
    check_target(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path} already exists (use --force to overwrite)")
    try:
        # the temp name holds at most 100 bytes of the file's name: a legal 250-byte name must not overflow
        fd, tmp = tempfile.mkstemp(prefix=f".{_name_head(path.name)}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        os.fchmod(fd, _file_mode(path))      # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        check_target(path)                   # again: the path may have changed while the data was written
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    return path


def _file_mode(path: Path) -> int:
    """The mode a replaced file keeps, or 0666 minus the umask for a new file."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_midi(song: Song, path: str | os.PathLike, *, force: bool = False,
               ticks_per_beat: int | None = None) -> Path:
    """Write `song` as a Standard MIDI File, atomically (resolution and end: `song_to_midi`)."""
    return write_atomic(path, song_to_bytes(song, ticks_per_beat=ticks_per_beat), force=force)
