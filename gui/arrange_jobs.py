"""Harmonise, Add drums and Regenerate part (gui/arrange.py) as jobs of the
generate view: composer.services.harmonize / composer.services.drums run on a
worker thread with the sampling controls (count, temperature, top-k/p, seed,
key/scale), and the songs they write become takes in the takes panel
(gui/infill.py); the one accepted replaces the variation as one step of the
history, so Ctrl+Z undoes it. A wrong model, or a variation with no melody, is
the service's one-line message in an error dialog, as the CLI prints it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from composer.errors import ComposerError
from composer.music.song import Song
from gui.arrange import drums_back, melody_index, part_plan, with_drums_of, without_track
from gui.catalog import file_stamp
from gui.dialogs import MODEL_FILTER
from gui.jobs import Job, JobError, Throttle, load_if_needed
from gui.parts import part_name

if TYPE_CHECKING:     # the services import torch: they are imported when a job starts (gui/startup.py)
    from composer.model.modelfile import LoadedModel

PROGRESS_INTERVAL = 0.05    # seconds between progress-bar updates at most


@dataclass
class ArrangeOutcome:
    loaded: LoadedModel
    songs: list[Song]
    seed: int
    seconds: float


@dataclass(frozen=True)
class ArrangeTask:
    """What one job does to variation `row` (`song`): `what` is "harmonise",
    "drums" or "accompaniment" (a part of a harmonised song made again with the
    others), `part` the drum track made again (None: a new one)."""

    row: int
    song: Song
    what: str
    part: int | None = None
    part_label: str = ""


def harmonized_takes(loaded, task: ArrangeTask, controls, progress, should_stop) -> tuple[list[Song], int]:
    """On a worker: the takes of harmonising `task.song` (its drums kept under them)."""
    from composer.services.harmonize import HarmonizeRequest, harmonize
    track = melody_index(task.song) if task.what == "accompaniment" else None   # Harmonise: the melody policy
    request = HarmonizeRequest(count=controls.count, temperature=controls.temperature, top_k=controls.top_k,
                               top_p=controls.top_p, seed=controls.seed, key=controls.key, scale=controls.scale,
                               track=track)
    result = harmonize(loaded, task.song, request, progress=progress, should_stop=should_stop)
    return [with_drums_of(song, task.song) for song in result.songs], result.seed


def drum_takes(loaded, task: ArrangeTask, controls, progress, should_stop) -> tuple[list[Song], int]:
    """On a worker: the takes of drums under `task.song` (its drum track `task.part` made again in place)."""
    from composer.services.drums import DrumsRequest, add_drums
    request = DrumsRequest(count=controls.count, temperature=controls.temperature, top_k=controls.top_k,
                           top_p=controls.top_p, seed=controls.seed)
    base = task.song if task.part is None else without_track(task.song, task.part)
    result = add_drums(loaded, base, request, progress=progress, should_stop=should_stop)
    songs = result.songs if task.part is None else [drums_back(song, task.part) for song in result.songs]
    return songs, result.seed


def arrange_job(path: Path, loaded: LoadedModel | None, task: ArrangeTask, controls):
    """The worker function: load the model if needed, then write the takes."""
    write = drum_takes if task.what == "drums" else harmonized_takes

    def run(progress, should_stop):
        started = time.monotonic()
        model = load_if_needed(path, loaded)
        throttle = Throttle(PROGRESS_INTERVAL)

        def on_progress(p):
            if throttle.ready(final=p.finished):
                progress(p)

        songs, seed = write(model, task, controls, on_progress, should_stop)
        return ArrangeOutcome(model, songs, seed, time.monotonic() - started)

    return run


def describe_task(task: ArrangeTask, model: Path) -> str:
    """What the status line says while the job runs."""
    n = task.row + 1
    if task.what == "harmonise":
        return f"Harmonising variation {n} with {model.name}..."
    if task.what == "drums":
        return (f"Making {task.part_label} of variation {n} again with {model.name}..." if task.part is not None
                else f"Adding drums under variation {n} with {model.name}...")
    return (f"Making {task.part_label} of variation {n} again with {model.name}: the harmoniser writes all its "
            "parts together, so the other accompaniment parts are made again too (the melody and drums are kept)...")


def take_line(song: Song) -> str:
    return f"{len(song.tracks)} part(s), {sum(len(t.notes) for t in song.tracks)} notes"


class Arranging:
    """GenerateView's Harmonise, Add drums and Regenerate part (it owns job,
    results, controls, message, progress, dialogs, settings, entries)."""

    def connect_arrange(self) -> None:
        self.arrange_loaded: dict[Path, tuple[LoadedModel, tuple[int, int] | None]] = {}
        self._arrange_task: ArrangeTask | None = None
        bar = self.results.arrange
        bar.harmonizeRequested.connect(lambda path: self.arrange("harmonise", path))
        bar.drumsRequested.connect(lambda path: self.arrange("drums", path))
        bar.partRequested.connect(self.regenerate_part)
        bar.openRequested.connect(self._open_arrange_model)

    def arrange(self, what: str, model: Path, part: int | None = None) -> None:
        """Start `what` ("harmonise", "drums", "accompaniment") on the selected variation with `model`."""
        song, row = self.results.current_song(), self.results.variations.currentRow()
        if self.job is not None or song is None:
            return
        try:
            controls = self.controls.run_request()
            controls.validate()
        except ComposerError as exc:
            self.dialogs.error("Cannot arrange", str(exc))
            return
        label = part_name(song.tracks[part], part) if part is not None else ""
        task = ArrangeTask(row, song, what, part, label)
        kept = self.arrange_loaded.get(model)
        loaded = kept[0] if kept is not None and kept[1] == file_stamp(model) else None
        self.results.stop_playback()
        self._arrange_task = task
        self.job = Job("arrange", arrange_job(model, loaded, task, controls), self)
        self.job.progressed.connect(self.show_progress)
        self.job.succeeded.connect(self._on_arranged)
        self.job.failed.connect(self._on_arrange_failed)
        self.job.cancelled.connect(self._on_arrange_cancelled)
        self.job.finished.connect(self._on_finished)
        self.progress.setRange(0, 0)
        self.message.setText(describe_task(task, model))
        self.status.emit(self.message.text())
        self.controls.started(controls.seed, self.settings)
        self.job.start()
        self._update_buttons()
        self.busyChanged.emit(True)

    def regenerate_part(self, index: int) -> None:
        """Make part `index` of the selected variation again: drums with the drums
        model, an accompaniment part with the harmoniser (all its parts together)."""
        song = self.results.current_song()
        if song is None or self.job is not None:
            return
        try:
            plan = part_plan(song, index)
        except ComposerError as exc:
            self.dialogs.error("Cannot regenerate the part", str(exc))
            return
        bar = self.results.arrange
        model = (bar.drums_model if plan == "drums" else bar.harmony_model).path()
        if model is None:
            kind = "a drums model" if plan == "drums" else "an accompaniment model"
            self.dialogs.error("Cannot regenerate the part", f"no {kind} to pick: open one in the list beside "
                               f"{'Add drums' if plan == 'drums' else 'Harmonise'}")
            return
        self.arrange(plan, model, index)

    def _on_arranged(self, outcome: ArrangeOutcome) -> None:
        self.arrange_loaded[Path(outcome.loaded.path)] = (outcome.loaded, file_stamp(outcome.loaded.path))
        task = self._arrange_task
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        results = self.results
        if results.variations.song_at(task.row) is not task.song:
            text = f"Variation {task.row + 1} changed while the job ran: the takes were dropped."
        else:
            if results.variations.currentRow() != task.row:
                results.variations.setCurrentRow(task.row)
            n = task.row + 1
            title, step = {"harmonise": (f"Harmonisations of variation {n}", f"harmonise variation {n}"),
                           "drums": (f"Drums for variation {n}", f"add drums to variation {n}"),
                           "accompaniment": (f"Accompaniments of variation {n}", f"new accompaniment of variation {n}")
                           }[task.what]
            if task.what == "drums" and task.part is not None:
                title, step = f"{task.part_label} of variation {n}", f"new {task.part_label} of variation {n}"
            lines = [take_line(song) for song in [task.song, *outcome.songs]]
            results.infill_panel.set_song_takes(task.row, task.song, outcome.songs, title, lines,
                                                step + " (take {take})")
            text = (f"{len(outcome.songs)} take(s), seed {outcome.seed}, in {outcome.seconds:.1f} s "
                    f"({outcome.loaded.summary()}); pick one and Use this take")
            if task.what == "accompaniment":
                text += (f". Every accompaniment part is new, not only {task.part_label} (the harmoniser writes "
                         "them together); the melody and drums are kept")
        self.message.setText(text)
        self.status.emit(text)

    def _on_arrange_failed(self, error: JobError) -> None:
        self.idle_progress()
        self.message.setText(f"Arranging failed: {error.message}")
        self.status.emit(self.message.text())
        self.dialogs.job_error("Arranging failed", error)

    def _on_arrange_cancelled(self) -> None:
        self.idle_progress()
        self.message.setText("Cancelled; the variation is unchanged.")
        self.status.emit(self.message.text())

    def _open_arrange_model(self, choice) -> None:
        """"Open model file..." in a model list of the Arrange row: offer that file there
        (any kind: a wrong one is refused with the service's message when used)."""
        folder = str(Path(self.settings.get("models/last")).parent) if self.settings.get("models/last") else ""
        path = self.dialogs.open_file("Open model file", folder, MODEL_FILTER)
        if path:
            choice.opened = Path(path)
            choice.set_entries(self.entries, select=Path(path))
        else:
            choice.set_entries(self.entries)
        self.results.arrange.set_models(self.entries)
