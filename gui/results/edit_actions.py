"""The edit actions of the results panel: Regenerate selection and Clear
selection (also in the Edit menu and the roll's context menu), the buttons of
these and of Undo and Redo (gui.results.history, over takes, note edits and
generations), the line that says which bars are selected, and the roll's Snap
and Draw controls."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QPushButton, QToolButton, QWidget

from gui.controls import row_of
from gui.pianoroll import PianoRoll
from gui.roll_edit import SNAPS

SNAP_TIP = "Drawn, moved and resized notes snap to this grid (hold Alt while dragging to not snap)"
DRAW_TIP = ("Draw mode (D): a drag in an empty place of the roll draws a note. "
            "Without it, Ctrl+drag draws and a plain drag selects")


class EditActions:
    """Actions owned by `panel` (their shortcuts work anywhere in its window);
    Regenerate selection and Clear selection are also in `roll`'s context menu."""

    def __init__(self, panel: QWidget, roll: PianoRoll, undo_action: QAction, redo_action: QAction):
        self.infill_action = QAction("Regenerate &selection", panel)
        self.infill_action.setShortcut(QKeySequence("Ctrl+R"))
        self.infill_action.setStatusTip("Sample new takes of the selected bars; the other bars stay as they are")
        self.clear_selection_action = QAction("Clear selection", panel)
        self.clear_selection_action.triggered.connect(roll.clear_selection)
        self.infill_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        panel.addAction(self.infill_action)
        roll.addActions([self.infill_action, self.clear_selection_action])
        self.infill_button = QPushButton("Regenerate selection")
        self.infill_button.clicked.connect(self.infill_action.trigger)
        self.undo_button, self.redo_button = _short_button("Undo", undo_action), _short_button("Redo", redo_action)
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
        return [self.infill_button, row_of(self.undo_button, self.redo_button), row_of(QLabel("Snap"), self.snap),
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


def _short_button(text: str, action: QAction) -> QToolButton:
    """A button that triggers `action` and follows its state, named `text`
    (the action's own text names the step, long for a button)."""
    button = QToolButton()
    button.setText(text)
    button.clicked.connect(action.trigger)

    def follow() -> None:
        button.setEnabled(action.isEnabled())
        button.setToolTip(action.toolTip())

    action.changed.connect(follow)
    follow()
    return button
