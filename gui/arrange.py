"""The Arrange column beside the variation list: Harmonise and Add drums on the selected
variation, each with its model, and Regenerate part on a song of several
parts. It only asks; gui/arrange_jobs.py runs the services on a worker
and offers the takes in the infill takes panel (gui/infill.py).

Which part can be made again alone: a drum track (a drums model writes it
given the song's bars), and the accompaniment as a whole (the harmoniser
writes all its parts together, each given the others, so one of them is made
again with the rest). The melody stays: Regenerate selection changes it.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QPushButton, QVBoxLayout, QWidget

from composer.errors import ComposerError
from composer.music.song import Song
from gui.catalog import ModelEntry
from gui.controls import row_of
from gui.parts import part_name

OPEN_ITEM = "Open model file..."
HARMONY_TIP = "Write chords and voices under the selected variation's melody (an accompaniment model); takes to pick"
DRUMS_TIP = "Write a drum track under the selected variation (a drums model); takes to pick"
PART_TIP = ("Make the chosen part again, with takes: drums with the drums model, an accompaniment part with the "
            "harmoniser (which writes all its parts together); the melody is kept")


def melody_index(song: Song) -> int | None:
    """The track Regenerate part keeps as the melody: the first pitched one (Harmonise puts it first)."""
    return next((i for i, t in enumerate(song.tracks) if not t.is_drum and t.notes), None)


def part_plan(song: Song, index: int) -> str:
    """"drums" or "accompaniment": what making part `index` of `song` again runs;
    ComposerError for the melody or a part that is not there."""
    if not 0 <= index < len(song.tracks):
        raise ComposerError(f"part {index + 1} does not exist (the song has {len(song.tracks)} part(s))")
    if song.tracks[index].is_drum:
        return "drums"
    if index == melody_index(song):
        raise ComposerError(f"part {index + 1} ({part_name(song.tracks[index], index)}) is the melody: "
                            "Regenerate part keeps it; select bars and use Regenerate selection to change it")
    return "accompaniment"


def without_track(song: Song, index: int) -> Song:
    return replace(song, tracks=[t for i, t in enumerate(song.tracks) if i != index])


def drums_back(take: Song, index: int) -> Song:
    """A take of add_drums on `original` without its drum track `index`: the new
    drum track (the take's last) put where the old one was."""
    tracks = list(take.tracks[:-1])
    tracks.insert(index, take.tracks[-1])
    return replace(take, tracks=tracks)


def with_drums_of(take: Song, original: Song) -> Song:
    """A harmonised take with the drum tracks of `original` under it (harmonize leaves them out)."""
    drums = [t for t in original.tracks if t.is_drum]
    return replace(take, tracks=[*take.tracks, *drums], length=max(take.length_beats, original.length_beats))


class ModelChoice(QComboBox):
    """The models of one kind ("accompany" or "drums") from the picker's entries,
    a file opened here (of any kind: the service says if it is the wrong one),
    and "Open model file..." (`openRequested`)."""

    openRequested = Signal()

    def __init__(self, kind: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = kind
        self.opened: Path | None = None
        self.setMinimumContentsLength(10)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.activated.connect(self._on_activated)

    def set_entries(self, entries: list[ModelEntry], select: Path | None = None) -> None:
        current = select or self.path()
        paths = [e.path for e in entries if e.usable and e.representation == self.kind]
        if self.opened is not None and all(p.resolve() != self.opened.resolve() for p in paths):
            paths.append(self.opened)
        self.blockSignals(True)
        self.clear()
        for path in paths:
            self.addItem(path.stem, str(path))
        self.addItem(OPEN_ITEM, None)
        found = next((i for i, p in enumerate(paths) if current is not None and p.resolve() == current.resolve()), 0)
        self.setCurrentIndex(found if paths else self.count() - 1)
        self.blockSignals(False)

    def path(self) -> Path | None:
        data = self.currentData()
        return Path(data) if data else None

    def _on_activated(self, index: int) -> None:
        if self.itemData(index) is None:
            self.openRequested.emit()


class ArrangeBar(QWidget):
    """Harmonise [model], Add drums [model], Regenerate part [part], one under the
    other beside the variation list."""

    harmonizeRequested = Signal(object)       # Path of the accompaniment model
    drumsRequested = Signal(object)           # Path of the drums model
    partRequested = Signal(int)               # track index of the part to make again
    openRequested = Signal(object)            # the ModelChoice whose "Open model file..." was picked

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.harmony_model, self.drums_model = ModelChoice("accompany"), ModelChoice("drums")
        self.harmony_model.setToolTip("The accompaniment model Harmonise uses (train FOLDER --objective accompany)")
        self.drums_model.setToolTip("The drums model Add drums uses (train FOLDER --representation drums)")
        self.harmonize_button = QPushButton("Harmonise")
        self.harmonize_button.setToolTip(HARMONY_TIP)
        self.drums_button = QPushButton("Add drums")
        self.drums_button.setToolTip(DRUMS_TIP)
        self.part = QComboBox()
        self.part.setToolTip("The part Regenerate part makes again")
        self.part_button = QPushButton("Regenerate part")
        self.part_button.setToolTip(PART_TIP)
        self.rows = [row_of(self.harmonize_button, self.harmony_model), row_of(self.drums_button, self.drums_model),
                     row_of(self.part_button, self.part)]
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        for row in self.rows:
            box.addWidget(row)
        box.addStretch(1)
        self.song: Song | None = None
        self.busy = False
        self.harmonize_button.clicked.connect(lambda: self._request(self.harmony_model, self.harmonizeRequested))
        self.drums_button.clicked.connect(lambda: self._request(self.drums_model, self.drumsRequested))
        self.part_button.clicked.connect(lambda: self.partRequested.emit(self.part.currentData()))
        for choice in (self.harmony_model, self.drums_model):
            choice.openRequested.connect(lambda choice=choice: self.openRequested.emit(choice))
        self.set_song(None)

    def set_models(self, entries: list[ModelEntry]) -> None:
        for choice in (self.harmony_model, self.drums_model):
            choice.set_entries(entries)
        self._update()

    def set_song(self, song: Song | None) -> None:
        """The variation the buttons act on; the part list names its parts (none for one part)."""
        self.song = song
        self.part.clear()
        if song is not None and len(song.tracks) > 1:
            for i, track in enumerate(song.tracks):
                if i != melody_index(song):
                    self.part.addItem(part_name(track, i), i)
        self._update()

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self._update()

    def _update(self) -> None:
        ready = self.song is not None and not self.busy
        for button, choice, tip, missing in (
                (self.harmonize_button, self.harmony_model, HARMONY_TIP,
                 "No accompaniment model yet: open one in the list beside (train FOLDER --objective accompany)"),
                (self.drums_button, self.drums_model, DRUMS_TIP,
                 "No drums model yet: open one in the list beside (train FOLDER --representation drums)")):
            button.setEnabled(ready and choice.path() is not None)
            button.setToolTip(tip if choice.path() is not None else missing)
        self.part_button.setEnabled(ready and self.part.count() > 0)
        self.rows[2].setVisible(self.part.count() > 0)

    def _request(self, choice: ModelChoice, signal) -> None:
        path = choice.path()
        if path is not None:
            signal.emit(path)

