"""The edit actions of the results panel: Regenerate selection, Clear selection,
Undo and Redo of accepted takes and note edits (also in the Edit menu and the
roll's context menu), their buttons, the line that says which bars are
selected, and the roll's Snap and Draw controls."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton, QToolButton, QWidget

from gui.controls import row_of
from gui.pianoroll import PianoRoll
from gui.roll_edit import SNAPS, NoteEdit

SNAP_TIP = "Drawn, moved and resized notes snap to this grid (hold Alt while dragging to not snap)"
DRAW_TIP = ("Draw mode (D): a drag in an empty place of the roll draws a note. "
            "Without it, Ctrl+drag draws and a plain drag selects")


class NoteEditCommand(QUndoCommand):
    """A note edit (gui.roll_edit.NoteEdit) of row `row` of the results panel's variations."""

    def __init__(self, panel, row: int, edit: NoteEdit):
        super().__init__(edit.text)
        self.panel, self.row, self.edit = panel, row, edit

    def redo(self) -> None:
        self.panel.replace_song(self.row, self.edit.after)
        self.panel.roll.select_notes(self.edit.selected_after)

    def undo(self) -> None:
        self.panel.replace_song(self.row, self.edit.before)
        self.panel.roll.select_notes(self.edit.selected_before)
        self.panel.status.emit(f"Undid: {self.text()} (Ctrl+Shift+Z redoes it)")


class EditActions:
    """Actions owned by `panel` (their shortcuts work anywhere in its window);
    Regenerate selection and Clear selection are also in `roll`'s context menu."""

    def __init__(self, panel: QWidget, roll: PianoRoll):
        self.undo_stack = QUndoStack(panel)
        self.undo_action = self.undo_stack.createUndoAction(panel, "&Undo")
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = self.undo_stack.createRedoAction(panel, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.infill_action = QAction("Regenerate &selection", panel)
        self.infill_action.setShortcut(QKeySequence("Ctrl+R"))
        self.infill_action.setStatusTip("Sample new takes of the selected bars; the other bars stay as they are")
        self.clear_selection_action = QAction("Clear selection", panel)
        self.clear_selection_action.triggered.connect(roll.clear_selection)
        for act in (self.undo_action, self.redo_action, self.infill_action):
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            panel.addAction(act)
        roll.addActions([self.infill_action, self.clear_selection_action])
        self.infill_button = QPushButton("Regenerate selection")
        self.infill_button.clicked.connect(self.infill_action.trigger)
        self.undo_button, self.redo_button = QToolButton(), QToolButton()
        self.undo_button.setDefaultAction(self.undo_action)
        self.redo_button.setDefaultAction(self.redo_action)
        self.selection_label = QLabel()
        self.snap = QComboBox()
        self.snap.addItems(SNAPS)
        self.snap.setCurrentText(roll.snap)
        self.snap.setToolTip(SNAP_TIP)
        self.snap.currentTextChanged.connect(roll.set_snap)
        self.draw_button = QToolButton()
        self.draw_button.setText("Draw")
        self.draw_button.setCheckable(True)
        self.draw_button.setToolTip(DRAW_TIP)
        self.draw_button.toggled.connect(roll.set_draw_mode)
        roll.drawModeChanged.connect(self.draw_button.setChecked)

    def widgets(self) -> list[QWidget]:
        """The buttons and the selection line, in the order of the edit row."""
        return [self.infill_button, self.undo_button, self.redo_button, row_of(QLabel("Snap"), self.snap),
                self.draw_button, self.selection_label]

    def update(self, selection: tuple[int, int] | None, *, can_infill: bool, melody: bool) -> None:
        """Enable the actions for the bars `selection` (1-based, inclusive; None:
        no selection); `can_infill`: a song is shown and no job runs; `melody`:
        the song is a melody (infill rewrites melody bars)."""
        self.infill_action.setEnabled(can_infill and selection is not None and melody)
        self.infill_button.setEnabled(self.infill_action.isEnabled())
        self.clear_selection_action.setEnabled(selection is not None)
        if selection is None:
            self.selection_label.setText("Drag on the ruler to select bars")
        else:
            first, last = selection
            self.selection_label.setText(f"bar {first} selected" if first == last else f"bars {first}-{last} selected")
        self.infill_button.setToolTip(
            "Regenerating a selection needs a melody model" if not melody else
            "Sample new takes of the selected bars (Ctrl+R)" if selection else "First select bars: drag on the ruler")
