"""A terminal progress bar for the CLI: adapts the core's progress hooks to tqdm."""
from __future__ import annotations

from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def terminal_progress(desc: str, *, unit: str = "it", disable: bool = False):
    """Yields a `progress(done, total, partial)` callback drawing a bar on stderr."""
    bar = tqdm(desc=desc, unit=unit, disable=disable, dynamic_ncols=True, leave=True)

    def progress(done, total, partial=None):
        if bar.total != total:
            bar.total = total
        if done != bar.n:
            bar.n = done
            bar.refresh()

    try:
        yield progress
    finally:
        bar.close()
