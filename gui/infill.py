""""Regenerate selection": the infill job, the panel that lists its takes, and
the undoable replacement of a song by the take the user accepts.

The job runs `composer.services.infill.infill` on a worker thread; the takes appear in
`InfillPanel` next to the variation list ("Original" first), each drawn in
the piano roll when selected; *Use this take* is a step of the results
panel's history (gui.results.history), so Ctrl+Z / Ctrl+Shift+Z undo and redo it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QPushButton, QVBoxLayout, QWidget

from composer.errors import ComposerError
from composer.music.song import Note, Song
from composer.tasks import Progress
from gui.catalog import file_stamp
from gui.jobs import Job, JobError, Throttle, load_if_needed

if TYPE_CHECKING:     # the services import torch: they are imported when a job starts (gui/startup.py)
    from composer.model.modelfile import LoadedModel
    from composer.services.generate import GenerateRequest
    from composer.services.infill import InfillRequest, InfillResult

PROGRESS_INTERVAL = 0.05    # seconds between progress-bar updates at most


@dataclass
class InfillOutcome:
    loaded: LoadedModel
    result: InfillResult
    seconds: float            # wall time of the job


def infill_request(controls: GenerateRequest, bars: tuple[int, int]) -> InfillRequest:
    """The infill request for `bars` (1-based, inclusive) with the sampling
    controls of a generation request (count, temperature, top-p/k, seed,
    key/scale, pitch range). Raises ComposerError naming a bad value."""
    from composer.services.infill import InfillRequest
    request = InfillRequest(bars=bars, count=controls.count, temperature=controls.temperature,
                            top_k=controls.top_k, top_p=controls.top_p, seed=controls.seed,
                            key=controls.key, scale=controls.scale,
                            pitch_low=controls.pitch_low, pitch_high=controls.pitch_high)
    request.validate()
    return request


def choose_infill_model(model_path: Path) -> tuple[Path, bool]:
    """The model file to rewrite a span with, and whether it is an infill
    model (reads both sides) rather than the left-to-right model itself."""
    from composer.services.infill import infill_model_for
    chosen = infill_model_for(model_path)
    return (Path(chosen), True) if chosen is not None else (Path(model_path), False)


def infill_job(path: Path, loaded: LoadedModel | None, song: Song, request: InfillRequest):
    """The worker function: load the model if needed, then rewrite the span."""

    def run(progress, should_stop):
        from composer.services.infill import infill
        started = time.monotonic()
        model = load_if_needed(path, loaded)
        throttle = Throttle(PROGRESS_INTERVAL)

        def on_progress(p):
            if throttle.ready(final=p.finished):
                progress(p)

        result = infill(model, song, request, progress=on_progress, should_stop=should_stop)
        return InfillOutcome(model, result, time.monotonic() - started)

    return run


def notes_between(song: Song, start: float, end: float) -> list[Note]:
    """The song's non-drum notes that start in [start, end) beats."""
    return [n for n in song.notes if start - 1e-9 <= n.start < end - 1e-9]


def describe_outcome(outcome: InfillOutcome, bars: tuple[int, int]) -> str:
    """One line for the status: takes, bars, seed, time, and which context was used."""
    result = outcome.result
    span = f"bar {bars[0]}" if bars[0] == bars[1] else f"bars {bars[0]}-{bars[1]}"
    text = (f"{len(result.songs)} take(s) of {span}, seed {result.seed}, in {outcome.seconds:.1f} s "
            f"({outcome.loaded.summary()})")
    if not result.uses_right_context:
        text += (": only the music before the selection was used (a left-to-right model, and no infill model "
                 "reads its music)")
    return text


