"""The train view: choose a folder, see what the ingestion makes of it, set
up a model, and train it with live curves. Runs `composer.corpus.ingest.scan_folder`
and `training.trainer.train` on worker threads. The form is gui/train_form.py,
the report and the progress with its curves gui/train_report.py; this view
holds the folder, the jobs and the buttons' state."""
from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from composer.errors import ComposerError
from composer.music.midifile import ReadLimits
from gui.dialogs import Dialogs
from gui.jobs import Job, JobError, Throttle
from gui.settings import Settings
from gui.train_form import SIZE_PRESETS, TrainForm, parameter_count
from gui.train_report import IngestReportView, TrainProgressView, format_duration
from gui.wheel_guard import WheelGuard
from training.sizing import choose

__all__ = ["SIZE_PRESETS", "TrainView", "format_duration", "parameter_count", "scan_job", "training_api",
           "training_job"]
NAME_PATTERN = re.compile(r"^[\w][\w .+-]*$")


def training_api():
    """(trainer module, ingest module, "") once the training package exists,
    else (None, None, reason)."""
    try:
        from composer.corpus import ingest
        from training import trainer
    except ImportError as exc:
        return None, None, f"training is not available yet ({exc})"
    return trainer, ingest, ""


def scan_job(ingest, folder: str, tokenizer, *, strict_midi: bool = False):
    limits = ReadLimits(salvage=not strict_midi)

    def run(progress, should_stop):
        throttle = Throttle(0.1)

        def on_file(p):
            if throttle.ready(final=p.finished):
                progress(p)
        return ingest.scan_folder(folder, tokenizer, limits=limits, progress=on_file, should_stop=should_stop).report
    return run


def training_job(trainer, config):
    def run(progress, should_stop):
        throttle = Throttle(0.1)
        last = {"phase": None, "val": None}

        def on_progress(p):
            state = p.info          # never drop phase changes or evaluations
            important = state.phase != last["phase"] or state.val_bits_per_note != last["val"]
            last["phase"], last["val"] = state.phase, state.val_bits_per_note
            if throttle.ready(final=important):
                progress(p)
        return trainer.train(config, progress=on_progress, should_stop=should_stop)
    return run


