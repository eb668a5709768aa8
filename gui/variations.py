"""The list of generated variations; an item dragged out of it becomes a
.mid file (a file URL of a temporary file) for a DAW or a file manager."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from PySide6.QtCore import QMimeData, QSize, Qt, QUrl
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

from composer.analysis.copymeter import copy_meter, generated_notes
from composer.model.copyindex import DEFAULT_ANCHOR, CopyIndex
from composer.music.midifile import song_to_bytes, write_atomic
from composer.music.scales import spell
from composer.music.song import Song
from gui.primer import bar_count

COPY_WARN_NOTES = 12        # a longer run of the training data's notes is marked in the list
WARN_COLOR = QColor(190, 90, 0)
DRAG_TIP = "Drag a variation into a DAW or a folder to get it as a .mid file"
MIN_ROWS = 5                # rows the list keeps however small the window

Copy = tuple[int, "str | None"]     # (longest run of training notes, the file it is in), composer.analysis.copymeter


def variation_label(index: int, song: Song, kind: str, copy: Copy | None = None,
                    key: tuple[str | None, str | None] = (None, None)) -> str:
    """'2. 8 bars, 31 notes, D4–Bb5 · copy: 5 notes', the range spelled for `key` (key, scale)."""
    notes = song.notes
    length = f"{song.duration_seconds:.1f} s" if kind == "performance" else f"{bar_count(song)} bars"
    if not notes:
        return f"{index + 1}. {length}, no notes"
    low, high = min(n.pitch for n in notes), max(n.pitch for n in notes)
    text = f"{index + 1}. {length}, {len(notes)} notes, {spell(low, *key)}–{spell(high, *key)}"
    if copy is not None:
        text += f" · copy: {copy[0]} notes" if copy[0] else " · copy: none"
        text += " ⚠" if copy[0] >= COPY_WARN_NOTES else ""
    return text


def copy_tooltip(copy: Copy | None, has_index: bool) -> str:
    """What the copy meter of a variation means, for its tooltip."""
    if not has_index:
        return (DRAG_TIP + "\nCopy meter: this model file holds no index of its training data "
                "(add one with: composer copy-index MODEL FOLDER)")
    length, source = copy
    if length == 0:
        meter = f"no run of {DEFAULT_ANCHOR} or more consecutive notes is in the training data"
    else:
        meter = f"the longest run of consecutive notes (pitch and rhythm) also in the training data is {length} " \
                f"notes long, in {source}"
    return f"{DRAG_TIP}\nCopy meter: {meter}" + (" — close to a quotation" if length >= COPY_WARN_NOTES else "")


class VariationList(QListWidget):
    """Shows `songs`; `song_at(row)`; drag out -> temporary .mid file."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.songs: list[Song] = []
        self.copies: list[Copy] | None = None      # the copy meter of each song, None without an index
        self.copy_index: CopyIndex | None = None
        self.key: tuple[str | None, str | None] = (None, None)   # (key, scale) the ranges are spelled in
        self.generated = True                      # False: a file opened to edit (no copy meter)
        self.kind = "melody"
        self.seed: int | None = None
        self.primer_beats = 0.0
        self._drag_dir: Path | None = None
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setToolTip(DRAG_TIP)

    def minimumSizeHint(self) -> QSize:
        """Tall enough for MIN_ROWS rows, so a splitter or a small window cannot squeeze it to two."""
        hint = super().minimumSizeHint()
        return QSize(hint.width(), max(hint.height(), MIN_ROWS * self.row_height() + 2 * self.frameWidth()))

    def row_height(self) -> int:
        return max(1, self.sizeHintForRow(0) if self.count() else self.fontMetrics().height() + 2)

    def set_songs(self, songs: list[Song], kind: str, seed: int | None, primer_beats: float = 0.0,
                  copies: list[Copy] | None = None, copy_index: CopyIndex | None = None, *,
                  generated: bool = True, row: int = 0) -> None:
        """Show `songs` with their copy meters `copies` (measured against
        `copy_index`, which also measures a song put in later with `measure`);
        `generated` False: the user's own music, no meter. Selects `row`; as
        many songs as before keep their items, so the same row stays selected
        without a change of row."""
        self.songs, self.seed, self.primer_beats, self.kind = list(songs), seed, primer_beats, kind
        self.copy_index = copy_index
        self.copies = list(copies) if copies is not None and copy_index is not None else None
        self.generated = generated
        if self.count() != len(self.songs):
            self.clear()
            for i in range(len(self.songs)):
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, i)
                self.addItem(item)
        for i in range(len(self.songs)):
            self._label(i)
        if self.songs:
            self.setCurrentRow(min(max(0, row), len(self.songs) - 1))

    def measure(self, song: Song) -> Copy | None:
        """The copy meter of `song` in this list (None without an index)."""
        if self.copies is None:
            return None
        return copy_meter(generated_notes(song, self.primer_beats), self.copy_index)

    def _label(self, row: int) -> None:
        item, copy = self.item(row), self.copies[row] if self.copies is not None else None
        item.setText(variation_label(row, self.songs[row], self.kind, copy, self.key))
        item.setToolTip(copy_tooltip(copy, self.copies is not None) if self.songs[row].notes and self.generated
                        else DRAG_TIP)
        warn = copy is not None and copy[0] >= COPY_WARN_NOTES
        item.setForeground(QBrush(WARN_COLOR) if warn else QBrush())

    def set_key(self, key: str | None, scale: str | None = None) -> None:
        """Spell the labels' pitch ranges for `key` and `scale` (None: sharps), as the roll does."""
        self.key = (key, scale)
        for row in range(len(self.songs)):
            self._label(row)

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
