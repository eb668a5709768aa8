"""The one protocol of every long job (generate, infill, scan a folder,
evaluate, train, convert a corpus):

    result = job(request_or_inputs, progress=None, should_stop=None)

`progress(Progress)` is called as the work advances; `should_stop()` is polled
and, when it returns True, the job raises composer.errors.Cancelled (training
instead ends after a checkpoint and says so in its result). The CLI adapts
the calls once to tqdm (composer.cli.progress), the app once to Qt signals
(gui/jobs.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Progress:
    """How far one stage of a job is.

    done, total: in `unit` (bars, seconds, steps, files, tunes); total None
    while unknown. stage: what the job is doing ("scanning", "generating",
    "training"...); a new stage starts a new bar. message: a detail for a
    status line (the file being read). partial: `partial(...)` gives the
    result so far on demand (generate: the songs of the variations asked for).
    info: job-specific details, immutable (training: training.config.TrainProgress).
    """

    done: float
    total: float | None
    unit: str = "it"
    stage: str = ""
    message: str = ""
    partial: Callable[..., Any] | None = None
    info: Any = None

    @property
    def finished(self) -> bool:
        """True when done has reached a known total."""
        return self.total is not None and self.done >= self.total


ProgressFn = Callable[[Progress], None]
ShouldStop = Callable[[], bool]


def notify(progress: ProgressFn | None, *args, **kwargs) -> None:
    """`progress(Progress(*args, **kwargs))` when there is a `progress`."""
    if progress is not None:
        progress(Progress(*args, **kwargs))


def stopping(should_stop: ShouldStop | None) -> bool:
    """True when `should_stop` is given and asks to stop."""
    return bool(should_stop is not None and should_stop())


def relabel(progress: ProgressFn | None, stage: str, **changes) -> ProgressFn | None:
    """`progress` with every Progress it receives put in `stage` (and `changes`
    applied): a job that runs another job reports it as one of its stages."""
    if progress is None:
        return None
    from dataclasses import replace

    def forward(p: Progress) -> None:
        progress(replace(p, stage=stage, **changes))
    return forward


__all__ = ["Progress", "ProgressFn", "ShouldStop", "notify", "stopping", "relabel"]
