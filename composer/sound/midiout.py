"""Send a `Song` to a MIDI output port (a hardware synth, a DAW, a software synth).

Qt-free. Ports come from mido with its python-rtmidi backend (ALSA sequencer
on Linux, CoreMIDI on macOS, Windows MM; MIDO_BACKEND selects another, e.g.
`mido.backends.rtmidi/UNIX_JACK`). When the machine has no MIDI system
(Linux without /dev/snd/seq, as in most containers) everything reports
"no MIDI ports: ..." instead of failing: `list_output_ports()` returns [],
`midi_status()` returns (False, reason), opening a port raises MidiUnavailable.

A `MidiOutput` opens its port once and reuses it for every piece. `play()`
sends on a background thread, timed against `time.perf_counter()` from the
tempo map; `stop()` interrupts at once and silences the port (note-offs for
sounding notes, then All Notes Off and sustain off on every channel used).
Channels and programs are those of the written .mid file (`composer.music.midifile.song_to_midi`):
pitched tracks on channels 1-9 and 11-16, drums on channel 10.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import mido

from composer.errors import ComposerError
from composer.music.song import GM_DRUM_CHANNEL, Song

log = logging.getLogger(__name__)

ALSA_SEQUENCER = "/dev/snd/seq"
ALL_NOTES_OFF = 123       # MIDI controller numbers
SUSTAIN_PEDAL = 64
# What a failing port raises: rtmidi's errors derive from OSError; mido adds ValueError/RuntimeError.
PORT_ERRORS = (OSError, RuntimeError, ValueError)


class MidiUnavailable(ComposerError):
    """No MIDI output is possible here (no MIDI system, no such port, port busy)."""


def _backend_problem() -> str | None:
    """Why the rtmidi backend cannot list ports on this machine, checked without touching it
    (so ALSA does not write errors to stderr); None if it should work."""
    try:
        import rtmidi  # noqa: F401
    except ImportError as exc:
        return f"no MIDI ports: python-rtmidi is not installed ({exc})"
    backend = os.environ.get("MIDO_BACKEND", "")
    uses_alsa = "/" not in backend or backend.endswith("LINUX_ALSA")
    if sys.platform.startswith("linux") and uses_alsa and not os.path.exists(ALSA_SEQUENCER):
        return (f"no MIDI ports: the ALSA sequencer ({ALSA_SEQUENCER}) is not available on this machine "
                "(load the snd-seq kernel module, or run in a session with sound devices)")
    return None


def list_output_ports() -> list[str]:
    """Names of the MIDI output ports, [] when there are none or no MIDI system (never raises)."""
    if _backend_problem():
        return []
    try:
        return list(mido.get_output_names())
    except PORT_ERRORS as exc:
        log.warning("cannot list MIDI output ports: %s", exc)
        return []


def midi_status() -> tuple[bool, str]:
    """(available, reason): can a piece be sent to a MIDI port here? The reason suits a tooltip."""
    problem = _backend_problem()
    if problem:
        return False, problem
    ports = list_output_ports()
    if not ports:
        return False, "no MIDI ports: no MIDI output port was found (connect a device or start a software synth)"
    return True, f"{len(ports)} MIDI output port(s): {', '.join(ports)}"


@dataclass(frozen=True, order=True)
class ChannelEvent:
    """One channel message of a song at its time in seconds (tempo map applied)."""

    seconds: float
    order: int        # at the same instant: 0 note-off, 1 program change, 2 note-on
    kind: str         # "off" | "program" | "on"
    channel: int      # 0..15; GM drums on 9 (channel 10)
    data1: int        # pitch, or program
    data2: int = 0    # velocity of a note-on

    def to_message(self) -> mido.Message:
        if self.kind == "on":
            return mido.Message("note_on", channel=self.channel, note=self.data1, velocity=self.data2)
        if self.kind == "off":
            return mido.Message("note_off", channel=self.channel, note=self.data1, velocity=0)
        return mido.Message("program_change", channel=self.channel, program=self.data1)


def channel_events(song: Song) -> list[ChannelEvent]:
    """The song as time-ordered channel events, on the channels `song_to_midi` writes:
    drum tracks on GM_DRUM_CHANNEL, pitched track i on the i-th free channel (modulo 15).
    Both the synthesizer and MIDI out play this list, so they agree with the .mid file."""
    free_channels = [c for c in range(16) if c != GM_DRUM_CHANNEL]
    events = []
    for index, track in enumerate(song.tracks):
        if not track.notes:
            continue
        channel = GM_DRUM_CHANNEL if track.is_drum else free_channels[index % len(free_channels)]
        events.append(ChannelEvent(0.0, 1, "program", channel, track.program))
        for note in track.notes:
            events.append(ChannelEvent(song.seconds_at(note.start), 2, "on", channel, note.pitch, note.velocity))
            events.append(ChannelEvent(song.seconds_at(note.end), 0, "off", channel, note.pitch))
    events.sort()
    return events


def song_messages(song: Song) -> list[tuple[float, mido.Message]]:
    """The song's channel messages as (seconds from the start, mido.Message)."""
    return [(event.seconds, event.to_message()) for event in channel_events(song)]


