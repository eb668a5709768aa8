"""composer.sound.midiout: the timeline, timed sending, stop with all-notes-off, and MIDI ports.

Port tests use a real rtmidi virtual port when this machine has a MIDI system
(Linux: the ALSA sequencer /dev/snd/seq). Containers usually lack it; there
the tests check that every entry point reports "no MIDI ports" cleanly.
Timing and stop behaviour are checked on a recording port: a subclass of
mido's BaseOutput (mido's own extension point), which is what MidiOutput
accepts as an already open port.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import mido
import pytest

from composer.music.midifile import song_to_bytes
from composer.music.song import Note, Song, Track, melody_song
from composer.sound.midiout import (
    ALSA_SEQUENCER,
    MidiOutput,
    MidiUnavailable,
    channel_events,
    list_output_ports,
    midi_status,
    song_messages,
)


class RecordingPort(mido.ports.BaseOutput):
    """An output port that keeps (perf_counter seconds, message) for every message sent."""

    def _open(self, **kwargs):
        self.sent: list[tuple[float, mido.Message]] = []
        self.lock = threading.Lock()

    def _send(self, msg):
        with self.lock:
            self.sent.append((time.perf_counter(), msg))


def two_track_song() -> Song:
    lead = Track(notes=[Note(i * 0.5, (i + 1) * 0.5, 64 + i, 90) for i in range(4)], program=73, name="flute")
    drums = Track(notes=[Note(i, i + 0.25, 36, 100) for i in range(2)], program=0, is_drum=True, name="kit")
    return Song(tracks=[lead, drums], tempos=[(0.0, 120.0), (1.0, 60.0)])


def test_timeline_uses_the_channels_and_programs_of_the_written_file():
    song = Song(tracks=[Track(notes=[Note(0, 1, 60 + i)], program=i) for i in range(17)]
                + [Track(notes=[Note(0, 1, 38)], is_drum=True)])
    written = mido.MidiFile(file=io.BytesIO(song_to_bytes(song)))
    file_notes = sorted((m.channel, m.note) for t in written.tracks for m in t if m.type == "note_on")
    file_programs = sorted((m.channel, m.program) for t in written.tracks for m in t if m.type == "program_change")
    events = channel_events(song)
    assert sorted((e.channel, e.data1) for e in events if e.kind == "on") == file_notes
    assert sorted((e.channel, e.data1) for e in events if e.kind == "program") == file_programs
    assert [e.channel for e in events if e.kind == "on" and e.data1 == 38] == [9]   # drums on channel 10


def test_timeline_follows_the_tempo_map_with_note_offs_first():
    song = two_track_song()                        # 120 bpm for beat 0..1, then 60 bpm
    times = [(round(t, 6), m.type, m.channel, getattr(m, "note", None)) for t, m in song_messages(song)]
    assert (0.5, "note_on", 9, 36) in times        # beat 1 at 120 bpm
    assert (1.0, "note_on", 0, 67) in times        # beat 1.5 = 0.5 s + 0.5 beat at 60 bpm
    at_one_second = [kind for t, kind, channel, _ in times if t == 1.0 and channel == 0]
    assert at_one_second == ["note_off", "note_on"]   # offs first: a re-struck pitch is never cut
    assert times[0][1] == "program_change"


def test_sends_every_message_in_order_never_early():
    port = RecordingPort(name="recorder")
    out = MidiOutput(port)
    song = two_track_song()
    expected = song_messages(song)
    finished = []
    positions = []
    out.play(song, on_position=positions.append, on_finished=finished.append)
    start = out._start_time
    assert out.wait(timeout=30)
    assert finished == ["finished"]
    assert [m for _, m in port.sent] == [m for _, m in expected]
    for (sent_at, _), (due, _) in zip(port.sent, expected):
        assert sent_at - start >= due               # the sender sleeps until each message is due
    assert positions == [due for due, _ in expected]


def test_stop_interrupts_and_silences_every_channel_used():
    port = RecordingPort(name="recorder")
    out = MidiOutput(port)
    song = Song(tracks=[Track(notes=[Note(0, 8, 60), Note(0, 8, 64)], program=48),
                        Track(notes=[Note(0, 8, 38)], is_drum=True)])
    finished = []
    out.play(song, on_finished=finished.append)
    deadline = time.perf_counter() + 10
    while sum(m.type == "note_on" for _, m in port.sent) < 3 and time.perf_counter() < deadline:
        time.sleep(0.01)
    out.stop()
    assert finished == ["stopped"] and not out.is_playing
    tail = [m for _, m in port.sent if m.type in ("note_off", "control_change")]
    offs = {(m.channel, m.note) for m in tail if m.type == "note_off"}
    assert offs == {(0, 60), (0, 64), (9, 38)}
    all_notes_off = {m.channel for m in tail if m.type == "control_change" and m.control == 123}
    assert all_notes_off == {0, 9}
    count = len(port.sent)
    time.sleep(0.2)
    assert len(port.sent) == count                  # nothing is sent after stop() returns


def test_the_port_is_reused_and_a_new_piece_replaces_the_playing_one():
    port = RecordingPort(name="recorder")
    out = MidiOutput(port)
    long_piece = melody_song([Note(0, 16, 60)])
    out.play(long_piece)
    out.play(melody_song([Note(0, 0.1, 72)]))      # stops the first (silencing it), then plays
    assert out.wait(timeout=10)
    notes = [(m.type, m.note) for _, m in port.sent if m.type in ("note_on", "note_off")]
    assert notes == [("note_on", 60), ("note_off", 60), ("note_on", 72), ("note_off", 72)]
    assert out.port is port and not port.closed
    out.close()
    assert not port.closed                         # a port passed in belongs to the caller


def test_ports_report_no_midi_cleanly_or_a_virtual_port_receives_the_piece():
    if not os.path.exists(ALSA_SEQUENCER):
        # This machine has no MIDI system (no ALSA sequencer device): documented behaviour.
        available, reason = midi_status()
        assert not available and reason.startswith("no MIDI ports: the ALSA sequencer")
        assert list_output_ports() == []
        with pytest.raises(MidiUnavailable, match="^no MIDI ports"):
            MidiOutput()
        with pytest.raises(MidiUnavailable, match="^no MIDI ports"):
            MidiOutput("rnn-composer-test", virtual=True)
        return
    with MidiOutput("rnn-composer-test", virtual=True) as out:
        assert any("rnn-composer-test" in name for name in mido.get_input_names())
        name = next(n for n in mido.get_input_names() if "rnn-composer-test" in n)
        with mido.open_input(name) as inport:
            out.play(melody_song([Note(0, 0.25, 60), Note(0.25, 0.5, 62)]))
            assert out.wait(timeout=10)
            time.sleep(0.1)
            received = [m.type for m in inport.iter_pending()]
        assert received.count("note_on") == 2 and received.count("note_off") == 2
        assert "rnn-composer-test" in " ".join(list_output_ports() + mido.get_input_names())


JACK_SCRIPT = r"""
import json, time
import mido
from composer.sound.midiout import MidiOutput, list_output_ports, midi_status
from composer.music.song import Note, melody_song

