"""The generate view: model picker and controls on the left, results on the
right. Generation runs `composer.services.generate.generate` on a worker thread, and
Regenerate selection runs `composer.services.infill.infill` (see gui/infill.py).
Each result is a step of the results panel's history (gui.results.history)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from composer.errors import ComposerError
from composer.music.song import Song
from composer.services.defaults import FREE
from composer.tasks import Progress
from gui.arrange_jobs import Arranging
from gui.catalog import INFILL_NOTE, ModelEntry, file_stamp
from gui.controls import GenerateControls
from gui.dialogs import Dialogs
from gui.flow_layout import FittedScrollArea
from gui.form_controls import form_sections
from gui.infill import SelectionInfill
from gui.jobs import Job, JobError
from gui.model_picker import ModelPicking
from gui.primer import bar_count, song_before
from gui.primer_choice import PrimerChoice
from gui.results import ResultsPanel
from gui.results.history import PrimerState
from gui.settings import Settings

if TYPE_CHECKING:     # these import torch, which loads behind the window (gui/startup.py)
    from composer.model.modelfile import LoadedModel
    from composer.representations.base import Tokenizer
    from composer.services.generate import GenerateRequest
    from gui.generation import GenerationOutcome, PreviewRow

MIDI_SUFFIXES = (".mid", ".midi", ".kar")


class GenerateView(ModelPicking, SelectionInfill, Arranging, PrimerChoice, QWidget):
    busyChanged = Signal(bool)
    status = Signal(str)

    def __init__(self, settings: Settings, dialogs: Dialogs, user_models_dir: Path, parent: QWidget | None = None,
                 *, loading: bool = False):
        """`loading`: the models are read behind the window (gui/startup.py), then `finish_loading`."""
        super().__init__(parent)
        self.settings, self.dialogs, self.user_models_dir = settings, dialogs, user_models_dir
        self.entries: list[ModelEntry] = []
        self.tokenizer: Tokenizer | None = None       # of the selected model, from its metadata
        self.loaded: LoadedModel | None = None        # the last model used, kept loaded
        self._loaded_stamp: tuple[int, int] | None = None
        self.infill_loaded: LoadedModel | None = None   # the last model used for Regenerate selection
        self._infill_stamp: tuple[int, int] | None = None
        self._infill_target: tuple[int, Song, tuple[int, int]] | None = None   # row, song, bars of the job
        self.job: Job | None = None
        self.primer: Song | None = None
        self.primer_path: str = ""
        self.primer_name: str = ""
        self._pending_primer_beats = 0.0
        self._pending_sections: list[tuple[str, int, int]] = []   # the form's letters of the running job
        self._preview: PreviewRow | None = None     # which variation the running job previews
        self._max_copy: int | None = None             # the copy limit of the running job
        self._pending_label = ""                      # the history entry of the running job ("": Generate #n)
        self._pending_primer: PrimerState | None = None   # the primer the running job leaves (Continue)
        self._generations = 0                         # Generate clicks that gave results, to number them
        self._previous_index = 0
        self._refused = False                         # the message is a refusal (it goes with the model)
        self.loading = loading                        # gui/startup.py has not handed over the models yet
        self.setAcceptDrops(True)
        self._build()
        self._connect()
        self.controls.load(settings)
        if loading:
            self.show_loading()
        else:
            self.refresh_models(select=settings.get("models/last") or None)
        self._update_primer_label()

    def finish_loading(self, loaded) -> None:
        """Take what gui/startup.py read (a startup.Loaded): the picker's entries and the selected model."""
        if self.loading:                # (a model opened or dropped meanwhile has refreshed the picker already)
            self.refresh_models(select=self.settings.get("models/last") or None, entries=loaded.entries)
        entry = self.current_entry()
        if loaded.model is not None and entry is not None and loaded.model.path == entry.path and self.loaded is None:
            self.loaded, self._loaded_stamp = loaded.model, loaded.stamp

    def _build(self) -> None:
        self.model_combo = QComboBox()
        self.model_combo.setMinimumContentsLength(24)
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_info = QLabel()
        self.model_info.setWordWrap(True)
        self.controls = GenerateControls()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setToolTip("Sample new variations (Ctrl+G)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m")
        self.idle_progress()
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.results = ResultsPanel(self.settings, self.dialogs)

        model_box = QGroupBox("Model")
        model_layout = QVBoxLayout(model_box)
        model_layout.addWidget(self.model_combo)
        model_layout.addWidget(self.model_info)
        run_row = QHBoxLayout()
        run_row.addWidget(self.generate_button)
        run_row.addWidget(self.cancel_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(model_box)
        left_layout.addWidget(self.controls)
        left_layout.addStretch(1)
        scroll = self.controls_scroll = FittedScrollArea(left)
        scroll.setMinimumWidth(left.sizeHint().width() + 20)
        column = QWidget()              # the controls scroll; Generate, the progress and the message stay in view
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(0, 0, 0, 0)
        column_layout.addWidget(scroll, 1)
        column_layout.addLayout(run_row)
        column_layout.addWidget(self.progress)
        column_layout.addWidget(self.message)
        column_layout.addStretch(0)         # a tall window: Generate stays under the controls
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(column)
        splitter.addWidget(self.results)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    def _connect(self) -> None:
        self.model_combo.activated.connect(self._on_model_activated)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(self.cancel)
        self.controls.primerOpenRequested.connect(self.open_primer)
        self.controls.primerClearRequested.connect(self.clear_primer)
        for spelled in (self.results.roll, self.results.variations):       # names as written in the key
            self.controls.keyChanged.connect(spelled.set_key)
            spelled.set_key(*self.controls.key_and_scale())
        self.results.continueRequested.connect(self.continue_from)
        self.results.regenerateRequested.connect(self.regenerate_from_bar)
        self.results.infillRequested.connect(self.regenerate_selection)
        self.connect_arrange()
        self.results.status.connect(self.status)
        self.results.primerRestored.connect(self.restore_primer)
        self.results.undo_stack.indexChanged.connect(self._on_history_step)
        self.results.variations.currentRowChanged.connect(self._on_variation_selected)

    def dragEnterEvent(self, event) -> None:
        if any(_dropped_path(url) for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            path = _dropped_path(url)
            if path and path.suffix.lower() in MIDI_SUFFIXES:
                self.set_primer_file(path)
            elif path:
                self.add_model(path)
        event.acceptProposedAction()

    # ---- generation -----------------------------------------------------------------
    def is_busy(self) -> bool:
        return self.job is not None

    def generate(self) -> None:
        """Start a generation with the controls' settings (Ctrl+G)."""
        try:
            request = self.controls.run_request()
        except ComposerError as exc:
            self.dialogs.error("Cannot generate", str(exc))
            return
        if self.primer is not None:
            request = replace(request, primer=self.primer, keep_primer=True)
        self.start_generation(request)

    def start_generation(self, request: GenerateRequest, label: str = "", leaves: PrimerState | None = None) -> None:
        """Generate `request` with the selected model; a bad request is an error dialog (the
        rules are the service's: GenerateRequest.validate here, the model's in the job).
        The result is the history entry `label` ("": Generate #n); `leaves`: the primer
        it leaves (undo puts the one before back)."""
        entry = self.current_entry()
        if self.job is not None or entry is None or not entry.usable:
            return
        if entry.infill:
            self.message.setText(INFILL_NOTE + ".")
            self._refused = True
            return
        try:
            request.validate()
        except ComposerError as exc:
            self.dialogs.error("Cannot generate", str(exc))
            return
        from gui.generation import PreviewRow, generation_job
        same_file = (self.loaded is not None and self.loaded.path == entry.path
                     and self._loaded_stamp == file_stamp(entry.path))
        loaded = self.loaded if same_file else None      # a retrained file at the same path is loaded again
        self.results.stop_playback()
        primer = request.primer
        self._pending_primer_beats = primer.end_beat if isinstance(primer, Song) else 0.0
        self._pending_sections = form_sections(self.tokenizer, request)
        self._preview = PreviewRow(request.count, self.results.variations.currentRow())
        self._max_copy = request.max_copy
        self._pending_label, self._pending_primer = label, leaves
        self.job = Job("generate", generation_job(entry.path, loaded, request, self._preview), self)
        self.job.progressed.connect(self._on_progress)
        self.job.succeeded.connect(self._on_generated)
        self.job.failed.connect(self._on_failed)
        self.job.cancelled.connect(self._on_cancelled)
        self.job.finished.connect(self._on_finished)
        self.progress.setRange(0, 0)
        continuing = f", continuing {self.primer_summary()}" if self.primer is not None and not label else ""
        self.message.setText(f"Generating {request.count} variation(s) with {entry.name}, seed {request.seed}"
                             f"{continuing}...")
        self.controls.started(request.seed, self.settings)
        self.job.start()
        self._update_buttons()
        self.busyChanged.emit(True)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.message.setText("Cancelling...")

    def _on_variation_selected(self, row: int) -> None:
        if self._preview is not None:           # a job is sampling: preview the newly selected row
            self._preview.select(row)

    def _on_history_step(self, _index: int) -> None:
        """Undo, redo or the History showed another list: the last run's line and
        count no longer describe it (a run's own result is described after its step).
        An unlocked seed box shows the list's seed, so Lock makes it again."""
        self.controls.follow(self.results.variations.seed)
        if self.job is None:
            self.message.setText("")
            self.idle_progress()

    def idle_progress(self) -> None:
        """No job, or one that ended without results: an empty bar without a count."""
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)

    def show_progress(self, update: Progress) -> None:
        self.progress.setRange(0, max(1, int(update.total or 0)))
        self.progress.setValue(int(update.done))
        self.progress.setTextVisible(True)

    def _on_progress(self, update: Progress) -> None:
        self.show_progress(update)
        if update.stage == "sampling again":
            note = f"Sampling again the variations that copy more than {self._max_copy} notes..."
            if note != self.message.text():
                self.message.setText(note)
        if update.info is not None:
            self.results.show_partial(update.info.song, self._pending_primer_beats, self._pending_sections)

    def _on_generated(self, outcome: GenerationOutcome) -> None:
        self.loaded = outcome.loaded
        self._loaded_stamp = file_stamp(outcome.loaded.path)
        result, copies, checks = outcome.result, outcome.generation.copies, outcome.generation.checks
        kind = outcome.loaded.tokenizer.kind
        if not self._pending_label:
            self._generations += 1
        label = (f"{self._pending_label or f'Generate #{self._generations}'} "
                 f"(seed {result.seed}, {len(result.songs)} variation(s))")
        primers = (self.primer_state(), self._pending_primer) if self._pending_primer is not None else None
        self.results.set_results(result.songs, kind, result.seed, result.primer_beats, copies,
                                 outcome.generation.index if copies is not None else None,
                                 sections=self._pending_sections, label=label, primers=primers)
        entry = self.current_entry()           # (a model opened or trained meanwhile may be selected now)
        loaded_path = outcome.loaded.path
        if entry is not None and loaded_path is not None and entry.path.resolve() == loaded_path.resolve():
            self.controls.set_copy_index(copies is not None)     # the file may have changed since it was picked
        self.progress.setRange(0, max(1, self.progress.maximum()))
        self.progress.setValue(self.progress.maximum())
        text = f"{len(result.songs)} variation(s), seed {result.seed}, in {outcome.seconds:.1f} s"
        if checks is not None:
            again = sum(c.attempts > 1 for c in checks)
            above = sum(not c.ok for c in checks)
            text += (f"; copy limit {self._max_copy} notes: {again} sampled again"
                     + (f", {above} still above it" if above else ""))
        self.message.setText(f"{text} ({outcome.loaded.summary()})")

    def _on_failed(self, error: JobError) -> None:
        self.idle_progress()
        self.controls.follow(self.results.variations.seed)     # no list of this run's seed
        self.message.setText(f"Generation failed: {error.message}")
        self.results.redraw()                    # the roll may show a partial piece of the failed job
        self.dialogs.job_error("Generation failed", error)

    def _on_cancelled(self) -> None:
        self.idle_progress()
        self.controls.follow(self.results.variations.seed)
        self.message.setText("Generation cancelled.")
        self.status.emit(self.message.text())
        self.results.redraw()

    def _on_finished(self) -> None:
        self.job = None
        self._preview = None
        self._update_buttons()
        self.busyChanged.emit(False)

    def _update_buttons(self) -> None:
        busy = self.job is not None
        entry = self.current_entry()
        self.generate_button.setEnabled(not busy and not self.loading and entry is not None and entry.usable
                                        and not entry.infill)
        self.generate_button.setToolTip(INFILL_NOTE if entry is not None and entry.infill else
                                        "Generate the variations (Ctrl+G)")
        self.cancel_button.setEnabled(busy)
        self.model_combo.setEnabled(not busy and not self.loading)
        self.results.set_busy(busy)
        self.results.set_generate_reason("Loading the models..." if self.loading else
                                         INFILL_NOTE if entry is not None and entry.infill else
                                         "" if entry is not None and entry.usable else "No usable model selected")

    def continue_from(self, song: Song) -> None:
        """Generate what follows `song`; it becomes the primer with the result
        (undo puts the primer before back; a refused or cancelled run leaves it)."""
        row = self.results.variations.currentRow()
        try:
            request = self.controls.run_request()
        except ComposerError as exc:
            self.dialogs.error("Cannot continue", str(exc))
            return
        self.start_generation(replace(request, primer=song, keep_primer=True), f"Continue variation {row + 1}",
                              PrimerState(song, f"variation {row + 1}"))

    def regenerate_from_bar(self, song: Song, bar: int) -> None:
        """Keep the bars before `bar` (1-based) and sample the rest again."""
        cut = (bar - 1) * song.bar_length()
        head = song_before(song, cut)
        if not head.notes:
            self.dialogs.error("Cannot regenerate", f"there are no notes before bar {bar} to keep")
            return
        try:
            request = self.controls.run_request()
        except ComposerError as exc:
            self.dialogs.error("Cannot regenerate", str(exc))
            return
        if self.controls.kind == "melody":       # free: a form plans whole pieces, not their ends
            request = replace(request, bars=max(1, bar_count(song) - (bar - 1)), seconds=None, form=FREE,
                              phrase_bars=None, vary=False)
        else:
            request = replace(request, bars=None,
                              seconds=max(1.0, song.duration_seconds - song.seconds_at(cut)))
        row = self.results.variations.currentRow()
        self.start_generation(replace(request, primer=head, keep_primer=True),
                              f"Regenerate variation {row + 1} from bar {bar}")
        if self.job is not None:             # (start_generation says "Generating...")
            self.message.setText(f"Regenerating variation {row + 1} from bar {bar}, seed {request.seed}: "
                                 f"{request.count} new version(s); Ctrl+Z brings this list back...")

    # ---- lifetime --------------------------------------------------------------------
    def running_jobs(self) -> list[Job]:
        jobs = [self.job] if self.job is not None and self.job.is_running() else []
        return jobs + self.results.running_jobs()

    def save_settings(self) -> None:
        self.controls.save(self.settings)


def _dropped_path(url) -> Path | None:
    if not url.isLocalFile():
        return None
    path = Path(url.toLocalFile())
    return path if path.suffix.lower() in MIDI_SUFFIXES + (".model",) else None
