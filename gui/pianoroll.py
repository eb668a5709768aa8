"""A piano-roll view of one Song, painted with QPainter.

Pitch names run down the left, bar numbers and beat ticks along the top;
notes are coloured by velocity (blue = soft, red = loud), primer notes are
drawn paler, and a red playhead follows playback. Ctrl+wheel or +/- zooms
the time axis, the wheel scrolls (Shift+wheel sideways).

A range of whole bars can be selected: drag along the ruler, or click one bar
and shift-click another (anywhere in the view). The selection is shaded;
`selectionChanged` carries it as (first, last) bars, 1-based and inclusive.
Notes given to `set_ghost_notes` (e.g. the original notes of a rewritten
span) are drawn as grey outlines behind the song's notes. Sections given to
`set_sections` (a form's phrases: letter, first and last bar) are drawn as a
band of lettered spans above the ruler; a letter keeps its colour.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QAbstractScrollArea, QMenu, QWidget

from composer.music.song import Note, Song, pitch_name
from gui.pianoroll_sections import SECTION_HEIGHT, checked_sections, paint_sections

KEY_WIDTH = 44        # px, the pitch-name column
RULER_HEIGHT = 22     # px, the bar/beat ruler
MIN_SPAN = 24         # semitones shown at least
MIN_ROW, MAX_ROW = 7, 16   # px per semitone row
BLACK_KEYS = {1, 3, 6, 8, 10}
SELECTION_FILL = QColor(255, 196, 0, 48)     # the selected bars over the notes
SELECTION_RULER = QColor(255, 190, 40)       # the selected bars on the ruler
GHOST_PEN = QColor(150, 150, 160)


def velocity_color(velocity: int, *, faded: bool = False) -> QColor:
    """Blue (soft) .. red (loud); faded for primer notes."""
    hue = int(220 * (1.0 - max(1, min(127, velocity)) / 127.0))
    return QColor.fromHsv(hue, 90 if faded else 200, 200 if faded else 230)


class PianoRoll(QAbstractScrollArea):
    """Draws `song` (all non-drum notes); times in beats, zoom in px per beat."""

    selectionChanged = Signal(object)      # (first bar, last bar), 1-based inclusive, or None

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.song: Song | None = None
        self.primer_beats = 0.0
        self.playhead_beat: float | None = None
        self.selection: tuple[int, int] | None = None
        self._anchor_bar: int | None = None     # where the last plain click or drag began
        self._dragging = False
        self.ghost_notes: list[Note] = []
        self.sections: list[tuple[str, int, int]] = []
        self.px_per_beat = 24.0
        self.row_height = 9
        self.pitch_low, self.pitch_high = 48, 84
        self._notes: list[Note] = []
        self.setMinimumSize(320, 200)
        self.setFocusPolicy(Qt.FocusPolicy.WheelFocus)
        self.viewport().setAutoFillBackground(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)

    # ---- content ------------------------------------------------------------
    def set_song(self, song: Song | None, primer_beats: float = 0.0, *, keep_view: bool = False) -> None:
        """Show `song` (None clears); `primer_beats` marks the primer's notes."""
        self.song = song
        self.primer_beats = primer_beats
        self._notes = song.notes if song is not None else []
        self.ghost_notes = []
        if self.selection is not None and (song is None or self.selection[1] > self.bar_count()):
            self.clear_selection()
        if self._notes:
            low = min(n.pitch for n in self._notes) - 3
            high = max(n.pitch for n in self._notes) + 3
            if high - low < MIN_SPAN:
                pad = (MIN_SPAN - (high - low)) // 2
                low, high = low - pad, high + (MIN_SPAN - (high - low) - pad)
            self.pitch_low, self.pitch_high = max(0, low), min(127, high)
        if not keep_view:
            self.fit()
        self._update_scrollbars()
        if not keep_view:
            self.horizontalScrollBar().setValue(0)
            self.verticalScrollBar().setValue(self.verticalScrollBar().maximum() // 2)
        self.viewport().update()

    def fit(self) -> None:
        """Choose row height and zoom so that the piece fills the view when it can."""
        view = self.viewport()
        rows = self.pitch_high - self.pitch_low + 1
        self.row_height = int(max(MIN_ROW, min(MAX_ROW, (view.height() - self.ruler_height) / rows)))
        if self.song is not None:
            self.px_per_beat = max(12.0, min(80.0, (view.width() - KEY_WIDTH - 8) / self.content_beats()))

    def set_playhead(self, beat: float | None) -> None:
        """Move the playhead (None hides it), scrolling to keep it in view."""
        self.playhead_beat = beat
        if beat is not None:
            x = beat * self.px_per_beat
            bar = self.horizontalScrollBar()
            visible = self.viewport().width() - KEY_WIDTH
            if not bar.value() <= x <= bar.value() + visible * 0.9:
                bar.setValue(int(max(0.0, x - visible * 0.1)))
        self.viewport().update()

    def set_ghost_notes(self, notes: list[Note]) -> None:
        """Draw `notes` as grey outlines behind the song (cleared by `set_song`)."""
        self.ghost_notes = list(notes)
        self.viewport().update()

    def set_sections(self, sections) -> None:
        """Letter spans over the ruler: (letter, first bar, last bar), bars 1-based and
        inclusive, e.g. FormSpec.spans() of composer.services.form_plan; [] removes
        them. `set_song` keeps them (a piece that grows while it is sampled keeps its
        form), so clear them for a song without one."""
        sections = checked_sections(sections)
        height_changed = bool(sections) != bool(self.sections)
        self.sections = sections
        if height_changed:
            self.resizeEvent(None)
        self.viewport().update()

    def section_at(self, bar: int) -> str | None:
        """The letter of the section bar `bar` (1-based) is in, or None."""
        return next((letter for letter, first, last in self.sections if first <= bar <= last), None)

    @property
    def ruler_height(self) -> int:
        """px above the notes: the ruler, and the section band when sections are set."""
        return RULER_HEIGHT + (SECTION_HEIGHT if self.sections else 0)

    # ---- bar selection ----------------------------------------------------------
    def set_selection(self, first: int, last: int | None = None) -> None:
        """Select bars `first`..`last` (1-based, inclusive, either order; clamped to the song)."""
        last = first if last is None else last
        first, last = sorted((first, last))
        count = self.bar_count()
        selection = (max(1, min(count, first)), max(1, min(count, last)))
        if selection != self.selection:
            self.selection = selection
            self.selectionChanged.emit(selection)
        self.viewport().update()

    def clear_selection(self) -> None:
        self._anchor_bar = None
        if self.selection is not None:
            self.selection = None
            self.selectionChanged.emit(None)
        self.viewport().update()

    def bar_count(self) -> int:
        """Bars the view shows (whole bars of the opening meter)."""
        bar = self.song.bar_length() if self.song else 4.0
        return max(1, round(self.content_beats() / bar))

    def bar_at(self, x: float) -> int:
        """The bar (1-based, clamped to the song) under viewport x."""
        bar = self.song.bar_length() if self.song else 4.0
        beat = (x - self._origin().x()) / self.px_per_beat
        return max(1, min(self.bar_count(), int(beat // bar) + 1))

    def bar_x(self, bar: int) -> float:
        """Viewport x where `bar` (1-based) begins."""
        length = self.song.bar_length() if self.song else 4.0
        return self._origin().x() + (bar - 1) * length * self.px_per_beat

    def zoom(self, factor: float) -> None:
        """Scale the time axis by `factor`, keeping it between 4 and 400 px per beat."""
        self.px_per_beat = max(4.0, min(400.0, self.px_per_beat * factor))
        self._update_scrollbars()
        self.viewport().update()

    # ---- geometry -------------------------------------------------------------
    def content_beats(self) -> float:
        if self.song is None:
            return 16.0
        bar = self.song.bar_length()
        end = max(self.song.length_beats, bar)      # a piece may end in bars of rest
        return -(-end // bar) * bar

    def _update_scrollbars(self) -> None:
        width = int(self.content_beats() * self.px_per_beat) + 20
        height = (self.pitch_high - self.pitch_low + 1) * self.row_height
        view = self.viewport()
        self.horizontalScrollBar().setRange(0, max(0, width - (view.width() - KEY_WIDTH)))
        self.horizontalScrollBar().setPageStep(max(1, view.width() - KEY_WIDTH))
        self.verticalScrollBar().setRange(0, max(0, height - (view.height() - self.ruler_height)))
        self.verticalScrollBar().setPageStep(max(1, view.height() - self.ruler_height))

    def _origin(self) -> QPointF:
        return QPointF(KEY_WIDTH - self.horizontalScrollBar().value(),
                       self.ruler_height - self.verticalScrollBar().value())

    def note_rect(self, note: Note) -> QRectF:
        """Where `note` is drawn, in viewport pixels."""
        o = self._origin()
        return QRectF(o.x() + note.start * self.px_per_beat, o.y() + (self.pitch_high - note.pitch) * self.row_height,
                      max(2.0, note.duration * self.px_per_beat - 1), self.row_height - 1)

    def resizeEvent(self, event) -> None:
        if event is not None:
            super().resizeEvent(event)
        rows = self.pitch_high - self.pitch_low + 1
        self.row_height = int(max(MIN_ROW, min(MAX_ROW, (self.viewport().height() - self.ruler_height) / rows)))
        self._update_scrollbars()

    # ---- input ----------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        pos = event.position()
        if self.song is None or event.button() != Qt.MouseButton.LeftButton or pos.x() < KEY_WIDTH:
            super().mousePressEvent(event)
            return
        bar = self.bar_at(pos.x())
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            anchor = self._anchor_bar or (self.selection[0] if self.selection else bar)
            self._anchor_bar = anchor
            self.set_selection(anchor, bar)
        elif pos.y() < self.ruler_height:
            self._anchor_bar, self._dragging = bar, True
            self.set_selection(bar)
        else:
            super().mousePressEvent(event)
            return
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        if self._dragging and self._anchor_bar is not None:
            self.set_selection(self._anchor_bar, self.bar_at(event.position().x()))
            event.accept()
        else:
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._dragging and self._anchor_bar is not None:
            self.set_selection(self._anchor_bar, self.bar_at(event.position().x()))
            self._dragging = False
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def context_menu(self, x: float) -> QMenu:
        """The menu of the actions added to the roll; a right-click outside the
        selection first selects the bar under `x` (viewport pixels)."""
        if self.song is not None and x >= KEY_WIDTH:
            bar = self.bar_at(x)
            if self.selection is None or not self.selection[0] <= bar <= self.selection[1]:
                self._anchor_bar = bar
                self.set_selection(bar)
        menu = QMenu(self)
        menu.addActions(self.actions())
        return menu

    def contextMenuEvent(self, event) -> None:
        if self.actions():
            self.context_menu(event.pos().x()).exec(event.globalPos())
        event.accept()

    def wheelEvent(self, event) -> None:
        delta = event.angleDelta().y()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.25 if delta > 0 else 0.8)
        elif event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            bar = self.horizontalScrollBar()
            bar.setValue(bar.value() - delta)
        else:
            super().wheelEvent(event)
        event.accept()

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(1.25)
        elif event.key() == Qt.Key.Key_Minus:
            self.zoom(0.8)
        else:
            super().keyPressEvent(event)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().update()

    # ---- painting ---------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        rect = self.viewport().rect()
        painter.fillRect(rect, QColor(250, 250, 250))
        self._paint_rows(painter, rect.width())
        self._paint_grid(painter, rect.height())
        self._paint_selection(painter, rect.height(), self.ruler_height, SELECTION_FILL)
        self._paint_notes(painter)
        self._paint_keys(painter, rect.height())
        self._paint_ruler(painter, rect.width())
        if self.playhead_beat is not None:
            x = self._origin().x() + self.playhead_beat * self.px_per_beat
            if x >= KEY_WIDTH:
                painter.setPen(QPen(QColor(220, 30, 30), 2))
                painter.drawLine(QPointF(x, 0), QPointF(x, rect.height()))
        if self.song is None:
            painter.setPen(QColor(120, 120, 120))
            painter.drawText(rect.adjusted(KEY_WIDTH, self.ruler_height, 0, 0), Qt.AlignmentFlag.AlignCenter,
                             "Generate, or open a MIDI file, to see the notes here")
        painter.end()

    def _paint_rows(self, painter: QPainter, width: int) -> None:
        o = self._origin()
        for pitch in range(self.pitch_low, self.pitch_high + 1):
            y = o.y() + (self.pitch_high - pitch) * self.row_height
            if pitch % 12 in BLACK_KEYS:
                painter.fillRect(QRectF(KEY_WIDTH, y, width, self.row_height), QColor(236, 236, 240))
            if pitch % 12 == 0:
                painter.setPen(QColor(205, 205, 215))
                painter.drawLine(QPointF(KEY_WIDTH, y + self.row_height), QPointF(width, y + self.row_height))

    def _paint_grid(self, painter: QPainter, height: int) -> None:
        o = self._origin()
        bar = self.song.bar_length() if self.song else 4.0
        beat_unit = 4.0 / (self.song.time_signature[1] if self.song else 4)
        beats = int(self.content_beats() / beat_unit) + 1
        for k in range(beats):
            x = o.x() + k * beat_unit * self.px_per_beat
            if x < KEY_WIDTH:
                continue
            on_bar = abs((k * beat_unit) / bar - round((k * beat_unit) / bar)) < 1e-6
            painter.setPen(QColor(150, 150, 165) if on_bar else QColor(222, 222, 230))
            painter.drawLine(QPointF(x, self.ruler_height), QPointF(x, height))

    def _paint_selection(self, painter: QPainter, bottom: float, top: float, color: QColor) -> None:
        """Shade the selected bars between `top` and `bottom` (viewport y)."""
        if self.selection is None:
            return
        left = max(float(KEY_WIDTH), self.bar_x(self.selection[0]))
        right = self.bar_x(self.selection[1] + 1)
        if right > left:
            painter.fillRect(QRectF(left, top, right - left, bottom - top), color)

    def _paint_notes(self, painter: QPainter) -> None:
        painter.setClipRect(QRectF(KEY_WIDTH, self.ruler_height, self.viewport().width(), self.viewport().height()))
        painter.setPen(QPen(GHOST_PEN, 1, Qt.PenStyle.DashLine))
        for note in self.ghost_notes:
            if self.pitch_low <= note.pitch <= self.pitch_high:
                painter.drawRect(self.note_rect(note))
        border = QColor(40, 40, 60)
        for note in self._notes:
            if not self.pitch_low <= note.pitch <= self.pitch_high:
                continue
            rect = self.note_rect(note)
            painter.fillRect(rect, velocity_color(note.velocity, faded=note.start < self.primer_beats - 1e-9))
            painter.setPen(border)
            painter.drawRect(rect)
        painter.setClipping(False)

    def _paint_keys(self, painter: QPainter, height: int) -> None:
        painter.fillRect(QRectF(0, self.ruler_height, KEY_WIDTH, height), QColor(245, 245, 248))
        painter.setClipRect(QRectF(0, self.ruler_height, KEY_WIDTH, height))
        o = self._origin()
        font = QFont(self.font())
        font.setPixelSize(max(7, min(11, self.row_height + 1)))
        painter.setFont(font)
        for pitch in range(self.pitch_low, self.pitch_high + 1):
            y = o.y() + (self.pitch_high - pitch) * self.row_height
            if pitch % 12 in BLACK_KEYS:
                painter.fillRect(QRectF(KEY_WIDTH * 0.55, y, KEY_WIDTH * 0.45, self.row_height), QColor(60, 60, 70))
            if pitch % 12 == 0 or self.row_height >= 12:
                painter.setPen(QColor(30, 30, 40))
                painter.drawText(QRectF(2, y - 2, KEY_WIDTH - 4, self.row_height + 4),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, pitch_name(pitch))
        painter.setClipping(False)
        painter.setPen(QColor(170, 170, 180))
        painter.drawLine(QPointF(KEY_WIDTH, self.ruler_height), QPointF(KEY_WIDTH, height))

    def _paint_ruler(self, painter: QPainter, width: int) -> None:
        height = self.ruler_height
        top = height - RULER_HEIGHT                       # the bar/beat ruler is below the section band
        painter.fillRect(QRectF(0, 0, width, height), QColor(232, 232, 238))
        self._paint_selection(painter, height, 0, SELECTION_RULER)
        o = self._origin()
        bar = self.song.bar_length() if self.song else 4.0
        beat_unit = 4.0 / (self.song.time_signature[1] if self.song else 4)
        per_bar = max(1, round(bar / beat_unit))
        bars = int(self.content_beats() / bar) + 1
        label_every = max(1, int(40 / max(1.0, bar * self.px_per_beat)) + 1)
        painter.setClipRect(QRectF(KEY_WIDTH, 0, width, height))
        paint_sections(painter, self.sections, self.bar_x, self.font())
        for b in range(bars):
            x0 = o.x() + b * bar * self.px_per_beat
            painter.setPen(QColor(60, 60, 80))
            painter.drawLine(QPointF(x0, top + RULER_HEIGHT * 0.35), QPointF(x0, height))
            if b % label_every == 0:
                painter.drawText(QPointF(x0 + 3, top + RULER_HEIGHT * 0.6), str(b + 1))
            painter.setPen(QColor(140, 140, 155))
            for k in range(1, per_bar):
                x = x0 + k * beat_unit * self.px_per_beat
                painter.drawLine(QPointF(x, top + RULER_HEIGHT * 0.75), QPointF(x, height))
        painter.setClipping(False)
        painter.setPen(QColor(170, 170, 180))
        painter.drawLine(QPointF(0, height - 0.5), QPointF(width, height - 0.5))
