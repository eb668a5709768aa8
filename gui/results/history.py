"""The one history of the results panel, for as long as the app is open.

Every action that changes what the variation list holds (Generate, Continue,
Regenerate from bar N, a file opened to edit, an accepted infill take, a note
edit) adds an `Entry`: a label and the exact list it left (`Shown`). Entries
are never removed. Two ways back:

- Undo / Redo (Ctrl+Z, Ctrl+Shift+Z) walk the steps in order, generations
  and takes and edits alike, as in a DAW.
- The History drop-down lists every entry; picking one shows that list again
  as a new step ("back to ..."), so Ctrl+Z returns to where you were and the
  later entries stay in the drop-down. A step undone and then overwritten by a
  new action leaves the undo stack, as usual, but its entry stays listed.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QComboBox, QWidget

from composer.music.song import Note, Song

HISTORY_TIP = ("Every set of variations of this session (generations, continuations, takes, edits): "
               "pick one to show it again; Ctrl+Z goes back to where you were")


@dataclass(frozen=True)
class Shown:
    """All the variation list shows, enough to show it again exactly (songs are
    never changed in place: an edit makes a new Song)."""

    songs: tuple[Song, ...] = ()
    kind: str = "melody"
    seed: int | None = None
    primer_beats: float = 0.0
    copies: tuple | None = None          # copy meter per song (gui.variations.Copy), None without an index
    copy_index: object = None            # composer.model.copyindex.CopyIndex that measured them
    sections: tuple = ()                 # the form's letters (gui.form_controls)
    generated: bool = True               # False: the user's own file (no copy meter)
    source_name: str = ""                # stem of the file opened to edit
    row: int = 0                         # the variation selected


@dataclass(frozen=True)
class PrimerState:
    """The generate view's primer (None: none), for the steps that change it (Continue)."""

    song: Song | None = None
    name: str = ""
    path: str = ""


@dataclass(frozen=True)
class Entry:
    label: str
    shown: Shown


@dataclass(frozen=True)
class Side:
    """One side of a step: the list, its History entry (-1: the empty start),
    and, when the step changes them, the primer and the notes selected in the roll."""

    shown: Shown
    entry: int
    primer: PrimerState | None = None
    selected: tuple[Note, ...] | None = None


class StepCommand(QUndoCommand):
    """One step: `before` -> `after` (Sides)."""

    def __init__(self, history: History, before: Side, after: Side, text: str, done: str = ""):
        super().__init__(text)
        self.history, self.before, self.after = history, before, after
        self.done = done                 # the status line of the first redo (the push); "" says nothing
        self.pushed = False

    def redo(self) -> None:
        self.history.apply(self.after)
        if self.pushed or self.done:
            self.history.panel.status.emit(f"Redid: {self.text()}" if self.pushed else self.done)
        self.pushed = True

    def undo(self) -> None:
        self.history.apply(self.before)
        self.history.panel.status.emit(f"Undid: {self.text()} (Ctrl+Shift+Z redoes it)")


class History(QObject):
    """The entries, the undo stack over them, Undo/Redo actions and the
    History drop-down of `panel` (a ResultsPanel: `snapshot()`, `show_state()`,
    `status`, `primerRestored`, `roll`)."""

    def __init__(self, panel: QWidget):
        super().__init__(panel)
        self.panel = panel
        self.entries: list[Entry] = []
        self.current = -1                # the entry shown; -1: nothing yet
        self.busy = False                # a job runs: no step until it ends
        self.stack = QUndoStack(self)
        self.undo_action = QAction("&Undo", panel)
        self.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
        self.undo_action.triggered.connect(self.stack.undo)
        self.redo_action = QAction("&Redo", panel)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.triggered.connect(self.stack.redo)
        for act in (self.undo_action, self.redo_action):
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            panel.addAction(act)
        self.combo = QComboBox()
        self.combo.setToolTip(HISTORY_TIP)
        self.combo.setMinimumContentsLength(14)      # long labels do not widen the window
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setPlaceholderText("nothing yet")
        self.combo.activated.connect(self.go_to)
        self.stack.indexChanged.connect(self.update_actions)
        self.update_actions()

    def record(self, label: str, after: Shown, *, primers: tuple[PrimerState, PrimerState] | None = None,
               selected: tuple[tuple[Note, ...], tuple[Note, ...]] | None = None, done: str = "") -> None:
        """Add an entry `label` that shows `after`, as one undo step from what is
        shown now; `primers`, `selected`: the primer and the roll's selected
        notes before and after, when the step changes them."""
        self.entries.append(Entry(label, after))
        self.combo.addItem(f"{len(self.entries)}. {label}")
        primers, selected = primers or (None, None), selected or (None, None)
        self.stack.push(StepCommand(self, Side(self.panel.snapshot(), self.current, primers[0], selected[0]),
                                    Side(after, len(self.entries) - 1, primers[1], selected[1]), label, done))

    def go_to(self, index: int) -> None:
        """Show entry `index` again, as a step Ctrl+Z undoes (the History drop-down)."""
        if self.busy or not 0 <= index < len(self.entries) or index == self.current:
            self._select(self.current)
            return
        entry = self.entries[index]
        self.stack.push(StepCommand(self, Side(self.panel.snapshot(), self.current), Side(entry.shown, index),
                                    f"back to {entry.label}", done=f"Back to {index + 1}. {entry.label}"))

    def apply(self, side: Side) -> None:
        """What a step does: show `side`."""
        self.current = side.entry
        self.panel.show_state(side.shown)
        if side.primer is not None:
            self.panel.primerRestored.emit(side.primer)
        if side.selected is not None:
            self.panel.roll.select_notes(side.selected)
        self._select(side.entry)

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.update_actions()

    def update_actions(self, *_args) -> None:
        can_undo, can_redo = self.stack.canUndo() and not self.busy, self.stack.canRedo() and not self.busy
        self.undo_action.setEnabled(can_undo)
        self.redo_action.setEnabled(can_redo)
        self.undo_action.setText(f"&Undo {self.stack.undoText()}" if self.stack.canUndo() else "&Undo")
        self.redo_action.setText(f"&Redo {self.stack.redoText()}" if self.stack.canRedo() else "&Redo")
        busy_tip = "Wait for the running job to end (or cancel it with Esc)"
        self.undo_action.setToolTip(busy_tip if self.busy else f"Undo {self.stack.undoText()} (Ctrl+Z)")
        self.redo_action.setToolTip(busy_tip if self.busy else f"Redo {self.stack.redoText()} (Ctrl+Shift+Z)")
        self.combo.setEnabled(bool(self.entries) and not self.busy)

    def _select(self, index: int) -> None:
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)
        self.update_actions()
