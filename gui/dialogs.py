"""Every dialog the app shows goes through one `Dialogs` object.

Questions and file choosers are methods a test can replace on the instance
(they block in a real session). Error dialogs are real message boxes opened
without blocking (`QMessageBox.open`): the app keeps running, and
`errorShown` hands the box to whoever wants to look at it (tests).
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from gui.jobs import JobError

MIDI_FILTER = "MIDI files (*.mid *.midi *.kar);;All files (*)"
MODEL_FILTER = "Model files (*.model);;All files (*)"
WAV_FILTER = "WAV audio (*.wav)"


class Dialogs(QObject):
    """The app's dialogs; `parent` is the window they belong to."""

    errorShown = Signal(QMessageBox)

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self._window = parent
        self.open_errors: list[QMessageBox] = []

    def error(self, title: str, message: str, details: str = "") -> QMessageBox:
        """Show a short message with the traceback under "Show Details..."."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self._window)
        if details:
            box.setDetailedText(details)
        box.finished.connect(self._forget_box)
        self.open_errors.append(box)
        box.open()
        self.errorShown.emit(box)
        return box

    def job_error(self, title: str, error: JobError) -> QMessageBox:
        return self.error(title, error.message, error.details)

    def _forget_box(self) -> None:
        self.open_errors = [b for b in self.open_errors if b.isVisible()]

    # ---- blocking questions: tests replace these on the instance ----------------
    def confirm(self, title: str, question: str) -> bool:
        answer = QMessageBox.question(self._window, title, question,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def open_file(self, caption: str, folder: str, file_filter: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self._window, caption, folder, file_filter)
        return path or None

    def save_file(self, caption: str, suggested: str, file_filter: str) -> str | None:
        """A path to write; the app asks about overwriting itself (see `confirm`)."""
        path, _ = QFileDialog.getSaveFileName(self._window, caption, suggested, file_filter,
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        return path or None

    def choose_folder(self, caption: str, folder: str) -> str | None:
        path = QFileDialog.getExistingDirectory(self._window, caption, folder)
        return path or None
