"""The CLI's one adapter of the task protocol (composer.tasks) to tqdm: a bar
on stderr per stage of a job, in the stage's unit."""
from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

from tqdm import tqdm

from composer.tasks import Progress


class TerminalProgress:
    """A `progress(Progress)` callback drawing one tqdm bar per stage: a new
    stage closes the bar of the one before. `desc` names a job without stages;
    `postfix(Progress) -> dict` adds live values after the bar (training: loss, eta)."""

    def __init__(self, desc: str = "", *, disable: bool = False,
                 postfix: Callable[[Progress], dict] | None = None):
        self.desc, self.disable, self.postfix = desc, disable, postfix
        self.bar: tqdm | None = None
        self.stage: str | None = None

    def __call__(self, p: Progress) -> None:
        if self.disable:
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
        if self.bar is not None:
            self.bar.close()
            self.bar = None


@contextmanager
def terminal_progress(desc: str = "", *, disable: bool = False, postfix: Callable[[Progress], dict] | None = None):
    """Yields a TerminalProgress and closes its bar at the end."""
    bar = TerminalProgress(desc, disable=disable, postfix=postfix)
    try:
        yield bar
    finally:
        bar.close()
