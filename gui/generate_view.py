"""The generate view: model picker and controls on the left, results on the
right. Generation runs `composer.services.generate.generate` on a worker thread, and
Regenerate selection runs `composer.services.infill.infill` (see gui/infill.py)."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from composer.analysis.copymeter import copy_meters
from composer.errors import ComposerError, ModelFileError
from composer.model.modelfile import LoadedModel, read_metadata
from composer.music.midifile import read_midi
from composer.music.song import Song
from composer.representations.base import Tokenizer
from composer.representations.registry import tokenizer_from_config
from composer.services.copylimit import limit_copies
from composer.services.generate import GenerateRequest, GenerationResult, generate
from gui.catalog import INFILL_NOTE, ModelEntry, discover
from gui.controls import GenerateControls
from gui.dialogs import MIDI_FILTER, MODEL_FILTER, Dialogs
from gui.infill import InfillOutcome, InfillProgress, choose_infill_model, describe_outcome, infill_job, infill_request
from gui.jobs import Job, JobError, Throttle, load_if_needed
from gui.primer import bar_count, describe_primer, song_before
from gui.results import ResultsPanel
from gui.settings import Settings

OPEN_MODEL_ITEM = "Open model file..."
MIDI_SUFFIXES = (".mid", ".midi", ".kar")
PREVIEW_INTERVAL = 0.05     # seconds between piano-roll updates while sampling (~20 fps) at most


@dataclass
class GenerationProgress:
    done: int                 # bars (melody) or seconds (performance) sampled so far
    total: int
    row: int                  # which variation `song` is
    song: Song | None         # that variation so far (None while variations are sampled again)
    note: str = ""            # what is going on, when it is not the first sampling


@dataclass
class GenerationOutcome:
    loaded: LoadedModel
    result: GenerationResult
    seconds: float            # wall time of the job
    copies: list | None = None    # each song's copy meter (length, source file); None: the model has no index
    checks: list | None = None    # with a copy limit: composer.services.copylimit.CopyCheck of each song
    max_copy: int | None = None


class PreviewRow:
    """Which variation the piano roll shows while sampling: set on the GUI
    thread when the selection changes, read by the worker (a plain int)."""

    def __init__(self, count: int, row: int = 0):
        self.count = count
        self.select(row)

    def select(self, row: int) -> None:
        self.row = row if 0 <= row < self.count else 0


def generation_job(path: Path, loaded: LoadedModel | None, request: GenerateRequest,
                   preview: PreviewRow | None = None, max_copy: int | None = None):
    """The worker function: load the model if needed, then generate, then
    measure each variation's copy meter (and, with `max_copy`, sample again
    those that copy more notes of the training data). While sampling it
    decodes only the variation `preview` names (the one shown)."""
    preview = preview or PreviewRow(request.count)

    def run(progress, should_stop):
        started = time.monotonic()
        model = load_if_needed(path, loaded)
        throttle = Throttle(PREVIEW_INTERVAL)

        def on_progress(done, total, partial):
            if throttle.ready(final=done >= total):
                decode_started = time.monotonic()
                row = preview.row
                song, = partial([row])
                # decoding the partial song costs time the sampler could use: keep it under ~10%
                throttle.interval = max(PREVIEW_INTERVAL, 10 * (time.monotonic() - decode_started))
                progress(GenerationProgress(done, total, row, song))

        result = generate(model, request, progress=on_progress, should_stop=should_stop)
        try:
            index = model.copy_index()           # stored in the model file by the trainer; None if not
        except ModelFileError:
            index = None                         # a damaged index costs the meter, not the music
        checks = None
        if index is None:
            copies = None
        elif max_copy is not None:
            def again(done, total, partial):                 # the resampling's progress, without previews
                if throttle.ready(final=done >= total):
                    message = f"Sampling again the variations that copy more than {max_copy} notes..."
                    progress(GenerationProgress(done, total, -1, None, message))

            result, checks = limit_copies(model, request, result, index, max_copy, progress=again,
                                          should_stop=should_stop)
            copies = [(c.length, c.source) for c in checks]
        else:
            copies = copy_meters(result.songs, index, result.primer_beats)
        return GenerationOutcome(model, result, time.monotonic() - started, copies, checks, max_copy)

    return run


class GenerateView(QWidget):
    busyChanged = Signal(bool)
    status = Signal(str)

    def __init__(self, settings: Settings, dialogs: Dialogs, user_models_dir: Path, parent: QWidget | None = None):
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
        self._preview: PreviewRow | None = None     # which variation the running job previews
        self._previous_index = 0
        self.setAcceptDrops(True)

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
        self.progress.setValue(0)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.results = ResultsPanel(settings, dialogs)

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
        left_layout.addLayout(run_row)
        left_layout.addWidget(self.progress)
        left_layout.addWidget(self.message)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(left.sizeHint().width() + 20)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(self.results)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self.model_combo.activated.connect(self._on_model_activated)
        self.model_combo.currentIndexChanged.connect(self._on_model_changed)
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(self.cancel)
        self.controls.primerOpenRequested.connect(self.open_primer)
        self.controls.primerClearRequested.connect(self.clear_primer)
        self.results.continueRequested.connect(self.continue_from)
        self.results.regenerateRequested.connect(self.regenerate_from_bar)
        self.results.infillRequested.connect(self.regenerate_selection)
        self.results.status.connect(self.status)
        self.results.variations.currentRowChanged.connect(self._on_variation_selected)

        self.controls.load(settings)
        self.refresh_models(select=settings.get("models/last") or None)
        primer = settings.get("generate/primer")
        if primer and Path(primer).is_file():
            self.set_primer_file(primer, quiet=True)
        self._update_primer_label()

    # ---- models -------------------------------------------------------------------
    def refresh_models(self, select: str | Path | None = None) -> None:
        """Re-read the model folders; select `select` (a path) if given."""
        current = str(select) if select else (str(self.current_entry().path) if self.current_entry() else "")
        self.entries = discover(self.user_models_dir, self.settings.get("models/recent"))
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for entry in self.entries:
            self.model_combo.addItem(entry.label(), str(entry.path))
            self.model_combo.setItemData(self.model_combo.count() - 1, entry.description(), Qt.ItemDataRole.ToolTipRole)
        self.model_combo.addItem(OPEN_MODEL_ITEM, None)
        fallback = next((i for i, e in enumerate(self.entries) if e.usable and not e.infill), 0 if self.entries else -1)
        index = next((i for i, e in enumerate(self.entries) if str(e.path) == current
                      or e.path.resolve() == Path(current).resolve()), fallback)
        self.model_combo.setCurrentIndex(index if index >= 0 else self.model_combo.count() - 1)
        self.model_combo.blockSignals(False)
        self._on_model_changed(self.model_combo.currentIndex())

    def current_entry(self) -> ModelEntry | None:
        index = self.model_combo.currentIndex() if hasattr(self, "model_combo") else -1
        return self.entries[index] if 0 <= index < len(self.entries) else None

    def add_model(self, path: str | Path, *, recent: bool = True) -> None:
        """Offer `path` in the picker and select it (a trained or opened model)."""
        if recent:
            self.settings.add_recent_model(path)
        self.refresh_models(select=path)

    def open_model(self) -> None:
        folder = str(Path(self.settings.get("models/last")).parent) if self.settings.get("models/last") else ""
        path = self.dialogs.open_file("Open model file", folder, MODEL_FILTER)
        if path:
            self.add_model(path)

    def _on_model_activated(self, index: int) -> None:
        if index == len(self.entries):       # the "Open model file..." item
            self.open_model()
            if self.model_combo.currentIndex() == len(self.entries) and self.entries:
                self.model_combo.setCurrentIndex(min(self._previous_index, len(self.entries) - 1))

    def _on_model_changed(self, index: int) -> None:
        entry = self.current_entry()
        self.tokenizer = None
        if entry is not None:
            self._previous_index = index
        if entry is None:
            self.model_info.setText("No model yet: open a model file or train one in the Train tab.")
        elif not entry.usable:
            self.model_info.setText(f"Cannot use this file: {entry.error}")
        else:
            self.model_info.setText(entry.description())
            self.model_info.setToolTip(str(entry.path))
            copy_index = False
            try:
                meta = read_metadata(entry.path)
                rep = meta["representation"]
                self.tokenizer = tokenizer_from_config(rep["kind"], rep["config"])
                copy_index = bool(meta.get("copy_index"))
            except (ComposerError, KeyError, TypeError, ValueError) as exc:
                self.model_info.setText(f"Cannot use this file: {exc}")
            self.controls.set_kind(entry.representation)
            self.controls.set_copy_index(copy_index)
            self.settings.set("models/last", str(entry.path))
        self._update_primer_label()
        self._update_buttons()

    # ---- primer ---------------------------------------------------------------------
    def open_primer(self) -> None:
        folder = str(Path(self.primer_path).parent) if self.primer_path else self.settings.get("train/folder")
        path = self.dialogs.open_file("Open primer", folder, MIDI_FILTER)
        if path:
            self.set_primer_file(path)

    def set_primer_file(self, path: str | Path, *, quiet: bool = False) -> bool:
        """Read a .mid primer; an unreadable file is reported and ignored."""
        try:
            song = read_midi(path)
        except ComposerError as exc:
            if not quiet:
                self.dialogs.error("Cannot use this primer", str(exc))
            return False
        self.primer, self.primer_path, self.primer_name = song, str(path), Path(path).name
        self.settings.set("generate/primer", str(path))
        self._update_primer_label()
        return True

    def set_primer_song(self, song: Song, name: str) -> None:
        self.primer, self.primer_path, self.primer_name = song, "", name
        self.settings.set("generate/primer", "")
        self._update_primer_label()

    def clear_primer(self) -> None:
        self.primer, self.primer_path, self.primer_name = None, "", ""
        self.settings.set("generate/primer", "")
        self._update_primer_label()

    def _update_primer_label(self) -> None:
        if self.primer is None:
            self.controls.primer_label.setText("none (the model starts from scratch)")
            self.controls.primer_clear.setEnabled(False)
            return
        self.controls.primer_clear.setEnabled(True)
        self.controls.primer_label.setText(f"{self.primer_name}: {describe_primer(self.primer, self.tokenizer)}")

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
            request = self.controls.request()
        except ComposerError as exc:
            self.dialogs.error("Cannot generate", str(exc))
            return
        if self.primer is not None:
            request = replace(request, primer=self.primer, keep_primer=True)
        self.start_generation(request)

    def start_generation(self, request: GenerateRequest) -> None:
        entry = self.current_entry()
        if self.job is not None or entry is None or not entry.usable:
            return
        if entry.infill:
            self.message.setText(INFILL_NOTE + ".")
            return
        same_file = (self.loaded is not None and self.loaded.path == entry.path
                     and self._loaded_stamp == _stamp(entry.path))
        loaded = self.loaded if same_file else None      # a retrained file at the same path is loaded again
        self.results.stop_playback()
        primer = request.primer
        self._pending_primer_beats = primer.end_beat if isinstance(primer, Song) else 0.0
        self._preview = PreviewRow(request.count, self.results.variations.currentRow())
        self.job = Job("generate", generation_job(entry.path, loaded, request, self._preview,
                                                  self.controls.copy_limit()), self)
        self.job.progressed.connect(self._on_progress)
        self.job.succeeded.connect(self._on_generated)
        self.job.failed.connect(self._on_failed)
        self.job.cancelled.connect(self._on_cancelled)
        self.job.finished.connect(self._on_finished)
        self.progress.setRange(0, 0)
        self.message.setText(f"Generating {request.count} variation(s) with {entry.name}...")
        self.controls.save(self.settings)
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

    def _on_progress(self, update: GenerationProgress) -> None:
        self.progress.setRange(0, max(1, update.total))
        self.progress.setValue(update.done)
        if update.note and update.note != self.message.text():
            self.message.setText(update.note)
        if update.song is not None:
            self.results.show_partial(update.song, self._pending_primer_beats)

    def _on_generated(self, outcome: GenerationOutcome) -> None:
        self.loaded = outcome.loaded
        self._loaded_stamp = _stamp(outcome.loaded.path)
        result = outcome.result
        kind = outcome.loaded.tokenizer.kind
        self.results.set_results(result.songs, kind, result.seed, result.primer_beats, outcome.copies,
                                 outcome.loaded.copy_index() if outcome.copies is not None else None)
        entry = self.current_entry()           # (a model opened or trained meanwhile may be selected now)
        loaded_path = outcome.loaded.path
        if entry is not None and loaded_path is not None and entry.path.resolve() == loaded_path.resolve():
            self.controls.set_copy_index(outcome.copies is not None)     # the file may have changed since it was picked
        self.progress.setRange(0, max(1, self.progress.maximum()))
        self.progress.setValue(self.progress.maximum())
        text = f"{len(result.songs)} variation(s), seed {result.seed}, in {outcome.seconds:.1f} s"
        if outcome.checks is not None:
            again = sum(c.attempts > 1 for c in outcome.checks)
            above = sum(not c.ok for c in outcome.checks)
            text += (f"; copy limit {outcome.max_copy} notes: {again} sampled again"
                     + (f", {above} still above it" if above else ""))
        self.message.setText(f"{text} ({outcome.loaded.summary()})")

    def _on_failed(self, error: JobError) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.message.setText(f"Generation failed: {error.message}")
        self.results.redraw()                    # the roll may show a partial piece of the failed job
        self.dialogs.job_error("Generation failed", error)

    def _on_cancelled(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.message.setText("Generation cancelled.")
        self.results.redraw()

    def _on_finished(self) -> None:
        self.job = None
        self._preview = None
        self._update_buttons()
        self.busyChanged.emit(False)

    def _update_buttons(self) -> None:
        busy = self.job is not None
        entry = self.current_entry()
        self.generate_button.setEnabled(not busy and entry is not None and entry.usable and not entry.infill)
        self.generate_button.setToolTip(INFILL_NOTE if entry is not None and entry.infill else
                                        "Generate the variations (Ctrl+G)")
        self.cancel_button.setEnabled(busy)
        self.model_combo.setEnabled(not busy)
        self.results.set_busy(busy)

    def continue_from(self, song: Song) -> None:
        """Use `song` as the primer and generate what follows."""
        row = self.results.variations.currentRow()
        self.set_primer_song(song, f"variation {row + 1}")
        self.generate()

    def regenerate_from_bar(self, song: Song, bar: int) -> None:
        """Keep the bars before `bar` (1-based) and sample the rest again."""
        cut = (bar - 1) * song.bar_length()
        head = song_before(song, cut)
        if not head.notes:
            self.dialogs.error("Cannot regenerate", f"there are no notes before bar {bar} to keep")
            return
        try:
            request = self.controls.request()
        except ComposerError as exc:
            self.dialogs.error("Cannot regenerate", str(exc))
            return
        if self.controls.kind == "melody":
            request = replace(request, bars=max(1, bar_count(song) - (bar - 1)), seconds=None)
        else:
            request = replace(request, bars=None,
                              seconds=max(1.0, song.duration_seconds - song.seconds_at(cut)))
        row = self.results.variations.currentRow()
        self.start_generation(replace(request, primer=head, keep_primer=True))
        if self.job is not None:             # (start_generation says "Generating...")
            self.message.setText(f"Regenerating variation {row + 1} from bar {bar}: {request.count} new "
                                 f"version(s) replace the list...")

    # ---- regenerate selection (infill) -------------------------------------------------
    def regenerate_selection(self, song: Song, row: int, bars: tuple[int, int]) -> None:
        """Sample takes of `bars` (1-based, inclusive) of `song` (variation `row`)
        with the sampling controls and the infill model for the selected model."""
        entry = self.current_entry()
        if self.job is not None or entry is None or not entry.usable:
            return
        try:
            request = infill_request(self.controls.request(), bars)
            path, two_sided = choose_infill_model(entry.path)
        except ComposerError as exc:
            self.dialogs.error("Cannot regenerate the selection", str(exc))
            return
        same_file = (self.infill_loaded is not None and self.infill_loaded.path == path
                     and self._infill_stamp == _stamp(path))
        self.results.stop_playback()
        self._infill_target = (row, song, bars)
        self.job = Job("infill", infill_job(path, self.infill_loaded if same_file else None, song, request), self)
        self.job.progressed.connect(self._on_infill_progress)
        self.job.succeeded.connect(self._on_infilled)
        self.job.failed.connect(self._on_infill_failed)
        self.job.cancelled.connect(self._on_infill_cancelled)
        self.job.finished.connect(self._on_finished)
        self.progress.setRange(0, 0)
        span = f"bar {bars[0]}" if bars[0] == bars[1] else f"bars {bars[0]}-{bars[1]}"
        context = (f"with {path.name}" if two_sided else
                   f"with {path.name}, from the music before the selection only (a left-to-right model, and no "
                   "infill model reads its music)")
        self.message.setText(f"Regenerating {span} of variation {row + 1} {context}...")
        self.status.emit(self.message.text())
        self.controls.save(self.settings)
        self.job.start()
        self._update_buttons()
        self.busyChanged.emit(True)

    def _on_infill_progress(self, update: InfillProgress) -> None:
        self.progress.setRange(0, max(1, update.total))
        self.progress.setValue(update.done)

    def _on_infilled(self, outcome: InfillOutcome) -> None:
        self.infill_loaded = outcome.loaded
        self._infill_stamp = _stamp(outcome.loaded.path)
        row, song, bars = self._infill_target
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        text = describe_outcome(outcome, bars)
        if not self.results.show_takes(row, song, outcome.result, bars):
            text = f"Variation {row + 1} changed while its bars were being regenerated: the takes were dropped."
        self.message.setText(text)
        self.status.emit(text)

    def _on_infill_failed(self, error: JobError) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.message.setText(f"Regenerate selection failed: {error.message}")
        self.dialogs.job_error("Regenerate selection failed", error)

    def _on_infill_cancelled(self) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.message.setText("Regenerate selection cancelled; the song is unchanged.")

    # ---- lifetime --------------------------------------------------------------------
    def running_jobs(self) -> list[Job]:
        jobs = [self.job] if self.job is not None and self.job.is_running() else []
        return jobs + self.results.running_jobs()

    def save_settings(self) -> None:
        self.controls.save(self.settings)


def _stamp(path: Path | None) -> tuple[int, int] | None:
    """(modification time in ns, size in bytes) of a model file, None if it is gone."""
    try:
        stat = Path(path).stat()
    except (OSError, TypeError):
        return None
    return stat.st_mtime_ns, stat.st_size


def _dropped_path(url) -> Path | None:
    if not url.isLocalFile():
        return None
    path = Path(url.toLocalFile())
    return path if path.suffix.lower() in MIDI_SUFFIXES + (".model",) else None
