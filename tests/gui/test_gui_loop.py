"""Loop playback of the selected bars, and a note heard when clicked, with
the real players: on a private PulseAudio null sink (tests/gui/conftest.py)
in a subprocess, so this session's Qt never sees that server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from composer.music.song import Note, melody_song
from gui.results.loop import bars_song

ROOT = Path(__file__).resolve().parents[2]


def test_bars_song_is_the_selected_bars_from_beat_0_with_their_tempo():
    song = melody_song([Note(2, 5, 60), Note(5, 6, 62), Note(7, 9, 64), Note(9, 10, 65)], tempo=100)
    song.tempos.append((6.0, 140.0))
    part, start = bars_song(song, 2, 2)
    assert start == 4.0 and part.length == 4.0
    assert part.notes == [Note(1, 2, 62), Note(3, 4, 64)]         # starts in bar 2; the last cut at its end
    assert part.tempos == [(0.0, 100.0), (2.0, 140.0)]
    assert bars_song(song, 3, 3)[0].tempos == [(0.0, 140.0)]
    assert song.notes[0] == Note(2, 5, 60)                          # the song itself is unchanged


LOOP_SCRIPT = r"""
import json, os, sys, tempfile, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from pathlib import Path
from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication, QWidget
from composer.music.song import Note, melody_song
from gui.dialogs import Dialogs
from gui.results.panel import ResultsPanel
from gui.settings import Settings

app = QApplication([])
window = QWidget()
panel = ResultsPanel(Settings.at_path(Path(tempfile.mkdtemp()) / "s.ini"), Dialogs(window))

def spin_until(condition, limit):
    end = time.monotonic() + limit
    while not condition() and time.monotonic() < end:
        loop = QEventLoop(); QTimer.singleShot(20, loop.quit); loop.exec()

spin_until(lambda: False, 0.5)
song = melody_song([Note(b, b + 1, 60 + b) for b in range(12)], tempo=240)   # 3 bars of 1 s
panel.set_results([song], "melody", None, 0.0, generated=False)
result = {"play_reason": panel.play_reason}
states, beats = [], []
panel.sound.playingChanged.connect(states.append)
panel.sound.positionChanged.connect(lambda s: beats.append(panel.roll.playhead_beat))
panel.roll.set_selection(2, 2)
panel.loop.button.setChecked(True)
panel.toggle_play()
spin_until(lambda: states.count(True) >= 3, 30)
panel.toggle_play()                                           # Stop
spin_until(lambda: False, 1.5)
result.update(states=states, beats=[b for b in beats if b is not None], playing=panel.playing)

heard = []
panel.loop.button.setChecked(False)
panel.sound.audition(song, song.notes[3])
player = panel.sound.audition_player
player.stateChanged.connect(heard.append)
spin_until(lambda: "stopped" in heard, 10)
result.update(heard=["playing"] + heard if player is not None else [], main_playing=panel.playing)
print(json.dumps(result))
"""


@pytest.mark.system
def test_loop_repeats_the_selected_bar_until_stop_and_a_clicked_note_is_heard(pulse_server):
    env = dict(os.environ, PULSE_SERVER=pulse_server, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-c", LOOP_SCRIPT], env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["play_reason"] == ""
    states = result["states"]
    assert states[:5] == [True, False, True, False, True] and states[-1] is False and not result["playing"]
    assert states.count(True) == 3                               # no replay after Stop
    beats = result["beats"]
    assert beats and all(4.0 <= b <= 8.0 for b in beats)         # the playhead stays in bar 2
    assert min(beats) < 5.0 and max(beats) > 7.0
    assert result["heard"] == ["playing", "stopped"] and not result["main_playing"]
