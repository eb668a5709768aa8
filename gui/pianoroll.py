"""A piano-roll view of one Song, painted with QPainter.

Pitch names run down the left, bar numbers and beat ticks along the top;
notes are coloured by velocity (blue = soft, red = loud), primer notes are
drawn paler, and a red playhead follows playback. Ctrl+wheel or +/- zooms
the time axis, the wheel scrolls (Shift+wheel sideways).

A range of whole bars can be selected: drag along the ruler, or click one bar
and shift-click another on the ruler. The selection is shaded;
`selectionChanged` carries it as (first, last) bars, 1-based and inclusive.
Notes given to `set_ghost_notes` (e.g. the original notes of a rewritten
span) are drawn as grey outlines behind the song's notes. Sections given to
`set_sections` (a form's phrases: letter, first and last bar) are drawn as a
band of lettered spans above the ruler; a letter keeps its colour. Pitch
names are spelled for the key given to `set_key` (flats in F major, sharps in
E major; composer.music.scales.spell).

Notes are edited with the mouse and keys (gui/roll_gestures.py: select,
draw, move, resize, delete, transpose, snapped to the grid of `snap`); each
edit is emitted as a gui.roll_edit.NoteEdit by `songEdited`, for the owner to
apply (`apply_edit`, or through an undo stack), and a note clicked or drawn
by `noteAuditioned` to be heard.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractScrollArea, QMenu, QWidget

from composer.music.scales import spell
from composer.music.song import Note, Song
from gui import roll_edit
from gui.pianoroll_paint import (
    KEY_WIDTH,
    MAX_ROW,
    MIN_ROW,
    MIN_SPAN,
    RULER_HEIGHT,
    SECTION_HEIGHT,
    SELECTION_FILL,
    SELECTION_RULER,
    paint_roll,
    section_color,
    velocity_color,
)
from gui.roll_gestures import NoteGestures

__all__ = ["KEY_WIDTH", "RULER_HEIGHT", "SECTION_HEIGHT", "SELECTION_FILL", "SELECTION_RULER", "PianoRoll",
           "section_color", "velocity_color"]

class PianoRoll(QAbstractScrollArea):
    """Draws `song` (all non-drum notes); times in beats, zoom in px per beat."""

    selectionChanged = Signal(object)      # (first bar, last bar), 1-based inclusive, or None
    songEdited = Signal(object)            # gui.roll_edit.NoteEdit: a finished note edit to apply
    noteAuditioned = Signal(object)        # Note: clicked or drawn, to be heard
    noteSelectionChanged = Signal(object)  # list[Note]: the selected notes
    drawModeChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.song: Song | None = None
        self.primer_beats = 0.0
        self.playhead_beat: float | None = None
        self.selection: tuple[int, int] | None = None
        self._anchor_bar: int | None = None     # where the last plain click or drag began
        self._dragging = False
        self.ghost_notes: list[Note] = []
        self.part_colors: dict[Note, QColor] = {}     # a song of several parts: each note's part colour
        self.drum_notes: list[Note] = []              # drawn too then (gui.parts), not edited
        self.sections: list[tuple[str, int, int]] = []
        self.key: tuple[str | None, str | None] = (None, None)   # (key, scale) the pitch names are spelled in
        self.px_per_beat = 24.0
        self.row_height = 9
        self.pitch_low, self.pitch_high = 48, 84
        self.span = (48, 84)                   # the pitches the song needs; a tall view shows more around them
        self.notes: list[Note] = []
        self.selected: list[Note] = []          # the selected notes (values of `notes`)
        self.pending: roll_edit.NoteEdit | None = None   # the edit a drag in progress would make, drawn
        self.band: QRectF | None = None        # the rubber band being dragged
        self.snap = roll_edit.DEFAULT_SNAP
        self.draw_mode = False                 # a plain drag in an empty place draws a note
        self.gestures = NoteGestures(self)
        self.viewport().setMouseTracking(True)   # the cursor shows what a drag would do
        self.setMinimumSize(320, 200)
        self.setFocusPolicy(Qt.FocusPolicy.WheelFocus)
        self.viewport().setAutoFillBackground(False)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)

    # ---- content ------------------------------------------------------------
    def set_song(self, song: Song | None, primer_beats: float = 0.0, *, keep_view: bool = False) -> None:
        """Show `song` (None clears); `primer_beats` marks the primer's notes."""
        had_song = self.song is not None
        self.song = song
        self.primer_beats = primer_beats
        self.notes = song.notes if song is not None else []
        self.ghost_notes = []
        self.part_colors, self.drum_notes = {}, []
        self.pending, self.band = None, None
        self.gestures.mode = None               # a drag in progress ends with the song it began on
        present = set(self.notes) if keep_view else set()
        self.select_notes([n for n in self.selected if n in present])
        if self.selection is not None and (song is None or self.selection[1] > self.bar_count()):
            self.clear_selection()
        if self.notes:
            low = min(n.pitch for n in self.notes) - 3
            high = max(n.pitch for n in self.notes) + 3
            if high - low < MIN_SPAN:
                pad = (MIN_SPAN - (high - low)) // 2
                low, high = low - pad, high + (MIN_SPAN - (high - low) - pad)
            if keep_view and had_song:      # an edit must not shift the rows under the mouse
                low, high = min(low, self.pitch_low), max(high, self.pitch_high)
            self.span = self.pitch_low, self.pitch_high = max(0, low), min(127, high)
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
        self._fit_rows()
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

    def set_parts(self, colors: dict[Note, QColor], drum_notes: list[Note]) -> None:
        """Draw the notes in their parts' `colors` (not by velocity), and `drum_notes` (gui.parts)."""
        self.part_colors, self.drum_notes = colors, drum_notes
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
        sections = [(str(letter), int(first), int(last)) for letter, first, last in sections]
        for letter, first, last in sections:
            if not letter or first < 1 or last < first:
                raise ValueError(f"a section is (letter, first bar >= 1, last bar >= first), got {letter!r}, "
                                 f"{first}, {last}")
        height_changed = bool(sections) != bool(self.sections)
        self.sections = sections
        if height_changed:
            self.resizeEvent(None)
        self.viewport().update()

    def set_key(self, key: str | None, scale: str | None = None) -> None:
        """Spell the pitch names for `key` + `scale` (None: sharps)."""
        self.key = (key, scale)
        self.viewport().update()

    def pitch_label(self, pitch: int) -> str:
        """The name of `pitch` in the column of pitch names."""
        return spell(pitch, *self.key)

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
        beat = (x - self.origin().x()) / self.px_per_beat
        return max(1, min(self.bar_count(), int(beat // bar) + 1))

    def bar_x(self, bar: int) -> float:
        """Viewport x where `bar` (1-based) begins."""
        length = self.song.bar_length() if self.song else 4.0
        return self.origin().x() + (bar - 1) * length * self.px_per_beat

    # ---- notes: selection and edits ---------------------------------------------------
    def select_notes(self, notes) -> None:
        """Select `notes` (values of the song's notes; [] clears)."""
        chosen = list(dict.fromkeys(notes))
        if chosen != self.selected:
            self.selected = chosen
            self.noteSelectionChanged.emit(list(chosen))
        self.viewport().update()

    def apply_edit(self, edit: roll_edit.NoteEdit, *, undo: bool = False) -> None:
        """Show the song after `edit` (before it when `undo`), with its notes selected."""
        self.set_song(edit.before if undo else edit.after, self.primer_beats, keep_view=True)
        self.select_notes(edit.selected_before if undo else edit.selected_after)

    def set_snap(self, snap: str) -> None:
        """Snap drawn, moved and resized notes to `snap` (one of gui.roll_edit.SNAPS)."""
        roll_edit.snap_step(snap, self.song)      # refuses an unknown name
        self.snap = snap

    def snap_step(self) -> float:
        return roll_edit.snap_step(self.snap, self.song)

    def set_draw_mode(self, on: bool) -> None:
        """In draw mode a plain drag in an empty place draws a note (else Ctrl+drag does)."""
        if on != self.draw_mode:
            self.draw_mode = on
            self.drawModeChanged.emit(on)

    def note_at(self, pos: QPointF) -> Note | None:
        """The note drawn under viewport `pos` (the last drawn, on top), or None."""
        if pos.x() < KEY_WIDTH or pos.y() < self.ruler_height:
            return None
        return next((n for n in reversed(self.notes) if self.note_rect(n).contains(pos)), None)

    def beat_at(self, x: float) -> float:
        return max(0.0, (x - self.origin().x()) / self.px_per_beat)

    def pitch_at(self, y: float) -> int:
        return max(0, min(127, self.pitch_high - int((y - self.origin().y()) // self.row_height)))

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

    def origin(self) -> QPointF:
        return QPointF(KEY_WIDTH - self.horizontalScrollBar().value(),
                       self.ruler_height - self.verticalScrollBar().value())

    def note_rect(self, note: Note) -> QRectF:
        """Where `note` is drawn, in viewport pixels."""
        o = self.origin()
        return QRectF(o.x() + note.start * self.px_per_beat, o.y() + (self.pitch_high - note.pitch) * self.row_height,
                      max(2.0, note.duration * self.px_per_beat - 1), self.row_height - 1)

    def resizeEvent(self, event) -> None:
        if event is not None:
            super().resizeEvent(event)
        self._fit_rows()
        self._update_scrollbars()

    def _fit_rows(self) -> None:
        """The row height that fits `span` in the view; a view taller than its rows at
        MAX_ROW shows more pitches above and below rather than an empty area."""
        low, high = self.span
        rows = high - low + 1
        room = self.viewport().height() - self.ruler_height
        self.row_height = int(max(MIN_ROW, min(MAX_ROW, room / rows)))
        extra = max(0, room // self.row_height - rows)
        above = min(127 - high, extra - min(low, extra // 2))
        below = min(low, extra - above)
        self.pitch_low, self.pitch_high = low - below, high + above

    # ---- input ----------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        pos = event.position()
        if self.song is None or event.button() != Qt.MouseButton.LeftButton or pos.x() < KEY_WIDTH:
            super().mousePressEvent(event)
            return
        bar = self.bar_at(pos.x())
        if pos.y() >= self.ruler_height:
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self.gestures.press(pos, event.modifiers())
        elif event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            anchor = self._anchor_bar or (self.selection[0] if self.selection else bar)
            self._anchor_bar = anchor
            self.set_selection(anchor, bar)
        else:
            self._anchor_bar, self._dragging = bar, True
            self.set_selection(bar)
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        if self._dragging and self._anchor_bar is not None:
            self.set_selection(self._anchor_bar, self.bar_at(event.position().x()))
        elif self.gestures.mode is not None:
            self.gestures.move(event.position(), event.modifiers())
        elif self.song is not None and not event.buttons():
            self.viewport().setCursor(self.gestures.cursor(event.position()))
        event.accept()

    def mouseReleaseEvent(self, event) -> None:
        if self._dragging and self._anchor_bar is not None:
            self.set_selection(self._anchor_bar, self.bar_at(event.position().x()))
            self._dragging = False
        elif self.gestures.mode is not None:
            self.gestures.release(event.position(), event.modifiers())
        event.accept()

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
        elif self.song is not None and self.gestures.key(event.key(), event.modifiers()):
            event.accept()
        else:
            super().keyPressEvent(event)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().update()

    def paintEvent(self, event) -> None:
        paint_roll(self)