class InfillPanel(QWidget):
    """The takes of one "Regenerate selection": Original, Take 1..N.

    `takeSelected(song)` when the user picks a row (the original too),
    `accepted(song)` for *Use this take*, `discarded()` for *Discard*."""

    takeSelected = Signal(object)
    accepted = Signal(object)
    discarded = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.original: Song | None = None
        self.takes: list[Song] = []
        self.row = -1                       # the variation the takes were made from
        self.bars: tuple[int, int] | None = None
        self.step_label = ""                # the history step of an accepted take ("": of the bars)
        self.span_beats: tuple[float, float] = (0.0, 0.0)
        self.title = QLabel("Takes")
        self.list = QListWidget()
        self.list.setToolTip("Pick a take to see and play it; the other bars are unchanged")
        self.list.setMinimumHeight(6 * self.list.fontMetrics().height() + 12)    # Original + 4 takes, unscrolled
        self.accept_button = QPushButton("Use this take")
        self.accept_button.setToolTip("Replace the song with the selected take (undo with Ctrl+Z)")
        self.discard_button = QPushButton("Discard")
        self.discard_button.setToolTip("Keep the song as it was and close the takes")
        buttons = QHBoxLayout()
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.discard_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        self.list.currentRowChanged.connect(self._on_row_changed)
        self.accept_button.clicked.connect(self._on_accept)
        self.discard_button.clicked.connect(self.discard)
        self.hide()

    def set_takes(self, row: int, original: Song, result: InfillResult, bars: tuple[int, int]) -> None:
        """Offer `result.songs` as takes for variation `row`; selects the first take."""
        self.span_beats = tuple(result.span_beats)
        span = f"bar {bars[0]}" if bars[0] == bars[1] else f"bars {bars[0]}-{bars[1]}"
        start, end = self.span_beats
        lines = [f"{len(notes_between(song, start, end))} notes in the span" for song in [original, *result.songs]]
        self._offer(row, original, list(result.songs), f"Takes for {span} of variation {row + 1}", lines, bars)

    def set_song_takes(self, row: int, original: Song, songs: list[Song], title: str, lines: list[str],
                       step_label: str) -> None:
        """Offer whole-song takes (Harmonise, Add drums, Regenerate part: gui/arrange_jobs.py);
        `lines`: what each row says after "Original: " / "Take k: "; `step_label`: the history
        entry of the take accepted ("{take}" is replaced by its number)."""
        self.span_beats = (0.0, 0.0)           # (no span: no outlines of replaced notes)
        self._offer(row, original, songs, title, lines, None, step_label)

    def _offer(self, row: int, original: Song, songs: list[Song], title: str, lines: list[str],
               bars: tuple[int, int] | None, step_label: str = "") -> None:
        self.row, self.original, self.takes, self.bars, self.step_label = row, original, songs, bars, step_label
        self.title.setText(title)
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItem(f"Original: {lines[0]}")
        for k, line in enumerate(lines[1:]):
            self.list.addItem(f"Take {k + 1}: {line}")
        self.list.blockSignals(False)
        self.show()
        self.list.setCurrentRow(1 if self.takes else 0)

    def is_open(self) -> bool:
        return self.original is not None

    def selected_song(self) -> Song | None:
        row = self.list.currentRow()
        if self.original is None or row < 0:
            return None
        return self.original if row == 0 else self.takes[row - 1]

    def discard(self) -> None:
        """Close the takes without changing anything."""
        was_open = self.is_open()
        self.original, self.takes, self.row, self.bars, self.step_label = None, [], -1, None, ""
        self.list.blockSignals(True)
        self.list.clear()
        self.list.blockSignals(False)
        self.hide()
        if was_open:
            self.discarded.emit()

    def _on_row_changed(self, row: int) -> None:
        self.accept_button.setEnabled(row >= 1)
        song = self.selected_song()
        if song is not None:
            self.takeSelected.emit(song)

    def _on_accept(self) -> None:
        song = self.selected_song()
        if song is not None and song is not self.original:
            self.accepted.emit(song)


class SelectionInfill:
    """GenerateView's "Regenerate selection": the infill job and its outcome
    (it owns job, results, controls, message, progress, dialogs)."""

    def regenerate_selection(self, song: Song, row: int, bars: tuple[int, int]) -> None:
        """Sample takes of `bars` (1-based, inclusive) of `song` (variation `row`)
        with the sampling controls and the infill model for the selected model."""
        entry = self.current_entry()
        if self.job is not None or entry is None or not entry.usable:
            return
        try:
            request = infill_request(self.controls.run_request(), bars)
            path, two_sided = choose_infill_model(entry.path)
        except ComposerError as exc:
            self.dialogs.error("Cannot regenerate the selection", str(exc))
            return
        same_file = (self.infill_loaded is not None and self.infill_loaded.path == path
                     and self._infill_stamp == file_stamp(path))
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
        self.controls.started(request.seed, self.settings)
        self.job.start()
        self._update_buttons()
        self.busyChanged.emit(True)

    def _on_infill_progress(self, update: Progress) -> None:
        self.show_progress(update)

    def _on_infilled(self, outcome: InfillOutcome) -> None:
        self.infill_loaded = outcome.loaded
        self._infill_stamp = file_stamp(outcome.loaded.path)
        row, song, bars = self._infill_target
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        text = describe_outcome(outcome, bars)
        if not self.results.show_takes(row, song, outcome.result, bars):
            text = f"Variation {row + 1} changed while its bars were being regenerated: the takes were dropped."
        self.message.setText(text)
        self.status.emit(text)

    def _on_infill_failed(self, error: JobError) -> None:
        self.idle_progress()
        self.message.setText(f"Regenerate selection failed: {error.message}")
        self.status.emit(self.message.text())     # (the status bar said "Regenerating...")
        self.dialogs.job_error("Regenerate selection failed", error)

    def _on_infill_cancelled(self) -> None:
        self.idle_progress()
        self.message.setText("Regenerate selection cancelled; the song is unchanged.")
        self.status.emit(self.message.text())     # (the status bar said "Regenerating...")
