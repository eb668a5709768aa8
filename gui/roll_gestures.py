"""Mouse and keys on the notes of the piano roll (gui/pianoroll.py), as in a DAW.

- Click a note: select it (and hear it); Shift+click adds or removes it.
- Drag a note: move the selected notes (time snapped to the grid, pitch by
  rows); drag its right edge: change their length. Alt while dragging: no snap.
- Drag in an empty place: a rubber band selects the notes it touches (Shift:
  adds to the selection); a click there clears the selection.
- Ctrl+drag in an empty place (or a plain drag in draw mode, D): draw a note.
- Delete/Backspace deletes; Up/Down transpose by a semitone, Shift+Up/Down by
  an octave; Left/Right move by a grid step; Ctrl+A selects every note.

The roll never changes its song here: each finished edit is emitted as a
gui.roll_edit.NoteEdit (`songEdited`), and whoever shows the song applies it
(the results panel pushes it on its undo stack). While a drag runs, the edit
it would make is drawn (`roll.pending`).
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt

from gui import roll_edit
from gui.roll_edit import NoteEdit

EDGE_PX = 6           # the right edge of a note this wide (at most a third of it) resizes it


class NoteGestures:
    """The note-area half of `roll`'s mouse and key handling."""

    def __init__(self, roll):
        self.roll = roll
        self.mode: str | None = None        # "move", "resize", "draw", "band" while the button is down
        self.origin = QPointF()
        self.grabbed = None                 # the note the drag began on
        self.base: list = []                # the selection a shift+rubber band adds to
        self.heard_pitch: int | None = None

    # ---- mouse ---------------------------------------------------------------------
    def press(self, pos: QPointF, modifiers) -> None:
        roll = self.roll
        note = roll.note_at(pos)
        shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        draw = bool(modifiers & Qt.KeyboardModifier.ControlModifier) or roll.draw_mode
        self.origin, self.grabbed, self.mode = pos, note, None
        if note is not None and not (draw and modifiers & Qt.KeyboardModifier.ControlModifier):
            if shift:
                chosen = [n for n in roll.selected if n != note]
                roll.select_notes(chosen if note in roll.selected else chosen + [note])
                if note in roll.selected:
                    self._hear(note)
                return
            if note not in roll.selected:
                roll.select_notes([note])
            self.mode = "resize" if self.on_edge(note, pos) else "move"
            self.heard_pitch = note.pitch
            self._hear(note)
        elif draw:
            self.mode = "draw"
            self.update_draw(pos, modifiers)
            self.heard_pitch = roll.pending.selected_after[0].pitch
            self._hear(roll.pending.selected_after[0])
        else:
            self.mode = "band"
            self.base = list(roll.selected) if shift else []
            roll.select_notes(self.base)
            roll.band = QRectF(pos, pos)
            roll.viewport().update()

    def move(self, pos: QPointF, modifiers) -> None:
        roll = self.roll
        step = 0.0 if modifiers & Qt.KeyboardModifier.AltModifier else roll.snap_step()
        d_beats = (pos.x() - self.origin.x()) / roll.px_per_beat
        if self.mode == "move":
            start = roll_edit.snap(self.grabbed.start + d_beats, step)
            d_pitch = round((self.origin.y() - pos.y()) / roll.row_height)
            roll.pending = roll_edit.move_edit(roll.song, roll.selected, start - self.grabbed.start, d_pitch)
            if roll.pending is not None:
                self._hear_new_pitch(roll.pending.selected_after[roll.selected.index(self.grabbed)])
        elif self.mode == "resize":
            end = roll_edit.snap(self.grabbed.end + d_beats, step)
            roll.pending = roll_edit.resize_edit(roll.song, roll.selected, end - self.grabbed.end,
                                                 step or roll_edit.MIN_LENGTH)
        elif self.mode == "draw":
            self.update_draw(pos, modifiers)
            self._hear_new_pitch(roll.pending.selected_after[0])
        elif self.mode == "band":
            roll.band = QRectF(self.origin, pos).normalized()
            touched = [n for n in roll.notes if roll.note_rect(n).intersects(roll.band) and n not in self.base]
            roll.select_notes(self.base + touched)
        roll.viewport().update()

    def release(self, pos: QPointF, modifiers) -> None:
        roll = self.roll
        if self.mode in ("move", "resize", "draw"):
            self.move(pos, modifiers)
        edit, mode = roll.pending, self.mode
        roll.pending, roll.band, self.mode = None, None, None
        if mode == "band" and self.origin == pos and not self.base:
            roll.select_notes([])
        if edit is not None:
            roll.songEdited.emit(edit)
        roll.viewport().update()

    def update_draw(self, pos: QPointF, modifiers) -> None:
        """The note a drag from `origin` to `pos` draws, as the pending edit."""
        roll = self.roll
        step = 0.0 if modifiers & Qt.KeyboardModifier.AltModifier else roll.snap_step()
        note = roll_edit.drawn(roll.beat_at(self.origin.x()), roll.beat_at(pos.x()),
                               roll.pitch_at(self.origin.y()), step)
        roll.pending = roll_edit.draw_edit(roll.song, note, roll.selected)

    def on_edge(self, note, pos: QPointF) -> bool:
        rect = self.roll.note_rect(note)
        return rect.right() - pos.x() <= min(EDGE_PX, rect.width() / 3)

    def cursor(self, pos: QPointF) -> Qt.CursorShape:
        """The mouse cursor over `pos` while no button is down."""
        note = self.roll.note_at(pos)
        if note is None:
            return Qt.CursorShape.CrossCursor if self.roll.draw_mode else Qt.CursorShape.ArrowCursor
        return Qt.CursorShape.SizeHorCursor if self.on_edge(note, pos) else Qt.CursorShape.SizeAllCursor

    def _hear(self, note) -> None:
        self.roll.noteAuditioned.emit(note)

    def _hear_new_pitch(self, note) -> None:
        if note.pitch != self.heard_pitch:
            self.heard_pitch = note.pitch
            self._hear(note)

    # ---- keys ----------------------------------------------------------------------
    def key(self, key: int, modifiers) -> bool:
        """Handle `key` on the selected notes; False if it is not an edit key (or nothing is selected)."""
        roll, notes = self.roll, self.roll.selected
        if key == Qt.Key.Key_A and modifiers & Qt.KeyboardModifier.ControlModifier:
            roll.select_notes(list(roll.notes))
            return True
        if key == Qt.Key.Key_D and not modifiers:
            roll.set_draw_mode(not roll.draw_mode)
            return True
        if not notes or roll.song is None:
            return False
        edit = self.key_edit(key, modifiers)
        if edit is False:
            return False
        if edit is not None:
            roll.songEdited.emit(edit)
        return True

    def key_edit(self, key: int, modifiers) -> NoteEdit | None | bool:
        """The edit of an edit key (None: nothing changes), or False for another key."""
        roll, notes = self.roll, self.roll.selected
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            return roll_edit.delete_edit(roll.song, notes)
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            octave = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
            sign = 1 if key == Qt.Key.Key_Up else -1
            text = f"transpose {roll_edit.describe('', len(notes)).strip()} {'up' if sign > 0 else 'down'} " \
                   f"{'an octave' if octave else 'a semitone'}"
            return roll_edit.move_edit(roll.song, notes, 0.0, sign * (12 if octave else 1), text)
        if key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            step = roll.snap_step() or 0.25
            return roll_edit.move_edit(roll.song, notes, step if key == Qt.Key.Key_Right else -step, 0)
        return False
