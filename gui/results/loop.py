"""Loop playback: with Loop on, Play repeats the bars selected on the ruler
(the whole piece without a selection) until Stop; the playhead stays in them."""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QToolButton

from composer.music.song import Note, Song

LOOP_TAIL_SECONDS = 0.05     # release after each pass: the next pass follows at once
LOOP_TIP = "Play repeats the bars selected on the ruler (the whole piece without a selection) until Stop"


def bars_song(song: Song, first: int, last: int) -> tuple[Song, float]:
    """Bars `first`..`last` (1-based, inclusive, opening meter) of `song` as a song
    of their own that starts at beat 0, and the beat they start at in `song`.
    Notes that start in the bars are kept (cut at their end); the tempo in
    force at the first bar carries over."""
    bar = song.bar_length()
    start, end = (first - 1) * bar, last * bar
    tracks = [replace(t, notes=[Note(n.start - start, min(n.end, end) - start, n.pitch, n.velocity)
                                for n in t.notes if start - 1e-9 <= n.start < end - 1e-9])
              for t in song.tracks]
    opening = [bpm for beat, bpm in song.tempos if beat <= start + 1e-9][-1]
    tempos = [(0.0, opening)] + [(beat - start, bpm) for beat, bpm in song.tempos if start + 1e-9 < beat < end]
    return replace(song, tracks=tracks, tempos=tempos, time_signatures=[(0.0, *song.time_signature)],
                   length=end - start), start


class LoopPlayback(QObject):
    """The Loop button and the replaying: `song_to_play` before each Play,
    `stop` when the user stops; `beat` maps the player's seconds to the roll."""

    def __init__(self, sound, roll, parent: QObject | None = None):
        super().__init__(parent)
        self.sound, self.roll = sound, roll
        self.button = QToolButton()
        self.button.setText("Loop")
        self.button.setCheckable(True)
        self.button.setToolTip(LOOP_TIP)
        self.song: Song | None = None          # what is being looped, None when not looping
        self.offset = 0.0                      # the beat of the song shown where `song` starts
        sound.playingChanged.connect(self._on_playing)
        sound.failed.connect(self.stop)

    def song_to_play(self, song: Song | None) -> Song | None:
        """What Play plays of `song`: its selected bars while Loop is on."""
        self.song, self.offset = None, 0.0
        if song is None or not self.button.isChecked():
            return song
        selection = self.roll.selection
        self.song, self.offset = bars_song(song, *selection) if selection else (song, 0.0)
        return self.song

    def play(self, song: Song | None) -> None:
        """Play `song` (None: nothing), its selected bars over and over while Loop is on."""
        song = self.song_to_play(song)
        if song is not None:
            self.sound.toggle(song, tail_seconds=LOOP_TAIL_SECONDS if self.song is not None else None)

    def stop(self) -> None:
        self.song = None

    def beat(self, song: Song, seconds: float) -> float:
        """The beat of `song` (the one shown) the player is at after `seconds`."""
        if self.song is None:
            return song.beat_at(seconds)
        return self.offset + min(self.song.beat_at(seconds), self.song.length_beats)

    def _on_playing(self, playing: bool) -> None:
        if not playing and self.song is not None:
            QTimer.singleShot(0, self._again)      # not inside the player's own stop

    def _again(self) -> None:
        if self.song is not None and not self.sound.playing:
            self.sound.toggle(self.song, tail_seconds=LOOP_TAIL_SECONDS)
