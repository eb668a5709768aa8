"""The generate tab's worker function: load the model if needed, then the
generation service (composer.services.copylimit.generate_checked: generate,
the copy meter, the copy limit), with a preview of the variation shown."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from composer.model.modelfile import LoadedModel
from composer.music.song import Song
from composer.services.copylimit import CheckedGeneration, copy_index_for, generate_checked
from composer.services.generate import GenerateRequest, prepare
from composer.tasks import Progress
from gui.jobs import Throttle, load_if_needed

PREVIEW_INTERVAL = 0.05     # seconds between piano-roll updates while sampling (~20 fps) at most


@dataclass(frozen=True)
class Preview:
    """The `info` of a generation Progress: variation `row` so far."""

    row: int
    song: Song


@dataclass
class GenerationOutcome:
    loaded: LoadedModel
    generation: CheckedGeneration
    seconds: float            # wall time of the job

    @property
    def result(self):
        return self.generation.result


class PreviewRow:
    """Which variation the piano roll shows while sampling: set on the GUI
    thread when the selection changes, read by the worker (a plain int)."""

    def __init__(self, count: int, row: int = 0):
        self.count = count
        self.select(row)

    def select(self, row: int) -> None:
        self.row = row if 0 <= row < self.count else 0


def generation_job(path: Path, loaded: LoadedModel | None, request: GenerateRequest,
                   preview: PreviewRow | None = None):
    """The worker function: load the model if needed, check the request
    against it, then generate with the copy meter (and `request.max_copy`).
    While sampling it decodes only the variation `preview` names (the one
    shown) and sends it as the Progress's `info` (a Preview)."""
    preview = preview or PreviewRow(request.count)

    def run(progress, should_stop):
        started = time.monotonic()
        model = load_if_needed(path, loaded)
        plan = prepare(model, request)
        index = copy_index_for(model, request, meter=True)
        generation = generate_checked(model, request, index, plan=plan, should_stop=should_stop,
                                      progress=_previews(progress, preview))
        return GenerationOutcome(model, generation, time.monotonic() - started)

    return run


def _previews(progress, preview: PreviewRow):
    """`progress` throttled, with the shown variation decoded on the worker (not the partial itself)."""
    throttle = Throttle(PREVIEW_INTERVAL)

    def on_progress(p: Progress) -> None:
        if not throttle.ready(final=p.finished):
            return
        if p.partial is None:                  # sampling again for the copy limit: no preview
            progress(p)
            return
        decode_started = time.monotonic()
        row = preview.row
        song, = p.partial([row])
        # decoding the partial song costs time the sampler could use: keep it under ~10%
        throttle.interval = max(PREVIEW_INTERVAL, 10 * (time.monotonic() - decode_started))
        progress(replace(p, partial=None, info=Preview(row, song)))

    return on_progress
