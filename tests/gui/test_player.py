"""gui.player.Player: availability reasons, the pull source, and real playback.

Real playback needs an audio output. Test machines have no sound card, so
the playback test starts a private PulseAudio server with a null sink (when
the `pulseaudio` program is installed) and runs the player in a subprocess
pointed at it, so this test session's Qt never sees that server. Without
PulseAudio it is skipped with that reason.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QIODevice
from PySide6.QtMultimedia import QAudioDevice

from composer.music.song import Note, melody_song
from composer.sound import audio
from gui.player import NO_DEVICE, Player, _SongSource

ROOT = Path(__file__).resolve().parents[2]


def test_without_an_output_device_play_is_refused_with_the_reason(qtbot):
    player = Player(device=QAudioDevice())           # what Qt reports when there is no output
    assert player.is_available() == (False, NO_DEVICE)
    states = []
    player.stateChanged.connect(states.append)
    with qtbot.waitSignal(player.error, timeout=2000) as error:
        player.play(melody_song([Note(0, 1, 60)]))
    assert error.args == [f"Cannot play: {NO_DEVICE}"]
    assert states == [] and player.state == "stopped" and player.position() == 0.0
    player.stop()                                    # harmless when idle


def test_a_missing_soundfont_disables_play_with_its_path(qtbot, tmp_path):
    missing = tmp_path / "gone.sf2"
    player = Player(soundfont=missing)
    assert player.is_available() == (False, f"SoundFont not found: {missing}")
    player.set_soundfont(None)
    available, reason = player.is_available()
    assert (available and "TimGM6mb.sf2" in reason) or (not available and reason == NO_DEVICE)


@pytest.mark.parametrize("int16", [False, True])
def test_the_pull_source_delivers_the_render_in_the_sink_format(qtbot, int16):
    song = melody_song([Note(i * 0.5, (i + 1) * 0.5, 60 + i, 90) for i in range(4)])
    expected = audio.render_audio(song)
    source = _SongSource(audio.SongRenderer(song), int16)
    assert source.open(QIODevice.OpenModeFlag.ReadOnly)
    chunks = []
    while source.bytesAvailable() > 0:
        chunks.append(bytes(source.read(7000)))     # odd sizes, like a sink's requests
    source.close()
    source.renderer.close()
    data = b"".join(chunks)
    if int16:
        got = np.frombuffer(data, dtype="<i2").reshape(-1, 2) / 32767.0
        assert np.max(np.abs(got - expected)) <= 1 / 32767
    else:
        got = np.frombuffer(data, dtype="<f4").reshape(-1, 2)
        assert np.array_equal(got, expected)


PLAYBACK_SCRIPT = r"""
import json, os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication
from composer.music.song import Note, melody_song
from gui.player import Player

app = QApplication([])
player = Player()
result = {"available": player.is_available()}
states, positions, errors = [], [], []
player.stateChanged.connect(states.append)
player.positionChanged.connect(positions.append)
player.error.connect(errors.append)

def spin_until(condition, limit):
    end = time.monotonic() + limit
    while not condition() and time.monotonic() < end:
        loop = QEventLoop(); QTimer.singleShot(20, loop.quit); loop.exec()

spin_until(lambda: False, 0.5)                       # the app has been open a moment before Play
short = melody_song([Note(0, 1, 69, 100)], tempo=120)  # one bar (2 s) + release tail
player.play(short)
spin_until(lambda: states[-1:] == ["stopped"], 30)
result.update(states=list(states), positions=list(positions), errors=list(errors),
              first_latency=player.start_latency)

minute = melody_song([Note(i * 0.5, (i + 1) * 0.5, 60 + (i * 7) % 24, 90) for i in range(240)])
states.clear(); positions.clear()
player.play(minute)
spin_until(lambda: bool(positions) and positions[-1] > 0.3, 30)
player.stop()
stopped_position = player.position()
spin_until(lambda: False, 0.3)
result.update(minute_states=list(states), minute_positions=positions, after_stop=stopped_position,
              minute_latency=player.start_latency, errors2=list(errors))
print(json.dumps(result))
"""


@pytest.mark.system
def test_plays_a_piece_to_the_end_and_stops_at_once_on_a_real_output(pulse_server):
    env = dict(os.environ, PULSE_SERVER=pulse_server, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-c", PLAYBACK_SCRIPT], env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["available"][0], result["available"]
    assert result["errors"] == [] and result["errors2"] == []
    assert result["states"] == ["playing", "stopped"]
    positions = result["positions"]
    assert positions == sorted(positions) and positions[-1] == pytest.approx(2.0 + audio.RELEASE_TAIL_SECONDS)
    assert result["first_latency"] is not None              # the output did consume audio
    assert result["minute_states"] == ["playing", "stopped"]
    assert result["after_stop"] == 0.0 and max(result["minute_positions"]) < 60


def test_midi_player_reports_why_it_cannot_send(qtbot):
    from composer.sound.midiout import midi_status
    from gui.player import MidiPlayer
    player = MidiPlayer()
    available, reason = player.is_available()
    assert (available, reason) == midi_status()
    if available:
        pytest.skip(f"this machine has MIDI ports ({reason}); the no-port path is not reachable")
    assert reason.startswith("no MIDI ports") and MidiPlayer.ports() == []
    states = []
    player.stateChanged.connect(states.append)
    with qtbot.waitSignal(player.error, timeout=2000) as error:
        player.play(melody_song([Note(0, 1, 60)]))
    assert error.args[0].startswith("Cannot send to MIDI: no MIDI ports") and states == []
    player.close()
