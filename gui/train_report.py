"""The train view's read-outs: the ingestion report (a table of the files
with their status) and the progress of a scan or a run with the training
and validation curves."""
from __future__ import annotations

import math
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.plot import CurvePlot


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class IngestReportView(QGroupBox):
    """The counts of a scan and one table row per file (file, status, reason, notes);
    the reason of a damaged file that is used says what was kept."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Ingestion report", parent)
        self.counts = QLabel("No folder scanned yet.")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["File", "Status", "Reason", "Notes"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.counts)
        layout.addWidget(self.table)

    def clear(self) -> None:
        self.counts.setText("No folder scanned yet.")
        self.table.setRowCount(0)

    def show_report(self, report) -> None:
        used, skipped = report.used(), report.skipped()
        damaged = sum(1 for f in used if f.damage)
        self.counts.setText(f"{len(report.files)} files: {len(used)} used"
                            + (f" ({damaged} damaged, read up to the damage)" if damaged else "")
                            + f", {len(skipped)} skipped"
                            + (f" — {sum(f.n_notes for f in used):,} notes" if used else
                               " — nothing to train on: " + ("no .mid or .midi files in this folder or its subfolders"
                                                            if not report.files else "each file's reason is below")))
        self.table.setRowCount(len(report.files))
        for row, result in enumerate(report.files):
            reason = result.reason or result.damage      # a used file: what its damage cost
            for col, text in enumerate((result.path, result.status, reason, str(result.n_notes))):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.resizeColumnToContents(1)
        self.table.resizeColumnToContents(3)


LOSS_PER_TOKEN = "training loss (nats/token)"
LOSS_PER_NOTE = "training loss (bits per note)"     # nats/token / ln 2 x the folder's tokens per note

class TrainProgressView(QGroupBox):
    """The progress bar, phase, speed and device lines, and the curves of
    training loss and validation bits per note."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Progress", parent)
        self.progress = QProgressBar()
        self.phase = QLabel("")
        self.speed = QLabel("")
        self.device = QLabel("")
        self.device.setWordWrap(True)
        self.loss_plot = CurvePlot(LOSS_PER_NOTE, "#1f6fd1")   # per token only for a run without note counts
        self.val_plot = CurvePlot("validation bits per note", "#d1501f")
        self._last_val: float | None = None
        self._tokens_per_note: float | None = None   # of the scanned folder: puts the loss in bits per note
        self._last = None                  # the last TrainProgress, and the monotonic time it came
        self._last_at = self._started = 0.0
        self.clock = QTimer(self)          # the run's clock moves between steps too (a step may take long)
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self._show_times)
        layout = QGridLayout(self)
        layout.addWidget(self.progress, 0, 0, 1, 2)
        layout.addWidget(self.phase, 1, 0, 1, 2)
        layout.addWidget(self.speed, 2, 0)
        layout.addWidget(self.device, 2, 1)
        layout.addWidget(self.loss_plot, 3, 0)
        layout.addWidget(self.val_plot, 3, 1)

    def clear_curves(self) -> None:
        self.loss_plot.clear()
        self.val_plot.clear()
        self._last_val = self._tokens_per_note = None
        self.loss_plot.title = LOSS_PER_NOTE

    def show_training(self, p) -> None:
        """Show `p`, a training.config.TrainProgress."""
        if p.phase == "scanning":
            self.progress.setRange(0, max(1, p.files_total))
            self.progress.setValue(p.files_done)
        else:
            self.progress.setRange(0, max(1, p.total_steps or 0))
            self.progress.setValue(p.step)
        if p.report is not None and self._tokens_per_note is None and not self.loss_plot.points:
            used = p.report.used()
            notes = sum(f.n_notes for f in used)
            if notes:           # the same unit as the validation curve beside it
                self._tokens_per_note = sum(f.n_tokens for f in used) / notes
                self.loss_plot.title = LOSS_PER_NOTE
        if p.train_loss is not None and p.phase == "training":
            if self._tokens_per_note is None:
                self.loss_plot.title = LOSS_PER_TOKEN
            scale = self._tokens_per_note / math.log(2) if self._tokens_per_note else 1.0
            self.loss_plot.add_point(p.step, p.train_loss * scale)
        if p.val_bits_per_note is not None and p.val_bits_per_note != self._last_val:
            self._last_val = p.val_bits_per_note
            self.val_plot.add_point(p.step, p.val_bits_per_note)
        best = f", best {p.best_val_bits_per_note:.3f} bits/note" if p.best_val_bits_per_note is not None else ""
        self.phase.setText(f"{p.phase}: step {p.step}/{p.total_steps or '?'}, epoch {p.epoch:.2f}{best}"
                           + (f" — {p.message}" if p.message else ""))
        self._last, self._last_at = p, time.monotonic()
        self._show_times()
        self.device.setText(f"Device: {p.device_reason or p.device}")

    def start_clock(self) -> None:
        """A run starts: the elapsed time counts from now until `finish`."""
        self._last, self._started = None, time.monotonic()
        self.speed.setText("elapsed 0:00")
        self.clock.start()

    def stop_clock(self) -> None:
        self.clock.stop()

    def finish(self, steps: int | None) -> None:
        """The run ended after `steps` steps (None: failed or cancelled before a result):
        the bar shows the steps done, not a full bar, and no ETA is left behind."""
        self.stop_clock()
        total = self._last.total_steps if self._last is not None else None
        self.progress.setRange(0, max(1, total or steps or 0))
        self.progress.setValue(min(steps or 0, self.progress.maximum()))
        if self._last is not None:
            self.speed.setText(f"{self._last.tokens_per_s:,.0f} tokens/s, elapsed {format_duration(self._elapsed())}")

    def _elapsed(self) -> float:
        now = time.monotonic()
        return self._last.elapsed_s + now - self._last_at if self._last is not None else now - self._started

    def _show_times(self) -> None:
        """Speed, ETA and elapsed time, moved on by the time since the last report."""
        p, since = self._last, time.monotonic() - self._last_at
        if p is None:
            self.speed.setText(f"elapsed {format_duration(self._elapsed())}")
            return
        eta = max(0, math.ceil(p.eta_s - since)) if p.eta_s is not None else None
        self.speed.setText(f"{p.tokens_per_s:,.0f} tokens/s, ETA {format_duration(eta)}, "
                           f"elapsed {format_duration(self._elapsed())}")
