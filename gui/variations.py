"""The list of generated variations; an item dragged out of it becomes a
.mid file (a file URL of a temporary file) for a DAW or a file manager."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

from composer.midi_io import song_to_bytes, write_atomic
from composer.music import Song, pitch_name

from .primer import bar_count


def variation_label(index: int, song: Song, kind: str) -> str:
    notes = song.notes
    length = f"{bar_count(song)} bars" if kind == "melody" else f"{song.duration_seconds:.1f} s"
    if not notes:
        return f"{index + 1}. {length}, no notes"
    low, high = min(n.pitch for n in notes), max(n.pitch for n in notes)
    return f"{index + 1}. {length}, {len(notes)} notes, {pitch_name(low)}–{pitch_name(high)}"


class VariationList(QListWidget):
    """Shows `songs`; `song_at(row)`; drag out -> temporary .mid file."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.songs: list[Song] = []
        self.seed: int | None = None
        self.primer_beats = 0.0
        self._drag_dir: Path | None = None
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setToolTip("Drag a variation into a DAW or a folder to get it as a .mid file")

    def set_songs(self, songs: list[Song], kind: str, seed: int | None, primer_beats: float = 0.0) -> None:
        self.clear()
        self.songs, self.seed, self.primer_beats = list(songs), seed, primer_beats
        for i, song in enumerate(self.songs):
            item = QListWidgetItem(variation_label(i, song, kind))
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.addItem(item)
        if self.songs:
            self.setCurrentRow(0)

    def song_at(self, row: int) -> Song | None:
        return self.songs[row] if 0 <= row < len(self.songs) else None

    def file_name(self, row: int) -> str:
        seed = f"_s{self.seed}" if self.seed is not None else ""
        return f"variation{seed}_{row + 1:02d}.mid"

    def mimeTypes(self) -> list[str]:
        return ["text/uri-list", "audio/midi"]

    def mimeData(self, items) -> QMimeData:
        """The dragged variation as a temporary .mid file (URL) and as bytes."""
        data = QMimeData()
        rows = [self.row(item) for item in items]
        urls = []
        for row in rows:
            song = self.song_at(row)
            if song is None:
                continue
            payload = song_to_bytes(song)
            path = self.drag_dir() / self.file_name(row)
            write_atomic(path, payload, force=True)
            urls.append(QUrl.fromLocalFile(str(path)))
            data.setData("audio/midi", payload)
        data.setUrls(urls)
        return data

    def drag_dir(self) -> Path:
        if self._drag_dir is None or not self._drag_dir.is_dir():
            self._drag_dir = Path(tempfile.mkdtemp(prefix="rnn-composer-drag-"))
        return self._drag_dir

    def remove_drag_files(self) -> None:
        if self._drag_dir is not None:
            shutil.rmtree(self._drag_dir, ignore_errors=True)
            self._drag_dir = None
