"""What can be read of a damaged Standard MIDI File, and what is wrong with it.

DAWs and synthesizers play a truncated or slightly broken file up to where it
breaks. `read_midi` walks every file with `salvage` before mido reads it: one
pass over the bytes, event by event, with mido's rules and no object per
event. A file with no problem is then read as it is. Of a damaged one, each
track keeps its events before its first damage (a message cut off by the end
of the file or of its chunk, a data byte where an event should start or
after a sysex or system message, which running status cannot follow, an
undefined status byte, a meta event mido cannot decode, a payload over mido's
1,000,000 bytes), and reading goes on at the next `MTrk`. A track whose length
is wrong ends where its events end (see `_TrackWalk`). The events kept are
copied byte for byte into a new, well-formed file (chunk lengths that match,
an end-of-track per track), which `read_midi` reads like any other, caps
included; notes left hanging end with their track there. The problems are
said in words, with byte offsets, first one first: the same words say why a
file is refused when salvage is off.

Never reads past a bound: every length is checked against the chunk or the
file before it is used, and no payload over 1,000,000 bytes is decoded. The
work is one pass over the bytes (two over a track whose length is wrong, plus
one `find` per track); the output is never larger than the input plus 12
bytes per track.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from mido.messages.specs import SPEC_BY_STATUS
from mido.midifiles.meta import _META_SPECS, build_meta_message, meta_charset

MAX_MESSAGE_LENGTH = 1_000_000          # mido refuses longer sysex and meta payloads
_END_OF_TRACK = b"\x00\xff\x2f\x00"


class _Damage(Exception):
    """The event at `at` cannot be read: `what` says why."""

    def __init__(self, at: int, what: str):
        super().__init__(what)
        self.at, self.what = at, what


@dataclass
class Salvaged:
    """What a walk over a file found: `data`, its readable part as a well-formed
    SMF; `problems`, what is wrong with it in the order found (none: intact)."""

    data: bytes
    problems: list[str] = field(default_factory=list)
    tracks: int = 0             # tracks read
    events: int = 0             # events kept, counted up to one past the cap given to `salvage`


def salvage(data: bytes, max_events: int) -> Salvaged:
    """The readable part of `data` (which starts with an MThd header of at least
    14 bytes). Reads at most the tracks the header announces, and stops past
    `max_events` events (the caller's cap refuses that many)."""
    header_size = struct.unpack(">I", data[4:8])[0]
    fmt, ntracks, division = struct.unpack(">HhH", data[8:14])
    problems: list[str] = []
    pos = 8 + header_size
    if header_size != 6 and not (data.startswith(b"MTrk", pos) or pos == len(data)):
        problems.append(f"the header's length is wrong ({header_size:,} bytes, not 6)")
        pos = 14
    bodies: list[bytes] = []
    events, damaged = 0, False
    while len(bodies) < ntracks and events <= max_events:
        found = data.find(b"MTrk", pos)
        if found < 0:
            if pos < len(data) and not damaged:
                problems.append(f"{len(data) - pos:,} bytes at byte {pos:,} are not a track")
            break
        if found > pos and not damaged:     # (after damage, the rest of the damaged track is skipped)
            problems.append(f"skipped {found - pos:,} bytes that are not a track at byte {pos:,}")
        if found + 8 > len(data):
            problems.append(f"truncated at byte {len(data):,} (in the header of track {len(bodies) + 1})")
            break
        walk = _TrackWalk(data, found, len(bodies) + 1)
        body, pos = walk.run(max_events - events)
        events += walk.events
        bodies.append(body)
        damaged = bool(walk.problem)
        if damaged:
            problems.append(walk.problem)
    if len(bodies) < ntracks and pos >= len(data) and not any(p.startswith("truncated") for p in problems):
        problems.append(f"the header announces {ntracks} tracks, the file holds {len(bodies)}")
    out = [b"MThd", struct.pack(">IHHH", 6, fmt, len(bodies), division)]
    for body in bodies:
        out += [b"MTrk", struct.pack(">I", len(body)), body]
    return Salvaged(b"".join(out), problems, len(bodies), events)


class _TrackWalk:
    """One MTrk chunk at data[start:], read event by event as mido reads it.

    Its declared length is trusted while it is inside the file and no event
    crosses it: mido reads exactly that many bytes, whatever they hold, and so
    does this walk. An event that crosses it, or a length past the file's end,
    makes it wrong: the events are then read again up to the end-of-track, an
    `MTrk` where an event should start (the length swallowed the next track),
    or the file's end."""

    def __init__(self, data: bytes, start: int, number: int):
        self.data, self.number = data, number
        self.length = struct.unpack(">I", data[start + 4:start + 8])[0]
        self.begin = start + 8
        self.trusted = self.begin + self.length <= len(data)
        self.crossing: _Damage | None = None    # the event that crossed the declared end
        self.events, self.problem = 0, ""
        self.last_status: int | None = None
        self.ended = False              # the last event read was an end-of-track

    @property
    def bound(self) -> int:
        return self.begin + self.length if self.trusted else len(self.data)

    def run(self, max_events: int) -> tuple[bytes, int]:
        """(the events kept, with an end-of-track; where to look for the next track)."""
        try:
            pos = self._walk(max_events)
        except _Damage as damage:
            if damage is not self.crossing:
                self.problem = damage.what
                return self._body(damage.at), damage.at
            self.trusted, self.events, self.last_status = False, 0, None      # read again, untrusted
            try:
                pos = self._walk(max_events)
            except _Damage as again:
                self.problem = (self.crossing if again.at >= self.crossing.at else again).what
                return self._body(min(again.at, self.crossing.at)), min(again.at, self.crossing.at)
        if pos - self.begin != self.length:
            self.problem = (f"truncated at byte {len(self.data):,} (in track {self.number})"
                            if pos >= len(self.data) and not self.ended
                            else f"track {self.number}'s length is wrong (says {self.length:,} bytes, "
                                 f"its events take {pos - self.begin:,})")
        return self._body(pos), pos

    def _walk(self, max_events: int) -> int:
        """Read events from the chunk's start; returns where they end (raises _Damage)."""
        data, pos, bound = self.data, self.begin, self.bound
        self.ended = False
        while pos < bound and self.events <= max_events:
            if not self.trusted and (self.ended or data.startswith(b"MTrk", pos)):
                break
            pos = self._event(pos)
            self.events += 1
        return pos

    def _body(self, end: int) -> bytes:
        body = self.data[self.begin:end]
        return body if self.ended else body + _END_OF_TRACK

    def _cut(self, at: int, what: str) -> _Damage:
        """The damage of `what` (e.g. "a sysex message") at `at`, which needs bytes past the bound."""
        if self.trusted:                # the declared length is wrong, or the event is
            self.crossing = _Damage(at, f"{what} runs past the end of track {self.number} at byte {at:,}")
            return self.crossing
        return _Damage(at, f"truncated at byte {len(self.data):,} ({what} of track {self.number} is cut off)")

    def _varlen(self, at: int, pos: int, what: str) -> tuple[int, int]:
        value = 0
        while True:
            if pos >= self.bound:
                raise self._cut(at, what)
            byte = self.data[pos]
            pos += 1
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                return value, pos

    def _event(self, at: int) -> int:
        """Check the event at `at`; returns the position after it or raises _Damage."""
        data = self.data
        self.ended = False
        _delta, pos = self._varlen(at, at, "a delta time")
        if pos >= self.bound:
            raise self._cut(at, "an event")
        status = data[pos]
        if status < 0x80:
            if self.last_status is None:
                raise _Damage(at, f"a data byte (0x{status:02X}) where an event should start at byte {pos:,} "
                                  f"of track {self.number} (running status with no status before it)")
            if self.last_status >= 0xF0:
                raise _Damage(at, f"a data byte (0x{status:02X}) after a system message at byte {pos:,} "
                                  f"of track {self.number} (running status cannot follow one)")
            status = self.last_status
        else:
            pos += 1
            if status != 0xFF:
                self.last_status = status
        if status == 0xFF:
            return self._meta(at, pos)
        if status in (0xF0, 0xF7):
            length, pos = self._varlen(at, pos, "a sysex message")
            return self._payload(at, pos, length, "a sysex message")
        spec = SPEC_BY_STATUS.get(status)
        if spec is None:
            raise _Damage(at, f"an undefined status byte 0x{status:02X} at byte {pos - 1:,} of track {self.number}")
        end = pos + spec["length"] - 1      # its data bytes start at pos, with or without running status
        if end > self.bound:
            raise self._cut(at, _a(spec["type"].replace("_", "-") + " message"))
        return end

    def _payload(self, at: int, pos: int, length: int, what: str) -> int:
        if length > MAX_MESSAGE_LENGTH:
            raise _Damage(at, f"{what} at byte {at:,} of track {self.number} claims {length:,} bytes "
                              f"(limit {MAX_MESSAGE_LENGTH:,})")
        if pos + length > self.bound:
            raise self._cut(at, what)
        return pos + length

    def _meta(self, at: int, pos: int) -> int:
        if pos >= self.bound:
            raise self._cut(at, "a meta event")
        meta_type = self.data[pos]
        spec = _META_SPECS.get(meta_type)
        what = _a((spec.type.replace("_", " ") if spec else "meta") + " event")
        length, pos = self._varlen(at, pos + 1, what)
        end = self._payload(at, pos, length, what)
        if spec is not None:
            try:
                with meta_charset("latin1"):
                    build_meta_message(meta_type, list(self.data[pos:end]), 0)
            except Exception as exc:  # noqa: BLE001 -- any refusal by mido is this event's damage
                why = _why(exc, length)
                raise _Damage(at, f"{what} at byte {at:,} of track {self.number} is unreadable ({why})") from None
        self.ended = meta_type == 0x2F
        return end


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _why(exc: Exception, length: int) -> str:
    """mido's refusal of a meta event's payload in words (no exception names)."""
    if isinstance(exc, (IndexError, struct.error)):
        return f"{length} byte{'s' if length != 1 else ''} is too short"
    if isinstance(exc, (KeyError, TypeError)) or not str(exc):
        return "a value out of range"
    text = str(exc)
    return text[0].lower() + text[1:]
