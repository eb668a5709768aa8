"""The train view: choose a folder, see what the ingestion makes of it, set
up a model, and train it with live curves. Runs `composer.corpus.ingest.scan_folder`
and `training.trainer.train` on worker threads."""
from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.controls import row_of
from gui.dialogs import Dialogs
from gui.jobs import Job, JobError, Throttle
from gui.plot import CurvePlot
from gui.settings import Settings

# layers, hidden units, embedding size of each preset
SIZE_PRESETS = {"small": (2, 256, 128), "medium": (2, 512, 256), "large": (3, 768, 256)}
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


def parameter_count(representation: str, cell: str, layers: int, hidden: int, embed: int) -> int:
    """Parameters of the model these settings make (training.config.parameter_count)."""
    from training.config import TrainConfig
    from training.config import parameter_count as count
    return count(TrainConfig(folder="", out="", representation=representation, cell=cell, layers=layers,
                             hidden=hidden, embed=embed))


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def scan_job(ingest, folder: str, tokenizer):
    def run(progress, should_stop):
        throttle = Throttle(0.1)

        def on_file(p):
            if throttle.ready(final=p.finished):
                progress(p)
        return ingest.scan_folder(folder, tokenizer, progress=on_file, should_stop=should_stop).report
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

    def __init__(self, settings: Settings, dialogs: Dialogs, user_models_dir: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.settings, self.dialogs, self.user_models_dir = settings, dialogs, user_models_dir
        self.trainer, self.ingest, self.unavailable = training_api()
        self.job: Job | None = None
        self.report = None
        self._report_key: tuple[str, str] | None = None
        self._last_val: float | None = None
        self._build()
        self.load_settings()
        self._connect()
        self._update_size_label()
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
        self.counts = QLabel("No folder scanned yet.")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["File", "Status", "Reason", "Notes"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)

        self.name = QLineEdit()
        self.name.setToolTip(f"The model is saved as NAME.model in {self.user_models_dir}")
        self.representation = QComboBox()
        self.representation.addItems(["melody", "performance"])
        self.cell = QComboBox()
        self.cell.addItem("LSTM", "lstm")
        self.cell.addItem("GRU", "gru")
        self.cell.addItem("Plain RNN (tanh)", "rnn")
        self.size = QComboBox()
        self.size.addItems(list(SIZE_PRESETS) + ["custom"])
        self.size_label = QLabel()
        self.steps = QSpinBox(minimum=1, maximum=1_000_000, singleStep=100, suffix=" steps")
        self.epochs = QDoubleSpinBox(minimum=0.1, maximum=10_000.0, decimals=1, singleStep=1.0, suffix=" epochs")
        self.length_unit = QComboBox()
        self.length_unit.addItems(["steps", "epochs"])
        self.length_unit.setToolTip("Train for a number of optimizer steps, or of passes over the training files")
        self.val_share = QDoubleSpinBox(minimum=0.0, maximum=0.5, singleStep=0.05, decimals=2)
        self.val_share.setToolTip("Share of the files held out to measure validation bits per note")
        self.transpose_low = QSpinBox(minimum=-12, maximum=0, suffix=" st")
        self.transpose_high = QSpinBox(minimum=0, maximum=12, suffix=" st")
        self.layers = QSpinBox(minimum=1, maximum=6)
        self.hidden = QSpinBox(minimum=8, maximum=4096, singleStep=64)
        self.embed = QSpinBox(minimum=8, maximum=2048, singleStep=32)
        self.dropout = QDoubleSpinBox(minimum=0.0, maximum=0.9, singleStep=0.05, decimals=2)
        self.batch = QSpinBox(minimum=1, maximum=1024)
        self.seq_len = QSpinBox(minimum=8, maximum=4096, singleStep=32, suffix=" tokens")
        self.lr = QDoubleSpinBox(minimum=1e-5, maximum=1.0, decimals=5, singleStep=5e-4)

        form = QFormLayout()
        form.addRow("Model name", self.name)
        form.addRow("Representation", self.representation)
        form.addRow("Cell", self.cell)
        form.addRow("Size", row_of(self.size, self.size_label))
        form.addRow("Length", row_of(self.length_unit, self.steps, self.epochs))
        form.addRow("Validation share", self.val_share)
        form.addRow("Transposition", row_of(self.transpose_low, QLabel("to"), self.transpose_high))
        self.show_advanced = QCheckBox("Advanced settings")
        self.advanced = QWidget()
        adv = QFormLayout(self.advanced)
        adv.setContentsMargins(16, 0, 0, 0)
        for label, widget in (("Layers", self.layers), ("Hidden units", self.hidden), ("Embedding", self.embed),
                              ("Dropout", self.dropout), ("Batch", self.batch), ("Chunk length", self.seq_len),
                              ("Learning rate", self.lr)):
            adv.addRow(label, widget)
        self.show_advanced.toggled.connect(self.advanced.setVisible)
        self.advanced.setVisible(False)

        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the last run of this model name from its checkpoint")
        self.progress = QProgressBar()
        self.phase = QLabel("")
        self.speed = QLabel("")
        self.device = QLabel("")
        self.device.setWordWrap(True)
        self.loss_plot = CurvePlot("training loss (nats/token)", "#1f6fd1")
        self.val_plot = CurvePlot("validation bits per note", "#d1501f")

        folder_row = QHBoxLayout()
        folder_row.addWidget(QLabel("Folder"))
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.choose_button)
        folder_row.addWidget(self.scan_button)
        settings_box = QGroupBox("Model and training")
        settings_layout = QVBoxLayout(settings_box)
        settings_layout.addLayout(form)
        settings_layout.addWidget(self.show_advanced)
        settings_layout.addWidget(self.advanced)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.cancel_button, self.resume_button):
            buttons.addWidget(button)
        settings_layout.addLayout(buttons)
        settings_layout.addStretch(1)
        live = QGroupBox("Progress")
        live_layout = QGridLayout(live)
        live_layout.addWidget(self.progress, 0, 0, 1, 2)
        live_layout.addWidget(self.phase, 1, 0, 1, 2)
        live_layout.addWidget(self.speed, 2, 0)
        live_layout.addWidget(self.device, 2, 1)
        live_layout.addWidget(self.loss_plot, 3, 0)
        live_layout.addWidget(self.val_plot, 3, 1)
        grid = QGridLayout()
        report_box = QGroupBox("Ingestion report")
        report_layout = QVBoxLayout(report_box)
        report_layout.addWidget(self.counts)
        report_layout.addWidget(self.table)
        grid.addWidget(report_box, 0, 0)
        grid.addWidget(settings_box, 0, 1)
        grid.addWidget(live, 1, 0, 1, 2)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(folder_row)
        layout.addLayout(grid, 1)

    def _connect(self) -> None:
        self.choose_button.clicked.connect(self.choose_folder)
        self.scan_button.clicked.connect(self.scan)
        self.folder.editingFinished.connect(self._update_buttons)
        self.start_button.clicked.connect(self.start)
        self.resume_button.clicked.connect(self.resume)
        self.cancel_button.clicked.connect(self.cancel)
        self.size.currentTextChanged.connect(self._apply_preset)
        self.representation.currentTextChanged.connect(self._on_representation)
        self.name.textChanged.connect(self._update_buttons)
        for spin in (self.layers, self.hidden, self.embed):
            spin.valueChanged.connect(self._on_size_edited)
        self.cell.currentIndexChanged.connect(self._update_size_label)
        self.length_unit.currentTextChanged.connect(self._on_length_unit)

    # ---- settings -----------------------------------------------------------------------
    def load_settings(self) -> None:
        s = self.settings
        self.folder.setText(s.get("train/folder"))
        self.name.setText(s.get("train/name"))
        self.representation.setCurrentText(s.get("train/representation"))
        self.cell.setCurrentIndex(max(0, self.cell.findData(s.get("train/cell"))))
        self.layers.setValue(s.get("train/layers"))
        self.hidden.setValue(s.get("train/hidden"))
        self.embed.setValue(s.get("train/embed"))
        self.size.setCurrentText(s.get("train/size") if s.get("train/size") in SIZE_PRESETS else "custom")
        self.dropout.setValue(s.get("train/dropout"))
        self.batch.setValue(s.get("train/batch"))
        self.seq_len.setValue(s.get("train/seq_len"))
        self.lr.setValue(s.get("train/lr"))
        self.steps.setValue(s.get("train/steps"))
        self.epochs.setValue(s.get("train/epochs"))
        self.length_unit.setCurrentText(s.get("train/length_unit"))
        self._on_length_unit()
        self.val_share.setValue(s.get("train/val_share"))
        self.transpose_low.setValue(s.get("train/transpose_low"))
        self.transpose_high.setValue(s.get("train/transpose_high"))

    def save_settings(self) -> None:
        s = self.settings
        s.set("train/folder", self.folder.text())
        s.set("train/name", self.name.text())
        s.set("train/representation", self.representation.currentText())
        s.set("train/cell", self.cell.currentData())
        s.set("train/size", self.size.currentText())
        s.set("train/length_unit", self.length_unit.currentText())
        for key, spin in (("layers", self.layers), ("hidden", self.hidden), ("embed", self.embed),
                          ("dropout", self.dropout), ("batch", self.batch), ("seq_len", self.seq_len),
                          ("lr", self.lr), ("steps", self.steps), ("epochs", self.epochs),
                          ("val_share", self.val_share),
                          ("transpose_low", self.transpose_low), ("transpose_high", self.transpose_high)):
            s.set(f"train/{key}", spin.value())

    def _apply_preset(self, name: str) -> None:
        if name not in SIZE_PRESETS:
            return
        layers, hidden, embed = SIZE_PRESETS[name]
        for spin, value in ((self.layers, layers), (self.hidden, hidden), (self.embed, embed)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        self._update_size_label()

    def _on_size_edited(self) -> None:
        preset = next((n for n, v in SIZE_PRESETS.items()
                       if v == (self.layers.value(), self.hidden.value(), self.embed.value())), "custom")
        self.size.blockSignals(True)
        self.size.setCurrentText(preset)
        self.size.blockSignals(False)
        self._update_size_label()

    def _update_size_label(self) -> None:
        count = parameter_count(self.representation.currentText(), self.cell.currentData(), self.layers.value(),
                                self.hidden.value(), self.embed.value())
        self.size_label.setText(f"{self.layers.value()}x{self.hidden.value()}, {count / 1e6:.2f}M parameters")

    def _on_length_unit(self) -> None:
        by_steps = self.length_unit.currentText() == "steps"
        self.steps.setVisible(by_steps)
        self.epochs.setVisible(not by_steps)

    def _on_representation(self) -> None:
        self._update_size_label()
        self._update_buttons()

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
        if not Path(folder).is_dir():
            self.dialogs.error("No such folder", f"{folder} is not a folder")
            return
        self.settings.set("train/folder", folder)
        self._report_key = (folder, self.representation.currentText())
        self._start_job(Job("scan", scan_job(self.ingest, folder, self._tokenizer()), self),
                        self._on_scan_progress, self._on_scanned, f"Scanning {folder}...")

    def _on_scan_progress(self, update) -> None:
        self.progress.setRange(0, max(1, int(update.total or 0)))
        self.progress.setValue(int(update.done))
        self.phase.setText(f"scanning {update.message}")

    def _on_scanned(self, report) -> None:
        self.show_report(report)
        self.phase.setText(f"Scanned {len(report.files)} file(s).")

    def show_report(self, report) -> None:
        """Fill the table (file, status, reason, notes) and the counts above it."""
        self.report = report
        used, skipped = report.used(), report.skipped()
        self.counts.setText(f"{len(report.files)} files: {len(used)} used, {len(skipped)} skipped"
                            + (f" — {sum(f.n_notes for f in used):,} notes" if used else ""))
        self.table.setRowCount(len(report.files))
        for row, result in enumerate(report.files):
            for col, text in enumerate((result.path, result.status, result.reason, str(result.n_notes))):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.resizeColumnToContents(1)
        self.table.resizeColumnToContents(3)
        self._update_buttons()

    # ---- training -------------------------------------------------------------------------
    def out_path(self) -> Path:
        return self.user_models_dir / f"{self.name.text().strip()}.model"

    def checkpoint_exists(self) -> bool:
        return bool(self.name.text().strip()) and (Path(str(self.out_path()) + ".train") / "last.ckpt").exists()

    def config(self, *, resume: bool = False, force: bool = False):
        low, high = self.transpose_low.value(), self.transpose_high.value()
        by_steps = self.length_unit.currentText() == "steps"
        steps = self.steps.value() if by_steps else None
        return self.trainer.TrainConfig(
            folder=self.folder.text().strip(), out=str(self.out_path()),
            representation=self.representation.currentText(), cell=self.cell.currentData(),
            layers=self.layers.value(), hidden=self.hidden.value(), embed=self.embed.value(),
            dropout=self.dropout.value(), steps=steps, epochs=None if by_steps else self.epochs.value(),
            batch=self.batch.value(), seq_len=self.seq_len.value(), lr=self.lr.value(),
            val_share=self.val_share.value(), transpose=(low, high),
            # short runs: ten validation points for the curves; else the trainer's auto interval
            eval_every=max(1, self.steps.value() // 10) if by_steps and self.steps.value() < 500 else None,
            checkpoint_every=max(1, min(200, self.steps.value() // 5)) if by_steps else 200,
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
        self.loss_plot.clear()
        self.val_plot.clear()
        self._last_val = None
        self._start_job(Job("train", training_job(self.trainer, config), self), self._on_train_progress,
                        self._on_trained, ("Resuming" if resume else "Starting") + f" training of {name}...")

    def _on_train_progress(self, update) -> None:
        p = update.info                  # a training.config.TrainProgress
        if p.report is not None and p.report is not self.report:
            self.show_report(p.report)
        if p.phase == "scanning":
            self.progress.setRange(0, max(1, p.files_total))
            self.progress.setValue(p.files_done)
        else:
            self.progress.setRange(0, max(1, p.total_steps or 0))
            self.progress.setValue(p.step)
        if p.train_loss is not None and p.phase == "training":
            self.loss_plot.add_point(p.step, p.train_loss)
        if p.val_bits_per_note is not None and p.val_bits_per_note != self._last_val:
            self._last_val = p.val_bits_per_note
            self.val_plot.add_point(p.step, p.val_bits_per_note)
        best = f", best {p.best_val_bits_per_note:.3f} bits/note" if p.best_val_bits_per_note is not None else ""
        self.phase.setText(f"{p.phase}: step {p.step}/{p.total_steps or '?'}, epoch {p.epoch:.2f}{best}"
                           + (f" — {p.message}" if p.message else ""))
        self.speed.setText(f"{p.tokens_per_s:,.0f} tokens/s, ETA {format_duration(p.eta_s)}, "
                           f"elapsed {format_duration(p.elapsed_s)}")
        self.device.setText(f"Device: {p.device_reason or p.device}")

    def _on_trained(self, result) -> None:
        best = result.best_val_bits_per_note
        text = (f"Training stopped ({result.stopped_reason}) after {result.steps} steps"
                + (f", best validation {best:.3f} bits/note" if best is not None else ""))
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
        self.dialogs.job_error(title, error)

    def _on_cancelled(self) -> None:
        self.phase.setText("Cancelled.")

    def _on_finished(self) -> None:
        self.job = None
        self.progress.setRange(0, 1)
        self.progress.setValue(self.progress.maximum() if "stopped" in self.phase.text().lower() else 0)
        self._update_buttons()
        self.busyChanged.emit(False)

    def _update_buttons(self) -> None:
        busy = self.job is not None
        ready = self.trainer is not None and self.ingest is not None
        has_folder = bool(self.folder.text().strip())
        self.choose_button.setEnabled(not busy and ready)
        self.scan_button.setEnabled(not busy and ready and has_folder)
        self.start_button.setEnabled(not busy and ready and has_folder and bool(self.name.text().strip()))
        self.resume_button.setEnabled(not busy and ready and has_folder and self.checkpoint_exists())
        self.cancel_button.setEnabled(busy)

    def running_jobs(self) -> list[Job]:
        return [self.job] if self.job is not None and self.job.is_running() else []


