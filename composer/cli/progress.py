"""The CLI's one adapter of the task protocol (composer.tasks): on a terminal a
tqdm bar on stderr per stage of a job, in the stage's unit; when stderr is a
file or a pipe, a summary line every LOG_EVERY_S seconds instead (a log grows
with the run's time, not with its steps)."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from contextlib import contextmanager

from tqdm import tqdm

from composer.tasks import Progress

LOG_EVERY_S = 10.0          # seconds between summary lines when stderr is not a terminal
MARK_GAP_S = 2.0            # a change of `mark` (e.g. a new validation score) is written at once, this far apart
CLOCK = time.monotonic      # seconds; what LogLines times with (tests put a clock of their own here)


class TerminalProgress:
    """A `progress(Progress)` callback drawing one tqdm bar per stage: a new
    stage closes the bar of the one before. `desc` names a job without stages;
    `postfix(Progress) -> dict` adds live values after the bar (training: loss, eta).
    When `stream` (default stderr) is not a terminal it writes `LogLines`
    instead, also when `mark(Progress)` changes (training: a validation score)."""

    def __init__(self, desc: str = "", *, disable: bool = False,
                 postfix: Callable[[Progress], dict] | None = None, mark: Callable[[Progress], object] | None = None,
                 stream=None, clock: Callable[[], float] | None = None):
        self.desc, self.disable, self.postfix = desc, disable, postfix
        self.bar: tqdm | None = None
        self.stage: str | None = None
        stream = stream if stream is not None else sys.stderr
        self.lines = None if _is_terminal(stream) else LogLines(stream, desc, postfix, mark, clock or CLOCK)

    def __call__(self, p: Progress) -> None:
        if self.disable:
            return
        if self.lines is not None:
            self.lines(p)
            return
        if self.bar is None or p.stage != self.stage:
            self.close()
            self.stage = p.stage
            self.bar = tqdm(desc=p.stage or self.desc, unit=p.unit, total=p.total, initial=p.done,
                            dynamic_ncols=True, leave=True)
        changed = self.bar.n != p.done or self.bar.total != p.total
        self.bar.total, self.bar.n = p.total, p.done
        if self.postfix is not None:
            self.bar.set_postfix(self.postfix(p), refresh=False)
            changed = True
        if changed:                  # (a refresh per sampling step would cost more than the step)
            self.bar.refresh()

    def close(self) -> None:
        if self.lines is not None:
            self.lines.close()
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):     # (no isatty, or a closed stream)
        return False


class LogLines:
    """Progress as summary lines for a log file: the first report of each
    stage, then one line when `every_s` seconds of `clock` have passed since
    the last, one when `mark(Progress)` changes (at most every MARK_GAP_S),
    and the last state of a stage when it ends (a new stage, or `close`)."""

    def __init__(self, stream, desc: str = "", postfix: Callable[[Progress], dict] | None = None,
                 mark: Callable[[Progress], object] | None = None,
                 clock: Callable[[], float] = time.monotonic, every_s: float = LOG_EVERY_S):
        self.stream, self.desc, self.postfix, self.mark = stream, desc, postfix, mark
        self.clock, self.every_s = clock, every_s
        self.stage: str | None = None
        self.started = self.written_at = 0.0
        self.last: Progress | None = None       # the latest report not written yet
        self.last_mark: object = None
        self.written: tuple = ()                # what the last line said (its time aside)

    def __call__(self, p: Progress) -> None:
        now = self.clock()
        mark = self.mark(p) if self.mark is not None else None
        if p.stage != self.stage or self.stage is None:
            self.flush()
            self.stage, self.started, self.last_mark = p.stage, now, mark
            self.write(p, now)
            return
        due = now - self.written_at >= self.every_s or p.finished
        if mark != self.last_mark and now - self.written_at >= MARK_GAP_S:
            self.last_mark, due = mark, True
        if due:
            self.write(p, now)
        else:
            self.last = p

    def write(self, p: Progress, now: float) -> None:
        self.last, self.written_at = None, now
        said = (p.stage, p.done, p.total, self.postfix(p) if self.postfix is not None else None)
        if said == self.written:        # (e.g. the end of a stage reported twice)
            return
        self.written = said
        self.stream.write(self.line(p, now - self.started) + "\n")
        self.stream.flush()

    def line(self, p: Progress, elapsed: float) -> str:
        """E.g. "training 1200/4500 step (27%) 2:15, loss 2.345, val_bits/note 2.901, eta 7:30"."""
        total = f"/{p.total:g}" if p.total else ""
        share = f" ({100 * p.done / p.total:.0f}%)" if p.total else ""
        parts = [f"{p.stage or self.desc} {p.done:g}{total} {p.unit}{share} {int(elapsed // 60)}:"
                 f"{int(elapsed % 60):02d}"]
        if self.postfix is not None:
            parts += [f"{key} {value}" for key, value in self.postfix(p).items()]
        return ", ".join(parts)

    def flush(self) -> None:
        """Write the latest report if it was held back (the end of a stage)."""
        if self.last is not None:
            self.write(self.last, self.clock())

    def close(self) -> None:
        self.flush()


@contextmanager
def terminal_progress(desc: str = "", *, disable: bool = False, postfix: Callable[[Progress], dict] | None = None):
    """Yields a TerminalProgress and closes its bar at the end."""
    bar = TerminalProgress(desc, disable=disable, postfix=postfix)
    try:
        yield bar
    finally:
        bar.close()