arrivals = []
def receive(msg):
    arrivals.append((time.perf_counter(), msg.dict()))

result = {"before": midi_status()}
with mido.open_input("synth-in", virtual=True, callback=receive):   # a software synth's MIDI input
    time.sleep(0.2)
    result["status"], result["ports"] = midi_status(), list_output_ports()
    name = next(p for p in result["ports"] if "synth-in" in p)
    out = MidiOutput(name)                                        # opened once, reused below
    time.sleep(0.3)                     # JACK connects ports asynchronously: let the connection settle
    piece = melody_song([Note(0, 0.25, 60), Note(0.25, 0.5, 62), Note(0.5, 0.75, 64)], tempo=120)
    out.play(piece)
    start = out._start_time
    out.wait(10)
    time.sleep(0.2)
    result["played"] = [(t - start, m["type"], m.get("note")) for t, m in arrivals]
    arrivals.clear()
    out.play(melody_song([Note(0, 30, 48)]))                      # a long note, stopped early
    time.sleep(0.3)
    out.stop()
    time.sleep(0.3)
    result["stopped"] = [m for _, m in arrivals]
    result["same_port"] = out.port is not None and not out.port.closed
    out.close()
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def jack_server(tmp_path_factory):
    """A private JACK server with the dummy driver: real MIDI ports on a machine without a sound card."""
    if shutil.which("jackd") is None:
        pytest.skip("needs the jackd program (Debian jackd2) to make MIDI ports without an ALSA sequencer")
    name = f"rnc-test-{os.getpid()}"
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    server = subprocess.Popen(["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", "44100", "-p", "256"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # wait until a client can connect: on a busy machine the server took more than the 1 s this once slept
    probe = "import rtmidi; rtmidi.MidiIn(rtmidi.API_UNIX_JACK, 'probe')"
    deadline = time.monotonic() + 30
    while server.poll() is None and time.monotonic() < deadline:
        probe_env = dict(env, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
        if subprocess.run([sys.executable, "-c", probe], env=probe_env,
                          capture_output=True, timeout=30, check=False).returncode == 0:
            break
        time.sleep(0.2)
    if server.poll() is not None:
        pytest.skip(f"jackd did not start: {server.stdout.read().decode(errors='replace')[-300:]}")
    yield name
    server.terminate()
    server.wait(timeout=10)


@pytest.mark.system
def test_a_real_port_lists_receives_on_time_and_gets_all_notes_off(jack_server):
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack_server, MIDO_BACKEND="mido.backends.rtmidi/UNIX_JACK",
               PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    run = subprocess.run([sys.executable, "-c", JACK_SCRIPT], env=env, capture_output=True, text=True,
                         timeout=60, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["before"] == [False, ("no MIDI ports: no MIDI output port was found "
                                        "(connect a device or start a software synth)")]
    assert result["status"][0] and any("synth-in" in p for p in result["ports"])
    kinds = [(kind, note) for _, kind, note in result["played"]]
    assert kinds == [("program_change", None), ("note_on", 60), ("note_off", 60), ("note_on", 62),
                     ("note_off", 62), ("note_on", 64), ("note_off", 64)]
    onsets = [t for t, kind, _ in result["played"] if kind == "note_on"]
    assert all(t >= due for t, due in zip(onsets, (0.0, 0.125, 0.25)))   # beats 0, 0.25, 0.5 at 120 bpm
    stopped = result["stopped"]
    assert {"type": "note_off", "channel": 0, "note": 48, "velocity": 0, "time": 0} in stopped
    assert any(m["type"] == "control_change" and m["control"] == 123 for m in stopped)
    assert result["same_port"]