class TrainView(QWidget):
    modelTrained = Signal(object)     # Path of the new model file
    busyChanged = Signal(bool)
    status = Signal(str)

    def __init__(self, settings: Settings, dialogs: Dialogs, user_models_dir: Path, parent: QWidget | None = None,
                 *, loading: bool = False):
        """`loading`: training imports torch behind the window (gui/startup.py), then `finish_loading`."""
        super().__init__(parent)
        self.settings, self.dialogs, self.user_models_dir = settings, dialogs, user_models_dir
        self.trainer, self.ingest, self.unavailable = (None, None, "") if loading else training_api()
        self.job: Job | None = None
        self.report = None
        self._report_key: tuple[str, str] | None = None
        self._build()
        self.form.counting = not loading
        self.load_settings()
        self._connect()
        self.form.update_size_label()
        self._update_buttons()

    def finish_loading(self) -> None:
        """Torch and the training package are imported: Scan and Start can run."""
        self.trainer, self.ingest, self.unavailable = training_api()
        self.banner.setText(self.unavailable)
        self.banner.setVisible(bool(self.unavailable))
        self.form.counting = True
        self.form.update_size_label()
        self._update_buttons()

    # ---- layout ---------------------------------------------------------------------
    def _build(self) -> None:
        self.banner = QLabel(self.unavailable)
        self.banner.setStyleSheet("color: #a33;")
        self.banner.setVisible(bool(self.unavailable))
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("a folder of .mid files")
        self.choose_button = QPushButton("Choose folder...")
        self.scan_button = QPushButton("Scan")
        self.report_view = IngestReportView()
        self.form = TrainForm(self.user_models_dir)
        self.live = TrainProgressView()
        self._name_the_parts()
        folder_row = QHBoxLayout()
        folder_row.addWidget(QLabel("Folder"))
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.choose_button)
        folder_row.addWidget(self.scan_button)
        grid = QGridLayout()
        grid.addWidget(self.report_view, 0, 0)
        grid.addWidget(self.form, 0, 1)
        grid.addWidget(self.live, 1, 0, 1, 2)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setSizeConstraint(QVBoxLayout.SizeConstraint.SetMinimumSize)   # the page grows with Advanced
        layout.addWidget(self.banner)
        layout.addLayout(folder_row)
        layout.addLayout(grid, 1)
        # in a scroll area: a small window (or Advanced settings) scrolls rather than growing the window
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidget(page)
        self.scroll_area.setWidgetResizable(True)
        WheelGuard(self.scroll_area)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll_area)

    def _name_the_parts(self) -> None:
        """The parts' widgets as attributes of the view (its callers and tests reach them here)."""
        f, r, live = self.form, self.report_view, self.live
        self.counts, self.table = r.counts, r.table
        self.name, self.representation, self.cell, self.size, self.size_label = (
            f.name, f.representation, f.cell, f.size, f.size_label)
        self.steps, self.epochs, self.length_unit, self.val_share = f.steps, f.epochs, f.length_unit, f.val_share
        self.transpose_low, self.transpose_high = f.transpose_low, f.transpose_high
        self.layers, self.hidden, self.embed, self.dropout = f.layers, f.hidden, f.embed, f.dropout
        self.batch, self.seq_len, self.lr = f.batch, f.seq_len, f.lr
        self.show_advanced, self.advanced = f.show_advanced, f.advanced
        self.start_button, self.cancel_button, self.resume_button = f.start_button, f.cancel_button, f.resume_button
        self.progress, self.phase, self.speed, self.device = live.progress, live.phase, live.speed, live.device
        self.loss_plot, self.val_plot = live.loss_plot, live.val_plot

    def _connect(self) -> None:
        self.choose_button.clicked.connect(self.choose_folder)
        self.scan_button.clicked.connect(self.scan)
        self.folder.textChanged.connect(self._on_folder_edited)
        self.start_button.clicked.connect(self.start)
        self.resume_button.clicked.connect(self.resume)
        self.cancel_button.clicked.connect(self.cancel)
        self.representation.currentTextChanged.connect(self._on_representation)
        self.name.textChanged.connect(self._update_buttons)
        for spin in (self.steps, self.epochs, self.batch, self.seq_len, self.val_share):
            spin.valueChanged.connect(self.show_chosen)
        self.length_unit.currentTextChanged.connect(self.show_chosen)
        self.form.connect_signals()

    # ---- settings -----------------------------------------------------------------------
    def load_settings(self) -> None:
        self.folder.setText(self.settings.get("train/folder"))
        self.form.load_settings(self.settings)

    def save_settings(self) -> None:
        self.settings.set("train/folder", self.folder.text())
        self.form.save_settings(self.settings)

    def _on_representation(self) -> None:
        self.form.update_size_label()
        self._update_buttons()

    def _on_folder_edited(self) -> None:
        """A report of another folder does not describe this one: it goes."""
        if self.job is None and self.report is not None and not self._report_is_current(any_representation=True):
            self.clear_report()
        self._update_buttons()

    def _report_is_current(self, *, any_representation: bool = False) -> bool:
        """The report shown is the scan of the folder in the field (and of the representation chosen)."""
        key = (self.folder.text().strip(), self.representation.currentText())
        if self.report is None or self._report_key is None:
            return False
        return self._report_key[0] == key[0] if any_representation else self._report_key == key

    # ---- folder and ingestion report ------------------------------------------------------
    def choose_folder(self) -> None:
        folder = self.dialogs.choose_folder("Folder of MIDI files", self.folder.text())
        if folder:
            self.folder.setText(folder)
            self.scan()

    def _tokenizer(self):
        config = self.trainer.TrainConfig(folder=self.folder.text(), out="unused.model",
                                          representation=self.representation.currentText())
        return config.make_tokenizer()

    def scan(self) -> None:
        """Run the ingestion on the folder and show its report (before training)."""
        folder = self.folder.text().strip()
        if self.job is not None or self.ingest is None or not folder:
            return
        try:
            self.ingest.readable_folder(folder)
        except ComposerError as exc:
            self.clear_report()
            self.phase.setText(str(exc))
            self.dialogs.error("Cannot scan this folder", str(exc))
            return
        self.settings.set("train/folder", folder)
        self._report_key = (folder, self.representation.currentText())
        job = scan_job(self.ingest, folder, self._tokenizer(), strict_midi=self.form.strict_midi.isChecked())
        self._start_job(Job("scan", job, self),
                        self._on_scan_progress, self._on_scanned, f"Scanning {folder}...")

    def _on_scan_progress(self, update) -> None:
        self.progress.setRange(0, max(1, int(update.total or 0)))
        self.progress.setValue(int(update.done))
        self.phase.setText(f"scanning {update.message}")

    def _on_scanned(self, report) -> None:
        self.show_report(report)
        self.progress.setRange(0, max(1, len(report.files)))
        self.progress.setValue(len(report.files))          # an empty folder: an empty bar
        self.phase.setText(f"Scanned {len(report.files)} file(s).")

    def show_report(self, report) -> None:
        """Fill the table (file, status, reason, notes) and the counts above it, and
        say what would be chosen for this folder."""
        self.report = report
        self.report_view.show_report(report)
        self.show_chosen()
        self._update_buttons()

    def show_chosen(self) -> None:
        """What training.sizing chooses for the scanned folder and the length set (the trainer does the same)."""
        lines = []
        if self.trainer is not None and self.report is not None and self.report.used():
            try:
                lines = choose(self.config(), self.report).lines()
            except (ValueError, TypeError):     # a half-typed setting: nothing to show yet
                pass
        self.form.show_chosen(lines)

    def clear_report(self) -> None:
        self.report, self._report_key = None, None
        self.report_view.clear()
        self.form.show_chosen([])
        self._update_buttons()

    # ---- training -------------------------------------------------------------------------
    def out_path(self) -> Path:
        return self.user_models_dir / f"{self.name.text().strip()}.model"

    def checkpoint_exists(self) -> bool:
        return bool(self.name.text().strip()) and (Path(str(self.out_path()) + ".train") / "last.ckpt").exists()

    def config(self, *, resume: bool = False, force: bool = False):
        return self.form.config(self.trainer.TrainConfig, folder=self.folder.text().strip(), out=self.out_path(),
                                resume=resume, force=force)

    def start(self) -> None:
        self._start_training(resume=False)

    def resume(self) -> None:
        self._start_training(resume=True)

    def _start_training(self, *, resume: bool) -> None:
        if self.job is not None or self.trainer is None:
            return
        name = self.name.text().strip()
        if not NAME_PATTERN.match(name):
            self.dialogs.error("Bad model name", f"model name {name!r} must be letters, digits, spaces, . + - _")
            return
        try:        # before asking to replace anything: a folder with nothing to train on
            self.ingest.require_midi_files(self.folder.text().strip())
        except ComposerError as exc:
            self.phase.setText(f"Cannot train: {exc}")
            self.dialogs.error("Cannot train", str(exc))
            return
        force = False
        if not resume and (self.out_path().exists() or self.checkpoint_exists()):
            if not self.dialogs.confirm("Replace model?", f"A model named {name!r} already exists (or an "
                                        "unfinished run of it). Start over and replace it?"):
                return
            force = True
        try:
            config = self.config(resume=resume, force=force)
        except (ValueError, TypeError) as exc:
            self.dialogs.error("Cannot train", str(exc))
            return
        self.user_models_dir.mkdir(parents=True, exist_ok=True)
        self.save_settings()
        self.live.clear_curves()
        self._report_key = (self.folder.text().strip(), self.representation.currentText())
        self._start_job(Job("train", training_job(self.trainer, config), self), self._on_train_progress,
                        self._on_trained, ("Resuming" if resume else "Starting") + f" training of {name}...")

    def _on_train_progress(self, update) -> None:
        p = update.info                  # a training.config.TrainProgress
        if p.report is not None and p.report is not self.report:
            self.show_report(p.report)
        self.live.show_training(p)

    def _on_trained(self, result) -> None:
        best = result.best_val_bits_per_note
        text = (f"Training stopped ({result.stopped_reason}) after {result.steps} steps"
                + (f", best validation {best:.3f} bits/note" if best is not None else ""))
        self.live.finish(result.steps)
        self.phase.setText(text)
        self.status.emit(text)
        if result.report is not None:
            self.show_report(result.report)
        if result.model_path is not None and Path(result.model_path).is_file():
            self.modelTrained.emit(Path(result.model_path))

    # ---- jobs ---------------------------------------------------------------------------
    def _start_job(self, job: Job, on_progress, on_success, message: str) -> None:
        self.job = job
        job.progressed.connect(on_progress)
        job.succeeded.connect(on_success)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        job.finished.connect(self._on_finished)
        self.progress.setRange(0, 0)
        self.phase.setText(message)
        if job.name == "train":
            self.live.start_clock()
        job.start()
        self._update_buttons()
        self.busyChanged.emit(True)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.phase.setText("Stopping (a checkpoint is written first)..." if self.job.name == "train"
                               else "Stopping...")

    def _on_failed(self, error: JobError) -> None:
        title = "Training failed" if self.job is not None and self.job.name == "train" else "Scan failed"
        self.phase.setText(f"{title}: {error.message}")
        self.live.finish(None)
        self.dialogs.job_error(title, error)

    def _on_cancelled(self) -> None:
        self.phase.setText("Cancelled.")
        self.live.finish(None)

    def _on_finished(self) -> None:
        self.job = None
        self.live.stop_clock()
        self._update_buttons()
        self.busyChanged.emit(False)

    def _update_buttons(self) -> None:
        busy = self.job is not None
        ready = self.trainer is not None and self.ingest is not None
        has_folder = bool(self.folder.text().strip())
        self.choose_button.setEnabled(not busy and ready)
        self.scan_button.setEnabled(not busy and ready and has_folder)
        nothing_usable = self._report_is_current() and not self.report.used()
        self.start_button.setEnabled(not busy and ready and has_folder and bool(self.name.text().strip())
                                     and not nothing_usable)
        self.start_button.setToolTip("No usable MIDI file in this folder: see the reasons in the report"
                                     if nothing_usable else "Train a model on the folder's files")
        self.resume_button.setEnabled(not busy and ready and has_folder and self.checkpoint_exists())
        self.cancel_button.setEnabled(busy)

    def running_jobs(self) -> list[Job]:
        return [self.job] if self.job is not None and self.job.is_running() else []
