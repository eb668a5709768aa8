"""Play latency of the app's player: `python -m benchmarks.playback --runs 10`
(with QT_QPA_PLATFORM=offscreen) plays a one-minute piece RUNS times on this
machine's default audio output and prints how long play() took to return and
when the first audio block was handed to the output."""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from composer.music.song import Note, melody_song
from gui.player import Player


def measure(runs: int, idle_seconds: float) -> None:
    """Time Play for a one-minute piece on this machine's default output."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    song = melody_song([Note(i * 0.5, (i + 1) * 0.5, 60 + (i * 7) % 24, 90) for i in range(240)])  # 60 s
    player = Player()
    available, reason = player.is_available()
    print("output:", reason)
    if not available:
        return

    def spin(seconds: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    spin(idle_seconds)                  # the app has been open a moment when the user presses Play
    returned, first_block = [], []
    for _ in range(runs):
        start = time.perf_counter()
        player.play(song)
        returned.append(time.perf_counter() - start)
        spin(0.5)
        first_block.append(player.start_latency)
        player.stop()
        spin(0.2)
    ms = [round(x * 1000, 1) for x in first_block]
    print(f"play() returned after (ms): {[round(x * 1000, 1) for x in returned]}")
    print(f"first audio block handed to the output after (ms): {ms}")
    print(f"median {statistics.median(ms)} ms, max {max(ms)} ms over {runs} runs "
          f"of a {song.duration_seconds:.0f} s piece")
    del app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Measure Play latency for a one-minute piece.")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--idle", type=float, default=1.0, help="seconds between start-up and the first Play")
    args = parser.parse_args()
    measure(args.runs, args.idle)
