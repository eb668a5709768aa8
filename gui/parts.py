"""The parts of a song with several tracks (melody, bass, chords, drums): a
colour each in the piano roll, a legend with Mute, Solo and Export per part,
and the songs that Play (`audible`) and Export (`exported`) then use. A
song of one part shows no legend and keeps the roll's velocity colours."""
from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from composer.music.song import Note, Song, Track
from gui.flow_layout import FlowLayout, WrappingBox

PART_COLORS = [QColor(120, 200, 40), QColor(40, 120, 220), QColor(230, 140, 30), QColor(170, 80, 200),
               QColor(30, 170, 160), QColor(220, 60, 90), QColor(150, 120, 60), QColor(90, 90, 200)]
DRUM_COLOR = QColor(110, 110, 120)
SOLO_TIP = "Play only the soloed parts (with none soloed, every part that is not muted)"


@dataclass
class PartState:
    muted: bool = False
    soloed: bool = False
    export: bool = True


def part_name(track: Track, index: int) -> str:
    """The track's name, else 'drums' or its General MIDI instrument."""
    if track.name:
        return track.name
    if track.is_drum:
        return "drums"
    from gui.controls import instrument_names
    return f"part {index + 1}: {instrument_names()[track.program]}"


def part_color(index: int, track: Track) -> QColor:
    return QColor(DRUM_COLOR) if track.is_drum else QColor(PART_COLORS[index % len(PART_COLORS)])


def heard(states: list[PartState]) -> list[bool]:
    """Which parts Play uses: the soloed ones, else those not muted."""
    solo = any(s.soloed for s in states)
    return [s.soloed if solo else not s.muted for s in states]


def audible(song: Song, states: list[PartState]) -> Song:
    """`song` with only the parts Play uses (all when `states` does not fit it)."""
    if len(states) != len(song.tracks):
        return song
    return replace(song, tracks=[t for t, on in zip(song.tracks, heard(states)) if on])


def exported(song: Song, states: list[PartState]) -> Song:
    """`song` without the parts whose Export box is off."""
    if len(states) != len(song.tracks):
        return song
    return replace(song, tracks=[t for t, s in zip(song.tracks, states) if s.export])


class PartsLegend(WrappingBox):
    """Per part its colour, name, M (mute), S (solo) and Export, the parts side
    by side as the width allows. Hidden for a song of one part."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.flow = FlowLayout(spacing=12)          # parts side by side, wrapping: a band of four stays short
        outer.addLayout(self.flow)
        self.song: Song | None = None
        self.rows: list[tuple[QLabel, QLabel, QCheckBox, QCheckBox, QCheckBox]] = []
        self._kept: dict[str, PartState] = {}        # each part name's boxes, as last set
        self.hide()

    def set_song(self, song: Song | None) -> None:
        """Show the parts of `song`; a part keeps its boxes by name (another variation
        or take of the same band, or the band again after a song of other parts)."""
        self.song = song
        if song is None:
            self.hide()
            return
        names = [part_name(t, i) for i, t in enumerate(song.tracks)]
        if names != [row[1].text() for row in self.rows]:
            self._build(song)
        self.setVisible(len(names) > 1)

    def _build(self, song: Song | None) -> None:
        self._kept.update((row[1].text(), state) for row, state in zip(self.rows, self.states()))
        while self.flow.count():
            self.flow.takeAt(0).widget().deleteLater()
        self.rows = []
        for i, track in enumerate(song.tracks if song is not None else []):
            swatch = QLabel()
            swatch.setFixedSize(14, 14)
            swatch.setStyleSheet(f"background: {part_color(i, track).name()}; border: 1px solid #333;")
            name = QLabel(part_name(track, i))
            mute, solo, export = QCheckBox("M"), QCheckBox("S"), QCheckBox("Export")
            mute.setToolTip("Mute this part (Play leaves it out)")
            solo.setToolTip(SOLO_TIP)
            export.setToolTip("Export .mid and Export audio write this part")
            kept = self._kept.get(name.text(), PartState())
            mute.setChecked(kept.muted)
            solo.setChecked(kept.soloed)
            export.setChecked(kept.export)
            part = QWidget()
            row = QHBoxLayout(part)
            row.setContentsMargins(0, 0, 0, 0)
            for widget in (swatch, name, mute, solo, export):
                row.addWidget(widget)
            self.flow.addWidget(part)
            for box in (mute, solo, export):
                box.toggled.connect(self.changed)
            self.rows.append((swatch, name, mute, solo, export))

    def states(self) -> list[PartState]:
        return [PartState(m.isChecked(), s.isChecked(), e.isChecked()) for _, _, m, s, e in self.rows]

    def audible(self, song: Song) -> Song:
        return audible(song, self.states()) if len(song.tracks) > 1 else song     # one part: no legend, no boxes

    def exported(self, song: Song) -> Song:
        return exported(song, self.states()) if len(song.tracks) > 1 else song

    def note_colors(self, song: Song) -> tuple[dict[Note, QColor], list[Note]]:
        """The colour of each note of `song` by its part (a part not heard paler) and
        the drum notes to draw; ({}, []) for a song of one part."""
        if len(song.tracks) < 2:
            return {}, []
        states = self.states() if len(self.rows) == len(song.tracks) else [PartState()] * len(song.tracks)
        colors: dict[Note, QColor] = {}
        drums: list[Note] = []
        for i, (track, on) in enumerate(zip(song.tracks, heard(states))):
            color = part_color(i, track)
            if not on:
                color.setAlpha(70)
            for note in track.notes:
                colors[note] = color
            if track.is_drum:
                drums.extend(track.notes)
        return colors, drums