class MidiOutput:
    """One MIDI output port, opened once and reused for every `play()`.

    `port` is a port name from `list_output_ports()`, None for the system's
    first port, or an already open mido output port (owned by the caller).
    With `virtual=True` and a name, a new virtual port is created that other
    programs can connect to (ALSA/JACK/CoreMIDI only).
    """

    def __init__(self, port: str | mido.ports.BaseOutput | None = None, *, virtual: bool = False):
        self._owns_port = not isinstance(port, mido.ports.BaseOutput)
        if self._owns_port:
            port = self._open(port, virtual)
        self.port = port
        self.name = getattr(port, "name", None) or "MIDI output"
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._start_time = 0.0
        self.last_error: str | None = None

    @staticmethod
    def _open(name: str | None, virtual: bool) -> mido.ports.BaseOutput:
        problem = _backend_problem()
        if problem:
            raise MidiUnavailable(problem)
        if virtual and not name:
            raise ValueError("a virtual MIDI port needs a name")
        if not virtual:
            ports = list_output_ports()
            if not ports:
                raise MidiUnavailable("no MIDI ports: no MIDI output port was found")
            if name is not None and name not in ports:
                raise MidiUnavailable(f"no MIDI output port named {name!r}; ports: {', '.join(ports)}")
        try:
            return mido.open_output(name, virtual=virtual)
        except PORT_ERRORS as exc:  # busy port, vanished device
            raise MidiUnavailable(f"cannot open MIDI output {name or '(default)'}: {exc}") from None

    @property
    def is_playing(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def position(self) -> float:
        """Seconds since the current piece started (0 when idle)."""
        return time.perf_counter() - self._start_time if self.is_playing else 0.0

    def play(self, song: Song, *, on_position: Callable[[float], None] | None = None,
             on_finished: Callable[[str], None] | None = None) -> None:
        """Start sending `song` on a background thread; stops a piece already playing first.

        on_position(seconds) is called from that thread after each message;
        on_finished(reason) once at the end, reason "finished", "stopped" or
        "error: ..." (the port failed; also in `last_error` and the log).
        """
        if not isinstance(song, Song):
            raise TypeError(f"song must be a composer.music.song.Song, got {type(song).__name__}")
        if self.port is None or self.port.closed:
            raise MidiUnavailable(f"MIDI output {self.name} is closed")
        self.stop()
        events = song_messages(song)
        self._stop.clear()
        self.last_error = None
        self._start_time = time.perf_counter()
        self._thread = threading.Thread(target=self._run, args=(events, on_position, on_finished),
                                        name="midi-out", daemon=True)
        self._thread.start()

    def _run(self, events, on_position, on_finished) -> None:
        sounding: set[tuple[int, int]] = set()
        channels = {msg.channel for _, msg in events}
        reason = "finished"
        try:
            for seconds, msg in events:
                if not self._wait_until(self._start_time + seconds):
                    reason = "stopped"
                    break
                with self._lock:
                    self.port.send(msg)
                if msg.type == "note_on" and msg.velocity > 0:
                    sounding.add((msg.channel, msg.note))
                elif msg.type in ("note_on", "note_off"):
                    sounding.discard((msg.channel, msg.note))
                if on_position is not None:
                    on_position(seconds)
        except PORT_ERRORS as exc:  # the port failed mid-piece (device unplugged...)
            reason = f"error: MIDI output {self.name} failed: {exc}"
            self.last_error = reason
            log.error("%s", reason)
        finally:
            if reason != "finished" or sounding:
                self._silence(sounding, channels)
            if on_finished is not None:
                on_finished(reason)

    def _wait_until(self, deadline: float) -> bool:
        """Sleep until perf_counter() >= deadline (never early); False if stop() came first."""
        while (delay := deadline - time.perf_counter()) > 0:
            if self._stop.wait(delay):
                return False
        return not self._stop.is_set()

    def _silence(self, sounding: set[tuple[int, int]], channels: set[int]) -> None:
        """Note-offs for every sounding note, then All Notes Off and sustain off per channel."""
        try:
            with self._lock:
                for channel, note in sorted(sounding):
                    self.port.send(mido.Message("note_off", channel=channel, note=note, velocity=0))
                for channel in sorted(channels):
                    self.port.send(mido.Message("control_change", channel=channel, control=SUSTAIN_PEDAL, value=0))
                    self.port.send(mido.Message("control_change", channel=channel, control=ALL_NOTES_OFF, value=0))
        except PORT_ERRORS as exc:
            log.warning("could not silence MIDI output %s: %s", self.name, exc)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the piece now (returns when the sender has silenced the port)."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        if thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the piece ends; True if it did within `timeout` seconds."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def close(self) -> None:
        """Stop and close the port (if this object opened it)."""
        self.stop()
        if self._owns_port and self.port is not None and not self.port.closed:
            self.port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


__all__ = ["ChannelEvent", "MidiOutput", "MidiUnavailable", "channel_events", "list_output_ports", "midi_status",
           "song_messages"]
